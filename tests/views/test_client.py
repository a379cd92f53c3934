"""The client's home: one card per recovery under way, and today's photo."""
from tests.recovery_rows import add_checkin, add_course, make_treatment, photo_routes  # noqa: F401


def test_home_card_shows_day_stage_verdict_and_photo_button(app, client, auth, people):
    treatment_id = make_treatment(app, people["c1"], days_ago=3.5)
    add_course(app, treatment_id, count=3)
    auth.login(people["c1"])
    html = client.get("/client/").get_data(as_text=True)
    assert html.count('class="card recovery-card') == 1
    assert "Day 3 of 7" in html
    assert "Fading as expected" in html
    assert 'class="stage-chip stage-fresh"' in html and 'fill="#8a4a5c"' in html
    assert f"/treatments/{treatment_id}/checkin" in html and "Take today's photo" in html


def test_home_card_says_when_todays_photo_is_done(app, client, auth, people):
    treatment_id = make_treatment(app, people["c1"], days_ago=1.5)
    add_checkin(app, treatment_id, 0.4, 12.0)
    add_checkin(app, treatment_id, 1.4, 13.0)
    auth.login(people["c1"])
    html = client.get("/client/").get_data(as_text=True)
    assert "Today's photo is done (" in html and "Take today's photo" not in html


def test_slow_course_says_the_therapist_sees_it_only_when_linked(app, client, auth, people,
                                                                 make_user):
    slow = [(0.4, 14.0, "violet"), (1.4, 16.0, "violet"), (3.4, 15.0, "violet"),
            (4.4, 14.5, "violet")]
    alone = make_user("alone@example.org")
    for person in (people["c1"], alone):
        add_course(app, make_treatment(app, person, days_ago=4.5), slow)
        auth.login(person)
        html = client.get("/client/").get_data(as_text=True)
        assert "Fading slower than usual" in html
        assert ("your therapist can see this" in html) == (person is people["c1"])
        auth.logout()


def test_reported_symptom_shows_on_the_card(app, client, auth, people):
    treatment_id = make_treatment(app, people["c1"], days_ago=2.5)
    add_checkin(app, treatment_id, 2.4, 12.0, fever=True)
    auth.login(people["c1"])
    html = client.get("/client/").get_data(as_text=True)
    assert "shows a sign to contact your therapist or a doctor" in html
    assert f"#flags-{treatment_id}" in html


def test_finished_recoveries_move_to_earlier_sessions(app, client, auth, people):
    done = make_treatment(app, people["c1"], days_ago=9.5)
    add_course(app, done, count=9)  # the last two readings are under 3
    add_course(app, make_treatment(app, people["c1"], days_ago=1.5), count=2)
    auth.login(people["c1"])
    html = client.get("/client/").get_data(as_text=True)
    assert html.count('class="card recovery-card') == 1
    assert "Earlier sessions" in html and "Faded: the marks have cleared" in html


def test_home_shows_only_your_own_treatments(app, client, auth, people):
    add_course(app, make_treatment(app, people["c2"]), count=2)
    auth.login(people["c1"])
    html = client.get("/client/").get_data(as_text=True)
    assert "recovery-card" not in html and "No treatments yet" in html


def test_therapists_have_no_client_home(client, auth, people):
    auth.login(people["t1"])
    assert client.get("/client/").status_code == 404
