"""The whole journey in Chromium, as two people on two phones, with axe on every main page.

A therapist registers and creates an invite; a client registers through it, consents, records
a treatment, uploads a photo made by the test, confirms the marks found on it, and sees the stage and aftercare tips on the
timeline; the therapist then finds the client on the triage list. Each main page is checked
by axe-core (no serious or critical violation), fits 390 px, and is kept as a screenshot.
"""
import datetime as dt
import re

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import CheckIn, User

from .conftest import (axe_violations, confirm_email, no_horizontal_scroll, phone, register, shot,
                       unique_email)
from .test_offline_queue import photo_bytes


def check_page(page, name: str) -> None:
    """Fail on accessibility problems or sideways scrolling; keep a screenshot."""
    assert axe_violations(page) == [], name
    assert no_horizontal_scroll(page), name
    shot(page, name)


def test_therapist_invites_client_who_checks_in_and_shows_up_in_triage(browser, base_url, page,
                                                                        watch, live_app):
    # the therapist: sign-up, then an invite link
    therapist_email = unique_email("therapist")
    page.goto("/auth/login")
    check_page(page, "journey-01-login")
    register(page, "Tara Therapist", therapist_email, role="therapist", practice="Calm Cups")
    confirm_email(page, live_app, therapist_email)
    page.goto("/invites")
    page.click("text=Create an invite")
    invite_url = page.input_value(".cards input[data-copy]")
    assert "/join/" in invite_url

    # the client, on another phone: joins through the link, consents, records a treatment
    client_phone = phone(browser, base_url, watch)
    client = client_phone.new_page()
    client_email = unique_email("client")
    register(client, "Cleo Client", client_email, invite_url=invite_url)
    client.goto("/client/")
    check_page(client, "journey-02-client-home")
    client.goto("/consent")
    client.click("text=I agree")
    # consent leads on to what the client came for: recording the session
    client.wait_for_url("**/treatments/new")
    client.goto("/treatments/new")
    two_days_ago = (dt.datetime.now() - dt.timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    client.fill("#treated_at", two_days_ago)
    client.select_option("#body_area", "upper_back")
    client.click("main form button[type=submit]")
    client.wait_for_url(re.compile(r"/treatments/\d+$"))
    timeline_url = client.url

    # today's photo, generated with known marks
    client.click("a.take-photo")
    client.wait_for_url("**/checkin")
    client.set_input_files("#photo", files=[{"name": "today.jpg", "mimeType": "image/jpeg",
                                             "buffer": photo_bytes(11)}])
    client.wait_for_selector("[data-capture-preview]:not([hidden])")
    client.fill("#pain", "1")
    check_page(client, "journey-03-checkin")
    client.evaluate("window.sameDocument = true")
    client.click("#checkin-form button[type=submit]")
    # the next step is checking the marks on the photo: one tap says they look right
    client.wait_for_url(re.compile(r"/checkins/\d+/marks$"))
    check_page(client, "journey-03b-marks")
    client.click("button.confirm-marks")
    client.wait_for_url(timeline_url)
    client.wait_for_selector(".stage-chip")
    # the marks page and the timeline came in by htmx: the page was never reloaded
    assert client.evaluate("window.sameDocument") is True
    with live_app.app_context():
        stored = db.session.scalars(sa.select(CheckIn).join(User, CheckIn.client_id == User.id)
                                    .where(User.email == client_email)).all()
        assert len(stored) == 1 and stored[0].reading is not None
        stage = stored[0].reading.stage
    assert stage in ("fresh", "turning", "faint")
    chip = client.locator(".stage-chip").first
    assert chip.is_visible() and chip.inner_text().strip()
    assert client.get_by_role("heading", name="Aftercare for today").is_visible()
    assert client.locator(".tips li").count() > 0
    check_page(client, "journey-04-timeline")
    client.goto("/client/")
    assert client.locator("a.take-photo").count() == 0 or client.is_visible(".today-done")
    check_page(client, "journey-05-client-home-after-checkin")
    client_phone.close()

    # the therapist sees the new client on the triage list
    page.goto("/therapist/")
    row = page.locator(".triage-row", has_text="Cleo Client")
    assert row.is_visible()
    check_page(page, "journey-06-triage")
