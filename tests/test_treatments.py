"""Treatments: recording a cupping session, and who may see it."""
import datetime as dt

import pytest
import sqlalchemy as sa

from webapp import clock
from webapp.extensions import db
from webapp.models import Treatment, utcnow


def treatment_form(**fields):
    """Return a valid new-treatment form, with some fields replaced."""
    when = clock.utc_to_local(utcnow() - dt.timedelta(hours=3), "UTC")
    data = {"treated_at": when.strftime("%Y-%m-%dT%H:%M"), "body_area": "upper_back",
            "technique": "static", "cup_count": "6", "cup_material": "glass",
            "suction": "medium", "notes": ""}
    data.update(fields)
    return data


def treatments(app):
    """Return every stored treatment."""
    with app.app_context():
        return db.session.scalars(sa.select(Treatment)).all()


def test_client_records_own_treatment(app, client, auth, people):
    auth.login(people["c1"])
    response = client.post("/treatments/new", data=treatment_form(client_id=people["c1"].id))
    assert response.status_code == 302
    [treatment] = treatments(app)
    assert treatment.client_id == people["c1"].id
    assert treatment.therapist_id is None
    assert treatment.expected_days == 7


def test_client_cannot_record_for_someone_else(app, client, auth, people):
    auth.login(people["c1"])
    response = client.post("/treatments/new", data=treatment_form(client_id=people["c2"].id))
    assert response.status_code == 422
    assert treatments(app) == []


@pytest.mark.parametrize(("risk", "days"), [([], 7), (["blood_thinners"], 10),
                                            (["over_65", "steroids"], 10)])
def test_risk_factors_widen_expected_days(app, client, auth, people, risk, days):
    auth.login(people["t1"])
    response = client.post("/treatments/new", data=treatment_form(client_id=people["c1"].id,
                                                                  risk_factors=risk))
    assert response.status_code == 302
    [treatment] = treatments(app)
    assert (treatment.expected_days, treatment.risk_factors) == (days, risk)
    assert treatment.therapist_id == people["t1"].id


def test_therapist_cannot_record_for_unlinked_client(app, client, auth, people):
    auth.login(people["t1"])
    response = client.post("/treatments/new", data=treatment_form(client_id=people["c2"].id))
    assert response.status_code == 422
    assert b"Not a valid choice" in response.data
    assert treatments(app) == []


@pytest.mark.parametrize(("fields", "message"), [
    ({"treated_at": "2999-01-01T10:00"}, b"cannot be in the future"),
    ({"treated_at": "2001-01-01T10:00"}, b"last 60 days"),
    ({"treated_at": "yesterday"}, b"Not a valid datetime"),
    ({"cup_count": "0"}, b"between 1 and 40"),
    ({"body_area": "elbow"}, b"Not a valid choice"),
    ({"risk_factors": ["vampire"]}, b"not a valid choice"),
])
def test_bad_treatment_input_is_refused_with_a_message(app, client, auth, people, fields,
                                                        message):
    auth.login(people["c1"])
    response = client.post("/treatments/new",
                           data=treatment_form(client_id=people["c1"].id, **fields))
    assert response.status_code == 422
    assert message in response.data
    assert treatments(app) == []


def test_treated_at_is_read_in_the_users_time_zone(app, client, auth, make_user):
    user = make_user("tokyo@example.org", timezone="Asia/Tokyo")
    auth.login(user)
    local = clock.utc_to_local(utcnow() - dt.timedelta(hours=1), "Asia/Tokyo")
    client.post("/treatments/new", data=treatment_form(client_id=user.id,
                                                       treated_at=local.strftime("%Y-%m-%dT%H:%M")))
    [treatment] = treatments(app)
    assert treatment.treated_at == clock.local_to_utc(local.replace(second=0, microsecond=0),
                                                      "Asia/Tokyo")
