"""Messages in Chromium at 390×844: a client and a therapist write to each other on two phones,
and the therapist's note on a flag shows up in the client's thread without a reload."""
import datetime as dt
import hashlib
import io
from pathlib import Path

import sqlalchemy as sa
from pypdf import PdfReader

from webapp.extensions import db
from webapp.models import CareLink, Flag, Record, Treatment, User

from .conftest import (ARTIFACTS, PASSWORD, axe_violations, consenting_client, login,
                       no_horizontal_scroll, phone, shot, unique_email)


def linked_client(live_app, prefix: str, name: str, days: int) -> tuple[str, str, int]:
    """Add a consenting client treated ``days`` ago, linked to a new therapist.

    Returns (client email, therapist email, treatment id); the password is ``PASSWORD``.
    """
    client_email, tid = consenting_client(live_app, prefix, name, dt.timedelta(days=days))
    therapist_email = unique_email(f"{prefix}-therapist")
    with live_app.app_context():
        therapist = User(email=therapist_email, role="therapist", name="Tess Thread",
                         practice_name="Calm Cups", timezone="UTC")
        therapist.set_password(PASSWORD)
        db.session.add(therapist)
        db.session.flush()
        treatment = db.session.get(Treatment, tid)
        treatment.therapist_id = therapist.id
        db.session.add(CareLink(therapist_id=therapist.id, client_id=treatment.client_id))
        db.session.commit()
    return client_email, therapist_email, tid


def test_client_and_therapist_exchange_messages_and_a_flag_note(browser, base_url, page, watch,
                                                                 live_app):
    client_email, therapist_email, tid = linked_client(live_app, "thread", "Cleo Thread", 4)
    with live_app.app_context():
        flag = Flag(treatment_id=tid, kind="slow_healing", reason="Slower than expected.")
        db.session.add(flag)
        db.session.commit()
        client_id, flag_id = db.session.get(Treatment, tid).client_id, flag.id

    # the client writes from the timeline: the message appears in place, the page stays
    login(page, client_email)
    page.goto(f"/treatments/{tid}#thread-{tid}")
    box = page.locator(f"#message-{tid}-body")
    box.fill("The lower mark is still dark purple. Is that normal on day 4?")
    page.click(f"#thread-{tid} button[type=submit]")
    page.wait_for_selector(f"#thread-{tid} .message.mine:has-text('still dark purple')")
    assert page.url.endswith(f"/treatments/{tid}#thread-{tid}")
    assert box.input_value() == ""
    # the focus stays on the Send button of the thread swapped in, not lost to the page's body
    assert page.evaluate("document.activeElement.id") == f"message-send-{tid}"

    # the therapist, on another phone: the unread count, then a reply and a note on the flag
    therapist_phone = phone(browser, base_url, watch)
    tpage = therapist_phone.new_page()
    login(tpage, therapist_email)
    tpage.goto("/therapist/")
    assert tpage.locator("nav.sections .count").inner_text() == "1"
    tpage.goto(f"/therapist/clients/{client_id}")
    thread = tpage.locator(f"#thread-{tid}")
    thread.locator(".message.theirs:has-text('still dark purple')").wait_for()
    thread.locator("textarea").fill("Yes, a dark mark can take 10 days. Keep it warm.")
    thread.locator("button[type=submit]").click()
    tpage.wait_for_selector(f"#thread-{tid} .message.mine:has-text('Keep it warm')")
    tpage.fill(f"#ack-note-{flag_id}", "Looked at your photos: send one more on Friday, please.")
    tpage.click(f"#flag-{flag_id} button[type=submit]")
    tpage.wait_for_selector(f"#flag-{flag_id}.flag-done")
    assert tpage.locator("nav.sections .count").count() == 0
    therapist_phone.close()

    # the client's open thread asks again every 20 s: both arrive without a reload
    page.wait_for_selector(f"#thread-{tid} .message.theirs:has-text('Keep it warm')",
                           timeout=30_000)
    note = page.locator(f"#thread-{tid} .message.flag-note")
    note.wait_for(timeout=30_000)
    assert "send one more on Friday" in note.inner_text()
    assert "About your marks fading slowly" in note.inner_text()
    assert axe_violations(page) == []
    assert no_horizontal_scroll(page)
    shot(page, "messages-01-client-timeline")
    page.locator(f"#thread-{tid}").scroll_into_view_if_needed()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "messages-02-client-thread.png"))


