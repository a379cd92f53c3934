"""Benchmark: the therapist's triage page with 200 clients of 7 check-ins each.

Acceptance (issue 6): the triage page is served in at most 3x the time of a trivial route, both
measured in the same run through the test client. The trivial route is the one
``bench_timeline.py`` uses: a signed-in GET of the login page, a minimal full page through the
whole stack (session, user load, layout). A route answering "ok" is timed too, for information
only: it skips the layout, so no page is comparable with it. Run it with::

    .venv/bin/python benchmarks/bench_triage.py [--clients 200] [--repeat 50] [--database URL]

The data goes in with bulk inserts and one precomputed password hash; ``flask flags sweep``'s
function then writes each treatment's summary, as the check-in flow would have.
"""
import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from flask_login import login_required
from werkzeug.security import generate_password_hash

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from webapp import create_app  # noqa: E402
from webapp.analysis import PhotoReading  # noqa: E402
from webapp.analysis.colour import stage_for  # noqa: E402
from webapp.extensions import db  # noqa: E402
from webapp.models import PASSWORD_METHOD, CareLink, CheckIn, Reading, Treatment, User, utcnow  # noqa: E402
from webapp.services import flags  # noqa: E402

PASSWORD = "benchmark password"
# (days since the treatment, [(t_days, ΔE00, colour)] x 7): one course per triage state
COURSES = {
    "fading": (6.5, [(0.4, 12.0, "violet"), (1.4, 14.0, "violet"), (2.4, 11.0, "violet-red"),
                     (3.4, 8.5, "green"), (4.4, 6.5, "yellow"), (5.4, 4.5, "brown"),
                     (6.4, 3.5, "brown")]),
    "slow": (6.5, [(0.4, 12.0, "violet"), (1.4, 14.0, "violet"), (2.4, 13.5, "violet-red"),
                   (3.4, 13.0, "green"), (4.4, 12.5, "green"), (5.4, 12.0, "yellow"),
                   (6.4, 11.5, "yellow")]),
    "worsening": (6.5, [(0.4, 12.0, "violet"), (1.4, 14.0, "violet"), (2.4, 11.0, "violet-red"),
                        (3.4, 8.0, "green"), (4.4, 7.0, "yellow"), (5.4, 9.0, "violet"),
                        (6.4, 12.5, "violet")]),
    "missed": (8.6, [(0.4, 12.0, "violet"), (1.4, 14.0, "violet"), (2.4, 11.0, "violet-red"),
                     (3.4, 8.5, "green"), (4.4, 6.5, "yellow"), (5.4, 4.5, "brown"),
                     (6.4, 3.5, "brown")]),
}
BODY_AREAS = ("upper_back", "neck_shoulders", "lower_back", "thighs", "calves")
FIRST_NAMES = ("Ada", "Ben", "Cleo", "Dan", "Eva", "Finn", "Gia", "Hugo", "Iris", "Jon", "Kai",
               "Lena", "Milo", "Nora", "Omar", "Pia", "Quinn", "Rosa", "Sam", "Tara")
LAST_NAMES = ("Adler", "Brook", "Costa", "Dahl", "Ellis", "Frost", "Grant", "Hale", "Ivers",
              "Jensen")


def reading_data(delta_e: float, colour: str) -> dict:
    """Return a stored reading dict for a mark of the given strength and colour."""
    stage = stage_for(delta_e, colour)
    hexes = {"fresh": "#7d3f5a", "turning": "#8f8a55", "faint": "#b39a88", "resolved": "#c4a58f"}
    return PhotoReading(ok=True, mark_found=delta_e >= 3, marks=1, stage=stage,
                        colour=colour if stage != "resolved" else "none", delta_e=delta_e,
                        delta_lab=[-delta_e / 2, delta_e / 2, -delta_e / 4],
                        mark_hex=hexes[stage], skin_hex="#c8a088", area_fraction=0.02,
                        confidence="high").to_dict()


