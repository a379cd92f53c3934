"""The daily check-in: the form, every refusal, metadata, orientation, idempotency, crashes."""
import datetime as dt
import io
import re
import struct
import threading
import zlib
from functools import cache

import pytest
import sqlalchemy as sa
from PIL import Image, ImageCms
from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.conftest import signed_in
from webapp import clock
from webapp.analysis import synthetic
from webapp.extensions import db
from webapp.models import AuditEvent, CheckIn, Consent, Reading, Treatment, User, utcnow
from webapp.services import checkins, flags, intake
from webapp.services.checkins import CheckInRefused, record_checkin
from webapp.services.photos import cleanup
from webapp.services.storage import LocalStore, get_store

JSON = {"Accept": "application/json"}


@cache
def skin_scene(seed: int = 1, size=(640, 480)) -> Image.Image:
    """Return an upright synthetic photo of skin with one violet mark (kept small)."""
    skin = synthetic.skin_lab_for_ita(35)
    marks = [synthetic.MarkSpec(delta_lab=synthetic.mark_delta(skin, 12, "violet"),
                                centre=(0.3, 0.35), radius=0.12)]
    return synthetic.render_scene(skin, marks, size=size, seed=seed).image


def skin_jpeg(seed: int = 1, **save) -> bytes:
    """Return the synthetic skin photo as JPEG bytes."""
    buffer = io.BytesIO()
    skin_scene(seed).save(buffer, "JPEG", quality=90, **save)
    return buffer.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """Return a tiny PNG whose header claims the given size (nothing behind it decodes)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def jpeg_segments(data: bytes) -> list[tuple[int, bytes]]:
    """Return the (marker, payload) segments of a JPEG up to the start of scan."""
    assert data[:2] == b"\xff\xd8"
    segments, pos = [], 2
    while pos < len(data):
        marker = data[pos + 1]
        if marker == 0xDA:
            break
        length = struct.unpack(">H", data[pos + 2:pos + 4])[0]
        segments.append((marker, data[pos + 4:pos + 2 + length]))
        pos += 2 + length
    return segments


@pytest.fixture
def setup(app, people):
    """C1 with consent and a treatment from yesterday (therapist T1); C2 with one, no consent."""
    with app.app_context():
        c1, c2 = people["c1"], people["c2"]
        db.session.add(Consent(user_id=c1.id, version=app.config["CONSENT_VERSION"]))
        ids = {}
        for name, client, therapist in (("t_c1", c1, people["t1"]), ("t_c2", c2, people["t2"])):
            treatment = Treatment(client_id=client.id, therapist_id=therapist.id,
                                  treated_at=utcnow() - dt.timedelta(days=1),
                                  body_area="upper_back", technique="static", cup_count=6,
                                  cup_material="glass", suction="medium")
            db.session.add(treatment)
            db.session.flush()
            ids[name] = treatment.id
        db.session.commit()
    return {**people, **ids}


def now_local() -> str:
    """Return the current UTC wall-clock time as a datetime-local value (users are in UTC)."""
    return utcnow().strftime("%Y-%m-%dT%H:%M")


def form_data(photo: bytes, key: str = "key-0000-aaaa", **fields) -> dict:
    """Return a check-in form body with the photo as an upload."""
    data = {"pain": "3", "note": "itchy", "taken_at": now_local(), "idempotency_key": key,
            "photo": (io.BytesIO(photo), "IMG_0001.jpg")}
    data.update(fields)
    return data


def stored(app) -> tuple[int, list[str]]:
    """Return the number of check-ins and the keys in the photo store."""
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count(CheckIn.id)))
        return count, sorted(obj.key for obj in get_store().list())


def post(client, treatment_id, photo, headers=None, **fields):
    """Post a check-in form."""
    return client.post(f"/treatments/{treatment_id}/checkin", data=form_data(photo, **fields),
                       headers=headers or {}, content_type="multipart/form-data")


def test_form_offers_photo_questions_and_a_fresh_key(client, auth, setup):
    """The form has the fields the offline queue and the camera need, and a new UUID key."""
    auth.login(setup["c1"])
    page = client.get(f"/treatments/{setup['t_c1']}/checkin").text
    assert 'id="checkin-form"' in page and "data-offline-queue" in page
    assert 'enctype="multipart/form-data"' in page
    # camera or gallery: no capture attribute (guided capture opens the camera itself)
    assert re.search(r'<input[^>]*accept="image/\*"', page) and "capture=" not in page
    for name in ("photo", "pain", "blisters", "fever", "note", "taken_at", "idempotency_key"):
        assert f'name="{name}"' in page
    keys = [re.search(r'name="idempotency_key"[^>]*value="([0-9a-f-]{36})"',
                      client.get(f"/treatments/{setup['t_c1']}/checkin").text).group(1)
            for _ in range(2)]
    assert keys[0] != keys[1]


def test_pain_starts_empty_and_a_check_in_without_it_is_refused(client, auth, app, setup):
    """A client who skipped the question is not recorded as "Pain 0/10"."""
    auth.login(setup["c1"])
    page = client.get(f"/treatments/{setup['t_c1']}/checkin").text
    pain = re.search(r'<input[^>]*name="pain"[^>]*>', page).group(0)
    assert "required" in pain and 'value=""' in pain
    response = post(client, setup["t_c1"], skin_jpeg(), pain="")
    assert response.status_code == 422
    assert "Please give a number from 0 to 10." in response.text
    assert stored(app) == (0, [])


@pytest.mark.parametrize("who", ["c2", "t1"])
def test_form_of_someone_elses_treatment_is_404(client, auth, setup, who):
    """Another client, or even the linked therapist, cannot open a client's check-in form."""
    auth.login(setup[who])
    assert client.get(f"/treatments/{setup['t_c1']}/checkin").status_code == 404
    assert post(client, setup["t_c1"], skin_jpeg()).status_code == 404
    assert stored(client.application) == (0, [])


