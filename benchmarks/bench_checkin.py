"""Benchmark: one 12-megapixel JPEG check-in, end to end through the Flask test client.

Prints the median server time of a check-in (request parsing, safe decode, display copy,
thumbnail, analysis, storage, rows, commit: the app's WSGI call, not the test client building
the multipart body) and its ratio to a bare full Pillow decode of the same file, measured in
the same run. Goal: at most 2.0x. The server's CPU time is printed too, so work done on a
second core shows. A script, not a test:

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

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from webapp import consent, create_app  # noqa: E402
from webapp.analysis import synthetic  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.models import Treatment, User, utcnow  # noqa: E402


def twelve_megapixel_jpeg() -> bytes:
    """Render a 4032 x 3024 phone-like photo of skin with marks (rotated, EXIF orientation 6)."""
    skin = synthetic.skin_lab_for_ita(30)
    marks = [synthetic.MarkSpec(delta_lab=synthetic.mark_delta(skin, e, c), centre=xy, radius=0.08)
             for e, c, xy in ((14, "violet", (0.3, 0.4)), (9, "red", (0.6, 0.5)),
                              (6, "yellow", (0.75, 0.3)))]
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
                          "PHOTO_ROOT": f"{tmp}/photos", "UPLOADS_PER_DAY": 10_000})
        with app.app_context():
            db.create_all()
            user = User(email="bench@example.org", name="Bench", role="client",
                        password_hash="-")
            db.session.add(user)
            db.session.flush()
            consent.give(user)
            treatment = Treatment(client_id=user.id, treated_at=utcnow() - dt.timedelta(days=1),
                                  body_area="upper_back", technique="static", cup_count=6,
                                  cup_material="glass", suction="medium")
            db.session.add(treatment)
            db.session.commit()
            user_id, session_id, treatment_id = user.id, user.get_id(), treatment.id
        server = ServerClock(app)
        client = app.test_client()
        with client.session_transaction() as session:
            session["_user_id"] = session_id
            session["_fresh"] = True

        def checkin(n: int) -> None:
            """Post one check-in with a fresh key and insist that it was stored."""
            response = client.post(
                f"/treatments/{treatment_id}/checkin", content_type="multipart/form-data",
                headers={"Accept": "application/json"},
                data={"photo": (io.BytesIO(data), "IMG_0001.JPG"), "pain": "2",
                      "taken_at": utcnow().strftime("%Y-%m-%dT%H:%M"),
                      "idempotency_key": f"bench-{n:04d}-key"})
            if response.status_code != 201:
                raise SystemExit(f"check-in failed: {response.status_code} {response.data!r}")

        # warm up imports, caches and the database file once, unmeasured
        full_decode(data)
        checkin(0)
        decodes = []
        for n in range(1, args.runs + 1):
            # interleaved, so a noisy neighbour slows both sides alike
            decodes.append(timed(lambda: full_decode(data)))
            checkin(n)
        with app.app_context():
            db.engine.dispose()
    wall, cpu = server.wall[1:], server.cpu[1:]
    decode_ms = statistics.median(decodes) * 1000
    checkin_ms = statistics.median(wall) * 1000
    print(f"runs: {args.runs} (user {user_id})")
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
