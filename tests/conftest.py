"""Fixtures shared by the tests: an app on a fresh database, clients, users, auth."""
import datetime as dt
import os
import shutil
import socket
import subprocess
import threading
import time
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from browser.chromium import header as browser_header
from werkzeug.security import generate_password_hash

from webapp import clock, create_app
from webapp.extensions import db
from webapp.models import CareLink, User, utcnow
from webapp.services import sessions
from webapp.services.mail import read_outbox

# set by .ci/run to run the suite a second time on PostgreSQL (all but the pure tests/analysis)
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
PASSWORD = "correct horse battery"
TEST_PASSWORD_METHOD = "scrypt:1024:8:1"


def pytest_report_header(config):
    """Say which database this run uses and if the browser tests run: no skip is silent."""
    if TEST_DATABASE_URL:
        database = "database: PostgreSQL (TEST_DATABASE_URL is set)"
    else:
        database = ("database: SQLite only; the PostgreSQL run is SKIPPED "
                    "(set TEST_DATABASE_URL to run the suite on PostgreSQL)")
    return [database, browser_header()]


def free_port() -> int:
    """Return a TCP port on loopback that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def service_missing(reason: str) -> None:
    """Skip a test whose service this machine lacks, or fail where CI requires the services."""
    if os.environ.get("CUPMARK_REQUIRE_SERVICES") == "1":
        pytest.fail(f"CUPMARK_REQUIRE_SERVICES=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    """Start a real redis-server (Debian's package) on a free loopback port; yields its URL."""
    import redis
    executable = shutil.which("redis-server")
    if executable is None:
        service_missing("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    folder = tmp_path_factory.mktemp("redis")
    # nothing written to disk, nothing reachable from outside loopback
    server = subprocess.Popen([executable, "--port", str(port), "--bind", "127.0.0.1",
                               "--save", "", "--appendonly", "no", "--dir", str(folder)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        connection = redis.Redis(port=port)
        for _ in range(100):
            try:
                connection.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        else:
            pytest.fail("redis-server did not answer within 5 s")
        connection.close()
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture(autouse=True)
def noon(request):
    """Run each test (but the browser's) with the app's clock set to 12:00 UTC today.

    Days are calendar dates: a check-in "1.4 days after" a treatment falls on day 1 at noon
    but on day 2 late at night, so a test must not depend on when it runs. The browser tests
    keep the machine's time, which the browser's own clock shows.
    """
    if request.node.nodeid.startswith("tests/browser/"):
        yield
        return
    today = dt.datetime.now(dt.timezone.utc).date()
    with clock.travel(dt.datetime.combine(today, dt.time(12), dt.timezone.utc)):
        yield


@cache
def password_hash() -> str:
    """Hash the shared test password once, cheaply: every sign-in of a test checks it."""
    # scrypt at the real N=2^17 costs a third of a second per sign-in here; the stored hash
    # names its own cost, so these accounts check fast. Registration's real cost is tested in
    # test_auth.py, and the sign-in timing test makes its account at the real cost
    return generate_password_hash(PASSWORD, method=TEST_PASSWORD_METHOD)


@pytest.fixture
def app(tmp_path):
    """Create an app on a fresh, empty database."""
    yield from app_on_fresh_database(tmp_path)


def app_on_fresh_database(tmp_path, **config):
    """Yield an app for tests (on an empty database, with config added), then drop its tables."""
    url = TEST_DATABASE_URL or f"sqlite:///{tmp_path / 'test.sqlite'}"
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test secret",
        "SQLALCHEMY_DATABASE_URI": url,
        "SESSION_COOKIE_SECURE": False,
        "WTF_CSRF_ENABLED": False,
        "PHOTO_ROOT": str(tmp_path / "photos"),
        "MAIL_BACKEND": "file",
        "MAIL_FILE_PATH": str(tmp_path / "outbox"),
        **config,
        "VAPID_PRIVATE_KEY_FILE": str(tmp_path / "vapid_private.pem"),
    })
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


@pytest.fixture
def client(app):
    """A test client for the app."""
    return app.test_client()


@pytest.fixture
def outbox(app):
    """Return a function listing the messages the app has sent so far, oldest first."""
    return lambda: read_outbox(app.config["MAIL_FILE_PATH"])


@pytest.fixture
def runner(app):
    """A runner for the app's CLI commands."""
    return app.test_cli_runner()


@pytest.fixture
def make_user(app):
    """Create users with the shared test password; returns a factory."""
    def make(email: str, role: str = "client", name: str | None = None, **fields) -> User:
        with app.app_context():
            fields.setdefault("password_hash", password_hash())
            fields.setdefault("email_verified_at", utcnow())
            user = User(email=email, role=role, name=name or email.split("@")[0].title(),
                        practice_name="Test practice" if role == "therapist" else None,
                        **fields)
            db.session.add(user)
            db.session.commit()
            db.session.refresh(user)
            db.session.expunge(user)
            return user
    return make


@pytest.fixture
def link(app):
    """Link a therapist to a client; returns a function."""
    def make(therapist: User, client: User) -> None:
        with app.app_context():
            db.session.add(CareLink(therapist_id=therapist.id, client_id=client.id))
            db.session.commit()
    return make


@pytest.fixture
def people(make_user, link):
    """Two practices: therapist T1 with client C1, therapist T2 with client C2."""
    t1 = make_user("t1@example.org", "therapist", "Tess One")
    t2 = make_user("t2@example.org", "therapist", "Theo Two")
    c1 = make_user("c1@example.org", "client", "Cleo One")
    c2 = make_user("c2@example.org", "client", "Cato Two")
    link(t1, c1)
    link(t2, c2)
    return {"t1": t1, "t2": t2, "c1": c1, "c2": c2}


class AuthActions:
    """Log a test client in and out."""

    def __init__(self, client):
        self._client = client

    def login(self, user_or_email, password: str = PASSWORD):
        """Log in as the given user (or email) with the shared test password."""
        email = getattr(user_or_email, "email", user_or_email)
        return self._client.post("/auth/login", data={"email": email, "password": password})

    def logout(self):
        """Log out."""
        return self._client.post("/auth/logout")


@pytest.fixture
def auth(client):
    """Log the test client in and out."""
    return AuthActions(client)


def signed_in(app, user):
    """Return a new test client already signed in as user, or anonymous for None.

    A device session is opened directly (no password round trip), as a sign-in would.
    """
    client = app.test_client()
    if user is None:
        return client
    with app.app_context():
        _row, token = sessions.open_for(db.session.merge(user))
        db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = token
        session["_fresh"] = True
    return client


@pytest.fixture
def push_service():
    """A stand-in push service on a free local port: records each POST, answers `status`."""
    received = []
    state = SimpleNamespace(status=201)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the http.server name
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            headers = {name.lower(): value for name, value in self.headers.items()}
            received.append(SimpleNamespace(path=self.path, headers=headers, body=body))
            self.send_response(state.status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            """Keep the test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}"
    state.received = received
    yield state
    server.shutdown()
    thread.join()
    server.server_close()