def test_client_downloads_the_record_and_anyone_checks_its_code(browser, base_url, page, watch,
                                                                live_app):
    client_email, tid = consenting_client(live_app, "record", "Rita Record", dt.timedelta(days=2))
    login(page, client_email)
    page.goto(f"/treatments/{tid}")
    with page.expect_download() as download:
        page.click("#records form.issue-record button")
    pdf = Path(download.value.path()).read_bytes()
    assert PdfReader(io.BytesIO(pdf)).pages[0].extract_text().startswith("Treatment-mark record")
    with live_app.app_context():
        record = db.session.scalar(db.select(Record).where(Record.treatment_id == tid))
        code = record.code
    # a stranger on another phone types the printed code
    stranger = phone(browser, base_url, watch).new_page()
    stranger.goto("/verify")
    stranger.fill("#verify-code", "-".join(code[i:i + 4] for i in range(0, 16, 4)).lower())
    stranger.click("main form button[type=submit]")
    stranger.wait_for_url(f"**/verify/{code}")
    assert hashlib.sha256(pdf).hexdigest() in stranger.inner_text("main")
    assert "Rita" not in stranger.content()
    assert axe_violations(stranger) == [] and no_horizontal_scroll(stranger)
    shot(stranger, "messages-03-verify")


def test_a_message_written_when_the_session_ended_comes_back_after_the_login(page, watch,
                                                                           live_app):
    from webapp.models import UserSession

    email, _, tid = linked_client(live_app, "draft", "Dora Draft", 3)
    login(page, email)
    page.goto(f"/treatments/{tid}#thread-{tid}")
    text = "The mark on the left shoulder itches since this morning."
    page.fill(f"#message-{tid}-body", text)
    # the session ends while she writes (signed out on another device, or it timed out)
    with live_app.app_context():
        db.session.execute(sa.delete(UserSession).where(
            UserSession.user_id == db.session.scalar(sa.select(User.id).where(User.email == email))))
        db.session.commit()
    watch.allow("401")  # the refused send, which sends her to the login page
    page.click(f"#thread-{tid} button[type=submit]")
    page.wait_for_url(lambda url: "/auth/login?next=" in url)
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    # back on the page she wrote on, her words still in the box, and nothing was sent
    page.wait_for_url(f"**/treatments/{tid}")
    assert page.locator(f"#message-{tid}-body").input_value() == text
    assert page.locator(f"#thread-{tid} .draft-kept").is_visible()
    assert page.locator(f"#thread-{tid} .message").count() == 0
    page.click(f"#thread-{tid} button[type=submit]")
    page.wait_for_selector(f"#thread-{tid} .message.mine:has-text('itches')")
    # sent: the box is empty, also on the next visit
    page.reload()
    assert page.locator(f"#message-{tid}-body").input_value() == ""
    # logging out forgets any draft in the tab, so the phone's next user finds none
    page.fill(f"#message-{tid}-body", "half a thought")
    page.click("summary:has-text('Account')")
    page.click("button:has-text('Log out')")
    page.wait_for_url(lambda url: "/treatments/" not in url)
    assert page.evaluate("Object.keys(sessionStorage).filter(k => k.startsWith('cupmark-draft:'))") == []


