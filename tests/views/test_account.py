"""Your data: the export holds all of it and nothing of anyone else, deletion leaves nothing,
the audit page shows who opened it; withdrawn consent hides the photos from the therapist."""
import datetime as dt
import io
import json
import re
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask_babel import force_locale
from pypdf import PdfReader

from tests.views.test_checkins import skin_jpeg
from webapp.extensions import db
from webapp.models import (AuditEvent, CheckIn, Consent, Flag, Invite, Mark, MarkReading, Message,
                           Note, PushSubscription, Record, ReminderSent, ReminderSetting,
                           Treatment, User, utcnow)
from webapp.services import audit
from webapp.services.checkins import record_checkin
from webapp.services.storage import get_store
from webapp.views.account import ACTIONS

# each table's rows in the export, by the key that holds them
SECTIONS = {"consent": "consents", "care_link": "care_links", "invite": "invites",
            "treatment": "treatments", "check_in": "check_ins", "reading": "readings",
            "mark": "marks", "mark_reading": "mark_readings", "flag": "flags",
            "recovery_summary": "recovery_summaries", "audit_event": "audit",
            "user_session": "devices", "reminder_setting": "reminder_settings",
            "push_subscription": "push_devices", "reminder_sent": "reminders_sent",
            "message": "messages", "record": "records"}
# the column each table's rows are told apart by, where it is not "id"
ROW_KEYS = {"recovery_summary": "treatment_id", "reminder_setting": "user_id"}
# kept out of the export on purpose: a therapist's private notes are theirs
NOT_EXPORTED = {"note"}


def fill(app, people, name: str, therapist: str, photos: int) -> None:
    """Give a client consent, an invite used, a treatment with photos, a mark, a flag, a note."""
    with app.app_context():
        client = db.session.get(User, people[name].id)
        therapist_id = people[therapist].id
        db.session.add(Consent(user_id=client.id, version=app.config["CONSENT_VERSION"]))
        db.session.add(Invite(therapist_id=therapist_id, used_by_id=client.id, used_at=utcnow(),
                              expires_at=utcnow() + dt.timedelta(days=7)))
        treatment = Treatment(client_id=client.id, therapist_id=therapist_id,
                              treated_at=utcnow() - dt.timedelta(days=2), body_area="upper_back",
                              technique="static", cup_count=4, cup_material="glass",
                              suction="medium", notes=f"{name} treatment notes")
        db.session.add(treatment)
        db.session.commit()
        checkins = [record_checkin(client, treatment, skin_jpeg(seed), taken_at=utcnow(),
                                   idempotency_key=f"{name}-key-{seed}") for seed in range(photos)]
        mark = Mark(treatment_id=treatment.id, number=1, x=0.5, y=0.5)
        db.session.add(mark)
        db.session.flush()
        db.session.add(MarkReading(checkin_id=checkins[0].id, mark_id=mark.id, x=0.5, y=0.5,
                                   set_by="client", analyzer_version="t", data={}))
        # acknowledged: an open flag of its kind may have been raised by the check-ins
        db.session.add(Flag(treatment_id=treatment.id, kind="worsening", reason="test",
                            acknowledged_at=utcnow()))
        db.session.add(Note(therapist_id=therapist_id, client_id=client.id,
                            body="Therapist-only remark"))
        db.session.add(Message(treatment_id=treatment.id, therapist_id=therapist_id,
                               from_client=True, body=f"{name} asks about the itch"))
        db.session.add(Record(treatment_id=treatment.id, code=f"{name}-record-code",
                              sha256="0" * 64, issued_by_id=client.id))
        db.session.add(ReminderSetting(user_id=client.id))
        db.session.add(ReminderSent(user_id=client.id, day=utcnow().date(), channel="push"))
        db.session.commit()


@pytest.fixture
def two_practices(app, people, client, auth):
    """C1 (with T1) and C2 (with T2) each with photos; each therapist opened a photo."""
    fill(app, people, "c1", "t1", photos=2)
    fill(app, people, "c2", "t2", photos=1)
    for therapist, who in (("t1", "c1"), ("t2", "c2")):
        with app.app_context():
            checkin_id = db.session.scalar(sa.select(CheckIn.id).where(
                CheckIn.client_id == people[who].id).limit(1))
        auth.login(people[therapist])
        assert client.get(f"/photos/{checkin_id}/thumb.jpg").status_code == 200
        auth.logout()
    return people


