"""Benchmark: one 12-megapixel JPEG check-in, end to end through the Flask test client.

Prints the median server time of a check-in (request parsing, safe decode, display copy,
thumbnail, analysis, storage, rows, commit: the app's WSGI call, not the test client building
the multipart body) and its ratio to a bare full Pillow decode of the same file, measured in
the same run. Goal: at most 2.0x. The server's CPU time is printed too, so work done on a
second core shows. A second series times check-ins of a treatment with three confirmed
followed marks: each carries the marks over from the last confirmed photo (registration) and
measures at them, the same goal. A third series times saving the marks board of such a
check-in with one mark moved (its circle checked: marks.questioned, then measured and
stored: marks.save), which should decode and survey the 1600 px display copy once. A script,
not a test:

    .venv/bin/python benchmarks/bench_checkin.py [--runs 7]
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from webapp import create_app  # noqa: E402
from webapp.analysis import synthetic  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.models import CheckIn, Treatment, User, utcnow  # noqa: E402
from webapp.services import consent, marks, sessions  # noqa: E402

# where twelve_megapixel_jpeg paints its marks, in the upright photo (fractions); save_jpeg
# stores the pixels turned so that EXIF orientation 6 brings them back upright
MARK_CENTRES = ((0.3, 0.4), (0.6, 0.5), (0.75, 0.3))


def twelve_megapixel_jpeg() -> bytes:
    """Render a 4032 x 3024 phone-like photo of skin with marks (rotated, EXIF orientation 6)."""
    skin = synthetic.skin_lab_for_ita(30)
    marks = [synthetic.MarkSpec(delta_lab=synthetic.mark_delta(skin, e, c), centre=xy, radius=0.08)
             for e, c, xy in zip((14, 9, 6), ("violet", "red", "yellow"), MARK_CENTRES)]
    photo = synthetic.render_scene(skin, marks, size=(4032, 3024), seed=7)
    return synthetic.save_jpeg(photo.image, quality=92, orientation=6)


def full_decode(data: bytes) -> None:
    """Decode every pixel of the JPEG with Pillow, nothing else."""
    with Image.open(io.BytesIO(data)) as image:
        image.load()


class ServerClock:
    """Times each WSGI call of the app: wall time and the process's CPU time."""

    def __init__(self, app):
        """Wrap the app's WSGI callable."""
        self.wall: list[float] = []
        self.cpu: list[float] = []
        self.inner = app.wsgi_app
        app.wsgi_app = self

    def __call__(self, environ, start_response):
        """Serve the request, reading the whole body, and note how long it took."""
        wall, cpu = time.perf_counter(), time.process_time()
        body = b"".join(self.inner(environ, start_response))
        self.wall.append(time.perf_counter() - wall)
        self.cpu.append(time.process_time() - cpu)
        return [body]


