"""Load test: concurrent clients upload check-ins to the app served by gunicorn, on loopback.

Bounded and local only: starts gunicorn (2 workers) on 127.0.0.1, signs in N clients, lets
them upload for D seconds (about one in ten uploads is sent twice with the same Idempotency-Key,
as a flaky network or the offline queue would), then checks the database and the photo store:
every acknowledged check-in exists once, with its bytes; nothing is duplicated; no
"database is locked" anywhere. Prints throughput and latency percentiles.

    .venv/bin/python benchmarks/load_checkins.py --clients 20 --duration 60            # SQLite WAL
    .venv/bin/python benchmarks/load_checkins.py --database-url \\
        "postgresql+psycopg:///cupmark_b?host=/var/run/postgresql"                     # PostgreSQL
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import http.cookiejar
import io
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "load test password"
SECRET = "load-test-secret"
REPLAY_SHARE = 0.1


def make_app():
    """The app gunicorn serves: the real one, configured from the LOAD_* environment."""
    from webapp import create_app
    return create_app({
        "SQLALCHEMY_DATABASE_URI": os.environ["LOAD_DATABASE_URL"],
        "PHOTO_ROOT": os.environ["LOAD_PHOTO_ROOT"],
        "SECRET_KEY": SECRET,
        # plain http on loopback: a Secure cookie would never come back
        "SESSION_COOKIE_SECURE": False,
        "UPLOADS_PER_DAY": 1_000_000,
    })


def photo_bytes(size: tuple[int, int] = (640, 480)) -> bytes:
    """A synthetic phone photo of skin with two marks, (width, height) pixels (default small)."""
    from webapp.analysis import synthetic
    skin = synthetic.skin_lab_for_ita(35)
    marks = [synthetic.MarkSpec(delta_lab=synthetic.mark_delta(skin, 11, "violet"),
                                centre=(0.35, 0.45), radius=0.1),
             synthetic.MarkSpec(delta_lab=synthetic.mark_delta(skin, 7, "red"),
                                centre=(0.65, 0.55), radius=0.09)]
    return synthetic.save_jpeg(synthetic.render_scene(skin, marks, seed=11, size=size).image,
                               quality=88)


def prepare_database(url: str, photo_root: str, clients: int) -> list[tuple[str, int]]:
    """Create empty tables and N consenting clients with a treatment; return (email, id)."""
    from werkzeug.security import generate_password_hash

    from webapp.services import consent
    from webapp.extensions import db
    from webapp.models import PASSWORD_METHOD, Treatment, User, utcnow
    os.environ["LOAD_DATABASE_URL"], os.environ["LOAD_PHOTO_ROOT"] = url, photo_root
    app = make_app()
    password_hash = generate_password_hash(PASSWORD, method=PASSWORD_METHOD)
    people = []
    with app.app_context():
        db.drop_all()
        db.create_all()
        for n in range(clients):
            user = User(email=f"load{n}@example.org", name=f"Load {n}", role="client",
                        password_hash=password_hash)
            db.session.add(user)
            db.session.flush()
            consent.give(user)
            treatment = Treatment(client_id=user.id, treated_at=utcnow() - dt.timedelta(days=1),
                                  body_area="upper_back", technique="static", cup_count=6,
                                  cup_material="glass", suction="medium")
            db.session.add(treatment)
            db.session.flush()
            people.append((user.email, treatment.id))
        db.session.commit()
        db.engine.dispose()
    return people


def multipart(fields: dict, photo: bytes) -> tuple[bytes, str]:
    """Encode form fields and the photo as multipart/form-data."""
    boundary = uuid.uuid4().hex
    body = io.BytesIO()
    for name, value in fields.items():
        body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                   f"{value}\r\n".encode())
    body.write(f'--{boundary}\r\nContent-Disposition: form-data; name="photo"; '
               f'filename="photo.jpg"\r\nContent-Type: image/jpeg\r\n\r\n'.encode())
    body.write(photo)
    body.write(f"\r\n--{boundary}--\r\n".encode())
    return body.getvalue(), f"multipart/form-data; boundary={boundary}"


class Client:
    """One person with a phone: a cookie jar, a CSRF token and (a client's) treatment."""

    CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')

    def __init__(self, base: str, email: str, treatment_id: int | None,
                 password: str = PASSWORD, address: str | None = None):
        """Sign in and read the CSRF token from the check-in form (else from the home page).

        ``address``: the phone's own IP address, sent as X-Forwarded-For for an app that
        trusts one proxy (as behind nginx), so that each phone has its own rate limits.
        """
        self.base, self.treatment_id = base, treatment_id
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
        if address:
            self.opener.addheaders.append(("X-Forwarded-For", address))
        login_page = self.opener.open(f"{base}/auth/login").read().decode()
        token = self.CSRF.search(login_page).group(1)
        form = urllib.parse.urlencode({"email": email, "password": password,
                                       "csrf_token": token}).encode()
        self.opener.open(f"{base}/auth/login", data=form).read()
        first = f"/treatments/{treatment_id}/checkin" if treatment_id else "/"
        page = self.opener.open(f"{base}{first}").read().decode()
        self.csrf = self.CSRF.search(page).group(1)

    def fetch(self, path: str, form: dict | None = None) -> tuple[int, str, float]:
        """GET a page (or POST a form with the CSRF token); return status, body and seconds."""
        data = (urllib.parse.urlencode({**form, "csrf_token": self.csrf}).encode()
                if form is not None else None)
        start = time.perf_counter()
        try:
            with self.opener.open(f"{self.base}{path}", data=data, timeout=120) as response:
                status, body = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, body = error.code, error.read()
        return status, body.decode(errors="replace"), time.perf_counter() - start

    def upload(self, photo: bytes, key: str) -> tuple[int, dict, float]:
        """Send one check-in as the offline queue does; return status, JSON and seconds."""
        body, content_type = multipart({
            "csrf_token": self.csrf, "pain": random.randint(0, 10), "note": "load",
            "taken_at": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M"),
            "idempotency_key": key}, photo)
        request = urllib.request.Request(
            f"{self.base}/treatments/{self.treatment_id}/checkin", data=body, method="POST",
            headers={"Content-Type": content_type, "Accept": "application/json",
                     "Idempotency-Key": key})
        start = time.perf_counter()
        try:
            with self.opener.open(request, timeout=120) as response:
                status, data = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, data = error.code, error.read()
        elapsed = time.perf_counter() - start
        try:
            return status, json.loads(data), elapsed
        except ValueError:
            return status, {"raw": data[:200].decode(errors="replace")}, elapsed


def wait_for(base: str, seconds: float = 30) -> None:
    """Wait until the server answers."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{base}/auth/login", timeout=2).read()
            return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("gunicorn did not start")


@contextlib.contextmanager
def gunicorn(base: str, log_path: Path, options: list[str], env: dict[str, str]):
    """Serve make_app() with gunicorn (its options, env added to ours) until the block ends.

    The block starts once the server answers at base; gunicorn's output goes to log_path.
    """
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", *options,
             "--pythonpath", f"{ROOT},{ROOT / 'benchmarks'}", "load_checkins:make_app()"],
            cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for(base)
            yield
        finally:
            server.terminate()
            server.wait(timeout=30)


def verify(url: str, photo_root: str, acknowledged: dict[str, int]) -> dict:
    """Compare what clients were told with what the database and the store hold."""
    import sqlalchemy as sa

    from webapp.extensions import db
    from webapp.models import CheckIn
    from webapp.services.storage import get_store
    os.environ["LOAD_DATABASE_URL"], os.environ["LOAD_PHOTO_ROOT"] = url, photo_root
    app = make_app()
    with app.app_context():
        rows = {key: (checkin_id, photo, thumb) for key, checkin_id, photo, thumb in
                db.session.execute(sa.select(CheckIn.idempotency_key, CheckIn.id,
                                             CheckIn.photo_key, CheckIn.thumb_key))}
        stored = {obj.key for obj in get_store().list()}
        db.engine.dispose()
    lost = [k for k, checkin_id in acknowledged.items()
            if k not in rows or rows[k][0] != checkin_id or not {rows[k][1], rows[k][2]} <= stored]
    named = {key for _, photo, thumb in rows.values() for key in (photo, thumb)}
    return {"rows": len(rows), "acknowledged": len(acknowledged), "lost": len(lost),
            "unacknowledged_rows": len(set(rows) - set(acknowledged)),
            "orphan_files": len(stored - named)}


def main() -> None:
    """Serve, load, verify, report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--duration", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=5001)
    parser.add_argument("--database-url", help="default: a fresh SQLite file (WAL)")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="cupmark-load-")
    url = args.database_url or f"sqlite:///{tmp}/load.sqlite"
    photo_root = f"{tmp}/photos"
    print(f"database: {url.split('?')[0]}; photos: {photo_root}", flush=True)
    people = prepare_database(url, photo_root, args.clients)
    photo = photo_bytes()
    base = f"http://127.0.0.1:{args.port}"
    log_path = Path(tmp) / "gunicorn.log"
    options = ["--workers", str(args.workers), "--bind", f"127.0.0.1:{args.port}",
               "--timeout", "120"]
    # one proxy trusted, as behind nginx: each phone signs in from its own address, so the
    # per-address sign-in limit stays on and is not what the test measures
    with gunicorn(base, log_path, options,
                  {"LOAD_DATABASE_URL": url, "LOAD_PHOTO_ROOT": photo_root,
                   "CUPMARK_PROXY_HOPS": "1"}):
        clients = [Client(base, email, treatment_id, address=f"10.3.{n // 250}.{n % 250 + 1}")
                   for n, (email, treatment_id) in enumerate(people)]
        print(f"{len(clients)} clients signed in; uploading for {args.duration:.0f} s",
              flush=True)
        acknowledged: dict[str, int] = {}
        latencies, errors, replays = [], [], {"same": 0, "different": 0}
        lock = threading.Lock()
        stop = time.time() + args.duration

        def run(client: Client) -> None:
            """Upload until time is up, sometimes twice with the same key."""
            while time.time() < stop:
                key = str(uuid.uuid4())
                sends = 2 if random.random() < REPLAY_SHARE else 1
                for _ in range(sends):
                    status, data, elapsed = client.upload(photo, key)
                    with lock:
                        latencies.append(elapsed)
                        if status in (200, 201) and data.get("ok"):
                            previous = acknowledged.setdefault(key, data["checkin_id"])
                            if sends == 2 and status == 200:
                                replays["same" if previous == data["checkin_id"]
                                        else "different"] += 1
                        else:
                            errors.append((status, data))

        started = time.time()
        threads = [threading.Thread(target=run, args=(c,)) for c in clients]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.time() - started
    log_text = log_path.read_text(errors="replace")
    result = verify(url, photo_root, acknowledged)
    latencies.sort()
    print(f"requests: {len(latencies)} in {wall:.1f} s; check-ins acknowledged: "
          f"{len(acknowledged)} ({len(acknowledged) / wall:.1f}/s); "
          f"requests/s: {len(latencies) / wall:.1f}")
    print(f"latency: median {statistics.median(latencies) * 1000:.0f} ms, "
          f"p95 {latencies[int(0.95 * (len(latencies) - 1))] * 1000:.0f} ms, "
          f"max {latencies[-1] * 1000:.0f} ms")
    print(f"replays answered with the same check-in: {replays['same']}, "
          f"with another: {replays['different']}")
    print(f"errors: {len(errors)} {errors[:3]}")
    print(f"database is locked: {log_text.count('database is locked')} in the server log")
    print(f"verify: {result}")
    ok = (not errors and result["lost"] == 0 and result["unacknowledged_rows"] == 0
          and replays["different"] == 0 and "database is locked" not in log_text)
    print("RESULT:", "OK" if ok else f"PROBLEMS (server log: {log_path})")


if __name__ == "__main__":
    main()
