"""Consents, treatments and check-ins written straight to the database, for the tests of what
reads them."""
import datetime as dt
import uuid

import pytest

from webapp.analysis import PhotoReading
from webapp.analysis.colour import stage_for
from webapp.extensions import db
from webapp.models import CheckIn, Consent, Reading, Treatment, utcnow

# a fading course: (days after the treatment, ΔE00, colour name)
FADING = [(0.4, 12.0, "violet"), (1.4, 14.0, "violet"), (2.4, 11.0, "violet-red"),
          (3.4, 8.5, "green"), (4.4, 6.5, "yellow"), (5.4, 4.5, "brown"), (6.4, 2.5, "brown"),
          (7.4, 2.0, "brown"), (8.4, 1.5, "brown"), (9.4, 1.2, "brown")]


@pytest.fixture(autouse=True)
def photo_routes(app):
    """Stand in for the photo and check-in routes the timeline links to, if not yet present."""
    for endpoint, rule in (("photos.show", "/photos/<int:checkin_id>/<size>"),
                           ("checkins.new", "/treatments/<int:treatment_id>/checkin")):
        if endpoint not in app.view_functions:
            app.add_url_rule(rule, endpoint, lambda **kwargs: "")


def reading_data(delta_e: float, colour: str = "violet", area: float = 0.02) -> dict:
    """Return a stored reading dict for a mark of the given strength and colour."""
    stage = stage_for(delta_e, colour)
    return PhotoReading(ok=True, mark_found=delta_e >= 3, marks=1, stage=stage,
                        colour=colour if stage != "resolved" else "none", delta_e=delta_e,
                        delta_lab=[-delta_e / 2, delta_e / 2, -delta_e / 4],
                        mark_hex="#8a4a5c", skin_hex="#c8a088", area_fraction=area,
                        confidence="high").to_dict()


def give_consent(app, user) -> None:
    """Store the user's consent to the current version of the terms, as /consent does."""
    with app.app_context():
        db.session.add(Consent(user_id=user.id, version=app.config["CONSENT_VERSION"]))
        db.session.commit()


def make_treatment(app, client, therapist=None, days_ago: float = 5.5,
                   expected_days: int = 7) -> int:
    """Store a treatment of the client's, that many days ago; return its id."""
    with app.app_context():
        treatment = Treatment(client_id=client.id,
                              therapist_id=therapist.id if therapist else None,
                              treated_at=utcnow() - dt.timedelta(days=days_ago),
                              body_area="upper_back", technique="static", cup_count=6,
                              cup_material="glass", suction="medium", risk_factors=[],
                              expected_days=expected_days)
        db.session.add(treatment)
        db.session.commit()
        return treatment.id


def add_checkin(app, treatment_id: int, t_days: float, delta_e: float | None,
                colour: str = "violet", **fields) -> int:
    """Store a check-in t_days after the treatment with a reading (none if delta_e is None)."""
    with app.app_context():
        treatment = db.session.get(Treatment, treatment_id)
        checkin = CheckIn(treatment_id=treatment_id, client_id=treatment.client_id,
                          idempotency_key=uuid.uuid4().hex,
                          upload_sha256="0" * 64,
                          taken_at=treatment.treated_at + dt.timedelta(days=t_days),
                          photo_key="p", thumb_key="t", photo_width=640, photo_height=480,
                          **fields)
        if delta_e is not None:
            data = reading_data(delta_e, colour)
            checkin.reading = Reading(analyzer_version=data["analyzer_version"], ok=True,
                                      stage=data["stage"], colour=data["colour"],
                                      delta_e=delta_e, mark_hex=data["mark_hex"], data=data)
        db.session.add(checkin)
        db.session.commit()
        return checkin.id


def add_course(app, treatment_id: int, course=FADING, count: int | None = None) -> None:
    """Store the first `count` days of a course, one check-in a day."""
    for t_days, delta_e, colour in course[:count]:
        add_checkin(app, treatment_id, t_days, delta_e, colour)
