"""Flags: raised from a check-in and by the sweep, idempotent, with reasons, acknowledged once."""
import datetime as dt

import pytest
import sqlalchemy as sa

from tests.recovery_rows import add_checkin, make_treatment
from tests.views.test_marks import add_course
from webapp.analysis import analyze_image
from webapp.analysis.synthetic import MarkSpec, mark_delta, render_scene
from webapp.extensions import db
from webapp.models import CheckIn, Flag, MarkReading, Reading, RecoverySummary, Treatment, utcnow
from webapp.services import flags, timeline
from webapp.services.recovery import recoveries

SLOW = [(0.4, 12.0, "violet"), (1.4, 14.0, "violet"), (3.4, 13.0, "green"),
        (4.4, 12.5, "green"), (5.4, 12.0, "yellow")]


def all_flags(app) -> list[tuple]:
    """Return every flag as comparable tuples."""
    with app.app_context():
        return [(f.treatment_id, f.kind, f.reason, f.acknowledged_at is None) for f in
                db.session.scalars(sa.select(Flag).order_by(Flag.id))]


def refresh(app, treatment_id: int, now=None) -> list[str]:
    """Refresh one treatment's flags in its own transaction; return the kinds raised."""
    with app.app_context():
        raised = flags.refresh(db.session.get(Treatment, treatment_id), now)
        db.session.commit()
        return [f.kind for f in raised]


def test_slow_course_raises_one_slow_flag_with_the_assessment_reason(app, people):
    """A course above its ceiling raises slow_healing, carrying the plain-language reason."""
    tid = make_treatment(app, people["c1"], people["t1"], days_ago=5.5)
    for t_days, delta_e, colour in SLOW:
        add_checkin(app, tid, t_days, delta_e, colour)
    assert refresh(app, tid) == ["slow_healing"]
    assert refresh(app, tid) == []  # still open: never a second one
    [(_, kind, reason, is_open)] = all_flags(app)
    assert kind == "slow_healing" and is_open
    assert reason.startswith("The mark is fading slower than expected: on day 5 its colour")
    with app.app_context():
        summary = db.session.get(RecoverySummary, tid)
        assert (summary.verdict, summary.reason) == ("slow", reason)
        assert summary.ceiling_ratio > 1.25


def test_red_flag_symptom_reason_names_the_symptoms_and_day(app, people):
    """Blisters and fever on a check-in raise red_flag_symptom at once, whatever the curve."""
    tid = make_treatment(app, people["c1"], people["t1"], days_ago=1.5)
    add_checkin(app, tid, 1.4, 12.0, blisters=True, fever=True)
    assert refresh(app, tid) == ["red_flag_symptom"]
    assert all_flags(app)[0][2] == "Reported blisters or broken skin, and fever, on day 1."


def test_acknowledged_flag_is_raised_again_only_on_new_evidence(app, people):
    """The sweep never undoes an acknowledgement; a later worrying check-in raises a new flag."""
    tid = make_treatment(app, people["c1"], people["t1"], days_ago=5.5)
    for t_days, delta_e, colour in SLOW:
        add_checkin(app, tid, t_days, delta_e, colour)
    refresh(app, tid)
    with app.app_context():
        flag = db.session.scalar(sa.select(Flag))
        flag.acknowledged_at, flag.acknowledged_by_id = utcnow(), people["t1"].id
        flag.note = "Called her"
        db.session.commit()
    with app.app_context():
        flags.sweep()
        db.session.commit()
    assert [f[3] for f in all_flags(app)] == [False]
    add_checkin(app, tid, 5.45, 12.2, "yellow", note="again")
    assert refresh(app, tid) == ["slow_healing"]
    assert [f[3] for f in all_flags(app)] == [False, True]


def test_sweep_twice_gives_the_same_flags(app, people, runner):
    """`flask flags sweep` raises missed check-ins once; a second run changes nothing."""
    silent = make_treatment(app, people["c1"], people["t1"], days_ago=4.0)
    add_checkin(app, silent, 0.4, 12.0)
    add_checkin(app, silent, 1.4, 14.0)
    slow = make_treatment(app, people["c2"], people["t2"], days_ago=5.5)
    for t_days, delta_e, colour in SLOW:
        add_checkin(app, slow, t_days, delta_e, colour)
    fresh = make_treatment(app, people["c2"], people["t2"], days_ago=0.5)
    first = runner.invoke(args=["flags", "sweep"])
    assert first.exit_code == 0, first.output
    assert "Raised 2 flag(s)" in first.output
    after_first = all_flags(app)
    second = runner.invoke(args=["flags", "sweep"])
    assert "Raised 0 flag(s), closed 0" in second.output
    assert all_flags(app) == after_first
    kinds = {(tid, kind) for tid, kind, _, _ in after_first}
    assert kinds == {(silent, "missed_checkins"), (slow, "slow_healing")}
    missed = next(f for f in after_first if f[1] == "missed_checkins")
    # 2.6 days since the last photo: whole days, cut down
    assert missed[2].startswith("No check-in for 2 days: the last photo was on day 1.")
    with app.app_context():
        assert db.session.get(RecoverySummary, fresh).verdict == "insufficient_data"


def test_missed_flag_closes_itself_when_the_client_checks_in(app, people):
    """A silence ends by itself: the next check-in closes the missed flag, kept in history."""
    tid = make_treatment(app, people["c1"], people["t1"], days_ago=4.0)
    add_checkin(app, tid, 0.4, 12.0)
    assert refresh(app, tid) == ["missed_checkins"]
    add_checkin(app, tid, 3.9, 8.0, "green")
    assert refresh(app, tid) == []
    with app.app_context():
        flag = db.session.scalar(sa.select(Flag))
        assert flag.acknowledged_at is not None and flag.acknowledged_by_id is None
        assert flag.note.startswith("Closed automatically")


