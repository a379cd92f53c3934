"""Your data in Chromium: Back after logout shows nothing, the export downloads, the audit and
delete pages work on a phone; each page passes axe, fits 390 px and is kept as a screenshot."""
import datetime as dt
import json
import zipfile

from webapp.extensions import db
from webapp.models import AuditEvent, CareLink, User

from .conftest import (PASSWORD, axe_violations, consenting_client, login, no_horizontal_scroll,
                       shot, unique_email)

# what the timeline shows of a treatment done two days ago: health data
HEALTH_TEXT = "Upper back"


def check_page(page, name: str) -> None:
    """Fail on accessibility problems or sideways scrolling; keep a screenshot."""
    assert axe_violations(page) == [], name
    assert no_horizontal_scroll(page), name
    shot(page, name)


def history_copies(page) -> list:
    """Return what htmx keeps of pages in this tab's storage."""
    return page.evaluate("""[sessionStorage.getItem("htmx-history-cache"),
                             localStorage.getItem("htmx-history-cache")]""")


def test_back_after_logout_shows_no_health_data(page, live_app):
    email, treatment_id = consenting_client(live_app, "back", "Bea Back", dt.timedelta(days=2))
    login(page, email)
    # through the app's own (boosted) links, so that htmx puts each page into history
    page.click(f"a[href='/treatments/{treatment_id}']")
    page.wait_for_url(f"**/treatments/{treatment_id}")
    assert HEALTH_TEXT in page.inner_text("main")
    assert history_copies(page) == [None, None]
    # a copy an older version of the app left behind is cleared by the next page
    page.evaluate("""sessionStorage.setItem("htmx-history-cache",
                     JSON.stringify([{url: "/x", content: "old copy: Upper back"}]))""")
    page.click("summary:has-text('Account')")
    page.click("button:has-text('Log out')")
    page.wait_for_url("**/auth/login")
    assert history_copies(page) == [None, None]
    page.go_back()
    page.wait_for_load_state()
    page.wait_for_timeout(500)  # a restore from any copy would have happened by now
    assert HEALTH_TEXT not in page.content()
    assert "/auth/login" in page.url
    page.go_back()
    page.wait_for_load_state()
    page.wait_for_timeout(500)
    assert HEALTH_TEXT not in page.content() and "Bea Back" not in page.content()


def seen_by_a_therapist(live_app, email: str) -> None:
    """Link a therapist to the client and record that she opened the client's data."""
    with live_app.app_context():
        client = db.session.scalar(db.select(User).where(User.email == email))
        therapist = User(email=unique_email("tess"), role="therapist", name="Tess Therapist",
                         practice_name="Calm Cups", password_hash="x")
        db.session.add(therapist)
        db.session.flush()
        db.session.add(CareLink(therapist_id=therapist.id, client_id=client.id))
        for action in ("view_client", "view_treatment", "view_photo", "view_photo"):
            db.session.add(AuditEvent(action=action, actor_id=therapist.id, subject_id=client.id))
        db.session.commit()


def test_account_pages_export_audit_and_delete_on_a_phone(page, live_app, watch):
    email, treatment_id = consenting_client(live_app, "mine", "Mia Mine", dt.timedelta(days=2))
    seen_by_a_therapist(live_app, email)
    login(page, email)
    page.click("summary:has-text('Account')")
    page.click("a:has-text('Your data')")
    page.wait_for_url("**/account")
    check_page(page, "account-01-index")

    page.click("a:has-text('Who opened your data')")
    page.wait_for_url("**/account/audit")
    assert page.locator(".audit-trail li").count() == 4
    assert "Tess Therapist" in page.inner_text("main")
    check_page(page, "account-02-audit")

    page.goto("/account/export")
    check_page(page, "account-03-export")
    with page.expect_download() as download:
        page.click("button:has-text('Download my data')")
    with zipfile.ZipFile(download.value.path()) as archive:
        data = json.loads(archive.read("data.json"))
    assert data["account"]["email"] == email
    assert [t["id"] for t in data["treatments"]] == [treatment_id]

    page.goto("/account/delete")
    check_page(page, "account-04-delete")
    # the wrong password is answered 422, which the browser logs
    watch.allow("status of 422")
    page.fill("#password", "not the password")
    page.check("#understood")
    page.click("button:has-text('Delete my account')")
    page.wait_for_selector("text=That is not your password")
    check_page(page, "account-05-delete-refused")
    page.fill("#password", PASSWORD)
    page.check("#understood")
    page.click("button:has-text('Delete my account')")
    page.wait_for_url("**/auth/login")
    assert "Your account and all its data are deleted" in page.inner_text("main")
    with live_app.app_context():
        assert db.session.scalar(db.select(User).where(User.email == email)) is None


def test_withdrawing_consent_asks_about_the_photos(page, live_app, watch):
    email, _treatment_id = consenting_client(live_app, "withdraw", "Will Draw",
                                             dt.timedelta(days=1))
    login(page, email)
    page.goto("/consent")
    # the form sent without a choice is answered 422, which the browser logs
    watch.allow("status of 422")
    page.click("button:has-text('Withdraw consent')")
    page.wait_for_selector("text=Please choose whether to keep or delete")
    check_page(page, "account-06-withdraw-asks")
    page.check("input[name=photos][value=keep]")
    page.click("button:has-text('Withdraw consent')")
    page.wait_for_selector("text=your therapist can no longer see the stored ones")
