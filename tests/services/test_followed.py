"""Followed marks day to day: no false alarm from the framing, nothing counted from a photo that
does not match the last one (generated photos only)."""
import datetime as dt
from functools import cache

import pytest
import sqlalchemy as sa

from webapp.analysis import scenes, synthetic
from webapp.extensions import db
from webapp.models import CheckIn, Consent, Flag, Treatment, utcnow
from webapp.services import checkins, marks
from webapp.services.recovery import recoveries

DAY = dt.timedelta(days=1)


@cache
def back(seed: int):
    """A back with three marks, as the tester photographed Kim's."""
    return scenes.make_scene(seed, kind="back", marks=3, mixed=False)


def jpeg(scene) -> bytes:
    """A scene as the phone sends it."""
    return synthetic.save_jpeg(scene.image, quality=92)


@pytest.fixture
def treatment(app, people):
    """C1's treatment of five days ago, with consent."""
    with app.app_context():
        db.session.add(Consent(user_id=people["c1"].id, version=app.config["CONSENT_VERSION"]))
        found = Treatment(client_id=people["c1"].id, therapist_id=people["t1"].id,
                          treated_at=utcnow() - 5 * DAY, body_area="upper_back",
                          technique="static", cup_count=6, cup_material="glass",
                          suction="medium")
        db.session.add(found)
        db.session.commit()
        return found.id


def send(treatment_id: int, scene, days_ago: float, key: str) -> CheckIn:
    """Record a check-in of a scene taken ``days_ago`` (in an app context)."""
    found = db.session.get(Treatment, treatment_id)
    return checkins.record_checkin(found.client, found, jpeg(scene), idempotency_key=key,
                                   taken_at=utcnow() - dt.timedelta(days=days_ago))


def confirm(checkin: CheckIn) -> None:
    """The client confirms the marks on the photo as shown (one tap)."""
    marks.save(marks.board_for(checkin), checkin.treatment.client)


def follow_first(treatment_id: int, scene, days_ago: float) -> CheckIn:
    """The first photo, its marks confirmed at the painted marks."""
    first = send(treatment_id, scene, days_ago, "key-first-000")
    board = marks.Board(first, first=True, spots=[
        marks.Spot(x, y, marks.TAPPED_RADIUS, "tapped") for x, y in (m.centre for m in scene.marks)])
    marks.save(board, first.treatment.client)
    return first


@pytest.mark.parametrize("seed", [11, 13, 21])
def test_a_closer_photo_of_fading_marks_is_not_judged_worsening(app, treatment, seed):
    # the tester's camera move: the same marks, photographed 1.3x closer the next day; as a
    # share of the photo every mark's area rose 67-84%, and each run was judged "worsening"
    with app.app_context():
        follow_first(treatment, back(seed), 2.5)
        later = send(treatment, scenes.transformed(back(seed), scale=1.3), 1.5, "key-closer-00")
        confirm(later)
        scale = marks.area_scale_of(later)
        assert scale == pytest.approx(1.69, rel=0.05)
        recovery = recoveries([db.session.get(Treatment, treatment)])[0]
        assert [m.assessment.verdict for m in recovery.marks] == ["on_track"] * 3
        assert recovery.assessment.verdict != "worsening"
        assert db.session.scalar(sa.select(Flag.id).where(Flag.kind == "worsening")) is None