def owned_rows(user_id: int) -> dict[str, set[int]]:
    """Return, per table, the ids of the rows about the user (directly or through a treatment)."""
    treatments = sa.select(Treatment.id).where(Treatment.client_id == user_id)
    checkins = sa.select(CheckIn.id).where(CheckIn.client_id == user_id)
    found = {}
    for table in db.metadata.sorted_tables:
        if table.name == "user":
            continue
        conditions = []
        for column in table.columns:
            targets = {fk.column.table.name for fk in column.foreign_keys}
            if "user" in targets and column.name not in ("therapist_id", "actor_id",
                                                           "recorded_by_id",
                                                           "acknowledged_by_id"):
                conditions.append(column == user_id)
            elif "treatment" in targets:
                conditions.append(column.in_(treatments))
            elif "check_in" in targets:
                conditions.append(column.in_(checkins))
        if conditions:
            key = table.c[ROW_KEYS.get(table.name, "id")]
            found[table.name] = set(db.session.scalars(sa.select(key).where(sa.or_(*conditions))))
    return found


def export(client, auth, user) -> tuple[dict, zipfile.ZipFile]:
    """Sign in as the user and download their export; return data.json and the ZIP."""
    auth.login(user)
    response = client.post("/account/export")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/zip"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="cupmark-')
    assert response.headers["Cache-Control"] == "no-store"
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    return json.loads(archive.read("data.json")), archive


def test_export_holds_every_row_and_photo_of_the_client_and_nothing_else(app, client, auth,
                                                                         two_practices):
    people = two_practices
    with app.app_context():
        # a device taking push (never pushed to here: its address is made up)
        db.session.add(PushSubscription(user_id=people["c1"].id, endpoint="https://push.example/c1",
                                        p256dh="device-public-key", auth="device-auth-secret"))
        db.session.commit()
    data, archive = export(client, auth, people["c1"])
    text = archive.read("data.json").decode()
    with app.app_context():
        mine = owned_rows(people["c1"].id)
        assert set(mine) == set(SECTIONS) | NOT_EXPORTED, "a new table needs a place in the export"
        for table, section in SECTIONS.items():
            key = ROW_KEYS.get(table, "id")
            exported = {row[key] for row in data[section]}
            assert mine[table], f"the test data has no {table} row"
            assert exported == mine[table], table
        assert data["account"]["email"] == "c1@example.org"
        assert "password_hash" not in data["account"]
        store = get_store()
        checkins = db.session.scalars(sa.select(CheckIn).where(
            CheckIn.client_id == people["c1"].id)).all()
        assert len(checkins) == 2
        photos = {name for name in archive.namelist() if name.startswith("photos/")}
        assert len(photos) == 4
        for checkin in checkins:
            assert archive.read(f"photos/{checkin.id}.jpg") == store.get(checkin.photo_key)
            assert archive.read(f"photos/{checkin.id}-thumb.jpg") == store.get(checkin.thumb_key)
            assert checkin.photo_key not in text
    # nothing of the other practice, and of the linked therapist only her name
    for other in ("c2@example.org", "Cato Two", "t2@example.org", "Theo Two", "c2 treatment",
                  "c2 asks", "c2-record-code",
                  "t1@example.org", "Therapist-only remark", "device-auth-secret",
                  "push.example"):
        assert other not in text, other
    assert "Tess One" in text  # the linked therapist, and who opened the photo
    assert any(event["action"] == "view_photo" and event["actor_name"] == "Tess One"
               for event in data["audit"])


def test_export_of_a_therapist_holds_their_account_and_links(app, client, auth, two_practices):
    data, archive = export(client, auth, two_practices["t1"])
    assert data["account"]["email"] == "t1@example.org"
    assert [link["with"] for link in data["care_links"]] == ["Cleo One"]
    assert data["check_ins"] == [] and archive.namelist() == ["data.json"]
    assert "c2@example.org" not in archive.read("data.json").decode()


def test_export_needs_a_signed_in_user_and_a_post(client, auth, people):
    assert client.post("/account/export").status_code == 302
    auth.login(people["c1"])
    page = client.get("/account/export")
    assert page.status_code == 200 and b"Download my data" in page.data
    assert page.headers["Cache-Control"] == "no-store"


def user_rows_left(user_id: int, email: str, name: str) -> list[str]:
    """Return a description of every row that still names the user or holds their email/name."""
    left = [f"{table}:{ids}" for table, ids in owned_rows(user_id).items() if ids]
    if db.session.get(User, user_id) is not None:
        left.append("user row")
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if "user" in {fk.column.table.name for fk in column.foreign_keys}:
                if db.session.scalar(sa.select(sa.func.count()).where(column == user_id)):
                    left.append(f"{table.name}.{column.name}")
            if isinstance(column.type, (sa.String, sa.Text)):
                hits = db.session.scalar(sa.select(sa.func.count()).where(
                    sa.or_(column.contains(email), column.contains(name))))
                if hits:
                    left.append(f"{table.name}.{column.name} holds the email or name")
    return left


