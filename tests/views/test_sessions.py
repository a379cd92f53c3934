"""Staying signed in: device sessions, their idle and absolute limits, the devices page."""
import datetime as dt

import pytest
import sqlalchemy as sa

from tests.conftest import PASSWORD, app_on_fresh_database
from webapp.extensions import db
from webapp.models import UserSession, utcnow

PHONE_UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/131.0 Mobile Safari/537.36")
LAPTOP_UA = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0")


def sign_in(app, email, user_agent=PHONE_UA):
    """Return a new test client (a device) signed in as email."""
    device = app.test_client()
    response = device.post("/auth/login", data={"email": email, "password": PASSWORD},
                           headers={"User-Agent": user_agent})
    assert response.status_code == 302
    return device


def sessions_of(app, user_id):
    """Return the user's device sessions, oldest first."""
    with app.app_context():
        return db.session.scalars(sa.select(UserSession).where(UserSession.user_id == user_id)
                                  .order_by(UserSession.id)).all()


def age(app, row_id, **ago):
    """Move a device session's sign-in and last use back in time."""
    with app.app_context():
        row = db.session.get(UserSession, row_id)
        row.created_at = utcnow() - dt.timedelta(**ago.get("created", {"days": 0}))
        row.last_seen_at = utcnow() - dt.timedelta(**ago.get("seen", {"days": 0}))
        db.session.commit()


def test_the_session_cookie_is_persistent_for_14_days(app, make_user):
    make_user("ada@example.org")
    device = sign_in(app, "ada@example.org")
    cookie = device.get_cookie("session")
    assert cookie.expires is not None
    lifetime = cookie.expires - dt.datetime.now(dt.timezone.utc)
    assert dt.timedelta(days=13, hours=23) < lifetime <= dt.timedelta(days=14)


def test_each_sign_in_is_a_device_session_holding_only_a_hash(app, make_user):
    user = make_user("ada@example.org")
    phone = sign_in(app, user.email)
    sign_in(app, user.email, LAPTOP_UA)
    rows = sessions_of(app, user.id)
    assert len(rows) == 2
    with phone.session_transaction() as session:
        token = session["_user_id"]
    assert token not in {row.token_hash for row in rows}
    assert rows[0].user_agent == PHONE_UA


def test_use_renews_the_session_and_idleness_ends_it(app, make_user):
    user = make_user("ada@example.org")
    device = sign_in(app, user.email)
    [row] = sessions_of(app, user.id)
    age(app, row.id, created={"days": 20}, seen={"days": 13})
    assert device.get("/client/").status_code == 200
    [row] = sessions_of(app, user.id)
    assert utcnow() - row.last_seen_at < dt.timedelta(minutes=1)
    age(app, row.id, created={"days": 20}, seen={"days": 14, "minutes": 1})
    assert device.get("/client/").headers["Location"].startswith("/auth/login")


def test_a_session_ends_60_days_after_sign_in_however_often_used(app, make_user):
    user = make_user("ada@example.org")
    device = sign_in(app, user.email)
    [row] = sessions_of(app, user.id)
    age(app, row.id, created={"days": 59, "hours": 23})
    assert device.get("/client/").status_code == 200
    age(app, row.id, created={"days": 60, "minutes": 1})
    assert device.get("/client/").headers["Location"].startswith("/auth/login")


def test_devices_page_lists_devices_and_signs_one_out(app, make_user):
    user = make_user("ada@example.org")
    phone = sign_in(app, user.email)
    laptop = sign_in(app, user.email, LAPTOP_UA)
    page = phone.get("/account/sessions")
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert "Chrome on Android" in page.text and "Firefox on Windows" in page.text
    assert page.text.index("Chrome on Android") < page.text.index("This device")
    phone_row, laptop_row = sessions_of(app, user.id)
    response = phone.post(f"/account/sessions/{laptop_row.id}/end")
    assert response.status_code == 302
    assert laptop.get("/client/").headers["Location"].startswith("/auth/login")
    assert phone.get("/client/").status_code == 200
    # this device's own entry signs out here
    phone.post(f"/account/sessions/{phone_row.id}/end")
    assert phone.get("/client/").headers["Location"].startswith("/auth/login")
    assert sessions_of(app, user.id) == []