def test_checkin_is_stored_with_reading_and_redirects(client, auth, app, setup):
    """A good photo becomes a check-in with a reading and two stored JPEGs."""
    auth.login(setup["c1"])
    response = post(client, setup["t_c1"], skin_jpeg(), blisters="y")
    assert response.status_code == 303
    # the next step: checking the marks on the new photo
    assert re.fullmatch(r"/checkins/\d+/marks", response.headers["Location"])
    count, keys = stored(app)
    assert count == 1 and len(keys) == 2
    with app.app_context():
        checkin = db.session.scalar(sa.select(CheckIn))
        assert (checkin.pain, checkin.blisters, checkin.fever, checkin.note) == (3, True, False,
                                                                                 "itchy")
        assert (checkin.photo_width, checkin.photo_height) == (640, 480)
        reading = checkin.reading
        assert reading.ok and reading.stage == reading.data["stage"] == "fresh"
        assert reading.delta_e == reading.data["delta_e"] > 6
        assert reading.mark_hex == reading.data["mark_hex"]
        thumb = Image.open(io.BytesIO(get_store().get(checkin.thumb_key)))
        assert max(thumb.size) == 320 and thumb.format == "JPEG"


def test_large_photo_is_reduced_to_display_size(client, auth, app, setup):
    """A photo bigger than 1600 px on its long side is stored at 1600 px, never the original."""
    auth.login(setup["c1"])
    big = skin_scene().resize((2000, 1500))
    buffer = io.BytesIO()
    # over werkzeug's 500 kB threshold for spooling an upload to a temporary file
    big.save(buffer, "JPEG", quality=98)
    assert buffer.tell() > 500_000
    # encoded in memory: the test client would spool a body this big to a file it never closes
    fields = {**form_data(b""), "photo": FileStorage(io.BytesIO(buffer.getvalue()),
                                                     "IMG_0002.jpg", content_type="image/jpeg")}
    boundary, body = encode_multipart(fields)
    response = client.post(f"/treatments/{setup['t_c1']}/checkin", data=body,
                           content_type=f"multipart/form-data; boundary={boundary}")
    assert response.status_code == 303
    with app.app_context():
        checkin = db.session.scalar(sa.select(CheckIn))
        photo = Image.open(io.BytesIO(get_store().get(checkin.photo_key)))
        assert photo.size == (1600, 1200) and photo.format == "JPEG"
        thumb = Image.open(io.BytesIO(get_store().get(checkin.thumb_key)))
        assert thumb.size == (320, 240)


def test_the_upload_is_decoded_once_for_analysis_and_copies(app, setup, monkeypatch):
    """One decode: the analysis's working copy and the stored copies come from the same image."""
    decoded, worked, copied = [], [], []
    open_stored = intake.open_stored

    def opener(*args, **kwargs):
        image, orientation = open_stored(*args, **kwargs)
        decoded.append(image)
        return image, orientation

    def spy(calls, function):
        def wrapper(image, *args, **kwargs):
            calls.append(image)
            return function(image, *args, **kwargs)
        return wrapper

    monkeypatch.setattr(intake, "open_stored", opener)
    monkeypatch.setattr(intake, "working_copy", spy(worked, intake.working_copy))
    monkeypatch.setattr(intake, "copies", spy(copied, intake.copies))
    with app.app_context():
        client = db.session.get(User, setup["c1"].id)
        checkin = record_checkin(client, db.session.get(Treatment, setup["t_c1"]), skin_jpeg(),
                                 idempotency_key="once-0000-aaaa", taken_at=utcnow())
        assert checkin.reading.stage == "fresh"
    assert len(decoded) == len(worked) == len(copied) == 1
    assert worked[0] is copied[0] is decoded[0]


def test_a_failure_while_copying_stores_nothing(app, setup, monkeypatch):
    """An error on the copying thread reaches the check-in, which then stores nothing."""
    def broken(*_image):
        raise OSError("disk full")

    monkeypatch.setattr(intake, "copies", broken)
    with app.app_context(), pytest.raises(OSError, match="disk full"):
        record_checkin(db.session.get(User, setup["c1"].id),
                       db.session.get(Treatment, setup["t_c1"]), skin_jpeg(),
                       idempotency_key="fail-0000-aaaa", taken_at=utcnow())
    assert stored(app) == (0, [])


