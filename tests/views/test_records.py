"""Treatment-mark records: the PDF, its verification code, revoking, and who may download it."""
import datetime as dt
import hashlib
import io
import math
import re
from pathlib import Path

import pytest
import sqlalchemy as sa
from PIL import Image, ImageDraw, ImageFile
from pypdf import PdfReader

from tests.recovery_rows import (FADING, add_course, make_treatment, photo_routes)  # noqa: F401 (an autouse fixture)
from webapp import clock
from webapp.analysis import ANALYZER_VERSION, analyze_photo
from webapp.analysis.reading import quality_item
from webapp.extensions import db
from webapp.models import AuditEvent, CheckIn, Mark, MarkReading, Record
from webapp.services.storage import get_store, new_key

DAYS = 6
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def photo_jpeg(darkness: float) -> bytes:
    """Return a JPEG of skin with one round mark, darker for a larger darkness."""
    image = Image.new("RGB", (640, 480), (214, 170, 140))
    shade = (int(214 - 90 * darkness), int(170 - 110 * darkness), int(140 - 60 * darkness))
    ImageDraw.Draw(image).ellipse((260, 180, 380, 300), fill=shade)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


@pytest.fixture
def course(app, people):
    """C1's treatment with T1: six days with a stored photo, one followed mark; returns its id."""
    tid = make_treatment(app, people["c1"], people["t1"], days_ago=6.6)
    add_course(app, tid, FADING, count=DAYS)
    with app.app_context():
        checkins = db.session.scalars(sa.select(CheckIn).where(CheckIn.treatment_id == tid)
                                      .order_by(CheckIn.taken_at)).all()
        mark = Mark(treatment_id=tid, number=1, x=0.5, y=0.5)
        db.session.add(mark)
        db.session.flush()
        store = get_store()
        for (_t, delta_e, _colour), checkin in zip(FADING, checkins):
            checkin.photo_key = new_key()
            store.put(checkin.photo_key, photo_jpeg(delta_e / 14))
            db.session.add(MarkReading(checkin_id=checkin.id, mark_id=mark.id, x=0.5, y=0.5,
                                       set_by="client", analyzer_version=ANALYZER_VERSION,
                                       delta_e=delta_e + 0.3, stage="fresh",
                                       data={"radius": 0.1, "delta_e": delta_e + 0.3}))
        db.session.commit()
    return tid


def download(client, auth, person, tid):
    """Log in as the person and download the treatment's record; return the response."""
    auth.login(person)
    response = client.post(f"/treatments/{tid}/record.pdf")
    auth.logout()
    return response


def pdf_text(data: bytes) -> tuple[int, str]:
    """Return the PDF's page count and its text (it must open with pypdf)."""
    reader = PdfReader(io.BytesIO(data))
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def test_the_record_holds_the_facts_each_day_and_its_code(app, client, auth, people, course):
    response = download(client, auth, people["c1"], course)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert response.headers["Cache-Control"] == "no-store"
    pages, text = pdf_text(response.data)
    # kept for a look (pdftoppm renders it): the closing note's screenshot of the record
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "record.pdf").write_bytes(response.data)
    flat = " ".join(text.split())
    # the first page: facts, verdict and chart; then the days, a few to a page
    assert 2 <= pages <= 1 + math.ceil(DAYS / 4), pages
    for fact in ("Upper back", "Static", "6 · Glass", "Medium", "Test practice", "Cleo One",
                 f"Analyzer version {ANALYZER_VERSION}", "How the marks are fading", "Fading as expected"):
        assert fact in flat, fact
    with app.app_context():
        [record] = db.session.scalars(sa.select(Record)).all()
        treated = record.treatment.treated_at
        # days are calendar dates in the client's zone (clock.day_number)
        days = [clock.day_number(treated, checkin.taken_at, record.treatment.client.timezone)
                for checkin in db.session.scalars(sa.select(CheckIn).where(
                    CheckIn.treatment_id == course).order_by(CheckIn.taken_at))]
    assert f"{treated:%Y}" in flat and f"{treated:%H:%M}" in flat
    grouped = "-".join(record.code[i:i + 4] for i in range(0, 16, 4))
    assert grouped in flat and f"/verify/{record.code}" in flat
    for day, (_t, delta_e, _colour) in zip(days, FADING[:DAYS], strict=True):
        assert f"Day {day}" in flat
        assert f"ΔE {delta_e:.1f}" in flat, day  # the photo's
        assert f"Mark 1: ΔE {delta_e + 0.3:.1f}" in flat, day  # the followed mark's
    assert record.sha256 == hashlib.sha256(response.data).hexdigest()
    # paper cannot be tapped: no tap hint, and no chart label printed over the next one
    assert "Tap a dot" not in flat and not re.search(r"Day \d+: \d", flat)


