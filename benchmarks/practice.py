"""Practice simulation: a morning of a practice's clients and therapists against gunicorn.

Bounded and local only. Serves the app with gunicorn as production does (deploy/gunicorn.conf.py:
gthread, 4 threads a process) with 2 workers on 127.0.0.1, trusting one proxy so that each phone
comes from its own address (X-Forwarded-For, as behind nginx; the rate limits stay on). The
database holds 5 therapists with 40 clients each, every client a treatment with a week of
readings (bench_triage.populate) and consent given. Everyone signs in first, unmeasured: an
installed app stays signed in for weeks, and scrypt's deliberate slowness is not a morning's
work (the accounts get a cheap scrypt hash, like the tests', so that this takes seconds). Then,
with the clients arriving at random moments over --spread seconds:

- each client opens home, opens the check-in form, sends a check-in with a 2000-px photo (as
  the offline queue does: JSON answer, Idempotency-Key) and opens the timeline;
- each therapist, until the last client is done, opens triage, then the page of a client with
  an open flag and acknowledges it with a note, pausing --think seconds between rounds.

Prints, per kind of request: count, throughput, median, p95 and max; then the errors (any status
but the expected one). Figures only: timings on a shared machine are noisy.

    .venv/bin/python benchmarks/practice.py                                   # SQLite WAL
    .venv/bin/python benchmarks/practice.py --database-url \\
        "postgresql+psycopg:///cupmark_b?host=/var/run/postgresql"           # PostgreSQL
"""
from __future__ import annotations

import argparse
import collections
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_triage  # noqa: E402
from load_checkins import Client, gunicorn, make_app, photo_bytes  # noqa: E402

# a cheap scrypt for the simulated accounts (the tests' own): signing in is not what is measured
CHEAP_PASSWORD_METHOD = "scrypt:1024:8:1"
# a phone camera's photo after capture.js downscaled it (long side 2000 px)
PHOTO_SIZE = (2000, 1500)
FLAG_FORM = re.compile(r'action="(/therapist/flags/\d+/acknowledge)"')
CLIENT_LINK = re.compile(r'href="(/therapist/clients/\d+)')
PAGES = ("home", "check-in form", "timeline", "triage", "client page", "acknowledge+page")


def prepare(url: str, photo_root: str, therapists: int, clients: int) -> dict:
    """Create the practices; return {"clients": [(email, treatment_id)], "therapists": [email]}."""
    import sqlalchemy as sa
    from werkzeug.security import generate_password_hash

    from webapp.services import consent, flags
    from webapp.extensions import db
    from webapp.models import CareLink, Treatment, User, utcnow
    os.environ["LOAD_DATABASE_URL"], os.environ["LOAD_PHOTO_ROOT"] = url, photo_root
    app = make_app()
    password_hash = generate_password_hash(bench_triage.PASSWORD, method=CHEAP_PASSWORD_METHOD)
    with app.app_context():
        db.drop_all()
        db.create_all()
        emails = [bench_triage.populate(clients // therapists, utcnow(), practice=f"practice{n}",
                                        password_hash=password_hash).email
                  for n in range(therapists)]
        people = db.session.execute(
            sa.select(User, Treatment.id).join(Treatment, Treatment.client_id == User.id)
            .join(CareLink, CareLink.client_id == User.id).order_by(User.id)).all()
        for user, _treatment_id in people:
            consent.give(user)
        flags.sweep()
        db.session.commit()
        result = {"clients": [(user.email, treatment_id) for user, treatment_id in people],
                  "therapists": emails}
        db.engine.dispose()
    return result


class Recorder:
    """Seconds per kind of request, and the requests that did not answer as expected."""

    def __init__(self):
        """Start empty."""
        self.seconds: dict[str, list[float]] = collections.defaultdict(list)
        self.errors: list[tuple[str, int, str]] = []
        self.lock = threading.Lock()

    def note(self, kind: str, status: int, seconds: float, body: str = "",
             expected: tuple[int, ...] = (200,)) -> None:
        """Record one request's time, and an error if its status was not the expected one."""
        with self.lock:
            self.seconds[kind].append(seconds)
            if status not in expected:
                self.errors.append((kind, status, body[:200]))


def client_visit(phone: Client, photo: bytes, record: Recorder) -> None:
    """One signed-in client's morning: home, check-in form, check-in, timeline."""
    treatment_id = phone.treatment_id
    for kind, path in (("home", "/client/"),
                       ("check-in form", f"/treatments/{treatment_id}/checkin")):
        status, body, seconds = phone.fetch(path)
        record.note(kind, status, seconds, body)
    status, data, seconds = phone.upload(photo, str(uuid.uuid4()))
    record.note("check-in (2000 px)", status, seconds, str(data),
                expected=(200, 201) if data.get("ok") else ())
    status, body, seconds = phone.fetch(f"/treatments/{treatment_id}")
    record.note("timeline", status, seconds, body)


def therapist_rounds(desk: Client, think: float, done: threading.Event,
                     record: Recorder) -> None:
    """A therapist's morning until the clients are done: triage, a flagged client, acknowledge."""
    seen: set[str] = set()
    while not done.is_set():
        status, body, seconds = desk.fetch("/therapist/")
        record.note("triage", status, seconds, body)
        for page in CLIENT_LINK.findall(body):
            if page in seen:
                continue
            seen.add(page)
            status, body, seconds = desk.fetch(page)
            record.note("client page", status, seconds, body)
            opened = FLAG_FORM.findall(body)
            if opened:
                status, body, seconds = desk.fetch(opened[0], {"note": "Seen, call booked."})
                # as a browser does: the POST and the client page its redirect leads to
                record.note("acknowledge+page", status, seconds, body)
            break
        done.wait(think)


