"""A first visit and a busy morning in Chromium: the welcome and privacy pages, sign-up, a
red-flag day, a slow recovery, invites and the before/after comparison, in light and dark.

Each page is checked by axe-core (no serious or critical violation) and fits 390 px (with the
service worker blocked, see conftest.phone); the
comparison's two photos come when its button is tapped (with or without JavaScript), and its
slider is moved by a drag and by the keyboard; screenshots land in test-artifacts/
(welcome-*.png). Every test fails on a console error or any CSP report, from
the page or in the server's log (the `context` fixture).
"""
import datetime as dt
import io

import numpy as np
import pytest
import sqlalchemy as sa
from PIL import Image

from tests.scene_pairs import make_scene, photograph, rephotographed
from webapp.extensions import db
from webapp.models import CareLink, CheckIn, Flag, Treatment, User, utcnow
from webapp.services import demo, flags
from webapp.services.checkins import record_checkin

from .conftest import (ARTIFACTS, PHONE, axe_violations, consenting_client, login,
                       no_horizontal_scroll, phone, shot)
from .test_offline_queue import photo_bytes


def jpeg(image) -> bytes:
    """Encode a test photo as a phone would send it."""
    out = io.BytesIO()
    image.save(out, "JPEG", quality=92)
    return out.getvalue()


def add_photo(live_app, email: str, treatment_id: int, data: bytes, hours_ago: float,
              key: str, **symptoms) -> None:
    """Record a check-in through the real service (measured, flags raised)."""
    with live_app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        treatment = db.session.get(Treatment, treatment_id)
        record_checkin(user, treatment, data, idempotency_key=key,
                       taken_at=utcnow() - dt.timedelta(hours=hours_ago), **symptoms)


def link_to(live_app, therapist_email: str, client_email: str) -> None:
    """Link a client to a therapist."""
    with live_app.app_context():
        ids = dict(db.session.execute(sa.select(User.email, User.id).where(
            User.email.in_((therapist_email, client_email)))).all())
        db.session.add(CareLink(therapist_id=ids[therapist_email], client_id=ids[client_email]))
        db.session.commit()


@pytest.fixture(scope="module")
def people(live_app):
    """The demo practice, plus a client who reported blisters today and one whose two photos
    of a moved back the comparison lines up; returns emails and treatment ids."""
    with live_app.app_context():
        if db.session.scalar(sa.select(User.id).where(User.email == demo.THERAPIST_EMAIL)) is None:
            demo.create_demo(utcnow())
        ben = db.session.scalar(sa.select(Treatment.id).join(User, User.id == Treatment.client_id)
                                .where(User.email == "ben@demo.cupmark.example"))
    rosa, rosa_treatment = consenting_client(live_app, "rosa", "Rosa Red", dt.timedelta(days=1.5))
    link_to(live_app, demo.THERAPIST_EMAIL, rosa)
    add_photo(live_app, rosa, rosa_treatment, photo_bytes(21), 0, "welcome-rosa-0001",
              pain=3, blisters=True)
    uma, uma_treatment = consenting_client(live_app, "uma", "Uma Moved", dt.timedelta(days=4.5))
    link_to(live_app, demo.THERAPIST_EMAIL, uma)
    scene = make_scene(seed=5)
    add_photo(live_app, uma, uma_treatment, jpeg(photograph(scene)[0]), 100, "welcome-uma-0001")
    moved = rephotographed(scene, shift=(0.06, -0.04), rotate_deg=6, scale=1.08)[0]
    add_photo(live_app, uma, uma_treatment, jpeg(moved), 2, "welcome-uma-0002")
    return {"ben": ben, "rosa": (rosa, rosa_treatment), "uma": (uma, uma_treatment)}


