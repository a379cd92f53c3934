"""A photo with the cups still on, in Chromium at 390×844: the problem is said above the photo,
no marks are offered on it, and "Take the photo again" opens a new check-in; the timeline's
day says it as well, and that the photo is not counted.
Screenshots of both pages are kept."""
import datetime as dt
import re

import pytest

from webapp.analysis import scenes, synthetic

from .conftest import axe_violations, consenting_client, login, no_horizontal_scroll, send_photo, shot


@pytest.fixture
def treatment(live_app):
    """A consenting client with a treatment from this morning; returns (email, treatment id)."""
    return consenting_client(live_app, "cups", "Cora Cups", dt.timedelta(minutes=30))


def test_a_photo_with_cups_on_asks_for_a_new_one(page, treatment):
    email, treatment_id = treatment
    login(page, email)
    send_photo(page, treatment_id, synthetic.save_jpeg(scenes.make_scene(102, kind="back", cups=4).image, quality=92),
               "cups.jpg")
    note = page.locator(".quality-notes .quality-cups_on_skin")
    assert note.is_visible()
    assert "Take the photo after the cups are off." in note.inner_text()
    retake = page.get_by_role("button", name="Take the photo again")
    box, photo = retake.bounding_box(), page.locator(".spoilt-photo img").bounding_box()
    # said before the photo, where the eye lands first, and within the phone's width
    assert box["y"] + box["height"] <= photo["y"] and box["x"] + box["width"] <= 390
    # the cups' domes are not offered as marks to follow
    assert page.locator('input[name="tap"]').count() == 0 and photo["width"] <= 390
    assert no_horizontal_scroll(page)
    assert axe_violations(page) == []
    shot(page, "quality-cups-390")
    retake.click()
    page.wait_for_url(re.compile(rf"/treatments/{treatment_id}/checkin$"))
    assert page.locator("#photo").count() == 1
    # the day on the timeline says it too, with the same way to a new photo
    page.goto(f"/treatments/{treatment_id}")
    day = page.locator(".day-row .quality-cups_on_skin")
    assert day.is_visible() and no_horizontal_scroll(page)
    # its stage is the cups' domes, not the marks': the day says it is not counted instead
    assert page.locator(".day-row .not-counted").is_visible()
    assert page.locator(".day-row .stage-chip").count() == 0
    # nor is today's photo done: the page's one action is still to take it
    assert page.locator("a.take-photo").is_visible() and page.locator(".today-done").count() == 0
    assert page.locator(".confirm-marks-note").count() == 0
    shot(page, "quality-cups-day-390")
    page.locator(".day-row").get_by_role("link", name="Take the photo again").click()
    page.wait_for_url(re.compile(rf"/treatments/{treatment_id}/checkin$"))