def test_json_answers_for_the_offline_queue(client, auth, app, setup):
    """201 for a new check-in, 200 for the same key again, 422 for the key with other bytes."""
    auth.login(setup["c1"])
    first = post(client, setup["t_c1"], skin_jpeg(), headers=JSON)
    assert first.status_code == 201 and first.json["ok"] is True
    assert first.json["url"] == f"/checkins/{first.json['checkin_id']}/marks"
    again = post(client, setup["t_c1"], skin_jpeg(), headers=JSON)
    assert again.status_code == 200 and again.json["checkin_id"] == first.json["checkin_id"]
    other = post(client, setup["t_c1"], skin_jpeg(seed=2), headers=JSON)
    assert other.status_code == 422 and other.json == {
        "ok": False, "error": "key_reused", "message": other.json["message"]}
    assert stored(app)[0] == 1


def test_a_key_of_another_treatments_checkin_is_refused(client, auth, app, setup):
    """The key of a check-in of one treatment, sent to another, gets no check-in back."""
    with app.app_context():
        second = Treatment(client_id=setup["c1"].id, therapist_id=setup["t1"].id,
                           treated_at=utcnow() - dt.timedelta(days=2), body_area="neck",
                           technique="static", cup_count=2, cup_material="glass",
                           suction="light")
        db.session.add(second)
        db.session.commit()
        second_id = second.id
    auth.login(setup["c1"])
    photo = skin_jpeg()
    first = post(client, setup["t_c1"], photo, headers=JSON, key="shared-key-1")
    assert first.status_code == 201
    # the offline queue's JSON: a conflict, which it shows and drops; the form: 422 for htmx
    for headers, status in ((JSON, 409), ({}, 422)):
        refused = post(client, second_id, photo, headers=headers, key="shared-key-1")
        assert refused.status_code == status
        assert "already used for a check-in of another treatment" in refused.text
    assert stored(app)[0] == 1
    with app.app_context():
        assert db.session.scalar(sa.select(CheckIn.treatment_id)) == setup["t_c1"]
    # its own treatment still answers with it
    again = post(client, setup["t_c1"], photo, headers=JSON, key="shared-key-1")
    assert again.status_code == 200 and again.json["checkin_id"] == first.json["checkin_id"]


def test_idempotency_header_wins_over_the_form_field(client, auth, app, setup):
    """The Idempotency-Key header is the key when both are sent."""
    auth.login(setup["c1"])
    headers = {**JSON, "Idempotency-Key": "header-key-123"}
    first = post(client, setup["t_c1"], skin_jpeg(), headers=headers, key="form-key-1")
    second = post(client, setup["t_c1"], skin_jpeg(), headers=headers, key="form-key-2")
    assert (first.status_code, second.status_code) == (201, 200)
    with app.app_context():
        assert db.session.scalar(sa.select(CheckIn.idempotency_key)) == "header-key-123"


def test_a_form_sent_twice_is_saved_and_said_once(client, auth, app, setup):
    """A double tap on Send: one check-in, and the next page says it was saved, once."""
    auth.login(setup["c1"])
    photo = skin_jpeg()
    first = post(client, setup["t_c1"], photo, key="double-tap-key")
    second = post(client, setup["t_c1"], photo, key="double-tap-key")
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    page = client.get(second.headers["Location"]).text
    assert page.count("Check-in saved.") == 1 and "already saved" not in page
    assert stored(app)[0] == 1


def gif_bytes() -> bytes:
    """Return a small GIF (a real image in a format we do not accept)."""
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 150, 120)).save(buffer, "GIF")
    return buffer.getvalue()


def no_skin_png() -> bytes:
    """Return a photo of a plain blue wall: no skin anywhere."""
    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (40, 90, 200)).save(buffer, "PNG")
    return buffer.getvalue()


