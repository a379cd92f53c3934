"""Browser tests in real headless Chromium (Debian's package) driven by Playwright.

One live server for the whole browser suite: the real app (CSRF on, as in production) on a
temporary SQLite file (on TEST_DATABASE_URL in the PostgreSQL run), served by werkzeug in a thread on 127.0.0.1 at a free port. Each test
gets a fresh browser context (no cookies, no service worker, no IndexedDB) at 390×844 that
records console errors, page errors and Content-Security-Policy violations; a test fails if
any were seen that it did not expect. Without /usr/bin/chromium every test here is skipped
with that reason, and the report header says so.
"""
import logging
import os
import re
import threading
import uuid
from pathlib import Path

import pytest
from flask import Response
from werkzeug.serving import make_server

from webapp import create_app
from webapp.extensions import db

from .chromium import CHROMIUM, HAVE_CHROMIUM, REQUIRED, SKIP_REASON

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
PASSWORD = "a long enough password"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--use-fake-ui-for-media-stream",
                 "--use-fake-device-for-media-stream"]
# reported by the page before anything else runs, in every document of the context
WATCH_CSP = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.cupmarkCsp(`${e.violatedDirective} blocked ${e.blockedURI} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


def pytest_collection_modifyitems(config, items):
    """Skip every browser test, visibly, when there is no Chromium (fail where it is required)."""
    if HAVE_CHROMIUM:
        return
    if REQUIRED:
        raise pytest.UsageError(f"CUPMARK_REQUIRE_BROWSER=1 but {SKIP_REASON}")
    for item in items:
        if "tests/browser/" in item.nodeid:
            item.add_marker(pytest.mark.skip(reason=SKIP_REASON))


@pytest.fixture(scope="package")
def live_server(tmp_path_factory):
    """Serve the real app (CSRF on) on a free local port; yields (app, base_url)."""
    folder = tmp_path_factory.mktemp("live")
    # the PostgreSQL run of the suite drives the browser journeys on PostgreSQL as well
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{folder / 'live.sqlite'}"
    app = create_app({
        "SECRET_KEY": "browser test secret",
        "SQLALCHEMY_DATABASE_URI": url,
        "SESSION_COOKIE_SECURE": False,
        "PHOTO_ROOT": str(folder / "photos"),
        "MAIL_BACKEND": "file",
        "MAIL_FILE_PATH": str(folder / "outbox"),
        "VAPID_PRIVATE_KEY_FILE": str(folder / "vapid_private.pem"),
    })
    # axe-core's own file (npm, node_modules) for a request the page's service worker makes,
    # which axe_violations' page route never sees
    axe = AXE.read_bytes()
    app.add_url_rule("/__axe.min.js", "test_axe", lambda: Response(axe, mimetype="text/javascript"))
    with app.app_context():
        db.drop_all()
        db.create_all()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join()
    server.server_close()
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


@pytest.fixture(scope="package")
def base_url(live_server):
    """The live server's address."""
    return live_server[1]


@pytest.fixture(scope="package")
def live_app(live_server):
    """The live server's app, to look into its database."""
    return live_server[0]


@pytest.fixture(scope="package")
def browser():
    """One headless Chromium for the whole suite."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Watch:
    """What a page said that a healthy app never says: console errors, page errors, CSP."""

    def __init__(self):
        self.errors: list[str] = []
        self.csp: list[str] = []
        self.allowed: list[str] = []

    def allow(self, fragment: str) -> None:
        """Expect console errors containing fragment (e.g. failed loads while offline)."""
        self.allowed.append(fragment)

    def console(self, message) -> None:
        """Keep a console error unless the test expects it."""
        if message.type == "error" and not any(a in message.text for a in self.allowed):
            self.errors.append(f"console: {message.text} @ {message.location.get('url')}")

    def unexpected(self) -> list[str]:
        """Return everything seen that should not have been."""
        return self.errors + [f"CSP: {v}" for v in self.csp]


@pytest.fixture
def watch():
    """The current test's console and CSP record."""
    return Watch()


def phone(browser, base_url: str, watch: Watch, color_scheme: str = "light",
          service_workers: str = "allow"):
    """Open a fresh phone-sized browser context that reports errors and CSP violations.

    ``service_workers="block"`` keeps the app's worker out: a page it controls fetches through
    it, past Playwright's page.route (which axe_violations uses to serve axe-core).
    """
    context = browser.new_context(base_url=base_url, viewport=PHONE, device_scale_factor=1,
                                  service_workers=service_workers, color_scheme=color_scheme)
    # a step that never happens should fail in seconds, not after Playwright's 30
    context.set_default_timeout(10_000)
    context.expose_function("cupmarkCsp", lambda violation: watch.csp.append(violation))
    context.add_init_script(WATCH_CSP)
    context.on("console", watch.console)
    context.on("weberror", lambda error: watch.errors.append(f"page error: {error.error}"))
    return context


class ServerCspLog(logging.Handler):
    """Keep the CSP reports the live server logged (what /csp-report received)."""

    def __init__(self, watch: Watch):
        super().__init__(logging.WARNING)
        self.watch = watch

    def emit(self, record) -> None:
        """Record a CSP report as something the test did not expect."""
        message = record.getMessage()
        if message.startswith("CSP violation"):
            self.watch.csp.append(f"server log: {message}")


@pytest.fixture
def context(browser, base_url, watch, live_app):
    """A fresh phone for the test, which fails on errors or CSP violations it did not expect.

    A violation counts whether the page's own event saw it or the server's /csp-report
    logged it (the report the browser sends), so no CSP report at all passes a test.
    """
    context = phone(browser, base_url, watch)
    server_log = ServerCspLog(watch)
    live_app.logger.addHandler(server_log)
    try:
        yield context
        context.close()
    finally:
        live_app.logger.removeHandler(server_log)
    assert watch.unexpected() == []


@pytest.fixture
def page(context):
    """A page in the test's context."""
    return context.new_page()


def shot(page, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/ and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def no_horizontal_scroll(page) -> bool:
    """Tell whether the page fits the phone's width."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def axe_violations(page, impacts=("serious", "critical")) -> list[str]:
    """Run axe-core (from npm, node_modules) on the page; return serious/critical violations."""
    if not page.evaluate("typeof window.axe === 'object'"):
        # axe's own file, served as if from our origin: the page's strict CSP stays on (an
        # inline tag, add_script_tag(path=...), is rightly refused by script-src 'self'). The
        # route answers even offline; a request the page's service worker makes passes it by
        # and reaches the live app, which serves the same file (live_server)
        page.route("**/__axe.min.js", lambda route: route.fulfill(
            path=str(AXE), content_type="text/javascript"))
        page.add_script_tag(url="/__axe.min.js")
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    return [f"{v['id']} ({v['impact']}): {v['help']} — "
            + "; ".join(n["target"][0] if isinstance(n["target"][0], str) else str(n["target"])
                        for n in v["nodes"][:5])
            for v in result["violations"] if v["impact"] in impacts]


def worker_registration(session, page) -> str:
    """Return the id of the page's service worker registration, through a DevTools session."""
    registrations = []
    session.on("ServiceWorker.workerRegistrationUpdated",
               lambda event: registrations.extend(event["registrations"]))
    session.send("ServiceWorker.enable")
    for _ in range(25):  # the registrations arrive as events after enable
        if registrations:
            break
        page.wait_for_timeout(100)
    (registration,) = [r for r in registrations if not r["isDeleted"]]
    return registration["registrationId"]


def unique_email(prefix: str) -> str:
    """An email no other test used on the shared live server."""
    return f"{prefix}-{uuid.uuid4().hex[:8]}@example.org"


def consenting_client(live_app, prefix: str, name: str, treated_ago) -> tuple[str, int]:
    """Add a consenting client with one treatment ``treated_ago`` (a timedelta) ago.

    Returns (email, treatment id); the password is ``PASSWORD``.
    """
    from webapp.models import Consent, Treatment, User, utcnow

    email = unique_email(prefix)
    with live_app.app_context():
        user = User(email=email, role="client", name=name, timezone="UTC")
        user.set_password(PASSWORD)
        db.session.add(user)
        db.session.flush()
        db.session.add(Consent(user_id=user.id, version=live_app.config["CONSENT_VERSION"]))
        treatment = Treatment(client_id=user.id, recorded_by_id=user.id, treated_at=utcnow() - treated_ago,
                              body_area="upper_back", technique="static", cup_count=6,
                              cup_material="glass", suction="medium")
        db.session.add(treatment)
        db.session.commit()
        return email, treatment.id


def send_photo(page, treatment_id: int, data: bytes, name: str = "photo.jpg") -> None:
    """Send a JPEG through the treatment's check-in form and land on its marks page."""
    page.goto(f"/treatments/{treatment_id}/checkin")
    page.set_input_files("#photo", files=[{"name": name, "mimeType": "image/jpeg", "buffer": data}])
    page.fill("#pain", "1")
    page.click("#checkin-form button[type=submit]")
    page.wait_for_url(re.compile(r"/checkins/\d+/marks$"))


def register(page, name: str, email: str, role: str | None = "client",
             practice: str | None = None, invite_url: str | None = None) -> None:
    """Create an account through the sign-up form (from an invite link if given)."""
    page.goto(invite_url or "/auth/register")
    if invite_url:
        page.click("a:has-text('Create an account')")
    page.fill("#name", name)
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    if role and not invite_url:
        page.check(f"input[name=role][value={role}]")
    if practice:
        page.fill("#practice_name", practice)
    page.click("#register-form button[type=submit]")
    # the same answer for any email: a message is on its way; then the person signs in
    page.wait_for_url("**/auth/check-email")
    login(page, email)


def confirm_email(page, live_app, email: str) -> None:
    """Open the confirmation link the live server emailed to email."""
    from webapp.services.mail import read_outbox
    [message] = [m for m in read_outbox(live_app.config["MAIL_FILE_PATH"]) if m["To"] == email]
    link = re.search(r"https?://[^/\s]+(/auth/verify/\S+)", message.get_content()).group(1)
    page.goto(link)


def login(page, email: str) -> None:
    """Sign in through the login form."""
    page.goto("/auth/login")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(lambda url: "/auth/login" not in url)