def test_the_records_verdict_names_the_day_as_its_rows_do(app, client, auth, people, course):
    # the last photo, 5.4 days after a treatment at 21:36, is on the sixth date after it: its
    # row says "Day 6" and the verdict said "on day 5.4"
    flat = " ".join(pdf_text(download(client, auth, people["c1"], course).data)[1].split())
    assert "Day 6 ·" in flat and "Day 7 ·" not in flat
    assert "colour difference of 4.8 on day 6, where up to" in flat


def test_a_photo_to_take_again_is_recorded_as_not_counted(app, client, auth, people, course):
    """The last day's photo had the cups on: the record says so and gives none of its figures."""
    with app.app_context():
        last = db.session.scalars(sa.select(CheckIn).where(CheckIn.treatment_id == course)
                                  .order_by(CheckIn.taken_at.desc())).first()
        last.reading.data = {**last.reading.data, "quality": [quality_item("cups_on_skin")]}
        spoilt = last.reading.delta_e
        db.session.commit()
    flat = " ".join(pdf_text(download(client, auth, people["c1"], course).data)[1].split())
    assert "The cups still seem to be on the skin." in flat
    assert "This photo is not counted in the recovery." in flat
    assert f"ΔE {spoilt:.1f}" not in flat and f"Mark 1: ΔE {spoilt + 0.3:.1f}" not in flat
    assert f"ΔE {FADING[0][1]:.1f}" in flat


def test_each_download_is_a_record_of_its_own_and_audited(app, client, auth, people, course):
    first = download(client, auth, people["c1"], course)
    second = download(client, auth, people["t1"], course)
    assert second.status_code == 200
    with app.app_context():
        records = db.session.scalars(sa.select(Record).order_by(Record.id)).all()
        events = db.session.execute(sa.select(AuditEvent.actor_id, AuditEvent.object_id).where(
            AuditEvent.action == "download_record").order_by(AuditEvent.id)).all()
    assert len({r.code for r in records}) == 2
    assert [r.sha256 for r in records] == [hashlib.sha256(r.data).hexdigest()
                                           for r in (first, second)]
    assert events == [(people["c1"].id, records[0].id), (people["t1"].id, records[1].id)]


def test_a_link_issues_no_record(app, client, auth, people, course):
    # a GET (a link followed, prefetched, or an <img> on another site) changes nothing
    auth.login(people["c1"])
    assert client.get(f"/treatments/{course}/record.pdf").status_code == 405
    page = client.get(f"/treatments/{course}").get_data(as_text=True)
    assert f'<form method="post" action="/treatments/{course}/record.pdf"' in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Record.id))) == 0


def test_verify_shows_the_hash_and_nothing_more(app, client, auth, people, course):
    pdf = download(client, auth, people["c1"], course).data
    with app.app_context():
        record = db.session.scalar(sa.select(Record))
        treated = record.treatment.treated_at
    typed = "-".join(record.code[i:i + 4] for i in range(0, 16, 4)).lower()
    for url in (f"/verify/{record.code}", f"/verify/{typed}"):
        response = client.get(url)  # anyone: nobody is signed in
        html = response.get_data(as_text=True)
        assert response.status_code == 200
        assert hashlib.sha256(pdf).hexdigest() in html
        assert "Test practice" in html and f"{treated:%Y}" in html
        main = html.split('<main id="main"')[1].split("</main>")[0]
        for private in ("Cleo", "c1@example.org", "Upper back", "ΔE", "Static", "Glass",
                        "/photos/", "Tess"):
            assert private not in main, private
    assert client.get("/verify?code=" + typed).headers["Location"].endswith(
        f"/verify/{record.code}")
    response = client.get("/verify/ABCD-EFGH-JKMN-PQRS")
    assert response.status_code == 404 and b"No record has this code" in response.data


def test_a_revoked_record_says_so(app, client, auth, people, course):
    download(client, auth, people["c1"], course)
    with app.app_context():
        record = db.session.scalar(sa.select(Record))
    auth.login(people["t2"])
    assert client.post(f"/records/{record.id}/revoke").status_code == 404
    auth.logout()
    assert b"revoked" not in client.get(f"/verify/{record.code}").data.lower()
    auth.login(people["c1"])
    page = client.get(f"/treatments/{course}").get_data(as_text=True)
    assert "Revoke this record" in page and f"/records/{record.id}/revoke" in page
    response = client.post(f"/records/{record.id}/revoke")
    assert response.status_code == 302
    assert "Revoked" in client.get(f"/treatments/{course}").get_data(as_text=True)
    auth.logout()
    html = client.get(f"/verify/{record.code}").get_data(as_text=True)
    assert "This record was revoked" in html
    with app.app_context():
        assert db.session.scalar(sa.select(AuditEvent.action).where(
            AuditEvent.action == "revoke_record", AuditEvent.actor_id == people["c1"].id))


