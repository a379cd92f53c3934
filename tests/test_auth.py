"""Accounts: registration, login, logout and the session."""
import pytest
import sqlalchemy as sa

from tests.conftest import PASSWORD
from webapp.extensions import db
from webapp.models import AuditEvent, User


def register(client, **fields):
    """Post the registration form with sensible defaults."""
    data = {"name": "Ada", "email": "ada@example.org", "password": "long enough pw",
            "role": "client", "timezone": "Europe/Berlin"}
    data.update(fields)
    return client.post("/auth/register", data=data)


def test_register_client_logs_in_and_hashes_with_scrypt(app, client):
    response = register(client)
    assert response.status_code == 302
    assert client.get("/").headers["Location"].endswith("/client/")
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "ada@example.org"))
        assert user.role == "client"
        assert user.timezone == "Europe/Berlin"
        assert user.password_hash.startswith("scrypt:131072:8:1$")
        assert user.check_password("long enough pw")


def test_register_therapist_needs_practice(app, client):
    response = register(client, role="therapist", practice_name="")
    assert response.status_code == 422
    assert b"practice name" in response.data
    response = register(client, role="therapist", practice_name="Calm Cups")
    assert response.status_code == 302
    assert client.get("/").headers["Location"].endswith("/therapist/")


@pytest.mark.parametrize(("fields", "message"), [
    ({"password": "short"}, b"at least 10 characters"),
    ({"email": "not-an-email"}, b"Invalid email"),
    ({"name": ""}, b"This field is required"),
    ({"role": "admin"}, b"Not a valid choice"),
])
def test_register_refuses_bad_input(app, client, fields, message):
    response = register(client, **fields)
    assert response.status_code == 422
    assert message in response.data
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def test_register_refuses_taken_email(client, make_user):
    make_user("ada@example.org")
    response = register(client, email="ADA@example.org")
    assert response.status_code == 422
    assert b"already exists" in response.data


def test_unknown_timezone_falls_back_to_utc(app, client):
    register(client, timezone="Mars/Olympus")
    with app.app_context():
        assert db.session.scalar(sa.select(User.timezone)) == "UTC"


def test_login_wrong_password_and_unknown_email_say_the_same(client, make_user):
    make_user("ada@example.org")
    wrong_password = client.post("/auth/login", data={"email": "ada@example.org",
                                                      "password": "wrong password"})
    unknown_email = client.post("/auth/login", data={"email": "bob@example.org",
                                                     "password": PASSWORD})
    assert wrong_password.status_code == unknown_email.status_code == 422
    message = b"That email and password do not match an account."
    assert message in wrong_password.data and message in unknown_email.data


def test_login_redirects_to_safe_next_only(client, auth, make_user):
    make_user("ada@example.org")
    response = client.post("/auth/login?next=/links", data={"email": "ada@example.org",
                                                             "password": PASSWORD})
    assert response.headers["Location"] == "/links"
    client.post("/auth/logout")
    response = client.post("/auth/login?next=//evil.example", data={"email": "ada@example.org",
                                                                     "password": PASSWORD})
    assert response.headers["Location"] == "/"


def test_login_clears_the_session(client, make_user):
    make_user("ada@example.org")
    with client.session_transaction() as session:
        session["planted"] = "by an attacker"
    client.post("/auth/login", data={"email": "ada@example.org", "password": PASSWORD})
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["_user_id"].startswith(str(1))


def test_cookie_replayed_after_logout_gets_login_page(app, client, auth, make_user):
    user = make_user("ada@example.org")
    auth.login(user)
    assert client.get("/client/").status_code == 200
    stolen = client.get_cookie("session").value
    auth.logout()
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    response = replay.get("/client/")
    assert response.status_code == 302
    assert "/auth/login" in response.headers["Location"]


def test_login_and_logout_are_audited(app, client, auth, make_user):
    user = make_user("ada@example.org")
    auth.login(user)
    auth.logout()
    with app.app_context():
        actions = db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["sign_in", "sign_out"]


def test_settings_change_timezone(app, client, auth, make_user):
    user = make_user("ada@example.org")
    auth.login(user)
    response = client.post("/auth/settings", data={"name": "Ada L", "timezone": "Nowhere/City"})
    assert response.status_code == 422
    assert b"Pick a time zone" in response.data
    client.post("/auth/settings", data={"name": "Ada L", "timezone": "Asia/Tokyo"})
    with app.app_context():
        assert db.session.get(User, user.id).timezone == "Asia/Tokyo"


def test_htmx_login_error_returns_only_the_form(client, make_user):
    make_user("ada@example.org")
    response = client.post("/auth/login", data={"email": "ada@example.org", "password": "nope"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 422
    assert response.data.lstrip().startswith(b"<form")
    assert "HX-Request" in response.headers["Vary"]


def test_htmx_login_success_redirects_the_whole_page(client, make_user):
    make_user("ada@example.org")
    response = client.post("/auth/login", data={"email": "ada@example.org", "password": PASSWORD},
                           headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/"


@pytest.mark.parametrize(("typed", "stored"), [
    ("Berlin", "Europe/Berlin"), ("europe/berlin", "Europe/Berlin"), ("new york", "America/New_York"),
    ("  Asia/Tokyo ", "Asia/Tokyo"), ("US/Pacific", "US/Pacific"), ("UTC", "UTC"),
])
def test_settings_time_zone_is_found_by_name_or_city(app, client, auth, make_user, typed, stored):
    user = make_user("tz@example.org")
    auth.login(user)
    assert client.post("/auth/settings", data={"name": "Tz", "timezone": typed}).status_code == 302
    with app.app_context():
        assert db.session.get(User, user.id).timezone == stored


def test_settings_offers_a_searchable_list_of_zones(client, auth, make_user):
    auth.login(make_user("tz@example.org"))
    page = client.get("/auth/settings").get_data(as_text=True)
    assert 'list="zones"' in page and '<datalist id="zones">' in page
    assert '<option value="Europe/Berlin">' in page and '<option value="Etc/GMT+5">' not in page
    assert "data-browser-timezone-default" in page
    # a name that is no zone, or a city in several, is refused with a clear message
    for typed in ("Nowhere", "Europe"):
        response = client.post("/auth/settings", data={"name": "Tz", "timezone": typed})
        assert response.status_code == 422 and b"type its city" in response.data
