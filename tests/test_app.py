"""The app as a whole: configuration, CSRF, shared headers, front-end hygiene, audit log."""
import json
import re
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.routing import IntegerConverter

from tests.conftest import signed_in
from tests.test_inputs import world  # noqa: F401 - a fixture: the objects every route needs
from webapp import create_app
from webapp.extensions import db
from webapp.models import AuditEvent, PushSubscription
from webapp.services import sessions

ROOT = Path(__file__).resolve().parents[1]


def test_session_cookie_is_secure_only_on_an_https_deployment(tmp_path, monkeypatch):
    config = {"SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/a.db"}
    monkeypatch.delenv("CUPMARK_HTTPS", raising=False)
    app = create_app(config)
    # plain http on loopback (make run): a Secure cookie would never come back
    assert app.config["SESSION_COOKIE_SECURE"] is False and app.config["HTTPS"] is False
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    monkeypatch.setenv("CUPMARK_HTTPS", "1")
    assert create_app(config).config["SESSION_COOKIE_SECURE"] is True


def test_only_the_configured_hosts_are_trusted(tmp_path, monkeypatch):
    config = {"SECRET_KEY": "x", "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/a.db"}
    monkeypatch.delenv("CUPMARK_TRUSTED_HOSTS", raising=False)
    # make run and the tests: loopback by name and by address
    assert create_app(config).config["TRUSTED_HOSTS"] == ["localhost", "127.0.0.1"]
    monkeypatch.setenv("CUPMARK_TRUSTED_HOSTS", " Cupmark.example, .clinic.example ,")
    app = create_app(config)
    assert app.config["TRUSTED_HOSTS"] == ["cupmark.example", ".clinic.example"]
    client = app.test_client()
    assert client.get("/auth/login", base_url="https://cupmark.example").status_code == 200
    assert client.get("/auth/login", base_url="https://eu.clinic.example").status_code == 200
    refused = client.get("/auth/login", base_url="https://evil.example")
    assert refused.status_code == 400
    assert refused.text == "This site is not served under that name."


# browsers send CSP violation reports without any token; the route only logs them
CSRF_EXEMPT = {"pages.csp_report"}


def post_rules(app):
    """Return one URL for every rule that accepts POST, with placeholder arguments."""
    urls = []
    for rule in app.url_map.iter_rules():
        if "POST" in rule.methods and rule.endpoint not in CSRF_EXEMPT:
            args = {name: 1 if isinstance(rule._converters[name], IntegerConverter) else "x"
                    for name in rule.arguments}
            urls.append(rule.build(args, append_unknown=False)[1])
    return urls


@pytest.fixture
def csrf_app(app):
    """The app with CSRF protection on, as in production."""
    app.config["WTF_CSRF_ENABLED"] = True
    return app


def test_every_post_without_csrf_token_is_refused(csrf_app, people):
    client = csrf_app.test_client()
    # log in through the CSRF-exempt path: a session made directly for the user
    with csrf_app.app_context():
        _row, token = sessions.open_for(db.session.merge(people["c1"]))
        db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = token
        session["_fresh"] = True
    urls = post_rules(csrf_app)
    assert "/auth/login" in urls and "/consent" in urls
    for url in urls:
        response = client.post(url, data={"anything": "1"})
        assert response.status_code == 400, url
        assert b"This form has expired" in response.data, url
    with csrf_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))) == 0


def test_a_fetch_asking_for_json_gets_the_csrf_refusal_as_json(csrf_app, people):
    client = signed_in(csrf_app, people["c1"])
    response = client.post("/reminders/devices", json={"endpoint": "https://fcm.googleapis.com/x"},
                           headers={"Accept": "application/json"})
    assert response.status_code == 400 and response.json == {
        "ok": False, "error": "csrf",
        "message": "This form has expired. Go back, reload the page and send it again."}
    with csrf_app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(PushSubscription.id))) == 0


