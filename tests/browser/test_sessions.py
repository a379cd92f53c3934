"""Staying signed in, in real Chromium: a restart keeps the sign-in; the account pages on a phone."""
from .chromium import CHROMIUM
from .conftest import (CHROMIUM_ARGS, PASSWORD, PHONE, axe_violations, login, no_horizontal_scroll,
                       shot, unique_email)


def make_client(live_app, prefix: str) -> str:
    """Add a client with the browser tests' password; return the email."""
    from webapp.extensions import db
    from webapp.models import User, utcnow
    email = unique_email(prefix)
    with live_app.app_context():
        user = User(email=email, role="client", name="Rhea Restart", timezone="UTC",
                    email_verified_at=utcnow())
        user.set_password(PASSWORD)
        db.session.add(user)
        db.session.commit()
    return email


def test_remember_me_survives_a_browser_restart(browser, base_url, live_app, tmp_path):
    email = make_client(live_app, "restart")
    profile = tmp_path / "profile"

    def open_browser():
        """Start Chromium on the same profile folder, as a phone reopening the app would."""
        return browser.browser_type.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            base_url=base_url, viewport=PHONE, device_scale_factor=1)

    first = open_browser()
    login(first.pages[0] if first.pages else first.new_page(), email)
    [cookie] = [c for c in first.cookies() if c["name"] == "session"]
    assert cookie["expires"] > 0  # a persistent cookie, not one that dies with the browser
    first.close()

    reopened = open_browser()
    page = reopened.pages[0] if reopened.pages else reopened.new_page()
    page.goto("/")
    assert page.url.endswith("/client/"), page.url
    page.goto("/account/sessions")
    assert page.locator("#devices li").count() == 1
    assert page.get_by_text("This device").is_visible()
    reopened.close()


def test_account_pages_fit_a_phone(page, base_url, live_app, watch):
    email = make_client(live_app, "pages")
    # a second device, so that the sessions page shows a list and the sign-out-all button
    other = page.context.browser.new_context(base_url=base_url, viewport=PHONE)
    login(other.new_page(), email)
    other.close()
    login(page, email)
    for path, name, heading in (("/account/sessions", "account-sessions", "Signed-in devices"),
                                ("/auth/password", "account-password", "Change your password")):
        page.goto(path)
        assert page.get_by_role("heading", name=heading).is_visible()
        assert axe_violations(page) == [], path
        assert no_horizontal_scroll(page), path
        shot(page, name)
    page.goto("/auth/password")
    watch.allow("status of 422")  # the refused form comes back as 422, which Chromium logs
    page.fill("#current_password", PASSWORD)
    page.fill("#password", "password12")
    page.click("#password-form button[type=submit]")
    page.wait_for_selector("#password-help.error")
    assert "too easy to guess" in page.inner_text("#password-help")
    shot(page, "account-password-refused")
    page.context.clear_cookies()
    page.goto("/auth/reset")
    assert axe_violations(page) == []
    assert no_horizontal_scroll(page)
    shot(page, "account-reset")
    page.fill("#email", email)
    page.click("#reset-request-form button[type=submit]")
    page.wait_for_selector("text=If an account uses this address")
    shot(page, "account-reset-sent")


def test_check_email_and_confirm_pages_fit_a_phone(page, live_app):
    email = make_client(live_app, "confirm")
    page.goto("/auth/check-email")
    assert axe_violations(page) == [] and no_horizontal_scroll(page)
    shot(page, "account-check-email")
    login(page, email)
    page.goto("/auth/confirm?next=/account/sessions")
    assert axe_violations(page) == [] and no_horizontal_scroll(page)
    shot(page, "account-confirm")
    page.fill("#password", PASSWORD)
    page.click("#confirm-form button[type=submit]")
    page.wait_for_url("**/account/sessions")