BAD_PHOTOS = {
    "not_an_image": (lambda: b"%This is a note, not a photo." * 20, "not a photo we can read"),
    "unsupported_format": (gif_bytes, "Only JPEG, PNG, WebP and HEIC"),
    "truncated": (lambda: skin_jpeg()[:len(skin_jpeg()) // 2], "damaged or incomplete"),
    # 8000 x 7000 = 56 MP in the header: over our 50 MP cap, under Pillow's own bomb limit
    "too_many_pixels": (lambda: png_header_only(8000, 7000), "too many pixels"),
    "no_skin": (no_skin_png, "could not find skin"),
}


@pytest.mark.parametrize("code", list(BAD_PHOTOS))
def test_bad_photo_is_refused_with_its_message_and_nothing_stored(client, auth, app, setup,
                                                                  code):
    """Each bad photo re-renders the form with its own message, 422, and stores nothing."""
    make, words = BAD_PHOTOS[code]
    auth.login(setup["c1"])
    response = post(client, setup["t_c1"], make())
    assert response.status_code == 422
    assert 'id="checkin-form"' in response.text and words in response.text
    assert f'data-code="{code}"' in response.text
    as_json = post(client, setup["t_c1"], make(), headers=JSON)
    assert as_json.status_code == 422 and as_json.json["error"] == code
    assert stored(app) == (0, [])


@pytest.mark.parametrize("csrf", [False, True])
def test_too_large_request_shows_the_form_with_413(client, auth, app, setup, csrf):
    """A body over the size cap answers 413 with the form and the size message: also when the
    CSRF check (on in production) reads the body first, before the view."""
    auth.login(setup["c1"])
    app.config["WTF_CSRF_ENABLED"] = csrf
    app.config["MAX_CONTENT_LENGTH"] = 20_000
    photo = skin_jpeg()
    assert len(photo) > 20_000
    response = post(client, setup["t_c1"], photo)
    assert response.status_code == 413
    assert 'id="checkin-form"' in response.text and "too large" in response.text
    as_json = post(client, setup["t_c1"], photo, headers=JSON)
    assert as_json.status_code == 413 and as_json.json["error"] == "too_large"
    assert stored(app) == (0, [])


def test_no_consent_is_refused(client, auth, app, setup):
    """Without consent the form says so (with a link to give it) and nothing is stored."""
    auth.login(setup["c2"])
    page = client.get(f"/treatments/{setup['t_c2']}/checkin")
    assert page.status_code == 200 and "/consent" in page.text
    response = post(client, setup["t_c2"], skin_jpeg())
    assert response.status_code == 422 and 'data-code="no_consent"' in response.text
    as_json = post(client, setup["t_c2"], skin_jpeg(), headers=JSON)
    assert as_json.status_code == 403 and as_json.json["error"] == "no_consent"
    assert stored(app) == (0, [])


def test_over_quota_is_refused(client, auth, app, setup):
    """Uploads beyond the daily quota are refused with 429 (JSON) or the form (422)."""
    app.config["UPLOADS_PER_DAY"] = 2
    auth.login(setup["c1"])
    for n in range(2):
        assert post(client, setup["t_c1"], skin_jpeg(), key=f"quota-key-{n}").status_code == 303
    response = post(client, setup["t_c1"], skin_jpeg(), key="quota-key-2")
    assert response.status_code == 422 and "limit of 2 uploads" in response.text
    as_json = post(client, setup["t_c1"], skin_jpeg(), key="quota-key-3", headers=JSON)
    assert as_json.status_code == 429 and as_json.json["error"] == "over_quota"
    assert stored(app)[0] == 2


@pytest.mark.parametrize("offset, code", [(dt.timedelta(hours=1), "future"),
                                          (dt.timedelta(days=-2), "before_treatment")])
def test_impossible_times_are_refused(client, auth, app, setup, offset, code):
    """A photo from the future, or from before the treatment, is refused."""
    auth.login(setup["c1"])
    taken = (utcnow() + offset).strftime("%Y-%m-%dT%H:%M")
    response = post(client, setup["t_c1"], skin_jpeg(), taken_at=taken, headers=JSON)
    assert response.status_code == 422 and response.json["error"] == code
    assert stored(app) == (0, [])


@pytest.mark.parametrize(("zone", "taken"), [("Asia/Tokyo", "0001-01-01T00:00"),
                                            ("America/New_York", "9999-12-31T23:59")])
def test_a_time_beyond_the_dates_utc_holds_is_refused_with_a_message(client, auth, app, setup,
                                                                     zone, taken):
    """Year 1 east of UTC, or 9999 west of it, is no moment at all: refused, never a 500."""
    with app.app_context():
        db.session.get(User, setup["c1"].id).timezone = zone
        db.session.commit()
    auth.login(setup["c1"])
    response = post(client, setup["t_c1"], skin_jpeg(), taken_at=taken, headers=JSON)
    assert response.status_code == 422 and response.json["error"] == "invalid"
    assert response.json["fields"]["taken_at"] == [
        "Please check the time, or leave it empty to use the time of sending."]
    page = post(client, setup["t_c1"], skin_jpeg(), taken_at=taken)
    assert page.status_code == 422 and "leave it empty to use the time of sending" in page.text
    assert stored(app) == (0, [])


@pytest.mark.parametrize("taken, said", [
    ("2020-01-01T00:00", "Wed 1 Jan 2020, 00:00 is before the session on"),
    ("9999-12-31T23:59", "Fri 31 Dec 9999, 23:59 is in the future"),
])
def test_a_refused_time_of_another_year_names_its_year(client, auth, app, setup, taken, said):
    auth.login(setup["c1"])
    response = post(client, setup["t_c1"], skin_jpeg(), taken_at=taken, headers=JSON)
    assert response.status_code == 422 and said in response.json["message"]
    assert stored(app) == (0, [])


def test_a_refused_time_of_this_year_needs_no_year(client, auth, app, setup):
    auth.login(setup["c1"])
    # the app's clock stands at noon UTC (conftest), the client's zone is UTC: the same day
    soon = utcnow() + dt.timedelta(hours=3)
    response = post(client, setup["t_c1"], skin_jpeg(), taken_at=soon.strftime("%Y-%m-%dT%H:%M"),
                    headers=JSON)
    message = response.json["message"]
    assert f"{soon.day} {soon:%b}, 15:00 is in the future" in message
    assert str(soon.year) not in message


def test_earlier_today_is_accepted_in_the_clients_zone(client, auth, app, make_user, setup):
    """taken_at is read in the client's own time zone."""
    with app.app_context():
        user = db.session.get(User, setup["c1"].id)
        user.timezone = "Asia/Tokyo"
        db.session.commit()
    auth.login(setup["c1"])
    tokyo = utcnow() + dt.timedelta(hours=9) - dt.timedelta(minutes=30)
    response = post(client, setup["t_c1"], skin_jpeg(), taken_at=tokyo.strftime("%Y-%m-%dT%H:%M"))
    assert response.status_code == 303
    with app.app_context():
        taken = db.session.scalar(sa.select(CheckIn.taken_at))
        assert abs(taken - (utcnow() - dt.timedelta(minutes=30))) < dt.timedelta(minutes=2)


def test_form_errors_are_shown(client, auth, app, setup):
    """Pain out of range and a missing photo are marked on the form."""
    auth.login(setup["c1"])
    response = client.post(f"/treatments/{setup['t_c1']}/checkin",
                           data={"pain": "12", "taken_at": now_local(), "idempotency_key": "k" * 10})
    assert response.status_code == 422
    assert "Please give a number from 0 to 10." in response.text
    assert "Please take or choose a photo." in response.text


def test_htmx_requests_get_a_fragment_or_hx_location(client, auth, setup):
    """A non-boosted htmx post gets the form alone on refusal and HX-Location on success."""
    auth.login(setup["c1"])
    htmx = {"HX-Request": "true"}
    refused = post(client, setup["t_c1"], no_skin_png(), headers=htmx)
    assert refused.status_code == 422 and "<html" not in refused.text
    assert refused.text.lstrip().startswith("<form")
    done = post(client, setup["t_c1"], skin_jpeg(), headers=htmx)
    assert re.fullmatch(r"/checkins/\d+/marks", done.headers["HX-Location"])


def make_exif_with_gps() -> bytes:
    """Return EXIF bytes with a camera model and a GPS position."""
    exif = Image.Exif()
    exif[0x0110] = "Phone 15"  # model
    exif[0x0132] = "2026:11:21 09:30:00"
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (52.0, 31.0, 12.0), 3: "E", 4: (13.0, 24.0, 36.0)})
    return exif.tobytes()