def demo_login(page, email: str) -> None:
    """Sign in as a demo account."""
    page.goto("/auth/login")
    page.fill("#email", email)
    page.fill("#password", demo.DEMO_PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(lambda url: "/auth/login" not in url)


def check(page, name: str | None = None) -> None:
    """Fail on accessibility problems or sideways scrolling; keep a screenshot if named."""
    assert axe_violations(page) == [], page.url
    assert no_horizontal_scroll(page), page.url
    if name:
        shot(page, name)


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_first_visit_and_recovery_pages_pass_axe(browser, base_url, watch, context, people,
                                                 scheme):
    visitor = phone(browser, base_url, watch, color_scheme=scheme, service_workers="block").new_page()
    named = scheme == "light"
    visitor.goto("/")
    assert visitor.get_by_role("heading", name="For clients").is_visible()
    check(visitor, "welcome-01-welcome" if named else None)
    visitor.click("text=How Cupmark handles your data")
    visitor.wait_for_url("**/privacy")
    check(visitor)
    visitor.goto("/auth/register")
    # the practice is a therapist's question
    assert not visitor.is_visible("#practice_name")
    visitor.check("input[name=role][value=therapist]")
    assert visitor.is_visible("#practice_name")
    check(visitor)
    visitor.context.close()

    # a red-flag day: the alarm first, the therapist told, the done message quiet
    rosa = phone(browser, base_url, watch, color_scheme=scheme, service_workers="block").new_page()
    login(rosa, people["rosa"][0])
    check(rosa, "welcome-02-red-flag-home" if named else None)
    rosa.goto(f"/treatments/{people['rosa'][1]}")
    alarm = rosa.locator(".red-flags.alarm")
    assert alarm.is_visible() and "Your therapist has been told" in alarm.inner_text()
    assert rosa.is_visible(".today-done.quiet") and rosa.is_visible("a.add-later")
    check(rosa, "welcome-03-red-flag-day" if named else None)
    rosa.context.close()

    # a slow recovery: the slow advice, the chart reaching the projected day, the comparison
    ben = phone(browser, base_url, watch, color_scheme=scheme, service_workers="block").new_page()
    demo_login(ben, "ben@demo.cupmark.example")
    check(ben)
    ben.goto(f"/treatments/{people['ben']}")
    assert ben.get_by_role("heading", name="When marks fade slower than usual").is_visible()
    assert ben.is_visible(".key-projected")
    ben.focus(".fade-chart .point >> nth=-1")
    assert ben.locator(".fade-chart .point >> nth=-1").locator(".point-label").is_visible()
    check(ben, "welcome-04-slow-recovery" if named else None)
    # the comparison's photos, once asked for, pass too
    ben.click(f"#compare-{people['ben']} button[type=submit]")
    ben.wait_for_selector(f"#compare-{people['ben']} [data-compare]:not([hidden])")
    check(ben)
    ben.context.close()

    # the therapist's invites: a named one, with Copy and the code
    mira = phone(browser, base_url, watch, color_scheme=scheme, service_workers="block").new_page()
    demo_login(mira, demo.THERAPIST_EMAIL)
    mira.goto("/invites")
    mira.fill("#name", f"Ana's sister ({scheme})")
    mira.click("main form.invite-form button[type=submit]")
    mira.wait_for_selector(f"text=Ana's sister ({scheme})")
    # shown by static/js/app.js once htmx has settled the page it swapped in
    mira.wait_for_selector("[data-copy-button]")
    check(mira, "welcome-05-invites" if named else None)
    mira.context.close()


def test_compare_slider_moves_with_a_drag_and_the_keyboard(browser, base_url, watch, context,
                                                           people):
    page = phone(browser, base_url, watch, service_workers="block").new_page()
    email, treatment_id = people["uma"]
    login(page, email)
    page.goto(f"/treatments/{treatment_id}")
    page.click(f"#compare-{treatment_id} button[type=submit]")
    slider = page.locator(f"#compare-{treatment_id} [data-compare]:not([hidden])")
    slider.wait_for()
    # the two photos of the moved back were lined up by the registration
    assert "lined up on the skin" in slider.inner_text()
    assert page.locator(f"#compare-{treatment_id} image[transform]").get_attribute(
        "transform") != "matrix(1.0 0 0 1.0 0 0)"
    clip = page.locator(f"#compare-{treatment_id} [data-compare-clip]")
    width = float(page.locator(f"#compare-{treatment_id} [data-compare-svg]").get_attribute(
        "data-width"))
    assert float(clip.get_attribute("width")) == pytest.approx(width / 2)
    page.locator(f"#compare-{treatment_id}").screenshot(path=str(ARTIFACTS / "welcome-06-compare.png"))
    box = page.locator(f"#compare-{treatment_id} .compare-stage").bounding_box()
    middle_y = box["y"] + box["height"] / 2
    # a drag from the middle towards the left moves the divider with the finger
    page.mouse.move(box["x"] + box["width"] / 2, middle_y)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.35, middle_y, steps=5)
    page.mouse.move(box["x"] + box["width"] * 0.2, middle_y, steps=5)
    page.mouse.up()
    dragged = float(clip.get_attribute("width"))
    assert dragged == pytest.approx(width * 0.2, abs=width * 0.05)
    # the arrow keys move it too
    page.focus(f"#compare-{treatment_id} [data-compare-range]")
    for _ in range(30):
        page.keyboard.press("ArrowRight")
    keyed = float(clip.get_attribute("width"))
    assert keyed == pytest.approx(dragged + width * 0.30, abs=width * 0.02)
    line = page.locator(f"#compare-{treatment_id} [data-compare-line]")
    assert float(line.get_attribute("x1")) == pytest.approx(keyed)
    # zoomed in, the view narrows around the divider
    page.click(f"#compare-{treatment_id} [data-compare-zoom]")
    view = page.locator(f"#compare-{treatment_id} [data-compare-svg]").get_attribute("viewBox")
    assert float(view.split()[2]) == pytest.approx(width / 2)
    check(page)
    page.locator(f"#compare-{treatment_id}").screenshot(path=str(ARTIFACTS / "welcome-07-compare-zoomed.png"))