def test_form_token_and_htmx_header_token_are_accepted(csrf_app, people):
    client = csrf_app.test_client()
    page = client.get("/auth/login").get_data(as_text=True)
    form_token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    header_token = re.search(r'"X-CSRFToken": "([^"]+)"', page).group(1)
    response = client.post("/auth/login", data={"csrf_token": form_token,
                                                "email": people["c1"].email, "password": "x"})
    assert response.status_code == 422  # past CSRF, refused for the password
    response = client.post("/auth/login", data={"email": people["c1"].email, "password": "x"},
                           headers={"X-CSRFToken": header_token, "HX-Request": "true"})
    assert response.status_code == 422


def test_every_response_varies_on_hx_request(client):
    for url in ("/auth/login", "/", "/no-such-page"):
        assert "HX-Request" in client.get(url).headers["Vary"]


def test_not_found_is_a_friendly_page(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert b"There is nothing here" in response.data


def test_no_cdn_and_no_third_party_files_committed():
    for template in (ROOT / "templates").rglob("*.html"):
        text = template.read_text()
        assert not re.search(r'(src|href)="(https?:)?//', text), template
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    assert not [path for path in tracked if path.startswith(("static/vendor/", "node_modules/"))]
    assert not [path for path in tracked if re.search(r"(htmx|pico|axe)[.\w-]*\.(js|css)$", path)]


def test_htmx_is_pinned_to_2_0(tmp_path):
    lock = json.loads((ROOT / "package-lock.json").read_text())
    assert lock["packages"]["node_modules/htmx.org"]["version"].startswith("2.0.")


def test_audit_events_are_append_only(app, people):
    with app.app_context():
        db.session.add(AuditEvent(action="sign_in", actor_id=people["c1"].id))
        db.session.commit()
        event = db.session.scalar(sa.select(AuditEvent))
        event.action = "nothing happened"
        with pytest.raises(ValueError, match="append-only"):
            db.session.commit()
        db.session.rollback()
        db.session.delete(db.session.scalar(sa.select(AuditEvent)))
        with pytest.raises(ValueError, match="append-only"):
            db.session.commit()


# responses that may be kept: the same for everyone and free of personal data
CACHEABLE = {"static", "pages.favicon", "pages.service_worker"}


@pytest.mark.parametrize("who", [None, "c1", "t1"])
def test_every_page_is_no_store_with_the_security_headers(app, world, who):
    client = signed_in(app, world[who] if who else None)
    checked = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in CACHEABLE:
            continue
        for headers in ({}, {"HX-Request": "true"}):
            response = client.get(rule.build(world["args"], append_unknown=False)[1],
                                  headers=headers)
            assert response.headers["Cache-Control"] == "no-store", (rule.endpoint, who)
            assert response.headers["Permissions-Policy"].startswith("camera=(self)")
            assert "Strict-Transport-Security" not in response.headers
            # and the headers every response shares (ASVS 3.4.3 to 3.4.8)
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert response.headers["Referrer-Policy"] == "same-origin"
            assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
            policy = response.headers["Content-Security-Policy"]
            for directive in ("object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
                assert directive in policy
            checked += 1
    assert checked >= 40


def test_hsts_only_on_an_https_deployment(app, client):
    app.config["HTTPS"] = True
    hsts = client.get("/auth/login").headers["Strict-Transport-Security"]
    assert hsts.startswith("max-age=") and int(hsts.split("=")[1].split(";")[0]) >= 31536000


def test_static_files_keep_their_own_caching(client):
    response = client.get("/static/css/app.css")
    assert response.headers["Cache-Control"] != "no-store"
    response.close()


def test_htmx_keeps_no_page_copies_and_old_copies_are_cleared(client):
    page = client.get("/auth/login").get_data(as_text=True)
    config = json.loads(re.search(r"name=\"htmx-config\" content='([^']+)'", page).group(1))
    assert config["historyCacheSize"] == 0 and config["refreshOnHistoryMiss"] is True
    script = (ROOT / "static" / "js" / "app.js").read_text()
    assert 'sessionStorage.removeItem("htmx-history-cache")' in script
