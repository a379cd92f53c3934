"""A later photo that does not match the last one, as the client sees it on a phone."""
import datetime as dt
import re

from webapp.analysis import scenes, synthetic
from webapp.extensions import db
from webapp.models import Treatment, User
from webapp.services import checkins, marks

from .conftest import axe_violations, consenting_client, login, no_horizontal_scroll, phone, send_photo, shot


def test_a_photo_of_another_body_part_asks_the_client_to_place_the_marks(browser, base_url, watch,
                                                                         live_app):
    email, treatment_id = consenting_client(live_app, "unmatched", "Kim Follow",
                                            dt.timedelta(days=6))
    back = scenes.make_scene(11, kind="back", marks=3, mixed=False)
    with live_app.app_context():
        treatment = db.session.get(Treatment, treatment_id)
        client = db.session.get(User, treatment.client_id)
        first = checkins.record_checkin(client, treatment, synthetic.save_jpeg(back.image, quality=92),
                                        idempotency_key="key-unmatched-first",
                                        taken_at=treatment.treated_at + dt.timedelta(days=3))
        marks.save(marks.Board(first, first=True, spots=[
            marks.Spot(*m.centre, marks.TAPPED_RADIUS, "tapped") for m in back.marks]), client)
    torso = scenes.make_scene(99, kind="torso", marks=0)
    context = phone(browser, base_url, watch)
    try:
        page = context.new_page()
        login(page, email)
        send_photo(page, treatment_id, synthetic.save_jpeg(torso.image, quality=92), "torso.jpg")
        page.wait_for_selector(".mark-overlay")
        notes = page.locator(".quality-notes").inner_text()
        assert "This photo does not look like the last one" in notes
        help_text = page.locator(".board-help").inner_text()
        assert "where the marks were on the last photo" in help_text
        assert "found where they were last time" not in page.content()
        assert no_horizontal_scroll(page) and axe_violations(page) == []
        shot(page, "marks-unmatched")
        page.click("button.confirm-marks")
        page.wait_for_url(re.compile(rf"/treatments/{treatment_id}$"))
        assert "The marks have faded" not in page.content()
    finally:
        context.close()