def test_delete_leaves_no_row_or_byte_of_the_client(app, client, auth, two_practices):
    people = two_practices
    c1 = people["c1"]
    with app.app_context():
        mine = db.session.execute(sa.select(CheckIn.photo_key, CheckIn.thumb_key).where(
            CheckIn.client_id == c1.id)).all()
        my_keys = {key for row in mine for key in row}
        all_keys = {obj.key for obj in get_store().list()}
        events_before = db.session.scalar(sa.select(sa.func.count(AuditEvent.id)))
    assert len(my_keys) == 4 and my_keys < all_keys
    auth.login(c1)
    wrong = client.post("/account/delete", data={"password": "not my password",
                                                 "understood": "y"})
    assert wrong.status_code == 422 and b"That is not your password" in wrong.data
    unticked = client.post("/account/delete", data={"password": "correct horse battery"})
    assert unticked.status_code == 422 and b"tick the box" in unticked.data
    done = client.post("/account/delete", data={"password": "correct horse battery",
                                                "understood": "y"})
    assert done.status_code == 302 and done.headers["Location"] == "/auth/login"
    assert client.get("/account").status_code == 302  # signed out
    assert auth.login(c1).status_code == 422  # nobody can sign in as them
    with app.app_context():
        assert user_rows_left(c1.id, c1.email, c1.name) == []
        assert {obj.key for obj in get_store().list()} == all_keys - my_keys
        # the audit keeps its rows, anonymous, and one more for the deletion
        assert db.session.scalar(sa.select(sa.func.count(AuditEvent.id))) >= events_before + 1
        last = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert (last.action, last.actor_id, last.subject_id) == ("delete_account", None, None)
        # the other practice is untouched
        assert db.session.scalar(sa.select(sa.func.count(CheckIn.id)).where(
            CheckIn.client_id == people["c2"].id)) == 1


def test_a_therapist_can_delete_their_account_and_clients_keep_their_data(app, client, auth,
                                                                         two_practices):
    people = two_practices
    auth.login(people["t1"])
    done = client.post("/account/delete", data={"password": "correct horse battery",
                                                "understood": "y"})
    assert done.status_code == 302
    with app.app_context():
        t1 = people["t1"]
        assert user_rows_left(t1.id, t1.email, t1.name) == []
        treatment = db.session.scalar(sa.select(Treatment).where(
            Treatment.client_id == people["c1"].id))
        assert treatment.therapist_id is None
        assert db.session.scalar(sa.select(sa.func.count(CheckIn.id)).where(
            CheckIn.client_id == people["c1"].id)) == 2


def test_audit_page_shows_who_opened_your_data(app, client, auth, two_practices):
    people = two_practices
    auth.login(people["c1"])
    page = client.get("/account/audit")
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert "Tess One" in html and "Looked at a photo" in html
    assert "Theo Two" not in html
    # your own doings are not listed as someone else opening your data
    assert "sign_in" not in html and "Cleo One" not in html.split("<main", 1)[1]


# done by a person to their own account only (actor and subject the same, or no subject): the
# audit page lists what others did, so these never show there and need no label
OWN_ACTIONS = {"sign_in", "sign_out", "register", "email_verified", "password_reset",
               "password_changed", "session_ended", "sessions_ended", "export", "delete_photos",
               "delete_account", "consent_given", "consent_withdrawn"}


def recorded_actions() -> set[str]:
    """Return every action code the app's code passes to audit.record."""
    pattern = re.compile(r'audit\.record\(\s*"([a-z_]+)"')
    webapp = Path(__file__).resolve().parents[2] / "webapp"
    return {code for path in webapp.rglob("*.py") for code in pattern.findall(path.read_text())}


def test_every_action_another_person_can_take_has_a_label():
    recorded = recorded_actions()
    # the pattern finds them (and this list names none the app no longer records)
    assert OWN_ACTIONS < recorded and "send_message" in recorded
    assert not OWN_ACTIONS & ACTIONS.keys()
    # a code without a label was shown as it is ("delete_treatment") on the audit page
    assert recorded - OWN_ACTIONS <= ACTIONS.keys()


@pytest.mark.parametrize("language", ["en", "ru"])
def test_audit_page_names_every_action_in_words(app, client, auth, people, language):
    with app.app_context():
        db.session.get(User, people["c1"].id).language = language
        for action in recorded_actions() - OWN_ACTIONS:
            audit.record(action, people["t1"], subject=people["c1"].id)
        db.session.commit()
    auth.login(people["c1"])
    main = client.get("/account/audit").get_data(as_text=True).split("<main", 1)[1]
    # a code without a label is shown as it is
    assert not [action for action in recorded_actions() if f"<span>{action}</span>" in main]
    with app.test_request_context(), force_locale(language):
        labels = [str(label) for label in ACTIONS.values()]
    assert [label for label in labels if f"<span>{label}</span>" not in main] == []