def uma_photos(live_app, treatment_id: int) -> tuple[int, int]:
    """Return the ids of Uma's two check-ins: the earlier, the later."""
    with live_app.app_context():
        return tuple(db.session.scalars(sa.select(CheckIn.id).where(
            CheckIn.treatment_id == treatment_id).order_by(CheckIn.taken_at)).all())


def finished_photo(page, checkin_id: int):
    """Expect the full-size photo of a check-in to arrive whole (a context manager)."""
    return page.expect_request_finished(lambda r: f"/photos/{checkin_id}/full" in r.url)


def middle(png: bytes) -> np.ndarray:
    """Return the middle of a screenshot of the slider, clear of a divider at either edge."""
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float)
    width = pixels.shape[1]
    return pixels[:, width // 5: width * 4 // 5]


def looks_like_skin(png: bytes) -> bool:
    """Tell whether a screenshot shows a photo of skin, not the empty place kept for it."""
    red, _green, blue = middle(png).reshape(-1, 3).mean(axis=0)
    # skin is clearly redder than it is blue; the place kept for a photo is a pale grey
    return red - blue > 15


def apart(png: bytes, other: bytes) -> float:
    """Return how far apart two screenshots of the slider are: the mean difference, 0-255."""
    return float(np.abs(middle(png) - middle(other)).mean())


def drawn(page, stage, shows) -> bytes:
    """Screenshot the slider until it shows what is expected, for at most 5 s; return the last."""
    # a photo is painted a frame or two after it arrived
    png = stage.screenshot()
    for _ in range(50):
        if shows(png):
            break
        page.wait_for_timeout(100)
        png = stage.screenshot()
    return png


def test_the_comparison_brings_its_two_photos_when_tapped(browser, base_url, watch, context,
                                                          live_app, people):
    page = phone(browser, base_url, watch, service_workers="block").new_page()
    email, treatment_id = people["uma"]
    earlier, later = uma_photos(live_app, treatment_id)
    login(page, email)
    loaded = []
    page.on("requestfinished", lambda r: loaded.append(r.url) if "/full" in r.url else None)
    page.goto(f"/treatments/{treatment_id}")
    section = page.locator(f"#compare-{treatment_id}")
    section.scroll_into_view_if_needed()
    # the page came without them: nothing in the section loads a photo
    assert loaded == [] and section.locator("image, img").count() == 0
    button = section.get_by_role("button", name="Show the two photos")
    with finished_photo(page, earlier) as first, finished_photo(page, later) as second:
        button.click()
    for finished in (first.value, second.value):
        response = finished.response()
        assert response.status == 200 and response.headers["content-type"] == "image/jpeg"
    slider = section.locator("[data-compare]:not([hidden])")
    slider.wait_for()
    hrefs = [image.get_attribute("href") for image in slider.locator("image").all()]
    assert hrefs == [f"/photos/{later}/full.jpg", f"/photos/{earlier}/full.jpg"]
    # both are drawn: the divider at the far left shows the later day alone, at the far right
    # the earlier day over it; either would be the empty place, or the same, without its photo
    stage = slider.locator(".compare-stage")
    page.focus(f"#compare-{treatment_id} [data-compare-range]")
    page.keyboard.press("Home")
    later_alone = drawn(page, stage, looks_like_skin)
    assert looks_like_skin(later_alone)
    page.keyboard.press("End")
    # (30 levels of 255 apart on average here; 0 with the earlier photo left out)
    earlier_over = drawn(page, stage, lambda png: apart(png, later_alone) > 10)
    assert looks_like_skin(earlier_over) and apart(earlier_over, later_alone) > 10
    section.screenshot(path=str(ARTIFACTS / "welcome-08-compare-tapped.png"))
    # the address went into the history: it gives the page with the photos
    assert f"/treatments/{treatment_id}?" in page.url and "first=" in page.url
    page.reload()
    page.locator(f"#compare-{treatment_id} [data-compare]:not([hidden])").wait_for()


def test_without_javascript_the_button_opens_the_page_with_the_photos(browser, base_url,
                                                                      live_app, people):
    context = browser.new_context(base_url=base_url, viewport=PHONE, java_script_enabled=False)
    page = context.new_page()
    email, treatment_id = people["uma"]
    earlier, later = uma_photos(live_app, treatment_id)
    login(page, email)
    page.goto(f"/treatments/{treatment_id}")
    with finished_photo(page, earlier), finished_photo(page, later):
        page.click(f"#compare-{treatment_id} button[type=submit]")
    assert page.url.endswith(f"#compare-{treatment_id}") and "first=" in page.url
    # the pair side by side, each day named
    figures = page.locator(f"#compare-{treatment_id} .compare-pair figure")
    assert figures.count() == 2 and figures.nth(0).is_visible()
    context.close()


def test_forms_and_swaps_make_no_csp_report(page, watch, live_app, people):
    # the places the server once logged "style-src-attr blocked inline": sign-up, a new
    # treatment, a flag acknowledged in place, the comparison after changing the day. Each
    # followed a screenshot, which leaves style="" on inputs: htmx then copied it onto the
    # swapped-in element. So each page is screenshot first, as then
    page.goto("/auth/register")
    page.check("input[name=role][value=therapist]")
    page.check("input[name=role][value=client]")
    shot(page, "welcome-csp-register")
    page.fill("#name", "Short")
    # a password too easy to guess: the server answers with the form again (422), swapped in;
    # the browser logs the 422 itself as an error, the only one expected here
    watch.allow("status of 422")
    page.fill("#email", "csp-check@example.org")
    page.fill("#password", "password12")
    page.click("#register-form button[type=submit]")
    page.wait_for_selector("#register-form [aria-invalid=true]")
    demo_login(page, demo.THERAPIST_EMAIL)
    page.goto("/treatments/new")
    page.wait_for_selector("#treatment-form")
    rosa_email, rosa_treatment = people["rosa"]
    with live_app.app_context():
        rosa_id = db.session.scalar(sa.select(User.id).where(User.email == rosa_email))
        flags.refresh(db.session.get(Treatment, rosa_treatment))
        db.session.commit()
        open_flag = db.session.scalar(sa.select(Flag.id).where(
            Flag.treatment_id == rosa_treatment, Flag.acknowledged_at.is_(None)))
    page.goto(f"/therapist/clients/{rosa_id}")
    shot(page, "welcome-csp-client")
    page.fill(f"#ack-note-{open_flag}", "Called Rosa: keep it clean and dry.")
    page.click(f"#flag-{open_flag} button[type=submit]")
    page.wait_for_selector(f"#flag-{open_flag}.flag-done")
    page.goto(f"/treatments/{people['ben']}")
    shot(page, "welcome-csp-compare")
    # a day chosen before the photos is what the button shows; once they are shown, another
    # day chosen swaps them at once
    page.select_option(f"#compare-{people['ben']} select[name=first]", "2")
    page.click(f"#compare-{people['ben']} button[type=submit]")
    page.wait_for_selector(f"#compare-{people['ben']} [data-compare]:not([hidden])")
    page.wait_for_selector(f"#compare-{people['ben']} .compare-sides:has-text('Day 2')")
    shot(page, "welcome-csp-compare-shown")
    days = page.locator(f"#compare-{people['ben']} select[name=first] option").all_inner_texts()
    other = next(day for day in days if day != "2")
    page.select_option(f"#compare-{people['ben']} select[name=first]", other)
    page.wait_for_selector(f"#compare-{people['ben']} .compare-sides:has-text('Day {other}')")
    # let any report reach the server before the context closes
    page.wait_for_timeout(500)