def timed(action) -> float:
    """Return the wall time of one call, in seconds."""
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main() -> None:
    """Run the decodes and the check-ins interleaved, then print the medians and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=11)
    args = parser.parse_args()
    print("rendering a 12 MP test photo...", flush=True)
    data = twelve_megapixel_jpeg()
    with Image.open(io.BytesIO(data)) as probe:
        print(f"photo: {probe.size[0]}x{probe.size[1]} JPEG, {len(data) / 1e6:.1f} MB")

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"TESTING": True, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
                          "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/bench.sqlite",
                          "PHOTO_ROOT": f"{tmp}/photos", "UPLOADS_PER_DAY": 10_000,
                          # one client sends every check-in of the run within a minute or
                          # two, past the upload limit a phone never reaches
                          "RATELIMIT_ENABLED": False})
        with app.app_context():
            db.create_all()
            user = User(email="bench@example.org", name="Bench", role="client",
                        password_hash="-")
            db.session.add(user)
            db.session.flush()
            consent.give(user)
            treatments = [Treatment(client_id=user.id, treated_at=utcnow() - dt.timedelta(days=1),
                                    body_area="upper_back", technique="static", cup_count=6,
                                    cup_material="glass", suction="medium") for _ in range(2)]
            db.session.add_all(treatments)
            _row, session_id = sessions.open_for(user)
            db.session.commit()
            user_id = user.id
            treatment_id, followed_id = (t.id for t in treatments)
        server = ServerClock(app)
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = session_id
            session["_fresh"] = True

        def checkin(n: int, treatment: int = treatment_id) -> int:
            """Post one check-in with a fresh key, insist that it was stored, return its id."""
            response = client.post(
                f"/treatments/{treatment}/checkin", content_type="multipart/form-data",
                headers={"Accept": "application/json"},
                data={"photo": (io.BytesIO(data), "IMG_0001.JPG"), "pain": "2",
                      "taken_at": utcnow().strftime("%Y-%m-%dT%H:%M"),
                      "idempotency_key": f"bench-{n:04d}-key"})
            if response.status_code != 201:
                raise SystemExit(f"check-in failed: {response.status_code} {response.data!r}")
            return response.json["checkin_id"]

        # warm up imports, caches and the database file once, unmeasured
        full_decode(data)
        checkin(0)
        decodes = []
        for n in range(1, args.runs + 1):
            # interleaved, so a noisy neighbour slows both sides alike
            decodes.append(timed(lambda: full_decode(data)))
            checkin(n)
        plain_wall, plain_cpu = server.wall[1:], server.cpu[1:]

        # the followed treatment: its first photo's three marks are confirmed where they are
        first = checkin(500, followed_id)
        with app.app_context():
            board = marks.board_for(db.session.get(CheckIn, first))
            board.spots = [marks.Spot(x, y, 0.08, "tapped") for x, y in MARK_CENTRES]
            marks.save(board, db.session.get(User, user_id))
        server.wall.clear()
        server.cpu.clear()
        carry_decodes = []
        for n in range(501, 501 + args.runs):
            carry_decodes.append(timed(lambda: full_decode(data)))
            checkin(n, followed_id)
        carry_wall, carry_cpu = list(server.wall), list(server.cpu)

        # the last carried photo's board, saved with its first mark moved a little each time
        latest = n
        server.wall.clear()
        server.cpu.clear()
        for run in range(args.runs + 1):
            with app.app_context():
                board = marks.board_for(db.session.scalar(
                    sa.select(CheckIn).where(CheckIn.idempotency_key == f"bench-{latest:04d}-key")))
                url = f"/checkins/{board.checkin.id}/marks"
                points = [s.value for s in board.spots if s.kind == "mark"]
            number, _sep, point = points[0].partition(":")
            x, y = map(float, point.split(","))
            points[0] = f"{number}:{x + (0.004 if run % 2 else -0.004):.4f},{y:.4f}"
            response = client.post(url, data={"board": "later", "mark": points, "action": "save"})
            if response.status_code != 303:
                raise SystemExit(f"board save failed: {response.status_code}")
        # the first save warmed up, unmeasured
        board_wall, board_cpu = server.wall[1:], server.cpu[1:]
        with app.app_context():
            carried = db.session.scalar(sa.select(sa.func.count()).select_from(CheckIn).where(
                CheckIn.treatment_id == followed_id, CheckIn.id != first))
            db.engine.dispose()
    report(args.runs, user_id, decodes, plain_wall, plain_cpu, "check-in")
    report(args.runs, user_id, carry_decodes, carry_wall, carry_cpu,
           f"check-in with carry-over of 3 followed marks ({carried} stored)")
    print("== board save with one of 3 marks moved (1600 px display copy)")
    print(f"server time: median {statistics.median(board_wall) * 1000:.0f} ms "
          f"(min {min(board_wall) * 1000:.0f}, max {max(board_wall) * 1000:.0f}); "
          f"CPU: median {statistics.median(board_cpu) * 1000:.0f} ms")


def report(runs: int, user_id: int, decodes, wall, cpu, what: str) -> None:
    """Print the medians of one series and its ratio to a full decode."""
    decode_ms = statistics.median(decodes) * 1000
    checkin_ms = statistics.median(wall) * 1000
    print(f"== {what}")
    print(f"runs: {runs} (user {user_id})")
    print(f"bare full Pillow decode: median {decode_ms:.0f} ms "
          f"(min {min(decodes) * 1000:.0f}, max {max(decodes) * 1000:.0f})")
    print(f"check-in, server time:   median {checkin_ms:.0f} ms "
          f"(min {min(wall) * 1000:.0f}, max {max(wall) * 1000:.0f})")
    print(f"ratio: {checkin_ms / decode_ms:.2f}x (goal <= 2.0x)")
    # the analysis overlaps the encoding on a second core: the cpu time shows the whole work
    cpu_ms = statistics.median(cpu) * 1000
    print(f"check-in, server CPU:    median {cpu_ms:.0f} ms ({cpu_ms / decode_ms:.2f}x a decode)")


if __name__ == "__main__":
    main()
