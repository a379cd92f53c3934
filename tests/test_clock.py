"""Days as people count them: calendar dates in the client's zone, across DST, and taken_at."""
import datetime as dt
import re
import zoneinfo

import pytest
import sqlalchemy as sa

from tests.views.test_checkins import form_data, skin_jpeg
from webapp import clock
from webapp.extensions import db
from webapp.models import CheckIn, Consent, Treatment

LONDON = zoneinfo.ZoneInfo("Europe/London")
# British Summer Time ends on Sunday 25 October 2026 at 02:00 BST (01:00 GMT)
SATURDAY = dt.date(2026, 10, 24)
SUNDAY = dt.date(2026, 10, 25)


def london(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """Return a wall-clock time in London as an aware datetime."""
    return dt.datetime.combine(day, dt.time(hour, minute), LONDON)


@pytest.mark.parametrize(("start", "at", "day"), [
    (london(SATURDAY, 23, 30), london(SATURDAY, 23, 59), 0),
    (london(SATURDAY, 23, 30), london(SUNDAY, 0, 1), 1),  # 31 minutes later, the next date
    (london(SATURDAY, 23, 30), london(SUNDAY, 22, 20), 1),
    (london(SATURDAY, 23, 30), london(SUNDAY, 22, 40), 1),  # over 24 h later, still Sunday
    (london(SATURDAY, 23, 30), london(SUNDAY, 23, 59), 1),  # 25 h 29 min: the longer day
    (london(SATURDAY, 23, 30), london(dt.date(2026, 10, 26), 0, 0), 2),
    (london(dt.date(2026, 3, 28), 23, 30), london(dt.date(2026, 3, 29), 23, 59), 1),  # spring
])
def test_day_number_counts_calendar_dates_across_dst(start, at, day):
    """Day N is the number of dates between the two in the zone, whatever the hours between."""
    assert clock.day_number(start, at, "Europe/London") == day


def test_course_maths_keeps_exact_elapsed_time():
    """Across the clocks going back, Saturday 23:30 to Sunday 22:40 is 24 h 10 min."""
    # as stored: UTC (python subtracts two times of one zone on their wall clocks)
    elapsed = clock.days_since(london(SATURDAY, 23, 30).astimezone(dt.timezone.utc),
                               london(SUNDAY, 22, 40).astimezone(dt.timezone.utc))
    assert elapsed == pytest.approx((24 + 10 / 60) / 24)


def test_travel_sets_every_reader_of_the_clock():
    """The app's clock reads the moment travel set, and runs on from it."""
    at = london(SUNDAY, 22, 20)
    with clock.travel(at):
        assert dt.timedelta(0) <= clock.now() - at < dt.timedelta(seconds=5)
    assert clock.now() - at > dt.timedelta(days=1)


@pytest.fixture
def londoner(app, make_user):
    """A consenting Londoner treated on Saturday 23:30, the evening before the clocks go back."""
    user = make_user("lon@example.org", timezone="Europe/London")
    with app.app_context():
        db.session.add(Consent(user_id=user.id, version=app.config["CONSENT_VERSION"]))
        treatment = Treatment(client_id=user.id, treated_at=london(SATURDAY, 23, 30),
                              body_area="upper_back", technique="static", cup_count=6,
                              cup_material="glass", suction="medium")
        db.session.add(treatment)
        db.session.commit()
        return user, treatment.id


def send(client, treatment_id: int, key: str, **fields):
    """Post a check-in as the form does when its time is left untouched (no taken_at)."""
    data = form_data(skin_jpeg(), key=key, **fields)
    del data["taken_at"]
    return client.post(f"/treatments/{treatment_id}/checkin", data=data,
                       content_type="multipart/form-data")


def day_list(html: str) -> str:
    """Return the timeline's day-by-day list."""
    return html[html.index('<ol class="days"'):]


def test_a_photo_at_1926_is_todays_photo_all_evening(app, client, auth, londoner):
    """A photo at 19:26 makes today done; three minutes later it still is, with one row a date."""
    user, treatment_id = londoner
    auth.login(user)
    with clock.travel(london(dt.date(2026, 10, 27), 19, 26)):
        assert send(client, treatment_id, "evening-0001").status_code == 303
        with app.app_context():
            taken = db.session.scalar(sa.select(CheckIn.taken_at))
        assert abs(taken - london(dt.date(2026, 10, 27), 19, 26)) < dt.timedelta(seconds=5)
    with clock.travel(london(dt.date(2026, 10, 27), 19, 29)):
        home = client.get("/client/").text
        assert "Today's photo is done" in home and "Take today's photo" not in home
        assert "Day 3 of 7" in home
        days = day_list(client.get(f"/treatments/{treatment_id}").text)
    dates = re.findall(r'<p class="day-name"><strong[^>]*>Day (\d+)</strong> <small>([^<,]+)', days)
    assert [day for day, _ in dates] == ["3", "2", "1", "0"]
    assert len({date for _, date in dates}) == 4
    assert "Tue 27 Oct, 19:26" in days


def test_the_sunday_the_clocks_go_back(app, client, auth, londoner):
    """Treated Saturday 23:30: every Sunday photo is day 1, listed newest first, each with its
    own symptoms, and at 22:20 and at 22:40 the home card says today's photo is done."""
    user, treatment_id = londoner
    auth.login(user)
    with clock.travel(london(SATURDAY, 23, 50)):
        assert send(client, treatment_id, "sat-2350-key").status_code == 303
    with clock.travel(london(SUNDAY, 9, 0)):
        assert send(client, treatment_id, "sun-0900-key", blisters="y",
                    note="blisters this morning").status_code == 303
    with clock.travel(london(SUNDAY, 22, 15)):
        assert send(client, treatment_id, "sun-2215-key", note="evening").status_code == 303
    for minute in (20, 40):
        with clock.travel(london(SUNDAY, 22, minute)):
            home = client.get("/client/").text
            assert "Day 1 of 7" in home
            assert "Today's photo is done (22:15)." in home and "Take today's photo" not in home
            # the morning's blisters still count today, though the evening's photo has none
            assert "Your check-in shows a sign to contact your therapist" in home
            days = day_list(client.get(f"/treatments/{treatment_id}").text)
    sunday = days[days.index(f'id="day-{treatment_id}-1"'):days.index(f'id="day-{treatment_id}-0"')]
    # the Sunday-evening photo is on the timeline, above the morning's, which keeps its report
    assert sunday.index("Sun 25 Oct, 22:15") < sunday.index("Earlier that day, at 09:00")
    assert "2 check-ins this day" in sunday
    morning = sunday[sunday.index("Earlier that day, at 09:00"):]
    assert "Blisters or broken skin" in morning and "blisters this morning" in morning
    evening = sunday[:sunday.index("Earlier that day, at 09:00")]
    assert "Blisters" not in evening and "evening" in evening
    assert 'class="day-row has-symptom"' in days
    saturday = days[days.index(f'id="day-{treatment_id}-0"'):]
    assert "Sat 24 Oct, 23:50" in saturday


def test_deleting_one_of_a_days_photos_says_what_the_day_shows(app, client, auth, londoner):
    """After deleting the newest photo of a day, the page says the day shows the other one."""
    user, treatment_id = londoner
    auth.login(user)
    with clock.travel(london(SUNDAY, 9, 0)):
        send(client, treatment_id, "sun-0900-key")
    with clock.travel(london(SUNDAY, 22, 15)):
        send(client, treatment_id, "sun-2215-key")
        with app.app_context():
            newest = db.session.scalar(sa.select(CheckIn.id).order_by(CheckIn.taken_at.desc()))
        response = client.post(f"/checkins/{newest}/delete")
        page = client.get(response.headers["Location"]).text
    assert "Day 1 now shows your other photo of that day, taken at 09:00." in page


def test_a_stale_form_sent_ten_hours_later_is_filed_today(app, client, auth, londoner):
    """A form opened at 08:00 and sent at 18:00 untouched is taken at 18:00, today."""
    user, treatment_id = londoner
    auth.login(user)
    with clock.travel(london(dt.date(2026, 10, 27), 8, 0)):
        form = client.get(f"/treatments/{treatment_id}/checkin").text
    field = re.search(r'<input[^>]*name="taken_at"[^>]*>', form).group(0)
    assert 'value=""' in field or "value=" not in field
    assert "max=" not in field and 'data-now-in="Europe/London"' in field
    with clock.travel(london(dt.date(2026, 10, 27), 18, 0)):
        assert send(client, treatment_id, "stale-form-1").status_code == 303
    with app.app_context():
        taken = db.session.scalar(sa.select(CheckIn.taken_at))
    assert abs(taken - london(dt.date(2026, 10, 27), 18, 0)) < dt.timedelta(seconds=5)


@pytest.mark.parametrize(("taken", "said"), [
    # a page left open overnight, sent with the time it showed
    ("2026-10-26T22:00", "Only a photo taken today can be sent: Mon 26 Oct, 22:00 is not today "
                         "(Tue 27 Oct)."),
    ("2026-10-27T09:00", "The photo cannot be taken later than now: Tue 27 Oct, 09:00 is in the "
                         "future."),
    ("2026-10-24T22:00", "The photo cannot be taken before the treatment: Sat 24 Oct, 22:00 is "
                         "before the session on Sat 24 Oct, 23:30."),
])
def test_a_time_outside_today_is_refused_saying_why(app, client, auth, londoner, taken, said):
    """A time in the future, before the treatment or on another day is refused, with why."""
    user, treatment_id = londoner
    auth.login(user)
    with clock.travel(london(dt.date(2026, 10, 27), 8, 0)):
        response = client.post(f"/treatments/{treatment_id}/checkin",
                               data=form_data(skin_jpeg(), key="refused-01", taken_at=taken),
                               content_type="multipart/form-data")
    assert response.status_code == 422
    assert said in response.text and 'role="alert"' in response.text
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(CheckIn.id))) == 0


def test_the_offline_queue_may_deliver_yesterdays_photo(app, client, auth, londoner):
    """A queued photo stamped 23:50 and delivered after midnight keeps its day."""
    user, treatment_id = londoner
    auth.login(user)
    with clock.travel(london(dt.date(2026, 10, 27), 0, 10)):
        response = client.post(f"/treatments/{treatment_id}/checkin",
                               data=form_data(skin_jpeg(), key="queued-0001",
                                              taken_at="2026-10-26T23:50"),
                               headers={"Accept": "application/json"},
                               content_type="multipart/form-data")
    assert response.status_code == 201
    with app.app_context():
        taken = db.session.scalar(sa.select(CheckIn.taken_at))
    assert taken == london(dt.date(2026, 10, 26), 23, 50)