def test_missed_is_not_raised_for_a_recovery_that_is_over(app, people):
    """Resolved and ancient recoveries are not chased for photos."""
    done = make_treatment(app, people["c1"], people["t1"], days_ago=12)
    for t_days, delta_e in ((0.4, 12.0), (1.4, 14.0), (5.4, 2.5), (6.4, 2.0)):
        add_checkin(app, done, t_days, delta_e, "brown")
    ancient = make_treatment(app, people["c2"], people["t2"], days_ago=90)
    with app.app_context():
        raised, _closed = flags.sweep()
        db.session.commit()
        assert raised == []
        assert db.session.get(RecoverySummary, done).verdict == "resolved"
        assert db.session.get(RecoverySummary, ancient) is None


def test_refresh_sees_the_unflushed_checkin_of_the_callers_transaction(app, people):
    """The check-in flow calls refresh before its commit: the new check-in counts."""
    tid = make_treatment(app, people["c1"], people["t1"], days_ago=1.0)
    with app.app_context():
        treatment = db.session.get(Treatment, tid)
        img = render_scene((62.0, 10.0, 16.0), [MarkSpec(
            delta_lab=mark_delta((62.0, 10.0, 16.0), 12, colour_name="violet"), radius=0.12)],
            size=(160, 120), seed=3).image
        data = analyze_image(img).to_dict()
        db.session.add(CheckIn(
            treatment_id=tid, client_id=treatment.client_id, idempotency_key="k1",
            upload_sha256="0" * 64, taken_at=utcnow(), photo_key="p", thumb_key="t", fever=True,
            reading=Reading(analyzer_version=data["analyzer_version"], ok=data["ok"],
                            stage=data["stage"], colour=data["colour"],
                            delta_e=data["delta_e"], mark_hex=data["mark_hex"], data=data)))
        raised = flags.refresh(treatment)
        db.session.commit()
        assert [f.kind for f in raised] == ["red_flag_symptom"]
        summary = db.session.get(RecoverySummary, tid)
        assert summary.red_flag and summary.checkin_id is not None


def test_a_concurrent_open_flag_of_the_same_kind_is_skipped(app, people):
    """If another writer opened the same kind first, the insert yields and the session lives on."""
    tid = make_treatment(app, people["c1"], people["t1"], days_ago=2.0)
    with app.app_context():
        db.session.add(Flag(treatment_id=tid, kind="worsening", reason="first"))
        db.session.commit()
        assert flags.add_once(Flag(treatment_id=tid, kind="worsening", reason="second")) is False
        assert flags.add_once(Flag(treatment_id=tid, kind="pigmentation", reason="other")) is True
        db.session.commit()
    assert [f[2] for f in all_flags(app)] == ["first", "other"]


@pytest.mark.parametrize(("verdict", "kind"), sorted(flags.VERDICT_FLAGS.items()))
def test_every_verdict_flag_kind_is_a_known_kind(verdict, kind):
    """The verdicts map onto the flag kinds the models know."""
    from webapp.models import FLAG_KINDS
    assert kind in FLAG_KINDS and verdict in ("slow", "worsening", "pigmentation")


def test_is_followed_window():
    """Active: the last 21 days, or unresolved up to the 60-day history limit."""
    now = utcnow()
    treatment = Treatment(treated_at=now - dt.timedelta(days=30))
    assert flags.is_followed(treatment, "slow", now)
    assert not flags.is_followed(treatment, "resolved", now)
    treatment.treated_at = now - dt.timedelta(days=61)
    assert not flags.is_followed(treatment, "slow", now)


def test_an_unconfirmed_photo_raises_no_course_flag_until_its_marks_are_confirmed(app, people):
    """Day 4's photo reads mark 1 darker at the points carried over from day 3: nothing is
    raised from it (its circle may be off the mark) until the client confirms them; a fever
    reported with it is raised at once."""
    tid = make_treatment(app, people["c1"], people["t1"], days_ago=4.6)
    with app.app_context():
        treatment = db.session.get(Treatment, tid)
        add_course(tid, people["c1"].id, treatment.treated_at,
                   {1: [14, 15, 10, 8.5, 13.0], 2: [10, 11, 8, 6, 5]}, [0.5, 1.5, 2.5, 3.5, 4.5])
        latest = db.session.scalars(sa.select(CheckIn).where(CheckIn.treatment_id == tid)
                                    .order_by(CheckIn.taken_at.desc())).first()
        latest.marks_confirmed_at = None
        latest.fever = True
        for point in latest_points(latest.id):
            point.set_by = "carried"
        db.session.commit()
        checkin_id = latest.id
    assert refresh(app, tid) == ["red_flag_symptom"]
    with app.app_context():
        latest = db.session.get(CheckIn, checkin_id)
        latest.fever = False
        db.session.commit()
        # the client is not told their therapist knows of what nobody has been told
        assert not told(db.session.get(Treatment, tid))
        # the client confirms the marks (marks.save refreshes the flags)
        latest.marks_confirmed_at = utcnow()
        db.session.commit()
        assert told(db.session.get(Treatment, tid))
    assert refresh(app, tid) == ["worsening"]


def told(treatment: Treatment) -> bool:
    """Tell whether the client's timeline says their therapist has been told."""
    return timeline.build(recoveries([treatment])[0], utcnow()).tells_therapist


def latest_points(checkin_id: int) -> list:
    """Return the followed marks' readings of a check-in."""
    return db.session.scalars(sa.select(MarkReading).where(
        MarkReading.checkin_id == checkin_id)).all()