def test_audit_page_of_someone_nobody_opened(client, auth, people):
    auth.login(people["c2"])
    assert b"Nobody else has opened your data" in client.get("/account/audit").data


@pytest.mark.parametrize("choice", ["keep", "delete"])
def test_withdrawn_consent_gives_the_therapist_404_on_the_photos(app, client, auth, two_practices,
                                                                choice):
    people = two_practices
    with app.app_context():
        checkins = db.session.execute(sa.select(CheckIn.id, CheckIn.photo_key).where(
            CheckIn.client_id == people["c1"].id)).all()
    urls = [f"/photos/{checkin_id}/{size}.jpg" for checkin_id, _ in checkins
            for size in ("full", "thumb")]
    auth.login(people["c1"])
    asked = client.post("/consent/withdraw")
    assert asked.status_code == 422 and b"keep or delete" in asked.data
    assert client.post("/consent/withdraw", data={"photos": choice}).status_code == 302
    # the client still has what they kept
    expected_own = 200 if choice == "keep" else 404
    assert {client.get(url).status_code for url in urls} == {expected_own}
    auth.logout()
    auth.login(people["t1"])
    assert {client.get(url).status_code for url in urls} == {404}
    with app.app_context():
        keys = {obj.key for obj in get_store().list()}
        stored = db.session.scalar(sa.select(sa.func.count(CheckIn.id)).where(
            CheckIn.client_id == people["c1"].id))
        standing = db.session.scalar(sa.select(sa.func.count(Consent.id)).where(
            Consent.user_id == people["c1"].id, Consent.withdrawn_at.is_(None)))
    assert standing == 0
    if choice == "delete":
        assert stored == 0 and not keys & {key for _, key in checkins}
    else:
        assert stored == 2 and {key for _, key in checkins} <= keys
    # consent given again: the therapist sees the kept photos again
    auth.logout()
    auth.login(people["c1"])
    client.post("/consent")
    auth.logout()
    auth.login(people["t1"])
    assert {client.get(url).status_code for url in urls} == {200 if choice == "keep" else 404}


def record_photos(client, treatment_id: int) -> tuple[int, str]:
    """Return how many images a treatment's downloaded record (PDF) holds, and its text."""
    reader = PdfReader(io.BytesIO(client.post(f"/treatments/{treatment_id}/record.pdf").data))
    return (sum(len(page.images) for page in reader.pages),
            " ".join(" ".join(page.extract_text() for page in reader.pages).split()))


def test_withdrawn_consent_keeps_the_photos_out_of_every_page_and_record_of_the_therapist(
        app, client, auth, two_practices):
    """Not the photo files alone: the record (PDF), the marks page and the timeline's photo
    slots and comparison leave them out too, and the timeline says why; the client keeps all."""
    people = two_practices
    with app.app_context():
        treatment_id, checkin_id = db.session.execute(sa.select(
            CheckIn.treatment_id, CheckIn.id).where(CheckIn.client_id == people["c1"].id)
            .order_by(CheckIn.id.desc()).limit(1)).one()
    auth.login(people["t1"])
    assert record_photos(client, treatment_id)[0] == 2
    assert client.get(f"/checkins/{checkin_id}/marks").status_code == 200
    auth.logout()
    auth.login(people["c1"])
    client.post("/consent/withdraw", data={"photos": "keep"})
    assert record_photos(client, treatment_id)[0] == 2  # the client's own copy keeps them
    auth.logout()
    auth.login(people["t1"])
    images, text = record_photos(client, treatment_id)
    assert images == 0 and "The client has not consented to sharing this photo." in text
    assert client.get(f"/checkins/{checkin_id}/marks").status_code == 404
    assert client.post(f"/checkins/{checkin_id}/marks", data={}).status_code == 404
    for url in (f"/treatments/{treatment_id}", f"/therapist/clients/{people['c1'].id}"):
        page = client.get(url).text
        assert "/photos/" not in page and "Photo not shared" in page, url
        assert "has withdrawn consent to keeping photos" in page, url
    compare = client.get(f"/treatments/{treatment_id}?first=0&second=0",
                         headers={"HX-Request": "true", "HX-Target": f"compare-{treatment_id}"})
    assert "/photos/" not in compare.text and "nothing to compare" in compare.text


@pytest.mark.parametrize("url", ["/account", "/account/export", "/account/audit",
                                 "/account/delete"])
def test_account_pages_are_for_signed_in_people(client, url):
    response = client.get(url)
    assert response.status_code == 302 and "/auth/login" in response.headers["Location"]
