"""Treatments: recording a cupping session, and who may see it."""
import datetime as dt
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.recovery_rows import (FADING, add_checkin, add_course, make_treatment, photo_routes)  # noqa: F401 (an autouse fixture)
from webapp import clock
from webapp.extensions import db
from webapp.models import (AuditEvent, CheckIn, Consent, Reading, RecoverySummary, Treatment, User,
                           utcnow)
from webapp.services import chart, flags
from webapp.services.checkins import record_checkin
from webapp.services.recovery import expected_days_for
from webapp.services.storage import get_store


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


@pytest.mark.parametrize(("risk", "suction", "days"), [
    ([], "medium", 7), ([], "light", 7), ([], "strong", 10), (["blood_thinners"], "medium", 10),
    (["over_65", "steroids"], "light", 10), (["bruises_easily"], "strong", 10)])
def test_risk_factors_and_strong_suction_widen_expected_days(app, client, auth, people, risk,
                                                             suction, days):
    auth.login(people["t1"])
    response = client.post("/treatments/new", data=treatment_form(
        client_id=people["c1"].id, risk_factors=risk, suction=suction))
    assert response.status_code == 302
    [treatment] = treatments(app)
    assert (treatment.expected_days, treatment.risk_factors) == (days, risk)
    assert treatment.therapist_id == people["t1"].id


def test_the_form_and_whats_normal_say_what_the_rule_decides(client, auth, people):
    widening = [("strong", 10), ("medium", 7), ("light", 7)]
    assert [(s, expected_days_for([], s)) for s, _days in widening] == widening
    auth.login(people["c1"])
    form = client.get("/treatments/new").get_data(as_text=True)
    assert "Strong suction makes darker marks: we expect about 10 days instead of 7." in form
    assert "Any of these makes us expect about 10 days instead of 7." in form
    normal = client.get("/normal").get_data(as_text=True)
    assert "expects about 10 days instead of 7:" in normal
    causes = normal.split('<ul class="widening">')[1].split("</ul>")[0]
    # every fact that widens the window, and nothing else (a medium suction does not)
    assert [c.strip() for c in causes.replace("</li>", "").split("<li>")[1:]] == [
        "Strong suction", "Takes blood thinners", "Steroid treatment", "Bruises easily",
        "Over 65"]


def test_therapist_cannot_record_for_unlinked_client(app, client, auth, people):
    auth.login(people["t1"])
    response = client.post("/treatments/new", data=treatment_form(client_id=people["c2"].id))
    assert response.status_code == 422
    assert b"Not a valid choice" in response.data
    assert treatments(app) == []


@pytest.mark.parametrize(("zone", "treated_at"), [("Asia/Tokyo", "0001-01-01T00:00"),
                                                  ("America/New_York", "9999-12-31T23:59")])
def test_a_session_beyond_the_dates_utc_holds_is_refused_with_a_message(
        app, client, auth, make_user, zone, treated_at):
    """Year 1 east of UTC, or 9999 west of it, is no moment at all: refused, never a 500."""
    user = make_user("far@example.org", timezone=zone)
    auth.login(user)
    response = client.post("/treatments/new", data=treatment_form(client_id=user.id,
                                                                  treated_at=treated_at))
    assert response.status_code == 422 and b"last 60 days" in response.data
    assert treatments(app) == []