XMP = (b'<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/">'
       b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
       b'xmlns:exif="http://ns.adobe.com/exif/1.0/" exif:GPSLatitude="52,31.2N"/></rdf:RDF>'
       b'</x:xmpmeta><?xpacket end="w"?>')


def metadata_laden_photos() -> dict[str, bytes]:
    """Return photos carrying EXIF with GPS, XMP, a comment, an ICC profile and PNG text."""
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    jpeg = skin_jpeg(exif=make_exif_with_gps(), xmp=XMP, comment=b"home address here",
                     icc_profile=icc)
    png = io.BytesIO()
    from PIL import PngImagePlugin
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "home address here")
    info.add_itxt("XML:com.adobe.xmp", XMP.decode())
    skin_scene().save(png, "PNG", pnginfo=info, exif=make_exif_with_gps())
    return {"jpeg": jpeg, "png": png.getvalue()}


@pytest.mark.parametrize("kind", ["jpeg", "png"])
def test_stored_bytes_carry_no_metadata(client, auth, app, setup, kind):
    """No EXIF, GPS, XMP, comment or ICC profile survives into either stored JPEG."""
    photo = metadata_laden_photos()[kind]
    source = Image.open(io.BytesIO(photo))
    assert source.getexif().get_ifd(0x8825)  # the input really has a GPS position
    auth.login(setup["c1"])
    assert post(client, setup["t_c1"], photo).status_code == 303
    _, keys = stored(app)
    with app.app_context():
        for key in keys:
            data = get_store().get(key)
            markers = {marker for marker, _ in jpeg_segments(data)}
            assert 0xE1 not in markers, "APP1 (EXIF or XMP) left in"
            assert 0xE2 not in markers, "APP2 (ICC) left in"
            assert 0xFE not in markers, "comment left in"
            assert not {m for m in markers if 0xE3 <= m <= 0xEF}
            assert b"GPS" not in data and b"xmpmeta" not in data and b"home address" not in data
            reopened = Image.open(io.BytesIO(data))
            assert not reopened.getexif() and "icc_profile" not in reopened.info


