"""A reading's quality problems on the page right after a photo and on the timeline, in English and Russian."""
import datetime as dt
import io
import re

import pytest

from webapp.analysis import scenes, synthetic
from webapp.extensions import db
import sqlalchemy as sa

from webapp.models import CheckIn, Consent, Mark, Treatment, User, utcnow

DAY = dt.timedelta(days=1)


@pytest.fixture
def treatment(app, people):
    """C1 with consent and a treatment from two days ago."""
    with app.app_context():
        db.session.add(Consent(user_id=people["c1"].id, version=app.config["CONSENT_VERSION"]))
        row = Treatment(client_id=people["c1"].id, treated_at=utcnow() - 2 * DAY, body_area="upper_back",
                        technique="static", cup_count=4, cup_material="glass", suction="medium")
        db.session.add(row)
        db.session.commit()
        return row.id


def send(client, treatment_id: int, scene, key: str, ago: dt.timedelta = dt.timedelta(hours=1)) -> str:
    """Upload a scene taken ``ago`` through the check-in form; return the confirm page's path it
    leads to."""
    taken = (utcnow() - ago).strftime("%Y-%m-%dT%H:%M")
    response = client.post(f"/treatments/{treatment_id}/checkin", data={
        "pain": "1", "taken_at": taken, "idempotency_key": key,
        "photo": (io.BytesIO(synthetic.save_jpeg(scene.image, quality=92)), "IMG.jpg")},
        content_type="multipart/form-data")
    assert response.status_code == 303
    return response.headers["Location"]


def set_language(app, user_id: int, language: str):
    with app.app_context():
        db.session.get(User, user_id).language = language
        db.session.commit()


@pytest.mark.parametrize("language, says, retake", [
    ("en", "The cups still seem to be on the skin. Take the photo after the cups are off.", "Take the photo again"),
    ("ru", "Похоже, банки ещё стоят на коже. Сфотографируйте, когда банки снимут.", "Сфотографировать заново"),
])
def test_cups_on_the_photo_are_said_after_it_and_on_its_day_with_a_way_to_retake(
        app, client, auth, people, treatment, language, says, retake):
    set_language(app, people["c1"].id, language)
    auth.login(people["c1"])
    confirm = send(client, treatment, scenes.make_scene(102, kind="back", cups=4), "key-cups-0001")
    page = client.get(confirm).get_data(as_text=True)
    assert says in page
    new_checkin = f'href="/treatments/{treatment}/checkin"'
    assert re.search(rf'<a role="button" class="retake" {new_checkin}>{retake}</a>', page)
    day = client.get(f"/treatments/{treatment}").get_data(as_text=True)
    assert says in day and new_checkin in day


def test_blood_is_said_and_a_good_photo_says_nothing_of_cups_or_blood(app, client, auth, people, treatment):
    auth.login(people["c1"])
    bloody = client.get(send(client, treatment, scenes.make_scene(103, blood=True), "key-blood-001"))
    assert "There seems to be blood on the skin or in a cup." in bloody.get_data(as_text=True)
    clean = client.get(send(client, treatment, scenes.make_scene(102, kind="back"), "key-clean-001"))
    page = clean.get_data(as_text=True)
    assert "cups still seem" not in page and "blood" not in page and 'class="retake"' not in page


def test_a_therapist_reads_the_problem_without_the_retake_button(app, client, auth, people, treatment):
    with app.app_context():
        db.session.get(Treatment, treatment).therapist_id = people["t1"].id
        db.session.commit()
    auth.login(people["c1"])
    confirm = send(client, treatment, scenes.make_scene(102, kind="back", cups=4), "key-cups-0002")
    auth.logout()
    auth.login(people["t1"])
    page = client.get(confirm).get_data(as_text=True)
    assert "The cups still seem to be on the skin." in page and 'class="retake"' not in page


def test_no_marks_are_confirmed_on_a_photo_to_take_again(app, client, auth, people, treatment):
    auth.login(people["c1"])
    confirm = send(client, treatment, scenes.make_scene(102, kind="back", cups=4), "key-cups-0003")
    page = client.get(confirm).get_data(as_text=True)
    # the cups' domes offered as marks would be followed from then on
    assert "This photo is not counted in the recovery." in page
    assert 'name="tap"' not in page and "Looks right" not in page
    refused = client.post(confirm, data={"board": "first", "action": "save", "keep": "0.5,0.5,0.05"})
    assert refused.status_code == 422
    assert "Marks are checked on a photo without the cups or blood." in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalars(sa.select(Mark).where(Mark.treatment_id == treatment)).all() == []


def test_a_later_photo_with_cups_does_not_undo_the_days_good_one(app, client, auth, people, treatment):
    auth.login(people["c1"])
    send(client, treatment, scenes.make_scene(102, kind="back"), "key-good-0001", dt.timedelta(minutes=2))
    send(client, treatment, scenes.make_scene(102, kind="back", cups=4), "key-cups-0004", dt.timedelta(minutes=1))
    page = client.get(f"/treatments/{treatment}").get_data(as_text=True)
    assert "Today's photo is done." in page
    assert "The newest good photo counts for the course." in page
    assert "This photo is not counted in the recovery." in page and "Take the photo again" not in page


def test_only_todays_photo_is_offered_again(app, client, auth, people, treatment):
    auth.login(people["c1"])
    send(client, treatment, scenes.make_scene(103, blood=True), "key-blood-002")
    with app.app_context():
        # yesterday's photo (the form takes today's only; the offline queue sends older ones)
        checkin = db.session.scalars(sa.select(CheckIn).where(CheckIn.treatment_id == treatment)).one()
        checkin.taken_at -= DAY
        db.session.commit()
    page = client.get(f"/treatments/{treatment}").get_data(as_text=True)
    assert "There seems to be blood on the skin or in a cup." in page
    assert "This photo is not counted in the recovery." in page
    assert "Take the photo again" not in page and "Take today's photo" in page
    home = client.get("/client/").get_data(as_text=True)
    assert "Take the photo again" not in home


def test_todays_photo_to_take_again_is_said_on_the_home_card(app, client, auth, people, treatment):
    auth.login(people["c1"])
    send(client, treatment, scenes.make_scene(102, kind="back", cups=4), "key-cups-0005", dt.timedelta(minutes=1))
    home = client.get("/client/").get_data(as_text=True)
    assert "The cups still seem to be on the skin." in home and "Take the photo again" in home
    assert "Today's photo is done" not in home