def test_a_draft_left_by_an_ended_session_is_gone_when_someone_else_signs_in(page, watch,
                                                                              live_app):
    from webapp.models import UserSession

    email, _, tid = linked_client(live_app, "left", "Lena Left", 2)
    other, _, _ = linked_client(live_app, "next", "Nina Next", 1)
    login(page, email)
    page.goto(f"/treatments/{tid}")
    page.fill(f"#message-{tid}-body", "About the bleeding on my back")
    # her session ends without a logout (another device, a time-out); the next person of the
    # shared phone signs in on the same tab
    with live_app.app_context():
        db.session.execute(sa.delete(UserSession))
        db.session.commit()
    page.goto("/auth/login")
    # signed out, the draft is kept for its writer
    assert page.evaluate("Object.keys(sessionStorage).filter(k => k.startsWith('cupmark-draft:'))")
    page.fill("#email", other)
    page.fill("#password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(lambda url: "/auth/login" not in url)
    assert page.evaluate("Object.keys(sessionStorage).filter(k => k.startsWith('cupmark-draft:'))") == []


def test_a_message_that_cannot_be_sent_says_so_and_stays_in_the_box(browser, base_url, watch,
                                                                     live_app):
    email, _, tid = linked_client(live_app, "unsent", "Una Unsent", 2)
    # no service worker: the requests it would make (all but its own pages) are the page's,
    # so page.route sees them
    context = phone(browser, base_url, watch, service_workers="block")
    page = context.new_page()
    login(page, email)
    page.goto(f"/treatments/{tid}")
    text = "Is it normal that the marks are warm?"
    page.fill(f"#message-{tid}-body", text)
    notice = page.locator("#request-failed")
    # no network: the page says so instead of a button that does nothing (htmx logs a failed
    # request as an error: expected here)
    for expected in ("ERR_INTERNET_DISCONNECTED", "htmx:sendError", "htmx:responseError",
                     "htmx:afterRequest"):
        watch.allow(expected)
    sending = f"**/treatments/{tid}/messages"
    page.route(sending, lambda route: route.abort("internetdisconnected"))
    page.click(f"#thread-{tid} button[type=submit]")
    notice.wait_for()
    assert "could not be reached" in notice.inner_text()
    assert page.locator(f"#message-{tid}-body").input_value() == text
    shot(page, "messages-03-send-failed")
    # the server fails: its own words, and the box still holds the text
    watch.allow("500")
    page.unroute(sending)
    page.route(sending, lambda route: route.fulfill(
        status=500, content_type="text/html",
        body='<article id="error"><h1>Oops</h1><p>Sorry, something went wrong on our side.</p></article>'))
    page.click(f"#thread-{tid} button[type=submit]")
    page.wait_for_function("document.querySelector('#request-failed p').textContent.includes('our side')")
    assert page.locator(f"#message-{tid}-body").input_value() == text
    page.click("#request-failed button")
    assert notice.is_hidden()
    page.unroute(sending)
    page.click(f"#thread-{tid} button[type=submit]")
    page.wait_for_selector(f"#thread-{tid} .message.mine:has-text('warm')")
    assert notice.is_hidden()
    context.close()
    assert watch.unexpected() == []


def test_acknowledging_a_flag_keeps_the_keyboard_in_place_and_says_so(page, watch, live_app):
    # the button pressed goes with the swap: the keyboard goes on to the next open flag's note
    # (not the top of the page), a screen reader hears the result, and after the last flag the
    # keyboard stays on the flag just answered
    _client_email, therapist_email, tid = linked_client(live_app, "focus", "Fay Focus", 4)
    with live_app.app_context():
        first = Flag(treatment_id=tid, kind="slow_healing", reason="Slower than expected.")
        second = Flag(treatment_id=tid, kind="missed_checkins", reason="No photo for 3 days.")
        db.session.add_all([first, second])
        db.session.commit()
        client_id = db.session.get(Treatment, tid).client_id
    login(page, therapist_email)
    page.goto(f"/therapist/clients/{client_id}")
    ids = page.locator("li.flag").evaluate_all("items => items.map(i => i.id)")
    assert len(ids) == 2
    page.fill(f"#{ids[0]} textarea", "Called her: all is well.")
    page.focus(f"#{ids[0]} button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#{ids[0]}.flag-done")
    # a function, not an expression: the page's CSP refuses the eval an expression needs
    page.wait_for_function(f"() => document.activeElement.closest('#{ids[1]}') !== null")
    assert page.evaluate("document.activeElement.tagName") == "TEXTAREA"
    said = page.locator("[data-flags-said]")
    assert said.get_attribute("role") == "status"
    assert said.text_content() == "Flag acknowledged: your note was sent to the client as a message."
    shot(page, "messages-flag-focus")
    page.fill(f"#{ids[1]} textarea", "Reminded him to send a photo.")
    page.focus(f"#{ids[1]} button[type=submit]")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#{ids[1]}.flag-done")
    page.wait_for_function(f"() => document.activeElement.id === '{ids[1]}'")
    assert axe_violations(page) == []