# what each orientation's camera stores, from the upright picture (inverse of exif_transpose)
STORED_FOR = {
    1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_270,
}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_orientation_is_stored_upright(client, auth, app, setup, orientation):
    """The stored photo matches the upright scene, not any flipped or turned version of it."""
    # skin with a dark towel corner at the top left: no flip or turn of it looks the same
    upright = skin_scene().copy()
    upright.paste((25, 25, 30), (0, 0, 200, 110))
    method = STORED_FOR[orientation]
    raw = upright.transpose(method) if method is not None else upright
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    raw.save(buffer, "JPEG", quality=95, exif=exif.tobytes())
    auth.login(setup["c1"])
    assert post(client, setup["t_c1"], buffer.getvalue()).status_code == 303
    with app.app_context():
        checkin = db.session.scalar(sa.select(CheckIn))
        photo = Image.open(io.BytesIO(get_store().get(checkin.photo_key))).convert("L")
    assert photo.size == upright.size

    def distance(image: Image.Image) -> float:
        """Mean absolute difference of grey levels to the stored photo."""
        a = image.convert("L").tobytes()
        b = photo.tobytes()
        return sum(abs(x - y) for x, y in zip(a[::97], b[::97])) / len(a[::97])

    wrong = [upright.transpose(t) for t in (Image.Transpose.FLIP_LEFT_RIGHT,
                                            Image.Transpose.ROTATE_180,
                                            Image.Transpose.FLIP_TOP_BOTTOM)]
    assert distance(upright) < 4
    assert all(distance(w) > 15 for w in wrong)



def test_parallel_duplicates_make_one_checkin(app, setup):
    """Five identical posts at once store one check-in; a later retry returns that one."""
    photo = skin_jpeg()
    barrier = threading.Barrier(5)
    answers = []

    def send():
        client = signed_in(app, setup["c1"])
        barrier.wait()
        answers.append(post(client, setup["t_c1"], photo, headers=JSON, key="parallel-key-1"))

    threads = [threading.Thread(target=send) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [200, 200, 200, 200, 201]
    assert len({a.json["checkin_id"] for a in answers}) == 1
    count, keys = stored(app)
    assert count == 1 and len(keys) == 2  # the losers removed their bytes
    later = post(signed_in(app, setup["c1"]), setup["t_c1"], photo, headers=JSON,
                 key="parallel-key-1")
    assert later.status_code == 200 and later.json["checkin_id"] == answers[0].json["checkin_id"]


def test_parallel_uploads_never_pass_the_daily_quota(app, setup):
    """Ten different uploads at the same moment with room for three: exactly three are stored."""
    app.config["UPLOADS_PER_DAY"] = 3
    photo = skin_jpeg()
    barrier = threading.Barrier(10)
    answers = []

    def send(n):
        client = signed_in(app, setup["c1"])
        barrier.wait()
        answers.append(post(client, setup["t_c1"], photo, headers=JSON, key=f"race-key-{n:02d}"))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [201] * 3 + [429] * 7
    count, keys = stored(app)
    assert count == 3 and len(keys) == 6  # the refused ones removed their bytes


class Crash(Exception):
    """The injected fault."""


class FaultyStore(LocalStore):
    """A local store that crashes at a chosen operation; after a crash every call fails."""

    def __init__(self, root, fail_at: str):
        """Crash on the operation named like 'put:2' (the second put)."""
        super().__init__(root)
        self.fail_at, self.calls, self.dead = fail_at, {}, False

    def _step(self, op: str) -> None:
        """Count the operation and crash if it is the chosen one or the process is dead."""
        self.calls[op] = self.calls.get(op, 0) + 1
        if self.dead or f"{op}:{self.calls[op]}" == self.fail_at:
            self.dead = True
            raise Crash(op)

    def put(self, key, data):
        """Write, unless crashed."""
        self._step("put")
        super().put(key, data)

    def delete(self, key):
        """Delete, unless crashed."""
        self._step("delete")
        super().delete(key)


def assert_consistent(app) -> None:
    """Every check-in's bytes exist; after cleanup, every stored key belongs to a check-in."""
    with app.app_context():
        store = LocalStore(app.config["PHOTO_ROOT"])
        named = {key for row in db.session.execute(sa.select(CheckIn.photo_key, CheckIn.thumb_key))
                 for key in row}
        present = {obj.key for obj in store.list()}
        assert named <= present, "a row names bytes that are missing"
        cleanup(store, dt.timedelta(0))
        assert {obj.key for obj in store.list()} == named


@pytest.mark.parametrize("fault", ["put:1", "put:2", "rows", "commit"])
@pytest.mark.parametrize("crash", [True, False], ids=["crash", "error"])
def test_a_fault_while_recording_leaves_a_consistent_store(app, setup, monkeypatch, fault,
                                                          crash):
    """A fault between any two write steps stores nothing half; cleanup removes the rest.

    "crash": the process dies at the fault, so even the best-effort delete does not run;
    "error": an exception at the fault, handled by the best-effort delete.
    """
    with app.app_context():
        store = FaultyStore(app.config["PHOTO_ROOT"], fault if fault.startswith("put") else "-")
        app.extensions["photo_store"] = store

        def boom(*args, **kwargs):
            """Fail at this step (and kill the store when simulating a crash)."""
            store.dead = crash
            raise Crash(fault)
        if fault == "rows":
            monkeypatch.setattr(flags, "refresh", boom)
        elif fault == "commit":
            monkeypatch.setattr(db.session, "commit", boom)
        elif not crash:
            # a plain error: the failed put raises, the clean-up deletes still work
            store.dead = False
            original = store._step

            def step_once(op):
                """Fail only the chosen call."""
                try:
                    original(op)
                finally:
                    store.dead = False
            monkeypatch.setattr(store, "_step", step_once)
        client, treatment = db.session.get(User, setup["c1"].id), db.session.get(
            Treatment, setup["t_c1"])
        with pytest.raises(Crash):
            record_checkin(client, treatment, skin_jpeg(), idempotency_key="crash-key-1",
                           taken_at=utcnow())
        db.session.rollback()
        monkeypatch.undo()
        assert db.session.scalar(sa.select(sa.func.count(CheckIn.id))) == 0
        assert db.session.scalar(sa.select(sa.func.count(Reading.id))) == 0
        if not crash:
            assert list(LocalStore(app.config["PHOTO_ROOT"]).list()) == []
    assert_consistent(app)


@pytest.mark.parametrize("fault", ["delete:1", "delete:2"])
def test_a_crash_while_deleting_leaves_a_consistent_store(client, auth, app, setup, fault):
    """A crash after the row's deletion is committed leaves bytes that cleanup removes."""
    auth.login(setup["c1"])
    post(client, setup["t_c1"], skin_jpeg())
    with app.app_context():
        checkin_id = db.session.scalar(sa.select(CheckIn.id))
        app.extensions["photo_store"] = FaultyStore(app.config["PHOTO_ROOT"], fault)
    response = client.post(f"/checkins/{checkin_id}/delete")
    # the best-effort delete logs its failure: the answer is still a success
    assert response.status_code == 303
    assert_consistent(app)
    assert stored(app) == (0, [])


def test_owner_deletes_a_checkin_with_its_bytes(client, auth, app, setup):
    """Deleting removes the row, its reading and both files; others get 404."""
    auth.login(setup["c1"])
    post(client, setup["t_c1"], skin_jpeg())
    with app.app_context():
        checkin_id = db.session.scalar(sa.select(CheckIn.id))
    for other in ("c2", "t1"):
        auth.logout()
        auth.login(setup[other])
        assert client.post(f"/checkins/{checkin_id}/delete").status_code == 404
    assert stored(app)[0] == 1
    auth.logout()
    auth.login(setup["c1"])
    response = client.post(f"/checkins/{checkin_id}/delete")
    assert response.status_code == 303
    # back to the day it was on, which says it now has no photo
    assert response.headers["Location"] == f"/treatments/{setup['t_c1']}#day-{setup['t_c1']}-1"
    assert "Day 1 now has no photo." in client.get(response.headers["Location"]).text
    assert stored(app) == (0, [])
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Reading.id))) == 0
        assert db.session.scalar(sa.select(AuditEvent.action).where(
            AuditEvent.object_id == checkin_id)) == "delete_checkin"


