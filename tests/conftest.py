"""Fixtures shared by the tests: an app on a fresh database, clients, users, auth."""
import os
from functools import cache

import pytest
from werkzeug.security import generate_password_hash

from browser.chromium import header as browser_header
from webapp import create_app
from webapp.extensions import db
from webapp.mail import read_outbox
from webapp.models import PASSWORD_METHOD, CareLink, User

# set by .ci/run to run the whole suite a second time on PostgreSQL
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
PASSWORD = "correct horse battery"


def pytest_report_header(config):
    """Say which database this run uses and if the browser tests run: no skip is silent."""
    if TEST_DATABASE_URL:
        database = "database: PostgreSQL (TEST_DATABASE_URL is set)"
    else:
        database = ("database: SQLite only; the PostgreSQL run is SKIPPED "
                    "(set TEST_DATABASE_URL to run the suite on PostgreSQL)")
    return [database, browser_header()]


@cache
def password_hash() -> str:
    """Hash the shared test password once: scrypt at N=2^17 takes a while each time."""
    return generate_password_hash(PASSWORD, method=PASSWORD_METHOD)


@pytest.fixture
def app(tmp_path):
    """Create an app on a fresh, empty database."""
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
            user = User(email=email, role=role, name=name or email.split("@")[0].title(),
                        password_hash=password_hash(),
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