def sign_in(base: str, people: dict) -> tuple[list[Client], list[Client]]:
    """Sign every client and therapist in, each from an address of its own, a few at a time."""
    from concurrent.futures import ThreadPoolExecutor
    logins = ([(email, treatment_id, f"10.2.{n // 250}.{n % 250 + 1}")
               for n, (email, treatment_id) in enumerate(people["clients"])]
              + [(email, None, f"10.1.0.{n + 1}") for n, email in enumerate(people["therapists"])])
    with ThreadPoolExecutor(4) as pool:
        signed_in = list(pool.map(lambda login: Client(
            base, login[0], login[1], password=bench_triage.PASSWORD, address=login[2]), logins))
    return signed_in[:len(people["clients"])], signed_in[len(people["clients"]):]


def report(record: Recorder, wall: float) -> None:
    """Print count, throughput and latency per kind, then the errors."""
    print(f"{'request':20s} {'count':>6s} {'per s':>6s} {'median ms':>10s} {'p95 ms':>8s} "
          f"{'max ms':>8s}")
    for kind, seconds in sorted(record.seconds.items(), key=lambda item: item[0] not in PAGES):
        seconds = sorted(seconds)
        p95 = seconds[int(0.95 * (len(seconds) - 1))]
        print(f"{kind:20s} {len(seconds):6d} {len(seconds) / wall:6.2f} "
              f"{statistics.median(seconds) * 1000:10.0f} {p95 * 1000:8.0f} "
              f"{seconds[-1] * 1000:8.0f}")
    pages = sorted(s for kind in PAGES for s in record.seconds.get(kind, []))
    if pages:
        print(f"{'all pages':20s} {len(pages):6d} {len(pages) / wall:6.2f} "
              f"{statistics.median(pages) * 1000:10.0f} "
              f"{pages[int(0.95 * (len(pages) - 1))] * 1000:8.0f} {pages[-1] * 1000:8.0f}")
    print(f"errors: {len(record.errors)} {record.errors[:3]}")


def main() -> None:
    """Build the practices, serve them, run the morning, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--therapists", type=int, default=5)
    parser.add_argument("--spread", type=float, default=120,
                        help="seconds over which the clients arrive")
    parser.add_argument("--think", type=float, default=5,
                        help="seconds a therapist pauses between rounds")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=5003)
    parser.add_argument("--database-url", help="default: a fresh SQLite file (WAL)")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="cupmark-practice-")
    url = args.database_url or f"sqlite:///{tmp}/practice.sqlite"
    photo_root = f"{tmp}/photos"
    print(f"database: {url.split('?')[0]}; photos: {photo_root}", flush=True)
    people = prepare(url, photo_root, args.therapists, args.clients)
    photo = photo_bytes(PHOTO_SIZE)
    print(f"{len(people['clients'])} clients of {len(people['therapists'])} therapists; "
          f"photo {PHOTO_SIZE[0]}x{PHOTO_SIZE[1]} px, {len(photo) // 1024} KB; clients arrive "
          f"over {args.spread:.0f} s", flush=True)
    base = f"http://127.0.0.1:{args.port}"
    log_path = Path(tmp) / "gunicorn.log"
    record = Recorder()
    # the production configuration (gthread); one proxy trusted: each phone its own address
    options = ["--config", "deploy/gunicorn.conf.py"]
    env = {"LOAD_DATABASE_URL": url, "LOAD_PHOTO_ROOT": photo_root,
           "CUPMARK_WORKERS": str(args.workers), "CUPMARK_BIND": f"127.0.0.1:{args.port}",
           "CUPMARK_PROXY_HOPS": "1"}
    with gunicorn(base, log_path, options, env):
        phones, desks = sign_in(base, people)
        print(f"{len(phones)} clients and {len(desks)} therapists signed in", flush=True)
        done = threading.Event()
        desks = [threading.Thread(target=therapist_rounds,
                                  args=(desk, args.think, done, record)) for desk in desks]
        started = time.perf_counter()
        for desk in desks:
            desk.start()
        arrivals = sorted(random.uniform(0, args.spread) for _ in phones)
        visits = []
        for phone, at in zip(phones, arrivals):
            time.sleep(max(0.0, started + at - time.perf_counter()))
            visits.append(threading.Thread(target=client_visit, args=(phone, photo, record)))
            visits[-1].start()
        for visit in visits:
            visit.join()
        done.set()
        for desk in desks:
            desk.join()
        wall = time.perf_counter() - started
    log_text = log_path.read_text(errors="replace")
    # other work on the machine inflates every figure: the load average says how much
    print(f"load average (1, 5, 15 min) at the end: {os.getloadavg()}")
    print(f"wall time {wall:.0f} s; gunicorn: {args.workers} workers; "
          f"'database is locked' in the log: {log_text.count('database is locked')}; "
          f"tracebacks: {log_text.count('Traceback')}")
    report(record, wall)


if __name__ == "__main__":
    main()