def populate(clients: int, now: dt.datetime, fevers: int = 1, practice: str = "bench",
             password_hash: str | None = None) -> User:
    """Bulk-insert a therapist with that many linked clients, one course each; return the therapist.

    Emails are therapist@PRACTICE.example and clientN@PRACTICE.example; the password PASSWORD
    (or the one whose hash is given, to hash it once for several practices).
    """
    password_hash = password_hash or generate_password_hash(PASSWORD, method=PASSWORD_METHOD)
    therapist = User(email=f"therapist@{practice}.example", name="Tess Bench", role="therapist",
                     password_hash=password_hash, practice_name="Bench practice")
    db.session.add(therapist)
    db.session.flush()
    kinds = list(COURSES)
    users = [{"email": f"client{i}@{practice}.example",
              "name": f"{FIRST_NAMES[i % len(FIRST_NAMES)]} {LAST_NAMES[i // len(FIRST_NAMES) % len(LAST_NAMES)]}",
              "role": "client", "password_hash": password_hash} for i in range(clients)]
    client_ids = db.session.scalars(sa.insert(User).returning(User.id, sort_by_parameter_order=True),
                                    users).all()
    db.session.execute(sa.insert(CareLink), [{"therapist_id": therapist.id, "client_id": cid}
                                             for cid in client_ids])
    treatments = [{"client_id": cid, "therapist_id": therapist.id, "recorded_by_id": therapist.id,
                   "treated_at": now - dt.timedelta(days=COURSES[kinds[i % len(kinds)]][0]),
                   "body_area": BODY_AREAS[i % len(BODY_AREAS)], "technique": "static",
                   "cup_count": 6, "cup_material": "glass", "suction": "medium", "notes": "",
                   "risk_factors": [], "expected_days": 7} for i, cid in enumerate(client_ids)]
    treatment_ids = db.session.scalars(
        sa.insert(Treatment).returning(Treatment.id, sort_by_parameter_order=True),
        treatments).all()
    checkins, readings = [], []
    for i, (cid, tid, row) in enumerate(zip(client_ids, treatment_ids, treatments)):
        course = COURSES[kinds[i % len(kinds)]][1]
        for n, (t_days, delta_e, colour) in enumerate(course):
            checkins.append({"treatment_id": tid, "client_id": cid, "idempotency_key": f"b{n}",
                             "upload_sha256": "0" * 64, "photo_key": "bench", "thumb_key": "bench",
                             "taken_at": row["treated_at"] + dt.timedelta(days=t_days),
                             "created_at": row["treated_at"] + dt.timedelta(days=t_days),
                             "fever": i < fevers and n == len(course) - 1})
            readings.append((delta_e, colour))
    checkin_ids = db.session.scalars(
        sa.insert(CheckIn).returning(CheckIn.id, sort_by_parameter_order=True), checkins).all()
    rows = []
    for checkin_id, (delta_e, colour) in zip(checkin_ids, readings):
        data = reading_data(delta_e, colour)
        rows.append({"checkin_id": checkin_id, "analyzer_version": data["analyzer_version"],
                     "ok": True, "stage": data["stage"], "colour": data["colour"],
                     "delta_e": delta_e, "mark_hex": data["mark_hex"], "data": data})
    db.session.execute(sa.insert(Reading), rows)
    db.session.commit()
    return therapist


def timed(client, urls: list[str], repeat: int) -> dict[str, list[float]]:
    """Fetch the URLs in turn repeat times (after warm-ups): each sees the same machine load."""
    for url in urls:
        for _ in range(2):
            assert client.get(url).status_code == 200, url
    times: dict[str, list[float]] = {url: [] for url in urls}
    for _ in range(repeat):
        for url in urls:
            start = time.perf_counter()
            response = client.get(url)
            times[url].append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, url
    return times


def main() -> None:
    """Build the practice, then time the triage page against a trivial route and print it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--database", help="database URL (default: a fresh SQLite file)")
    args = parser.parse_args()
    workdir = tempfile.mkdtemp(prefix="bench_triage_")
    app = create_app({"TESTING": True, "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False,
                      "SESSION_COOKIE_SECURE": False, "PHOTO_ROOT": f"{workdir}/photos",
                      "SQLALCHEMY_DATABASE_URI": args.database or f"sqlite:///{workdir}/bench.sqlite"})

    @app.route("/bench/ok")
    @login_required
    def ok():
        """Answer a signed-in user with a word: the session and user load, no page (information)."""
        return "ok"

    with app.app_context():
        db.drop_all()
        db.create_all()
        start = time.perf_counter()
        therapist = populate(args.clients, utcnow())
        built = time.perf_counter() - start
        start = time.perf_counter()
        raised, _closed = flags.sweep()
        db.session.commit()
        swept = time.perf_counter() - start
        email = therapist.email
    client = app.test_client()
    assert client.post("/auth/login", data={"email": email, "password": PASSWORD}).status_code == 302
    statements = []
    with app.app_context():
        engine = db.engine
    client.get("/therapist/")
    def count(*event_args) -> None:
        """Count one SQL statement."""
        statements.append(event_args[2])

    sa.event.listen(engine, "before_cursor_execute", count)
    client.get("/therapist/")
    sa.event.remove(engine, "before_cursor_execute", count)
    queries = len(statements)
    # the same trivial route as bench_timeline.py: the login page, signed in
    urls = ["/auth/login", "/bench/ok", "/therapist/", "/therapist/?q=ada&status=attention"]
    trivial_ms, ok_ms, triage_ms, search_ms = timed(client, urls, args.repeat).values()
    with app.app_context():
        db.drop_all()
    ratio = statistics.median(triage_ms) / statistics.median(trivial_ms)
    print(f"data: {args.clients} clients x 7 check-ins built in {built:.2f} s; "
          f"sweep assessed them and raised {len(raised)} flags in {swept:.2f} s")
    for name, times in (("trivial route (GET /auth/login, signed in)", trivial_ms),
                        ("'ok' route (no page; information)", ok_ms),
                        ("triage page", triage_ms), ("triage search (htmx-less)", search_ms)):
        print(f"{name:43s} median {statistics.median(times):6.2f} ms   "
              f"p90 {sorted(times)[int(len(times) * 0.9) - 1]:6.2f} ms")
    print(f"triage page: {queries} queries per request (including the session's user load)")
    print(f"ratio triage / trivial route: {ratio:.2f} (acceptance: <= 3)")
    sys.exit(0 if ratio <= 3 else 1)


if __name__ == "__main__":
    main()
