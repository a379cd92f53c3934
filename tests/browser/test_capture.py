"""Guided capture in Chromium (its fake camera): the ghost of the last photo, downscaling."""
import datetime as dt
import uuid

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import Treatment, User, utcnow
from webapp.services import checkins

from .conftest import axe_violations, login, no_horizontal_scroll, shot
from .test_offline_queue import client_with_treatment, photo_bytes  # noqa: F401 (fixture)

INPUT_PHOTO = """() => new Promise((resolve) => {
    const file = document.getElementById('photo').files[0];
    const img = new Image();
    img.onload = () => resolve({type: file.type, width: img.naturalWidth, height: img.naturalHeight});
    img.src = URL.createObjectURL(file);
})"""


def test_a_large_photo_is_downscaled_to_2000px_jpeg_before_upload(page, client_with_treatment):
    email, treatment_id = client_with_treatment
    login(page, email)
    page.goto(f"/treatments/{treatment_id}/checkin")
    page.set_input_files("#photo", files=[{"name": "big.png", "mimeType": "image/png",
                                           "buffer": big_png()}])
    page.wait_for_selector("[data-capture-preview]:not([hidden])")
    assert page.evaluate(INPUT_PHOTO) == {"type": "image/jpeg", "width": 2000, "height": 1500}


def test_a_webp_goes_up_as_it_is_so_its_rotation_is_kept(page, client_with_treatment):
    # a phone's portrait WebP stored sideways with an EXIF rotation: re-encoded in the browser it
    # would lose the rotation, so it is sent untouched and the server turns it upright
    import io

    from PIL import Image
    email, treatment_id = client_with_treatment
    login(page, email)
    page.goto(f"/treatments/{treatment_id}/checkin")
    exif = Image.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    Image.new("RGB", (2400, 1800), (200, 160, 140)).save(buffer, "WEBP", exif=exif.tobytes())
    page.set_input_files("#photo", files=[{"name": "side.webp", "mimeType": "image/webp",
                                           "buffer": buffer.getvalue()}])
    page.wait_for_selector("[data-capture-preview]:not([hidden])")
    assert page.evaluate("() => document.getElementById('photo').files[0].type") == "image/webp"
    assert page.evaluate("() => document.getElementById('photo').files[0].size") == len(buffer.getvalue())


def big_png() -> bytes:
    """A 2400×1800 PNG: larger than the upload's long side, and not a JPEG."""
    import io

    from PIL import Image
    buffer = io.BytesIO()
    Image.new("RGB", (2400, 1800), (200, 160, 140)).save(buffer, "PNG")
    return buffer.getvalue()


def test_camera_shows_the_last_photo_as_a_ghost_and_fills_the_form(page, live_app,
                                                                    client_with_treatment):
    email, treatment_id = client_with_treatment
    with live_app.test_request_context():
        client = db.session.scalar(sa.select(User).where(User.email == email))
        checkin = checkins.record_checkin(
            client, db.session.get(Treatment, treatment_id), photo_bytes(7),
            idempotency_key=str(uuid.uuid4()), taken_at=utcnow() - dt.timedelta(hours=20))
        ghost_url = f"/photos/{checkin.id}/full.jpg"
    login(page, email)
    page.goto(f"/treatments/{treatment_id}/checkin")
    assert page.get_attribute("[data-capture]", "data-ghost-src") == ghost_url
    page.click("text=Use the camera with a guide")
    page.wait_for_function("() => document.querySelector('[data-capture-video]').videoWidth > 0")
    ghost = page.locator("[data-capture-ghost]")
    assert ghost.is_visible() and ghost.get_attribute("src") == ghost_url
    page.wait_for_function("() => document.querySelector('[data-capture-ghost]').naturalWidth > 0")
    assert ghost.evaluate("(img) => getComputedStyle(img).opacity") == "0.4"
    page.fill("#capture-opacity", "70")
    assert ghost.evaluate("(img) => getComputedStyle(img).opacity") == "0.7"
    assert axe_violations(page) == []
    assert no_horizontal_scroll(page)
    shot(page, "capture-camera-with-ghost")
    page.click("[data-capture-shoot]")
    page.wait_for_selector("[data-capture-preview]:not([hidden])")
    taken = page.evaluate(INPUT_PHOTO)
    assert taken["type"] == "image/jpeg" and max(taken["width"], taken["height"]) <= 2000
    # the camera is off again and the photo is in the form's own input
    assert page.locator("[data-capture-camera]").is_hidden()
    assert page.evaluate("document.querySelector('[data-capture-video]').srcObject") is None
    shot(page, "capture-photo-taken")