@pytest.mark.parametrize(("fields", "message"), [
    ({"treated_at": "2999-01-01T10:00"}, b"cannot be in the future"),
    ({"treated_at": "2001-01-01T10:00"}, b"last 60 days"),
    ({"treated_at": "yesterday"}, b"Not a valid datetime"),
    ({"cup_count": "0"}, b"between 1 and 40"),
    ({"body_area": "elbow"}, b"Not a valid choice"),
    ({"body_area": ""}, b"Please choose the body area."),
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


def test_the_body_area_starts_unchosen_and_must_be_chosen(app, client, auth, people):
    """A form sent as it came would name the wrong part of the body on every page."""
    auth.login(people["c1"])
    page = client.get("/treatments/new").text
    assert re.search(r'<select[^>]*name="body_area"[^>]*required', page)
    assert re.search(r'<option disabled selected value="">Choose the body area</option>', page)
    fields = treatment_form(client_id=people["c1"].id)
    del fields["body_area"]
    response = client.post("/treatments/new", data=fields)
    assert response.status_code == 422 and b"Please choose the body area." in response.data
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



# the recovery timeline ------------------------------------------------------------------

@pytest.mark.parametrize("count", [0, 1, 10])
def test_timeline_renders_with_0_1_and_10_checkins(app, client, auth, people, count):
    treatment_id = make_treatment(app, people["c1"], days_ago=10.5)
    add_course(app, treatment_id, count=count)
    auth.login(people["c1"])
    response = client.get(f"/treatments/{treatment_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "<html" in html and f'id="timeline-{treatment_id}"' in html
    assert "Day 10, past the usual 7" in html
    assert html.count('class="day-row') == 11  # one row per day since the treatment
    # thumbnail and its full photo's link per day; the two days compared only when asked
    assert html.count("/photos/") == count * 2
    assert ("<svg viewBox" in html) == (count > 0)
    assert ('name="first"' in html) == (count >= 2)
    assert "not medical advice" in html


def test_a_label_is_escaped_like_any_other_text(app, client, auth, people):
    # flask-babel's lazy strings pass as markup: a label must reach the page as text
    treatment_id = make_treatment(app, people["c1"])
    with app.app_context():
        db.session.get(Treatment, treatment_id).body_area = "neck_shoulders"
        db.session.commit()
    auth.login(people["c1"])
    html = client.get(f"/treatments/{treatment_id}").get_data(as_text=True)
    assert "<h1>Neck &amp; shoulders</h1>" in html and "Neck & shoulders" not in html


def test_timeline_rows_show_stage_colour_numbers_and_symptoms(app, client, auth, people):
    treatment_id = make_treatment(app, people["c1"], days_ago=3.5)
    add_checkin(app, treatment_id, 0.4, 12.0, "violet")
    add_checkin(app, treatment_id, 2.4, 8.0, "green", pain=4, note="itchy today")
    auth.login(people["c1"])
    html = client.get(f"/treatments/{treatment_id}").get_data(as_text=True)
    assert "Turning" in html and "Fresh" in html
    assert 'fill="#8a4a5c"' in html  # the measured swatch
    assert "ΔE 8.0 · 33% faded" in html
    assert "Pain 4/10" in html and "itchy today" in html
    assert "No photo" in html  # day 1 has none


def test_fade_is_counted_from_the_peak_not_while_darkening(app, client, auth, people):
    treatment_id = make_treatment(app, people["c1"], days_ago=2.5)
    add_course(app, treatment_id, count=3)  # 12 on day 0, peak 14 on day 1, 11 on day 2
    auth.login(people["c1"])
    html = client.get(f"/treatments/{treatment_id}").get_data(as_text=True)
    assert "ΔE 12.0</p>" in html
    assert "ΔE 14.0 · 0% faded" in html and "ΔE 11.0 · 21% faded" in html


def test_timeline_shows_verdict_projection_and_todays_button(app, client, auth, people):
    treatment_id = make_treatment(app, people["c1"], days_ago=4.5)
    add_course(app, treatment_id, count=4)
    auth.login(people["c1"])
    html = client.get(f"/treatments/{treatment_id}").get_data(as_text=True)
    assert "Fading as expected" in html
    assert "Likely to fade around day" in html
    assert "Take today's photo" in html and "/treatments/%d/checkin" % treatment_id in html
    add_checkin(app, treatment_id, 4.4, 6.0, "yellow")
    html = client.get(f"/treatments/{treatment_id}").get_data(as_text=True)
    assert "Today's photo is done" in html and "Take today's photo" not in html


def test_slow_course_names_the_therapist_to_the_client_only(app, client, auth, people):
    treatment_id = make_treatment(app, people["c1"], days_ago=4.5)
    add_course(app, treatment_id, [(0.4, 14.0, "violet"), (1.4, 16.0, "violet"),
                                   (3.4, 15.0, "violet"), (4.4, 14.5, "violet")])
    for viewer, words in (("c1", "Fading slower than usual: your therapist can see this"),
                          ("t1", "Fading slower than expected")):
        auth.login(people[viewer])
        html = client.get(f"/treatments/{treatment_id}").get_data(as_text=True)
        assert words in html
        # the verdict speaks to its reader; the therapist reads the client's aftercare as theirs
        assert ("your therapist can see this" in html) == (viewer == "c1")
        assert ("Aftercare your client is shown today" in html) == (viewer == "t1")
        auth.logout()


def test_a_verdict_has_a_client_form_and_a_therapist_form(app, client, auth, people):
    treatment_id = make_treatment(app, people["c1"], people["t1"], days_ago=5.5)
    add_course(app, treatment_id, [(0.4, 12.0, "violet"), (1.4, 14.0, "violet"),
                                   (3.4, 5.0, "green"), (5.4, 14.0, "violet")])
    auth.login(people["c1"])
    html = client.get(f"/treatments/{treatment_id}").get_data(as_text=True)
    assert "Darker or bigger again: please contact your therapist" in html
    auth.logout()
    auth.login(people["t1"])
    for url in (f"/treatments/{treatment_id}", f"/therapist/clients/{people['c1'].id}"):
        html = client.get(url).get_data(as_text=True)
        assert "Darker or bigger again" in html, url
        # a therapist's page never speaks to the client
        assert "your therapist" not in html.lower(), url


def test_reported_symptom_highlights_the_red_flags(app, client, auth, people):
    treatment_id = make_treatment(app, people["c1"], days_ago=2.5)
    add_checkin(app, treatment_id, 1.4, 12.0)
    auth.login(people["c1"])
    html = client.get(f"/treatments/{treatment_id}").get_data(as_text=True)
    assert "Blisters or broken skin." in html and 'role="alert"' not in html
    add_checkin(app, treatment_id, 2.4, 11.0, blisters=True, fever=True, note="b")
    html = client.get(f"/treatments/{treatment_id}").get_data(as_text=True)
    assert 'class="red-flags alarm"' in html and 'role="alert"' in html
    assert html.count('<li class="active">') == 2
    # the alarm comes before the chart, where it is seen first
    assert html.index("red-flags alarm") < html.index("fade-chart")


def test_client_can_delete_a_days_photo_from_the_timeline(app, client, auth, people):
    treatment_id = make_treatment(app, people["c1"], people["t1"], days_ago=2.5)
    keep = add_checkin(app, treatment_id, 0.4, 12.0)
    gone = add_checkin(app, treatment_id, 1.4, 13.0)
    auth.login(people["t1"])
    assert f"/checkins/{gone}/delete" not in client.get(f"/treatments/{treatment_id}").text
    auth.logout()
    auth.login(people["c1"])
    html = client.get(f"/treatments/{treatment_id}").get_data(as_text=True)
    assert f'action="/checkins/{keep}/delete"' in html and f'action="/checkins/{gone}/delete"' in html
    response = client.post(f"/checkins/{gone}/delete", follow_redirects=True)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f"/checkins/{gone}/delete" not in html and f"/checkins/{keep}/delete" in html


def test_another_client_and_another_therapist_get_404(app, client, auth, people):
    treatment_id = make_treatment(app, people["c1"])
    add_course(app, treatment_id, count=3)
    hx = {"HX-Request": "true", "HX-Target": f"compare-{treatment_id}"}
    for outsider in ("c2", "t2"):
        auth.login(people[outsider])
        assert client.get(f"/treatments/{treatment_id}").status_code == 404
        # nor the comparison with its photos, as a page or as htmx's slice
        for headers in ({}, hx):
            response = client.get(f"/treatments/{treatment_id}?first=0&second=2", headers=headers)
            assert response.status_code == 404 and "/photos/" not in response.text
        auth.logout()
    with app.app_context():
        assert db.session.scalars(sa.select(AuditEvent).where(
            AuditEvent.action == "view_treatment")).all() == []


def test_linked_therapist_sees_the_timeline_and_it_is_audited(app, client, auth, people):
    treatment_id = make_treatment(app, people["c1"])
    add_course(app, treatment_id, count=3)
    auth.login(people["t1"])
    response = client.get(f"/treatments/{treatment_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Cleo One" in html and "Take today" not in html  # only the client takes photos
    with app.app_context():
        [event] = db.session.scalars(sa.select(AuditEvent).where(
            AuditEvent.action == "view_treatment")).all()
        assert (event.actor_id, event.subject_id, event.object_id) == (
            people["t1"].id, people["c1"].id, treatment_id)


@pytest.mark.parametrize(("headers", "starts", "absent"), [
    ({}, "<!doctype html>", None),
    ({"HX-Request": "true", "HX-Boosted": "true"}, "<!doctype html>", None),
    ({"HX-Request": "true"}, "<!doctype html>", None),  # aimed at no slice: the page
    ({"HX-Request": "true", "HX-Target": "timeline-{id}"}, '<section id="timeline-{id}"',
     "<html"),
    ({"HX-Request": "true", "HX-Target": "compare-{id}"}, '<section id="compare-{id}"',
     "timeline-"),
])
def test_same_url_gives_page_or_slice(app, client, auth, people, headers, starts, absent):
    treatment_id = make_treatment(app, people["c1"])
    add_course(app, treatment_id, count=4)
    auth.login(people["c1"])
    headers = {name: value.format(id=treatment_id) for name, value in headers.items()}
    response = client.get(f"/treatments/{treatment_id}", headers=headers)
    assert response.status_code == 200
    html = response.get_data(as_text=True).lstrip()
    assert html.startswith(starts.format(id=treatment_id)), html[:80]
    if absent:
        assert absent not in html
    assert "HX-Request" in response.headers["Vary"]


def test_compare_defaults_to_first_and_latest_and_follows_the_choice(app, client, auth, people):
    treatment_id = make_treatment(app, people["c1"], days_ago=6.5)
    ids = [add_checkin(app, treatment_id, t, e, c) for t, e, c in FADING[:6]]
    auth.login(people["c1"])
    hx = {"HX-Request": "true", "HX-Target": f"compare-{treatment_id}"}

    def chosen(query=""):
        html = client.get(f"/treatments/{treatment_id}{query}", headers=hx).get_data(as_text=True)
        return ([int(day) for day in re.findall(r"<option selected>(\d+)</option>", html)],
                [i for i in ids if f'<img src="/photos/{i}/full' in html])

    # the days are chosen, the photos not yet sent
    assert chosen() == ([0, 5], [])
    assert chosen("?first=2&second=4") == ([2, 4], [ids[2], ids[4]])
    # a day without a photo, or nonsense, falls back to the default
    assert chosen("?first=99&second=abc") == ([0, 5], [ids[0], ids[5]])


def count_queries(app, client, url) -> int:
    """Return how many SQL statements one GET of the url runs."""
    statements = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        assert client.get(url).status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    return len(statements)


def test_timeline_queries_do_not_grow_with_checkins(app, client, auth, people):
    few = make_treatment(app, people["c1"], people["t1"], days_ago=14.5)
    many = make_treatment(app, people["c1"], people["t1"], days_ago=14.5)
    add_course(app, few, count=2)
    course = [(t + 0.1, max(14.0 - t, 1.0), "violet") for t in range(14)]
    add_course(app, many, course)
    for viewer in ("c1", "t1"):  # the linked therapist's view also writes an audit event
        auth.login(people[viewer])
        assert count_queries(app, client, f"/treatments/{few}") == count_queries(
            app, client, f"/treatments/{many}")
        auth.logout()


# the chart ------------------------------------------------------------------------------

def test_chart_places_points_ceiling_and_resolved_line():
    readings = (chart.ChartInput(0.5, 12.0, "fresh", "#803040"),
                chart.ChartInput(3.5, 6.0, "turning", "#a09050"))
    c = chart.build(readings, expected_days=7, now_days=4, projected=6.2)
    assert [p.t_days for p in c.points] == [0.5, 3.5]
    # the axis spans at least to the expected day, and higher ΔE is higher up (smaller y)
    assert c.x_ticks[-1].label == "8" and c.points[0].y < c.points[1].y
    assert c.top < c.resolved_y < c.bottom
    first, *_, last = c.ceiling.split()
    # the ceiling starts at the peak and ends under the resolved line (past day 7)
    assert float(first.split(",")[1]) == c.points[0].y
    assert float(last.split(",")[1]) > c.resolved_y
    assert c.left < c.projected_x < c.right
    assert [t.label for t in c.y_ticks] == ["0", "5", "10", "15"]


def test_chart_axis_reaches_the_projected_day_within_a_month():
    readings = (chart.ChartInput(0.5, 14.0), chart.ChartInput(3.5, 12.0))
    c = chart.build(readings, expected_days=7, now_days=4, projected=19.4)
    assert c.projected_day == 19 and c.left < c.projected_x < c.right  # 19.4 days: 19 whole
    # the calendar's day N, where the caller knows it (the verdict names that one)
    assert chart.build(readings, expected_days=7, now_days=4, projected=19.4,
                       projected_day=20).projected_day == 20
    far = chart.build(readings, expected_days=7, now_days=4, projected=80.0)
    assert far.projected_x is None and far.projected_day is None
    assert int(far.x_ticks[-1].label) <= chart.MAX_PROJECTED_SPAN


def test_chart_points_carry_their_day_date_and_value_and_every_line_is_in_the_legend(
        app, client, auth, people):
    treatment_id = make_treatment(app, people["c1"], days_ago=4.5)
    add_course(app, treatment_id, count=4)
    auth.login(people["c1"])
    html = client.get(f"/treatments/{treatment_id}").get_data(as_text=True)
    figure = html[html.index('<figure class="fade-chart">'):html.index("</figure>")]
    # four focusable dots, each named with the days since the session, its calendar day, date,
    # time and value, also as an SVG <title>
    assert figure.count('<g class="point" tabindex="0" role="img"') == 4
    titles = re.findall(r"<title>(Day \d+, \w{3} \d+ \w{3}, \d\d:\d\d, \d+\.\d days after the "
                        r"session: \d+\.\d)</title>", figure)
    assert len(titles) == 4 and titles[0].endswith(": 12.0")
    assert figure.count('class="point-label"') == 4
    # a key for every line drawn: measured, expected, faded, and the projection
    for line, key in (("measured", "key-measured"), ("ceiling", "key-ceiling"),
                      ("resolved", "key-resolved"), ("projected", "key-projected")):
        assert f'class="{line}"' in figure and f'class="key {key}"' in figure
    # client words first, the colour science on a detail line
    assert "How visible the marks are" in figure and "ΔE00" in figure
    assert figure.index("How visible") < figure.index("ΔE00")


def test_chart_without_readings_is_empty_but_valid():
    c = chart.build((), expected_days=10, now_days=0)
    assert c.points == () and c.ceiling == "" and c.line == ""
    assert c.x_ticks[-1].label == "11"  # a day past the expected one


# --- editing and deleting a treatment --------------------------------------------------------

# slow for the usual 7 days, on track for the 10 expected with a risk factor
SLOW_FOR_USUAL = [(0.4, 12.0, "violet"), (1.4, 14.0, "violet"), (3.4, 11.0, "green"),
                  (4.4, 9.0, "yellow"), (5.4, 8.5, "yellow")]


def summary_verdict(app, treatment_id: int) -> str | None:
    """Return the verdict the triage list reads for a treatment."""
    with app.app_context():
        summary = db.session.get(RecoverySummary, treatment_id)
        return summary.verdict if summary else None


@pytest.mark.parametrize("editor", ["c1", "t1"])
def test_client_or_linked_therapist_edits_a_treatment_and_its_course_is_judged_again(
        app, client, auth, people, editor):
    """Adding blood thinners widens the expected days: the slow course is no longer slow."""
    treatment_id = make_treatment(app, people["c1"], people["t1"], days_ago=5.6)
    add_course(app, treatment_id, SLOW_FOR_USUAL)
    with app.app_context():
        flags.refresh(db.session.get(Treatment, treatment_id))
        db.session.commit()
    assert summary_verdict(app, treatment_id) == "slow"
    auth.login(people[editor])
    page = client.get(f"/treatments/{treatment_id}/edit")
    assert page.status_code == 200 and 'selected value="upper_back"' in page.text
    with app.app_context():
        treated = clock.utc_to_local(db.session.get(Treatment, treatment_id).treated_at, "UTC")
    response = client.post(f"/treatments/{treatment_id}/edit", data=treatment_form(
        client_id=people["c2"].id, treated_at=treated.strftime("%Y-%m-%dT%H:%M"),
        body_area="lower_back", cup_count="8", risk_factors=["blood_thinners"]))
    assert response.status_code == 303
    with app.app_context():
        treatment = db.session.get(Treatment, treatment_id)
        assert (treatment.body_area, treatment.cup_count, treatment.expected_days) == (
            "lower_back", 8, 10)
        assert treatment.client_id == people["c1"].id  # whose it is does not change
        assert db.session.scalar(sa.select(AuditEvent.actor_id).where(
            AuditEvent.action == "edit_treatment")) == people[editor].id
    assert summary_verdict(app, treatment_id) == "on_track"
    assert "Its course is judged again" in client.get(response.headers["Location"]).text


def test_a_treatment_cannot_move_after_its_first_photo(app, client, auth, people):
    """The session's time is refused, saying why, when it would come after a photo of it."""
    treatment_id = make_treatment(app, people["c1"], days_ago=3.0)
    add_checkin(app, treatment_id, 0.5, 12.0)
    auth.login(people["c1"])
    later = clock.utc_to_local(utcnow() - dt.timedelta(days=1), "UTC")
    response = client.post(f"/treatments/{treatment_id}/edit", data=treatment_form(
        client_id=people["c1"].id, treated_at=later.strftime("%Y-%m-%dT%H:%M")))
    assert response.status_code == 422
    assert "The session cannot be after its first photo" in response.text
    assert 'role="alert"' in response.text


@pytest.fixture
def photographed(app, people):
    """C1's treatment (therapist T1) with two check-ins whose photos' bytes are stored."""
    from tests.views.test_checkins import skin_jpeg

    with app.app_context():
        c1 = db.session.get(User, people["c1"].id)
        db.session.add(Consent(user_id=c1.id, version=app.config["CONSENT_VERSION"]))
        treatment = Treatment(client_id=c1.id, therapist_id=people["t1"].id,
                              treated_at=utcnow() - dt.timedelta(days=2), body_area="upper_back",
                              technique="static", cup_count=6, cup_material="glass",
                              suction="medium")
        db.session.add(treatment)
        db.session.commit()
        for n, hours in enumerate((30, 6)):
            record_checkin(c1, treatment, skin_jpeg(seed=n + 1), idempotency_key=f"del-key-{n}",
                           taken_at=utcnow() - dt.timedelta(hours=hours))
        return treatment.id


def stored_objects(app) -> tuple[int, int]:
    """Return how many check-ins and stored photo files there are."""
    with app.app_context():
        return (db.session.scalar(sa.select(sa.func.count(CheckIn.id))),
                len(list(get_store().list())))


def test_deleting_a_treatment_asks_first_and_removes_its_photos(app, client, auth, people,
                                                                photographed):
    """The page asks in a disclosure; the POST deletes the rows, the readings and the bytes."""
    assert stored_objects(app) == (2, 4)
    auth.login(people["c1"])
    page = client.get(f"/treatments/{photographed}").text
    confirm = page[page.index('<details class="delete-treatment">'):]
    assert "its 2 photos" in confirm and f'action="/treatments/{photographed}/delete"' in confirm
    response = client.post(f"/treatments/{photographed}/delete")
    assert response.status_code == 303 and response.headers["Location"] == "/client/"
    assert stored_objects(app) == (0, 0)
    with app.app_context():
        assert db.session.get(Treatment, photographed) is None
        assert db.session.scalar(sa.select(sa.func.count(Reading.id))) == 0
        assert db.session.scalar(sa.select(AuditEvent.detail).where(
            AuditEvent.action == "delete_treatment")) == {"checkins": 2}
    assert "Treatment deleted, with its 2 photos." in client.get(response.headers["Location"]).text
    assert client.get(f"/treatments/{photographed}").status_code == 404


def test_the_linked_therapist_cannot_delete_the_clients_photos(app, client, auth, people,
                                                              photographed):
    """The photos are the client's: not even the therapist who recorded the session deletes a
    treatment that has them (no button; a POST is refused with the reason, nothing changes)."""
    with app.app_context():
        db.session.get(Treatment, photographed).recorded_by_id = people["t1"].id
        db.session.commit()
    auth.login(people["t1"])
    assert 'class="delete-treatment"' not in client.get(f"/treatments/{photographed}").text
    response = client.post(f"/treatments/{photographed}/delete")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/treatments/{photographed}"
    assert ("Only the client can delete a treatment that has photos."
            in client.get(response.headers["Location"]).text)
    assert stored_objects(app) == (2, 4)


def test_a_therapist_deletes_a_session_they_recorded_before_any_photo(app, client, auth,
                                                                      people):
    """A session entered by mistake: its recorder deletes it while it has no photo."""
    treatment_id = make_treatment(app, people["c1"], therapist=people["t1"], days_ago=1)
    with app.app_context():
        db.session.get(Treatment, treatment_id).recorded_by_id = people["t1"].id
        db.session.commit()
    auth.login(people["t1"])
    assert 'class="delete-treatment"' in client.get(f"/treatments/{treatment_id}").text
    response = client.post(f"/treatments/{treatment_id}/delete")
    assert response.status_code == 303
    assert response.headers["Location"] == f"/therapist/clients/{people['c1'].id}"
    with app.app_context():
        assert db.session.get(Treatment, treatment_id) is None


@pytest.mark.parametrize("outsider", ["c2", "t2"])
def test_another_client_or_therapist_can_neither_edit_nor_delete(app, client, auth, people,
                                                                 photographed, outsider):
    """Outsiders get 404 for the edit form, an edit and a delete; nothing changes."""
    auth.login(people[outsider])
    assert client.get(f"/treatments/{photographed}/edit").status_code == 404
    assert client.post(f"/treatments/{photographed}/edit", data=treatment_form(
        client_id=people[outsider].id, body_area="calves")).status_code == 404
    assert client.post(f"/treatments/{photographed}/delete").status_code == 404
    assert stored_objects(app) == (2, 4)
    with app.app_context():
        assert db.session.get(Treatment, photographed).body_area == "upper_back"

WORSENING = [(0.4, 10.0, "violet"), (1.4, 12.0, "violet"), (2.4, 8.0, "violet"),
             (3.4, 14.0, "violet")]
SLOW = [(0.4, 14.0, "violet"), (1.4, 16.0, "violet"), (3.4, 15.0, "violet"),
        (4.4, 14.5, "violet")]


@pytest.mark.parametrize(("days_ago", "course", "verdict", "words", "tone"), [
    (1.5, FADING[:1], "insufficient_data", "Too early to tell", "--pico-muted-border-color"),
    (4.5, FADING[:4], "on_track", "Fading as expected", "--cm-ok"),
    (4.5, SLOW, "slow", "Fading slower than usual", "--cm-warn"),
    (3.5, WORSENING, "worsening", "Darker or bigger again", "--cm-fresh"),
    (9.5, FADING, "resolved", "Faded: the marks have cleared", "--cm-ok"),
])
def test_each_verdict_has_its_words_and_the_colour_of_its_weight(app, client, auth, people,
                                                                  days_ago, course, verdict,
                                                                  words, tone):
    treatment_id = make_treatment(app, people["c1"], days_ago=days_ago)
    add_course(app, treatment_id, course)
    auth.login(people["c1"])
    html = client.get(f"/treatments/{treatment_id}").get_data(as_text=True)
    assert f'class="verdict verdict-{verdict}"' in html and words in html
    card = client.get("/client/").get_data(as_text=True)
    if verdict != "resolved":
        assert f"verdict-{verdict}" in card and words in card
    # the stylesheet gives the verdict the colour of its weight: "too early" is no news
    css = re.sub(r"/\*.*?\*/", "", (Path(app.static_folder) / "css" / "app.css").read_text(),
                 flags=re.S)
    rules: dict[str, list[str]] = {}
    for block in css.split("}"):
        if "{" in block:
            selectors, body = block.rsplit("{", 1)
            for selector in selectors.split(","):
                rules.setdefault(selector.strip(), []).append(body)
    own = rules.get(f".verdict-{verdict}", rules[".verdict"])
    assert any(tone in body for body in own)


def test_calm_course_folds_the_red_flags_under_a_calm_heading(app, client, auth, people):
    treatment_id = make_treatment(app, people["c1"], people["t1"], days_ago=4.5)
    add_course(app, treatment_id, count=5)
    auth.login(people["c1"])
    html = client.get(f"/treatments/{treatment_id}").get_data(as_text=True)
    assert '<details class="red-flags calm">' in html and 'role="alert"' not in html
    assert "When to contact your therapist or a doctor" in html
    assert "Today's photo is done. See you tomorrow." in html


@pytest.mark.parametrize("linked", [True, False])
def test_red_flag_report_is_one_clear_state(app, client, auth, people, make_user, linked):
    person = people["c1"] if linked else make_user("alone@example.org")
    treatment_id = make_treatment(app, person, days_ago=1.5)
    add_checkin(app, treatment_id, 1.45, 12.0, blisters=True)
    auth.login(person)
    html = client.get(f"/treatments/{treatment_id}").get_data(as_text=True)
    alarm = html.index('class="red-flags alarm"')
    # the alarm first, then the verdict; the done message steps back
    assert alarm < html.index('class="verdict ') < html.index('class="today-done quiet"')
    assert "See you tomorrow" not in html and "Today's photo is saved." in html
    assert ("Your therapist has been told" in html) == linked
    assert "red-flags calm" not in html
    card = client.get("/client/").get_data(as_text=True)
    assert card.index("card-alarm") < card.index("verdict-words")
    assert ("Your therapist has been told." in card) == linked


def test_add_later_shows_once_todays_photo_is_done(app, client, auth, people):
    treatment_id = make_treatment(app, people["c1"], days_ago=2.5)
    add_checkin(app, treatment_id, 1.4, 12.0)
    auth.login(people["c1"])
    later = f'class="add-later" href="/treatments/{treatment_id}/checkin"'
    for url in (f"/treatments/{treatment_id}", "/client/"):
        html = client.get(url).get_data(as_text=True)
        assert later not in html and "Take today's photo" in html
    add_checkin(app, treatment_id, 2.45, 11.0)
    for url in (f"/treatments/{treatment_id}", "/client/"):
        html = client.get(url).get_data(as_text=True)
        assert later in html and "Add another photo or symptom today" in html
        assert "Take today's photo" not in html
    # the therapist does not add photos for the client
    auth.logout()
    auth.login(people["t1"])
    assert later not in client.get(f"/treatments/{treatment_id}").get_data(as_text=True)


def full_photos_loaded(html: str) -> list[int]:
    """Return the check-ins whose full-size photo the HTML makes the browser load, in order."""
    # an <img src> or an SVG <image href>; a link to a photo (<a href>) loads nothing
    return [int(i) for i in re.findall(r'(?:<img src|<image href)="/photos/(\d+)/full\b', html)]


def compare_section(html: str) -> str:
    """Return the comparison's section of a page or slice."""
    section = html[html.index('<section id="compare-'):]
    return section[:section.index("</section>")]


def test_the_timeline_sends_no_comparison_photo_until_asked(app, client, auth, people):
    # each is a display copy of up to 1600 px that no cache keeps: two thirds of the page's
    # bytes on a phone (issue 15)
    treatment_id = make_treatment(app, people["c1"], days_ago=4.5)
    add_course(app, treatment_id, count=4)
    auth.login(people["c1"])
    html = client.get(f"/treatments/{treatment_id}").text
    assert full_photos_loaded(html) == []
    section = compare_section(html)
    assert "data-compare" not in section and "<figure>" not in section
    # one button asks for them: without javascript a plain GET of the page at the comparison,
    # with htmx the comparison's slice; until then a day chosen fetches nothing
    form = re.search(r"<form [^>]*>", section).group(0)
    assert f'method="get" action="/treatments/{treatment_id}#compare-{treatment_id}"' in form
    assert f'hx-get="/treatments/{treatment_id}" hx-target="#compare-{treatment_id}"' in form
    assert 'hx-trigger="submit"' in form
    assert re.search(r'<button type="submit" class="secondary">\s*Show the two photos',
                     section)
    assert "<noscript>" not in section


@pytest.mark.parametrize("who", ["c1", "t1"])
def test_asked_the_comparison_comes_with_its_photos_as_a_slice_or_a_page(app, client, auth,
                                                                         people, who):
    treatment_id = make_treatment(app, people["c1"], therapist=people["t1"], days_ago=4.5)
    ids = [add_checkin(app, treatment_id, t, e, c) for t, e, c in FADING[:4]]
    with app.app_context():
        # the therapist sees the photos while the client consents to keeping them
        db.session.add(Consent(user_id=people["c1"].id, version=app.config["CONSENT_VERSION"]))
        db.session.commit()
    auth.login(people[who])
    url = f"/treatments/{treatment_id}?first=0&second=3"
    fragment = client.get(url, headers={"HX-Request": "true",
                                        "HX-Target": f"compare-{treatment_id}"})
    assert fragment.status_code == 200 and "HX-Request" in fragment.headers["Vary"]
    assert fragment.text.lstrip().startswith(f'<section id="compare-{treatment_id}"')
    assert "<html" not in fragment.text and "timeline-" not in fragment.text
    # without javascript: the whole page, the same section in it
    page = client.get(url)
    assert page.status_code == 200 and page.text.startswith("<!doctype html>")
    assert "HX-Request" in page.headers["Vary"]
    for html in (fragment.text, compare_section(page.text)):
        # the slider's two images (later day under the earlier), then the pair's
        assert full_photos_loaded(html) == [ids[3], ids[0], ids[0], ids[3]]
        # the button is gone; another day chosen swaps the slice at once, or by the button
        # in <noscript>
        assert "Show the two photos" not in html and 'hx-trigger="change, submit"' in html
        assert '<noscript><button type="submit" class="secondary">Compare</button></noscript>' in html
    # and no other full-size photo anywhere on the page
    assert full_photos_loaded(page.text) == [ids[3], ids[0], ids[0], ids[3]]


def test_compare_has_a_slider_for_javascript_and_the_pair_without(app, client, auth, people):
    treatment_id = make_treatment(app, people["c1"], days_ago=4.5)
    add_course(app, treatment_id, count=4)
    auth.login(people["c1"])
    html = client.get(f"/treatments/{treatment_id}?first=0&second=3").get_data(as_text=True)
    section = compare_section(html)
    # hidden until static/js/app.js shows it; the side-by-side pair is there either way
    assert '<div class="compare-slider" data-compare hidden>' in section
    assert '<input type="range" class="compare-range"' in section
    assert section.count("<figure>") == 2 and "Day 0" in section and "Day 3" in section
    # these test photos are not stored: shown as taken, said so, and no error
    assert "could not be lined up" in section and 'transform="matrix(1.0 0 0 1.0 0 0)"' in section


# one day numbering and one zone a page --------------------------------------------------

def set_zone(app, person, zone: str) -> None:
    """Store a person's IANA time zone."""
    with app.app_context():
        db.session.get(User, person.id).timezone = zone
        db.session.commit()


def test_the_chart_places_photos_by_days_since_the_session(app, client, auth, people):
    """A session at 22:00 in Kamchatka and a photo the next evening (0.9 days later) is day 1
    on the rows; on the chart, whose axis is days since the session, it lies between ticks 0
    and 1, and its words say both."""
    from webapp.services import timeline
    from webapp.services.recovery import recoveries
    set_zone(app, people["c1"], "Asia/Kamchatka")  # UTC+12: 12:00 UTC is midnight there
    tid = make_treatment(app, people["c1"], people["t1"], days_ago=2 + 2 / 24)  # 22:00 local
    add_checkin(app, tid, 22 / 24, 12.0)  # 20:00 local the next day
    with app.app_context():
        view = timeline.build(recoveries([db.session.get(Treatment, tid)])[0], clock.now())
        [row] = [r for r in view.rows if r.checkin is not None]
        [point] = view.chart.points
        ticks = {t.label: t.pos for t in view.chart.x_ticks}
    assert row.day == 1 and point.day == 1
    assert ticks["0"] < point.x < ticks["1"]
    auth.login(people["c1"])
    html = client.get(f"/treatments/{tid}").get_data(as_text=True)
    assert re.search(r"Day 1, \w{3} \d+ \w{3}, 20:00, 0\.9 days after the session: 12\.0", html)
    assert "days since the session" in html
    desc = re.search(r'<desc id="chart-\d+-desc">(.*?)</desc>', html, re.S).group(1)
    assert "Days since the session and value:" in desc and "0.9: 12.0;" in desc


def test_photos_are_placed_by_the_time_elapsed_not_by_the_calendar(app, people):
    """Kate's session at 18:00: a photo 2 hours later lies 2 hours from the axis' start (not
    at 0.84 of a day), and photos at 23:58 and 00:04 lie 6 minutes apart, in that order."""
    from webapp.services import timeline
    from webapp.services.recovery import recoveries
    # the app's clock stands at 12:00 UTC (conftest): a session 4 days ago at 18:00 UTC
    tid = make_treatment(app, people["c1"], people["t1"], days_ago=3.75)
    add_checkin(app, tid, 2 / 24, 14.0)
    add_checkin(app, tid, 2 + (5 * 60 + 58) / 1440, 12.0)  # 23:58 on day 2
    add_checkin(app, tid, 2 + (6 * 60 + 4) / 1440, 11.0)  # 00:04 on day 3
    with app.app_context():
        c = timeline.build(recoveries([db.session.get(Treatment, tid)])[0], clock.now()).chart
    first, before, after = c.points
    per_day = (c.x_ticks[1].pos - c.x_ticks[0].pos) / int(c.x_ticks[1].label)
    assert first.x - c.left == pytest.approx(per_day * 2 / 24, abs=0.15)
    assert (before.day, after.day) == (2, 3)
    assert before.x < after.x <= before.x + per_day * 6 / 1440 + 0.1


def test_the_fading_estimate_is_never_a_day_gone_by(app, people):
    """Read days after the course said the marks would fade, while they still show, there is
    no estimate: a date already reached cannot be when they will fade (nor "today")."""
    from webapp.services import timeline
    from webapp.services.recovery import recoveries
    tid = make_treatment(app, people["c1"], people["t1"], days_ago=14.5)
    add_course(app, tid, count=6)  # last photo on day 5 at ΔE 4.5, fading fast
    now = clock.now()
    with app.app_context():
        recovery = recoveries([db.session.get(Treatment, tid)])[0]
        view = timeline.build(recovery, now)
    assert recovery.assessment.projected_resolution_day < 14
    assert view.projected_on is None and view.projected_day is None
    assert view.chart.projected_day is None


def projection_shown(app, client, auth, people, days_ago: float, course) -> str | None:
    """Store a course of (day, ΔE) photos; return the client's fading estimate, if shown."""
    tid = make_treatment(app, people["c1"], days_ago=days_ago)
    for t, delta_e in course:
        add_checkin(app, tid, t, delta_e)
    auth.login(people["c1"])
    html = client.get(f"/treatments/{tid}").get_data(as_text=True)
    found = re.search(r'<p class="projection">([^<]*)', html)
    return found.group(1).strip() if found else None


@pytest.mark.parametrize("days_ago, course", [
    # day 2: the peak and one photo after it, fading as expected; two points fit any line
    (2.5, [(0.4, 12.0), (1.4, 14.0), (2.4, 13.2)]),
    # fading as expected by the rules but slowly: the fit reaches past day 7 + 3
    (4.5, [(0.4, 12.0), (1.4, 14.0), (2.4, 13.5), (3.4, 11.3), (4.4, 8.5)]),
    # darker again: not fading at all
    (4.5, [(0.4, 12.0), (1.4, 14.0), (2.4, 10.0), (3.4, 8.0), (4.4, 12.0)]),
])
def test_no_fading_estimate_where_it_cannot_be_right(app, client, auth, people, days_ago, course):
    assert projection_shown(app, client, auth, people, days_ago, course) is None


def test_a_fading_estimate_beside_a_course_fading_as_expected(app, client, auth, people):
    shown = projection_shown(app, client, auth, people, 4.5,
                             [(0.4, 12.0), (1.4, 14.0), (2.4, 11.0), (3.4, 8.5), (4.4, 6.5)])
    assert shown is not None and shown.startswith("Likely to fade around day 7 (")


def test_a_therapist_elsewhere_reads_the_clients_times_labelled(app, client, auth, people):
    """Kim records a session at 22:00 in Kamchatka and a photo at 23:50; Mira, in Los Angeles,
    reads both in Kamchatka time on every page about it, told so once; not 02:00 beside
    23:50, which read as a photo 22 hours after the session."""
    set_zone(app, people["c1"], "Asia/Kamchatka")
    set_zone(app, people["t1"], "America/Los_Angeles")
    tid = make_treatment(app, people["c1"], people["t1"], days_ago=2 + 2 / 24)  # 22:00 local
    add_checkin(app, tid, 110 / 1440, 12.0)  # 1 h 50 later: 23:50 local, the same day 0
    auth.login(people["t1"])
    for url in (f"/treatments/{tid}", f"/therapist/clients/{people['c1'].id}",
                f"/treatments/{tid}/messages"):
        page = client.get(url).get_data(as_text=True)
        assert "22:00" in page and "02:00" not in page, url
        assert ("Times are <bdi>Cleo One</bdi>&#39;s local times (Asia/Kamchatka)" in page
                or "Times are <bdi>Cleo One</bdi>'s local times (Asia/Kamchatka)" in page), url
    assert "23:50" in client.get(f"/treatments/{tid}").get_data(as_text=True)
    auth.logout()
    auth.login(people["c1"])  # her own page: her own zone, nothing to say about it
    page = client.get(f"/treatments/{tid}").get_data(as_text=True)
    assert "22:00" in page and "23:50" in page and "local times" not in page


@pytest.mark.parametrize("language, written, not_written", [
    ("en", "ΔE 2.9", "ΔE 3.0"), ("ru", "ΔE 2,9", "ΔE 3")])
def test_a_faded_mark_is_never_written_3_and_decimals_follow_the_language(
        app, client, auth, people, language, written, not_written):
    """2.97 is under 3, so faded: it is written 2.9 (cut, not rounded up to the line it is
    under), with the decimal comma on a Russian page, as the flag reasons write it."""
    with app.app_context():
        db.session.get(User, people["c1"].id).language = language
        db.session.commit()
    tid = make_treatment(app, people["c1"], people["t1"], days_ago=8.5)
    add_course(app, tid, [(0.4, 12.0, "violet"), (7.4, 2.97, "brown")])
    auth.login(people["c1"])
    page = client.get(f"/treatments/{tid}").get_data(as_text=True)
    assert written in page and not_written not in page