def test_sign_out_every_other_device(app, make_user):
    user = make_user("ada@example.org")
    devices = [sign_in(app, user.email) for _ in range(3)]
    devices[0].post("/account/sessions/end-others")
    assert devices[0].get("/client/").status_code == 200
    for other in devices[1:]:
        assert other.get("/client/").headers["Location"].startswith("/auth/login")


def test_another_persons_device_cannot_be_signed_out(app, make_user):
    ada, bob = make_user("ada@example.org"), make_user("bob@example.org")
    sign_in(app, ada.email)
    bobs_phone = sign_in(app, bob.email)
    [adas_row] = sessions_of(app, ada.id)
    assert bobs_phone.post(f"/account/sessions/{adas_row.id}/end").status_code == 404
    assert bobs_phone.post("/account/sessions/999999/end").status_code == 404
    assert bobs_phone.get("/account/sessions").text.count('id="device-') == 1
    assert len(sessions_of(app, ada.id)) == 1


def test_logout_ends_only_this_device(app, make_user):
    user = make_user("ada@example.org")
    phone, laptop = sign_in(app, user.email), sign_in(app, user.email, LAPTOP_UA)
    stolen = phone.get_cookie("session").value
    phone.post("/auth/logout")
    assert laptop.get("/client/").status_code == 200
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    assert replay.get("/client/").headers["Location"].startswith("/auth/login")


@pytest.fixture
def https_app(tmp_path):
    """An app deployed behind https: its session cookie is Secure."""
    yield from app_on_fresh_database(tmp_path, SESSION_COOKIE_SECURE=True)


def test_over_https_the_cookie_is_host_prefixed(https_app):
    from tests.conftest import password_hash
    from webapp.models import User
    with https_app.app_context():
        db.session.add(User(email="ada@example.org", role="client", name="Ada",
                            password_hash=password_hash()))
        db.session.commit()
    device = https_app.test_client()
    response = device.post("https://localhost/auth/login",
                           data={"email": "ada@example.org", "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("__Host-session=")
    assert "Secure" in cookie and "Path=/" in cookie and "Domain" not in cookie
    assert device.get("https://localhost/client/").status_code == 200


def test_plain_http_keeps_the_plain_cookie_name(app, make_user):
    make_user("ada@example.org")
    response = app.test_client().post("/auth/login", data={"email": "ada@example.org",
                                                           "password": PASSWORD})
    assert response.headers["Set-Cookie"].startswith("session=")


def test_signing_other_devices_out_asks_for_the_password_when_it_is_not_fresh(app, make_user):
    user = make_user("ada@example.org")
    phone, laptop = sign_in(app, user.email), sign_in(app, user.email, LAPTOP_UA)
    # the phone stayed signed in; its password was typed 11 minutes ago
    with phone.session_transaction() as session:
        session["password_typed_at"] -= 11 * 60
    asked = phone.post("/account/sessions/end-others")
    assert asked.status_code == 302
    assert asked.headers["Location"] == "/auth/confirm?next=/account/sessions"
    assert laptop.get("/client/").status_code == 200
    wrong = phone.post("/auth/confirm?next=/account/sessions", data={"password": "not it"})
    assert wrong.status_code == 422 and "not your password" in wrong.text
    right = phone.post("/auth/confirm?next=/account/sessions", data={"password": PASSWORD})
    assert right.headers["Location"] == "/account/sessions"
    phone.post("/account/sessions/end-others")
    assert laptop.get("/client/").headers["Location"].startswith("/auth/login")