def test_record_checkin_service_refuses_with_a_code(app, setup):
    """The service used by demo data raises CheckInRefused with a code and a message."""
    with app.app_context():
        c2 = db.session.get(User, setup["c2"].id)
        treatment = db.session.get(Treatment, setup["t_c1"])
        with pytest.raises(CheckInRefused) as refused:
            record_checkin(c2, treatment, skin_jpeg(), idempotency_key="svc-key-1",
                           taken_at=utcnow())
        assert refused.value.code == "not_found" and refused.value.status == 404
        c1 = db.session.get(User, setup["c1"].id)
        checkin = record_checkin(c1, treatment, skin_jpeg(), idempotency_key="svc-key-2",
                                 taken_at=utcnow() - dt.timedelta(hours=20), pain=2, fever=True)
        assert checkin.id and checkin.reading.stage == "fresh" and checkin.has_red_flag_symptom
        assert checkins.replay(treatment, "svc-key-2", checkin.upload_sha256).id == checkin.id


# a phone whose clock is off ----------------------------------------------------------------

def phone_fields(off: dt.timedelta, zone: str = "UTC", **fields) -> dict:
    """Return what the page's script sends for an empty time on a phone whose clock is `off`:
    that clock's wall time in the zone, that the phone filled it in, and the clock in ms."""
    phone = utcnow() + off
    local = clock.utc_to_local(phone, zone)
    return {"taken_at": local.strftime("%Y-%m-%dT%H:%M"), "taken_at_by": "phone",
            "phone_now": str(int(phone.timestamp() * 1000)), **fields}


def in_zone(app, person, zone: str) -> None:
    """Store a person's IANA time zone."""
    with app.app_context():
        db.session.get(User, person.id).timezone = zone
        db.session.commit()