def test_a_therapist_sees_and_revokes_only_the_records_they_issued(
        app, client, auth, people, course, make_user, link):
    """With two linked therapists (two practices), each one's page lists only the records they
    issued, and the other's cannot be revoked; the client sees all of their own."""
    colleague = make_user("t3@example.org", "therapist", "Tara Three")
    link(colleague, people["c1"])
    download(client, auth, people["t1"], course)
    download(client, auth, people["c1"], course)
    with app.app_context():
        by_t1, by_c1 = db.session.scalars(sa.select(Record).order_by(Record.id)).all()
    auth.login(colleague)
    page = client.get(f"/treatments/{course}").get_data(as_text=True)
    assert "records issued" not in page and "record issued" not in page
    assert client.post(f"/records/{by_t1.id}/revoke").status_code == 404
    auth.logout()
    auth.login(people["t1"])
    page = client.get(f"/treatments/{course}").get_data(as_text=True)
    assert "1 record issued" in page and f"/records/{by_t1.id}/revoke" in page
    assert f"/records/{by_c1.id}/revoke" not in page
    assert client.post(f"/records/{by_c1.id}/revoke").status_code == 404
    auth.logout()
    auth.login(people["c1"])
    assert "2 records issued" in client.get(f"/treatments/{course}").get_data(as_text=True)


@pytest.mark.parametrize("intruder", ["c2", "t2"])
def test_another_client_or_therapist_gets_404(app, client, auth, people, course, intruder):
    response = download(client, auth, people[intruder], course)
    assert response.status_code == 404 and b"%PDF" not in response.data
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Record.id))) == 0


def test_anonymous_is_sent_to_log_in(client, course):
    response = client.post(f"/treatments/{course}/record.pdf")
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_rendering_a_record_leaves_truncated_uploads_refused(app, client, auth, people, course):
    # weasyprint switches Pillow to accept truncated images when imported: the app undoes it
    assert download(client, auth, people["c1"], course).status_code == 200
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False
    whole = photo_jpeg(0.5)
    assert analyze_photo(whole[: len(whole) // 2]).error == "truncated"


@pytest.mark.parametrize("language, said", [
    ("en", {"pain": "Pain 7/10", "blisters": "Blisters or broken skin", "fever": "Fever",
            "none": "Pain 2/10 · No blisters or broken skin, no fever", "note": "Note: itches",
            "flag": ": Red-flag symptom.", "missed": ": Missed check-ins.",
            "no_photo": "Flags raised on days without a photo", "closed": "Closed "}),
    ("ru", {"pain": "Боль 7/10", "blisters": "Волдыри или повреждённая кожа",
            "fever": "Температура",
            "none": "Боль 2/10 · Нет волдырей, повреждений кожи и температуры",
            "note": "Заметка: itches", "flag": ": Тревожный симптом.",
            "missed": ": Пропущенные отметки.", "no_photo": "Сигналы в дни без фото",
            "closed": "Закрыто: "}),
])
def test_the_record_says_each_days_pain_symptoms_and_flags(app, client, auth, people, course,
                                                           language, said):
    """What the app was told and what it told: the pain and symptoms of each day, and every
    flag raised with the reason the therapist read, on its day (one on a day without a photo)."""
    from webapp.models import Flag, Treatment, User
    from webapp.services import flags, reasons
    with app.app_context():
        db.session.get(User, people["c1"].id).language = language
        treatment = db.session.get(Treatment, course)
        checkins = db.session.scalars(sa.select(CheckIn).where(CheckIn.treatment_id == course)
                                      .order_by(CheckIn.taken_at)).all()
        for checkin in checkins:
            checkin.pain = 2
        last = checkins[-1]
        last.pain, last.blisters, last.fever, last.note = 7, True, True, "itches"
        # raised as the photo that reported the symptoms came in
        [symptom] = [f for f in flags.refresh(treatment, now=last.taken_at)
                     if f.kind == "red_flag_symptom"]
        # a silence flag raised on day 0, which has no photo, and closed since (in the
        # practice's words; its reason_data says it in the reader's)
        silence = reasons.of_silence(clock.DAY / 3, None)
        db.session.add(Flag(treatment_id=course, kind="missed_checkins", reason="stored words",
                            reason_data=silence,
                            raised_at=treatment.treated_at + dt.timedelta(hours=1),
                            acknowledged_at=checkins[0].taken_at, note="closed"))
        db.session.commit()
        reason = reasons.said(symptom.reason_data, symptom.reason)
        last_day = clock.day_number(treatment.treated_at, last.taken_at, "UTC")
    data = download(client, auth, people["c1"], course).data
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"record-symptoms-flags-{language}.pdf").write_bytes(data)
    flat = " ".join(pdf_text(data)[1].split())
    for key in ("pain", "blisters", "fever", "none", "note", "flag", "missed", "no_photo",
                "closed"):
        assert said[key] in flat, key
    if language == "en":
        assert " ".join(reason.split()) in flat
        # the symptoms and the flag are said in the cell of the day they belong to, the flag of
        # day 0 (no photo) after the days
        cell = flat[flat.index(f"Day {last_day} ·"):]
        assert cell.index("Pain 7/10") < cell.index("Red-flag symptom") < cell.index(
            "Flags raised on days without a photo") < cell.index("Day 0 · Flag raised")
        assert cell.index("Day 0 · Flag raised") < cell.index("Missed check-ins")
