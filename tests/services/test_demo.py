"""Demo data: a therapist and two clients with measured day-by-day photos."""
import datetime as dt

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import CareLink, CheckIn, Consent, Mark, MarkReading, Treatment, User
from webapp.services.demo import CLIENTS, DEMO_PASSWORD, THERAPIST_EMAIL
from webapp.services.recovery import recoveries


def test_demo_creates_people_links_consent_and_measured_photos(app, runner):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert THERAPIST_EMAIL in result.output and DEMO_PASSWORD in result.output
    for spec in CLIENTS:
        assert spec.email in result.output
    with app.app_context():
        therapist = db.session.scalar(sa.select(User).where(User.email == THERAPIST_EMAIL))
        assert therapist.is_therapist and therapist.check_password(DEMO_PASSWORD)
        clients = db.session.scalars(sa.select(User).where(User.role == "client")
                                     .order_by(User.email)).all()
        assert [c.email for c in clients] == sorted(spec.email for spec in CLIENTS)
        assert db.session.scalar(sa.select(sa.func.count(CareLink.id))) == 2
        assert db.session.scalar(sa.select(sa.func.count(Consent.id))) == 2
        treatments = db.session.scalars(sa.select(Treatment).order_by(Treatment.id)).all()
        checkins = db.session.scalars(sa.select(CheckIn)).all()
        assert len(checkins) == sum(len(spec.photo_days) for spec in CLIENTS)
        assert all(c.reading is not None and c.reading.ok for c in checkins)
        followed = recoveries(treatments)
        verdicts = [r.assessment.verdict for r in followed]
        # each treatment follows the three painted marks, confirmed on every photo
        assert db.session.scalar(sa.select(sa.func.count(Mark.id))) == 6
        assert db.session.scalar(sa.select(sa.func.count(MarkReading.id))) == 3 * len(checkins)
        assert all(c.marks_confirmed_at is not None for c in checkins)
        ben = followed[1]
        mark_verdicts = {m.number: m.assessment.verdict for m in ben.marks}
        reason = ben.assessment.reason
    # one heals as expected, the other slowly: what the therapist's triage should show
    assert verdicts == ["on_track", "slow"]
    # Ben is slow because his third mark lags while the other two fade
    assert mark_verdicts[3] == "slow" and mark_verdicts[1] != "slow"
    assert reason.startswith("Mark 3 is fading slower than expected: on day ")


def test_demo_if_empty_leaves_an_existing_database_alone(app, runner, make_user):
    make_user("someone@example.org")
    result = runner.invoke(args=["demo", "--if-empty"])
    assert result.exit_code == 0
    assert "no demo data" in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(User.id))) == 1


def test_demo_twice_is_refused(app, runner):
    assert runner.invoke(args=["demo"]).exit_code == 0
    result = runner.invoke(args=["demo"])
    assert result.exit_code != 0 and "exists already" in result.output


def test_demo_since_yesterday_counts_match_its_open_flags(app, runner):
    from webapp.models import Flag, utcnow
    from webapp.services.triage import since_yesterday
    assert runner.invoke(args=["demo"]).exit_code == 0
    with app.app_context():
        therapist = db.session.scalar(sa.select(User).where(User.email == THERAPIST_EMAIL))
        flags = db.session.scalars(sa.select(Flag)).all()
        since = since_yesterday(therapist.id, utcnow())
    # no flag was raised and closed while the history was written
    assert flags and all(f.acknowledged_at is None for f in flags)
    assert [f.kind for f in flags] == ["slow_healing"]
    new = [f for f in flags if f.raised_at >= utcnow() - dt.timedelta(days=1)]
    assert since.new_flag_count == len(new) <= 1
    assert [flag.kind for flag, _person in since.new_flags] == [f.kind for f in new]
    # a real morning: yesterday's photos, not the whole history, are new
    assert since.checkins == sum(1 for spec in CLIENTS for day in spec.photo_days
                                 if spec.days_ago - day < 1)
