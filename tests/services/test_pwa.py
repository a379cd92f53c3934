"""The installable app without a browser: manifest, service worker, CSP, CSRF token, icons."""
import io
import json
import re
from pathlib import Path

import pytest
from flask import url_for
from PIL import Image

from webapp.services import pwa
from webapp.views import pages

ROOT = Path(__file__).resolve().parents[2]


def test_manifest_has_what_install_needs(client):
    response = client.get("/manifest.webmanifest")
    assert response.status_code == 200
    assert response.mimetype == "application/manifest+json"
    manifest = response.get_json(force=True)
    for key in ("name", "short_name", "start_url", "scope", "theme_color", "background_color"):
        assert manifest[key]
    assert manifest["display"] == "standalone"
    sizes = {(icon["sizes"], icon["purpose"]) for icon in manifest["icons"]}
    assert sizes == {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")}


def test_manifest_icons_exist_with_their_sizes(client):
    for icon in client.get("/manifest.webmanifest").get_json(force=True)["icons"]:
        response = client.get(icon["src"])
        assert response.status_code == 200, icon["src"]
        with Image.open(io.BytesIO(response.data)) as image:
            assert f"{image.width}x{image.height}" == icon["sizes"]
        response.close()


def test_service_worker_is_served_from_the_root_with_its_shell(app, client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Cache-Control"] == "no-cache"
    first_line = response.get_data(as_text=True).splitlines()[0]
    config = json.loads(re.fullmatch(r"const CUPMARK = (.*);", first_line).group(1))
    assert re.fullmatch(r"[0-9a-f]{12}", config["version"])
    # htmx under the name pages ask for it by: hashed once `make` built the static files
    with app.test_request_context():
        htmx = url_for("static", filename="vendor/htmx.min.js")
    assert htmx in config["shell"]
    # the offline page once per language, the worker told which is which
    assert config["offline"] == {"en": "/offline?lang=en", "ru": "/offline?lang=ru"}
    assert set(config["offline"].values()) <= set(config["shell"])
    assert config["language"] == app.config["BABEL_DEFAULT_LOCALE"]


def test_the_offline_page_is_in_the_language_it_names_and_pages_say_theirs(client):
    """The worker fetches it without a session: ?lang names the language (the browser's
    otherwise); every page says its language, for the worker to pick the offline page by."""
    russian = client.get("/offline?lang=ru", headers={"Accept-Language": "en"})
    assert "Нет подключения к сети" in russian.get_data(as_text=True)
    assert russian.headers["Content-Language"] == "ru" and 'lang="ru"' in russian.get_data(as_text=True)
    english = client.get("/offline?lang=xx", headers={"Accept-Language": "en"})
    assert "You are offline" in english.get_data(as_text=True)
    page = client.get("/auth/login", headers={"Accept-Language": "ru"})
    assert page.headers["Content-Language"] == "ru"


def test_the_shell_holds_nothing_personal(client):
    shell = json.loads(client.get("/sw.js").get_data(as_text=True)
                       .splitlines()[0][len("const CUPMARK = "):-1])["shell"]
    allowed = re.compile(r"^/static/(css|js|vendor|icons)/[\w.-]+$|^/offline\?lang=[a-z]{2}$|^/manifest\.webmanifest$")
    assert all(allowed.match(url) for url in shell), shell
    assert not any("photos" in url or "treatments" in url for url in shell)


def test_every_shell_file_is_served(client):
    for name in pwa.SHELL_STATIC:
        response = client.get(f"/static/{name}")
        assert response.status_code == 200, name
        response.close()


def test_shell_version_changes_with_any_shell_file(tmp_path):
    static, templates = tmp_path / "static", tmp_path / "templates"
    for name in (*pwa.SHELL_STATIC, pwa.WORKER_SOURCE):
        (static / name).parent.mkdir(parents=True, exist_ok=True)
        (static / name).write_text(name)
    (templates / "pages").mkdir(parents=True)
    (templates / "pages/offline.html").write_text("offline")
    before = pwa.shell_version(str(static), str(templates))
    assert pwa.shell_version(str(static), str(templates)) == before
    (static / "css/app.css").write_text("changed")
    after_css = pwa.shell_version(str(static), str(templates))
    (templates / "pages/offline.html").write_text("changed")
    assert len({before, after_css, pwa.shell_version(str(static), str(templates))}) == 3


def test_offline_page_is_the_same_for_everyone(client, people, auth):
    anonymous = client.get("/offline")
    auth.login(people["c1"])
    signed_in = client.get("/offline")
    assert anonymous.status_code == signed_in.status_code == 200
    assert anonymous.data == signed_in.data
    assert b"csrf" not in signed_in.data.lower() and b"Cleo" not in signed_in.data


@pytest.mark.parametrize("path", ["/auth/login", "/offline", "/sw.js", "/manifest.webmanifest",
                                  "/nothing-here"])
def test_every_response_has_the_strict_policy(client, path):
    policy = client.get(path).headers["Content-Security-Policy"]
    assert policy == pages.CONTENT_SECURITY_POLICY
    directives = dict(d.split(" ", 1) for d in policy.split("; "))
    assert "unsafe" not in policy
    assert directives["script-src"] == "'self'" and directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'" and directives["base-uri"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"


def test_templates_have_no_inline_script_style_or_handlers():
    for path in (ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), path
        assert not re.search(r"\sstyle=", text), path
        assert not re.search(r"\son[a-z]+=", text), path


def test_csrf_token_needs_a_signed_in_user(client, people, auth):
    response = client.get("/csrf-token")
    assert response.status_code == 401
    assert response.get_json() == {"ok": False, "error": "signed_out"}
    auth.login(people["c1"])
    response = client.get("/csrf-token")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.get_json()["csrf_token"]
    # the queue sends a photo only while its owner, the id the pages show, is signed in
    assert response.get_json()["user"] == str(people["c1"].id)
    page = client.get("/client/").get_data(as_text=True)
    assert f'data-owner="{people["c1"].id}"' in page


def test_csp_reports_are_logged_without_a_csrf_token(app, caplog):
    app.config["WTF_CSRF_ENABLED"] = True
    report = {"csp-report": {"violated-directive": "script-src-elem",
                             "blocked-uri": "inline", "document-uri": "http://x/"}}
    response = app.test_client().post("/csp-report", data=json.dumps(report),
                                      content_type="application/csp-report")
    assert response.status_code == 204
    assert "CSP violation: script-src-elem blocked inline" in caplog.text


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'{"csp-report": "x"}', b"x" * 20000])
def test_csp_report_endpoint_survives_junk(client, body):
    assert client.post("/csp-report", data=body,
                       content_type="application/csp-report").status_code in (204, 413)
