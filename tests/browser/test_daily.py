"""The daily loop on a phone: a photo opens as an image, the pages pass axe in light and dark,
and the home card across the Sunday the clocks go back (screenshots at 390×844)."""
import datetime as dt
import uuid
import zoneinfo

import pytest
import sqlalchemy as sa

from webapp import clock
from webapp.extensions import db
from webapp.models import CareLink, Consent, Treatment, User, utcnow
from webapp.services import checkins

from .conftest import PASSWORD, axe_violations, login, no_horizontal_scroll, shot, unique_email
from .test_offline_queue import fill_checkin, photo_bytes

LONDON = zoneinfo.ZoneInfo("Europe/London")


def london(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """Return a wall-clock time in London in October 2026 (the clocks go back on the 25th)."""
    return dt.datetime(2026, 10, day, hour, minute, tzinfo=LONDON)


def make_people(live_app, treated_at: dt.datetime, zone: str = "UTC") -> tuple[str, str, int]:
    """Add a consenting client linked to a therapist, with a treatment; return both emails and
    the treatment id (the password is PASSWORD)."""
    client_email, therapist_email = unique_email("daily"), unique_email("daily-t")
    with live_app.app_context():
        therapist = User(email=therapist_email, role="therapist", name="Thea Daily",
                         practice_name="Daily cups", timezone=zone)
        client = User(email=client_email, role="client", name="Dana Daily", timezone=zone)
        for person in (therapist, client):
            person.set_password(PASSWORD)
            db.session.add(person)
        db.session.flush()
        db.session.add_all([CareLink(therapist_id=therapist.id, client_id=client.id),
                            Consent(user_id=client.id, version=live_app.config["CONSENT_VERSION"])])
        treatment = Treatment(client_id=client.id, therapist_id=therapist.id,
                              recorded_by_id=therapist.id, treated_at=treated_at,
                              body_area="upper_back", technique="static", cup_count=6,
                              cup_material="glass", suction="medium")
        db.session.add(treatment)
        db.session.commit()
        return client_email, therapist_email, treatment.id


def check_in(live_app, email: str, treatment_id: int, seed: int, **fields) -> int:
    """Store a check-in taken now (the app's clock) through the service; return its id."""
    with live_app.test_request_context():
        client = db.session.scalar(sa.select(User).where(User.email == email))
        return checkins.record_checkin(
            client, db.session.get(Treatment, treatment_id), photo_bytes(seed),
            idempotency_key=str(uuid.uuid4()), taken_at=utcnow(), **fields).id


def test_tapping_a_thumbnail_shows_the_image(page, live_app):
    """The thumbnail's link loads the photo itself, not its bytes as text in the page."""
    email, _therapist, treatment_id = make_people(live_app, utcnow() - dt.timedelta(days=1))
    checkin_id = check_in(live_app, email, treatment_id, seed=3)
    login(page, email)
    page.goto(f"/treatments/{treatment_id}")
    page.click(f"#checkin-{checkin_id} a.day-photo")
    page.wait_for_url(f"**/photos/{checkin_id}/full*")
    assert page.evaluate("document.contentType") == "image/jpeg"
    assert page.evaluate("document.images.length === 1 && document.images[0].naturalWidth > 0")
    assert "JFIF" not in page.evaluate("document.body.innerText")


def test_a_photo_sent_untouched_is_taken_now_and_confirmed(page, live_app):
    """The time left empty is stamped at sending; the next page says the check-in is saved."""
    email, _therapist, treatment_id = make_people(live_app, utcnow() - dt.timedelta(days=1))
    login(page, email)
    fill_checkin(page, treatment_id, seed=4)
    assert page.input_value("#taken_at") == ""
    # whatever builds the form's data (the offline queue's FormData too) gets the moment of
    # sending, on the client's wall clock (UTC here), while the field itself stays empty
    stamped = page.evaluate("new FormData(document.querySelector('#checkin-form')).get('taken_at')")
    now = clock.utc_to_local(utcnow(), "UTC")
    assert abs(dt.datetime.fromisoformat(stamped) - now) < dt.timedelta(minutes=2)
    assert page.input_value("#taken_at") == ""
    page.click("#checkin-form button[type=submit]")
    page.wait_for_url("**/marks*")
    said = page.locator(".flashes[role=status]")
    assert "Check-in saved" in said.inner_text()
    with live_app.app_context():
        taken = db.session.scalar(sa.select(checkins.CheckIn.taken_at).where(
            checkins.CheckIn.treatment_id == treatment_id))
    assert abs(taken - utcnow()) < dt.timedelta(minutes=2)


def test_a_refused_time_is_a_clear_alert(page, watch, live_app):
    """With JavaScript on, a refusal is an alert box at the top of the form, saying why."""
    watch.allow("status of 422")
    email, _therapist, treatment_id = make_people(live_app, utcnow() - dt.timedelta(days=1))
    login(page, email)
    fill_checkin(page, treatment_id, seed=5)
    yesterday = (clock.utc_to_local(utcnow(), "UTC") - dt.timedelta(days=2)).strftime(
        "%Y-%m-%dT%H:%M")
    page.fill("#taken_at", yesterday)
    page.click("#checkin-form button[type=submit]")
    alert = page.wait_for_selector("#checkin-form [role=alert]:not(:empty)")
    assert "before the treatment" in alert.inner_text()
    box = alert.bounding_box()
    form = page.locator("#checkin-form").bounding_box()
    assert box["y"] - form["y"] < 80  # at the top of the form, not in its middle
    shot(page, "daily-refused-time")


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_serious_issue_on_the_daily_pages(browser, base_url, page, watch, live_app,
                                                       scheme):
    """Home, check-in, timeline and triage, in light and dark: no serious or critical issue."""
    email, therapist_email, treatment_id = make_people(
        live_app, utcnow() - dt.timedelta(days=2, hours=3))
    for seed, hours in ((6, 26), (7, 1)):
        with clock.travel(utcnow() - dt.timedelta(hours=hours)):
            check_in(live_app, email, treatment_id, seed, blisters=seed == 7)
    page.emulate_media(color_scheme=scheme)
    login(page, email)
    found = {}
    for name, url in (("home", "/client/"), ("checkin", f"/treatments/{treatment_id}/checkin"),
                      ("timeline", f"/treatments/{treatment_id}")):
        page.goto(url)
        found[name] = axe_violations(page)
        assert no_horizontal_scroll(page), name
        shot(page, f"daily-{scheme}-{name}")
    page.context.clear_cookies()
    login(page, therapist_email)
    page.goto("/therapist/")
    found["triage"] = axe_violations(page)
    shot(page, f"daily-{scheme}-triage")
    assert found == {"home": [], "checkin": [], "timeline": [], "triage": []}


def test_the_home_card_before_and_after_todays_photo_across_the_clocks_going_back(page, live_app):
    """Treated Saturday 23:30, the evening before the clocks go back: Sunday is day 1 all day,
    and at 22:20 and at 22:40 the card says today's photo is done."""
    email, _therapist, treatment_id = make_people(live_app, london(24, 23, 30),
                                                  zone="Europe/London")
    with clock.travel(london(24, 23, 50)):
        check_in(live_app, email, treatment_id, seed=8)
    login(page, email)
    with clock.travel(london(25, 8, 0)):
        page.goto("/client/")
        card = page.locator(".recovery-card").inner_text()
        assert "Day 1 of 7" in card and "Take today's photo" in card
        shot(page, "daily-home-sunday-0800-before-photo")
    with clock.travel(london(25, 9, 0)):
        check_in(live_app, email, treatment_id, seed=9, blisters=True)
        page.goto("/client/")
        shot(page, "daily-home-sunday-0900-after-photo")
    with clock.travel(london(25, 21, 55)):
        check_in(live_app, email, treatment_id, seed=10)
    for minute in (20, 40):
        with clock.travel(london(25, 22, minute)):
            page.goto("/client/")
            card = page.locator(".recovery-card").inner_text()
            assert "Day 1 of 7" in card and "Today's photo is done" in card
            assert "Take today's photo" not in card
            shot(page, f"daily-home-sunday-22{minute}")
    with clock.travel(london(25, 22, 40)):
        page.goto(f"/treatments/{treatment_id}")
        # every photo in the screenshot, not only those scrolled to
        page.evaluate("""Promise.all([...document.images].map((img) => {
            img.loading = "eager";
            return img.complete ? null
                : new Promise((done) => { img.onload = img.onerror = done; });
        }))""")
        sunday = page.locator(f"#day-{treatment_id}-1").inner_text()
        assert "Sun 25 Oct, 21:55" in sunday and "Earlier that day, at 09:00" in sunday
        shot(page, "daily-timeline-sunday-2240")
    with clock.travel(london(26, 7, 30)):
        page.goto("/client/")
        card = page.locator(".recovery-card").inner_text()
        assert "Day 2 of 7" in card and "Take today's photo" in card
        shot(page, "daily-home-monday-0730")
