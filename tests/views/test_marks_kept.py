"""A followed mark nobody touched keeps its reading when another mark's circle moves."""
import sqlalchemy as sa

from tests.views.test_marks import later_checkin, save_anyway, setup, values  # noqa: F401 (a fixture)
from webapp.extensions import db
from webapp.models import Mark, MarkReading


def readings_of(app, checkin_id: int) -> dict[int, float]:
    """Return each mark reading's ΔE00 of a check-in, by mark number."""
    with app.app_context():
        return dict(db.session.execute(
            sa.select(Mark.number, MarkReading.delta_e).join(Mark, Mark.id == MarkReading.mark_id)
            .where(MarkReading.checkin_id == checkin_id)).all())


def test_moving_one_circle_away_and_back_leaves_the_other_marks_readings(
        app, client, auth, setup):  # noqa: F811 (the fixture)
    # the tester's check-in: mark 1 moved to (0.3, 0.3) and back changed mark 2 from 3.32 to
    # 3.17 and mark 4 from 0.73 to 1.09
    _first, later = later_checkin(app, client, auth, setup)
    url = f"/checkins/{later}/marks"
    followed = values(client.get(url).text, "mark")
    assert save_anyway(client, url, {"board": "later", "mark": followed,
                                     "action": "save"}).status_code == 303
    before = readings_of(app, later)
    number, _sep, _point = followed[0].partition(":")
    for board in ([f"{number}:0.3000,0.3000", *followed[1:]], followed):
        assert save_anyway(client, url, {"board": "later", "mark": board,
                                         "action": "save"}).status_code == 303
    after = readings_of(app, later)
    moved = int(number)
    assert len(before) >= 3
    assert {n: e for n, e in after.items() if n != moved} == {
        n: e for n, e in before.items() if n != moved}