def test_a_phone_time_is_moved_by_the_phones_offset():
    now = dt.datetime(2026, 12, 9, 18, 0, tzinfo=dt.timezone.utc)
    five = dt.timedelta(minutes=5)
    # 5 minutes fast, stamped 18:05 and sent at its 18:05:30: the photo was taken at 17:59:30
    assert checkins.phone_time_corrected(now + five, now + five + dt.timedelta(seconds=30),
                                         now) == now - dt.timedelta(seconds=30)
    # slow, the other way
    assert checkins.phone_time_corrected(now - five, now - five, now) == now
    # no clock sent, or one off by more than a day: the time as sent
    assert checkins.phone_time_corrected(now + five, None, now) == now + five
    far = now + checkins.PHONE_CLOCK_MAX_OFFSET + dt.timedelta(minutes=1)
    assert checkins.phone_time_corrected(far, far, now) == far


def test_a_phone_clock_5_minutes_fast_filling_the_time_is_accepted_at_the_servers_time(
        client, auth, app, setup):
    """Kate's phone runs 5 minutes fast (Europe/Berlin, 19:05 on it at 18:00Z); she leaves the
    time empty and the page fills in the phone's 19:05: stored as 18:00Z, not refused."""
    in_zone(app, setup["c1"], "Europe/Berlin")
    auth.login(setup["c1"])
    response = post(client, setup["t_c1"], skin_jpeg(),
                    **phone_fields(dt.timedelta(minutes=5), "Europe/Berlin"))
    assert response.status_code == 303, response.text
    with app.app_context():
        taken = db.session.scalar(sa.select(CheckIn.taken_at))
    assert utcnow() - dt.timedelta(minutes=1) <= taken <= utcnow()


def test_a_queued_photo_keeps_its_time_corrected_by_the_clock_at_sending(client, auth, app,
                                                                        setup):
    """The offline queue sends at 12:00Z a photo its phone (7 minutes fast) stamped 40 minutes
    earlier on its own clock; the phone's clock as it sends corrects it to 11:20Z."""
    auth.login(setup["c1"])
    off = dt.timedelta(minutes=7)
    fields = phone_fields(off)
    fields["taken_at"] = (utcnow() + off - dt.timedelta(minutes=40)).strftime("%Y-%m-%dT%H:%M")
    response = post(client, setup["t_c1"], skin_jpeg(), headers=JSON, **fields)
    assert response.status_code == 201, response.json
    with app.app_context():
        taken = db.session.scalar(sa.select(CheckIn.taken_at))
    # the phone's time has whole minutes: up to one earlier
    assert utcnow() - dt.timedelta(minutes=41) <= taken <= utcnow() - dt.timedelta(minutes=40)


def test_a_typed_time_in_the_future_stays_as_typed_and_is_refused(client, auth, app, setup):
    """The person typed 12:05 (the server's clock says 12:00): not corrected by any clock."""
    in_zone(app, setup["c1"], "Europe/Berlin")
    auth.login(setup["c1"])
    fields = phone_fields(dt.timedelta(minutes=5), "Europe/Berlin")
    del fields["taken_at_by"]
    response = post(client, setup["t_c1"], skin_jpeg(), headers=JSON, **fields)
    assert response.status_code == 422 and response.json["error"] == "future"
    assert "13:05 is in the future" in response.json["message"]
    page = post(client, setup["t_c1"], skin_jpeg(), **fields)
    assert page.status_code == 422 and "13:05 is in the future" in page.text
    # typed, it is shown again as typed
    assert re.search(r'name="taken_at"[^>]*value="[^"]*T13:05"', page.text)
    assert stored(app) == (0, [])


@pytest.mark.parametrize("phone_now", ["soon", "", "99999999999999999999999", "-1e3"])
def test_a_phone_clock_off_by_days_or_unreadable_is_not_trusted(client, auth, app, setup,
                                                               phone_now):
    """A phone two days fast, or a clock value that is no number: the time is judged as sent."""
    auth.login(setup["c1"])
    fields = phone_fields(dt.timedelta(days=2))
    if phone_now != "soon":
        fields["phone_now"] = phone_now
    response = post(client, setup["t_c1"], skin_jpeg(), headers=JSON, **fields)
    assert response.status_code == 422 and response.json["error"] == "future"
    assert stored(app) == (0, [])


def test_a_refused_form_shows_a_phone_filled_time_empty_again(client, auth, app, setup):
    """Sent again after fixing another answer, the time must be the new moment of sending,
    not the phone's old one, which would then count as typed."""
    auth.login(setup["c1"])
    page = post(client, setup["t_c1"], skin_jpeg(), pain="12",
                **phone_fields(dt.timedelta(minutes=5)))
    assert page.status_code == 422
    field = re.search(r'<input[^>]*name="taken_at"[^>]*>', page.text).group(0)
    assert re.search(r'value="[^"]', field) is None


def test_a_checkin_note_loses_its_bidi_controls(client, auth, app, setup):
    """The therapist reads the client's note: an override would reorder what it says."""
    auth.login(setup["c1"])
    response = post(client, setup["t_c1"], skin_jpeg(), note="it \u202edegnahc\u202c a lot")
    assert response.status_code == 303
    with app.app_context():
        assert db.session.scalar(sa.select(CheckIn.note)) == "it degnahc a lot"
