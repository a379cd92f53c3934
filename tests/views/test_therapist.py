"""The therapist's pages: triage home, client review, flags, private notes, audit, isolation."""
import re

import pytest
import sqlalchemy as sa

from tests.recovery_rows import add_checkin, make_treatment, photo_routes  # noqa: F401 (fixture)
from webapp.extensions import db
from webapp.models import AuditEvent, Flag, Note, RecoverySummary, Treatment, User
from webapp.services import flags

SLOW = [(0.4, 12.0, "violet"), (1.4, 14.0, "violet"), (3.4, 13.0, "green"),
        (4.4, 12.5, "green"), (5.4, 12.0, "yellow")]


@pytest.fixture
def slow_c1(app, people):
    """C1 (T1's client) healing slowly with an open slow_healing flag; returns ids."""
    tid = make_treatment(app, people["c1"], people["t1"], days_ago=5.5)
    checkin_ids = [add_checkin(app, tid, t, e, c) for t, e, c in SLOW]
    with app.app_context():
        [flag] = flags.refresh(db.session.get(Treatment, tid))
        db.session.commit()
        return {"treatment": tid, "flag": flag.id, "checkin": checkin_ids[-1]}


WORKSPACE_ACTIONS = ("view_client", "view_flag", "acknowledge_flag", "add_note")


def audit_actions(app, actor_id: int) -> list[str]:
    """Return the workspace's audit actions of one actor (not sign-ins), oldest first."""
    with app.app_context():
        return list(db.session.scalars(sa.select(AuditEvent.action).where(
            AuditEvent.actor_id == actor_id, AuditEvent.action.in_(WORKSPACE_ACTIONS))
            .order_by(AuditEvent.id)))


def test_home_lists_the_recovery_with_its_facts(client, auth, people, slow_c1):
    """A row shows the client, body area, day N of D, stage, verdict reason, last photo, flags."""
    auth.login(people["t1"])
    page = client.get("/therapist/").get_data(as_text=True)
    assert "Cleo One" in page and "Upper back" in page
    assert "Day 5 of 7" in page
    assert "Slower than expected" in page
    assert "The mark is fading slower than expected" in page
    assert "Last photo" in page and "ago" in page
    assert "Slow healing" in page and f"/therapist/flags/{slow_c1['flag']}" in page
    assert "Since yesterday" in page
    assert 'id="triage-q"' in page and 'hx-trigger="input changed delay:300ms, search"' in page


def test_htmx_search_returns_only_the_list_slice(client, auth, people, slow_c1):
    """The same URL gives the full page, or the list alone for htmx, from one template."""
    auth.login(people["t1"])
    full = client.get("/therapist/?q=cleo&status=slow")
    assert "<html" in full.get_data(as_text=True)
    assert "HX-Request" in full.headers["Vary"]
    part = client.get("/therapist/?q=cleo&status=slow", headers={"HX-Request": "true"})
    text = part.get_data(as_text=True)
    assert "<html" not in text and text.lstrip().startswith('<section id="triage"')
    assert "Cleo One" in text
    none = client.get("/therapist/?q=nobody", headers={"HX-Request": "true"})
    assert "No active recovery matches" in none.get_data(as_text=True)
    restore = client.get("/therapist/?q=cleo", headers={"HX-Request": "true",
                                                       "HX-History-Restore-Request": "true"})
    assert "<html" in restore.get_data(as_text=True)


@pytest.mark.parametrize("query", ["иван", "ИВАН", "Иван", "ängel", "ÄNGEL"])
def test_search_ignores_case_in_every_alphabet(app, client, auth, people, make_user, link,
                                                query):
    """A Russian practice types names in lower case too (SQLite's own lower() is ASCII only)."""
    for email, name in (("ivan@example.org", "Иван Петров"), ("angel@example.org", "Ängel Ünal")):
        user = make_user(email, "client", name)
        link(people["t1"], user)
        make_treatment(app, user, people["t1"], days_ago=2)
    auth.login(people["t1"])
    text = client.get(f"/therapist/?q={query}", headers={"HX-Request": "true"}).get_data(as_text=True)
    expected, other = (("Иван Петров", "Ängel Ünal") if query.lower().startswith("и")
                       else ("Ängel Ünal", "Иван Петров"))
    assert expected in text and other not in text


def test_client_page_shows_timeline_flags_notes_and_is_audited(app, client, auth, people,
                                                                 slow_c1):
    """The review page shows each treatment's timeline, the flag, notes, and records the view."""
    auth.login(people["t1"])
    page = client.get(f"/therapist/clients/{people['c1'].id}").get_data(as_text=True)
    assert 'class="timeline"' in page  # the timeline's own partial, included
    assert "The mark is fading slower than expected" in page
    assert f"/treatments/new?client={people['c1'].id}" in page
    assert "Your private notes" in page
    assert audit_actions(app, people["t1"].id) == ["view_client"]


def test_each_flag_names_the_treatment_it_is_about(app, client, auth, people, slow_c1):
    # a second recovery open at once, with its own flag: the two flags must be told apart
    other = make_treatment(app, people["c1"], people["t1"], days_ago=1.5)
    with app.app_context():
        db.session.get(Treatment, other).body_area = "lower_back"
        db.session.add(Flag(treatment_id=other, kind="missed_checkins", reason="No check-in"))
        db.session.commit()
    auth.login(people["t1"])
    page = client.get(f"/therapist/clients/{people['c1'].id}").get_data(as_text=True)
    heads = re.findall(r'class="flag-treatment">([^<]+)<', page)
    assert len(heads) == 2
    assert any("Upper back" in head for head in heads) and any("Lower back" in head for head in heads)
    assert all(head.startswith("Treatment of ") for head in heads)


def test_acknowledge_a_flag_with_a_note(app, client, auth, people, slow_c1):
    """Acknowledging records who, when and the note; the flag stays in the history."""
    auth.login(people["t1"])
    url = f"/therapist/flags/{slow_c1['flag']}/acknowledge"
    empty = client.post(url, data={"note": "   "}, headers={"HX-Request": "true"})
    assert empty.status_code == 422
    assert "Write a short note" in empty.get_data(as_text=True)
    done = client.post(url, data={"note": "Called her: warm compresses"},
                       headers={"HX-Request": "true"})
    assert done.status_code == 200
    text = done.get_data(as_text=True)
    assert text.lstrip().startswith(f'<li class="card flag flag-slow_healing flag-done" id="flag-{slow_c1["flag"]}"')
    assert "Acknowledged by you" in text and "Called her: warm compresses" in text
    assert "The mark is fading slower than expected" in text
    with app.app_context():
        flag = db.session.get(Flag, slow_c1["flag"])
        assert flag.acknowledged_by_id == people["t1"].id and flag.acknowledged_at is not None
        assert flag.note == "Called her: warm compresses"
    again = client.post(url, data={"note": "Twice"})
    assert "already acknowledged" in again.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Flag, slow_c1["flag"]).note == "Called her: warm compresses"
    page = client.get(f"/therapist/clients/{people['c1'].id}").get_data(as_text=True)
    assert "Acknowledged by you" in page
    assert audit_actions(app, people["t1"].id) == ["acknowledge_flag", "view_client"]


def test_acknowledge_without_javascript_redirects_to_the_client(client, auth, people, slow_c1):
    """A plain form post acknowledges, then goes back to the client's flags."""
    auth.login(people["t1"])
    response = client.post(f"/therapist/flags/{slow_c1['flag']}/acknowledge",
                           data={"note": "Seen"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/therapist/clients/{people['c1'].id}#flags")
    form = client.get(f"/therapist/flags/{slow_c1['flag']}")
    assert "Acknowledged by you" in form.get_data(as_text=True)


def test_another_therapist_learns_a_flag_was_answered_not_by_whom_nor_what(
        client, auth, people, make_user, link, slow_c1):
    """A colleague from another practice, linked to the same client, sees that the flag was
    acknowledged, but neither the name of who did it nor the note sent to the client (it went
    on that therapist's own thread, which the colleague cannot read either)."""
    auth.login(people["t1"])
    client.post(f"/therapist/flags/{slow_c1['flag']}/acknowledge",
                data={"note": "Thanks Cleo - the photo was closer"})
    auth.logout()
    colleague = make_user("t3@example.org", "therapist", "Tara Three")
    link(colleague, people["c1"])
    auth.login(colleague)
    for url in (f"/therapist/clients/{people['c1'].id}", f"/therapist/flags/{slow_c1['flag']}"):
        page = client.get(url).get_data(as_text=True)
        assert "Acknowledged by another therapist" in page, url
        assert "Tess One" not in page and "the photo was closer" not in page, url


def test_notes_are_private_to_their_author(app, client, auth, people, make_user, link, slow_c1):
    """A note is saved and shown to its author; another linked therapist never sees it."""
    auth.login(people["t1"])
    assert client.post(f"/therapist/clients/{people['c1'].id}/notes",
                       data={"body": ""}, headers={"HX-Request": "true"}).status_code == 422
    response = client.post(f"/therapist/clients/{people['c1'].id}/notes",
                           data={"body": "Prefers evening calls"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "Prefers evening calls" in response.get_data(as_text=True)
    plain = client.post(f"/therapist/clients/{people['c1'].id}/notes", data={"body": "Second"})
    assert plain.status_code == 302
    colleague = make_user("t3@example.org", "therapist", "Tara Three")
    link(colleague, people["c1"])
    auth.logout()
    auth.login(colleague)
    page = client.get(f"/therapist/clients/{people['c1'].id}").get_data(as_text=True)
    assert "Prefers evening calls" not in page and "Second" not in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Note.id))) == 2
    assert audit_actions(app, people["t1"].id) == ["add_note", "add_note"]


def test_another_therapists_client_is_invisible_everywhere(app, client, auth, people, slow_c1):
    """T2 sees C1 nowhere: not in the list or search, and 404 on page, flag, ack and notes."""
    auth.login(people["t2"])
    c1 = people["c1"].id
    for url in ("/therapist/", "/therapist/?q=Cleo", "/therapist/?status=slow"):
        page = client.get(url).get_data(as_text=True)
        assert "Cleo One" not in page and f"/therapist/clients/{c1}" not in page
    assert client.get(f"/therapist/clients/{c1}").status_code == 404
    assert client.get(f"/therapist/flags/{slow_c1['flag']}").status_code == 404
    assert client.post(f"/therapist/flags/{slow_c1['flag']}/acknowledge",
                       data={"note": "mine now"}).status_code == 404
    assert client.post(f"/therapist/clients/{c1}/notes", data={"body": "x"}).status_code == 404
    with app.app_context():
        assert db.session.get(Flag, slow_c1["flag"]).acknowledged_at is None
        assert db.session.scalar(sa.select(sa.func.count(Note.id))) == 0
    assert audit_actions(app, people["t2"].id) == []
    # a client is not a therapist: the workspace does not exist for them
    auth.logout()
    auth.login(people["c2"])
    assert client.get("/therapist/").status_code == 404


def test_another_therapist_gets_404_for_the_clients_photos(app, client, auth, people, slow_c1):
    """Photos of C1 are 404 to T2 (runs once the check-in engineer's photo route exists)."""
    pytest.importorskip("webapp.views.photos")
    auth.login(people["t2"])
    for size in ("thumb", "full"):
        with app.test_request_context():
            from flask import url_for
            url = url_for("photos.show", checkin_id=slow_c1["checkin"], size=size)
        assert client.get(url).status_code == 404


def test_empty_practice_is_invited_to_invite(client, auth, people, make_user):
    """A therapist without clients gets the invite prompt instead of an empty list."""
    lone = make_user("lone@example.org", "therapist", "Lone")
    auth.login(lone)
    page = client.get("/therapist/").get_data(as_text=True)
    assert "No clients yet" in page and "/invites" in page


def test_open_flag_shows_the_current_reason_and_keeps_the_raised_one(app, client, auth, people,
                                                                     slow_c1):
    with app.app_context():
        raised_with = db.session.get(Flag, slow_c1["flag"]).reason
    # a later photo, still slow: the course's reason changes, the open flag is not raised again
    add_checkin(app, slow_c1["treatment"], 5.45, 11.8, "yellow")
    with app.app_context():
        assert flags.refresh(db.session.get(Treatment, slow_c1["treatment"])) == []
        db.session.commit()
        now_reason = db.session.get(RecoverySummary, slow_c1["treatment"]).reason
    assert now_reason != raised_with
    auth.login(people["t1"])
    for url in (f"/therapist/flags/{slow_c1['flag']}", f"/therapist/clients/{people['c1'].id}"):
        page = client.get(url).get_data(as_text=True)
        html_reason = now_reason.replace("'", "&#39;")
        assert page.index(html_reason) < page.index("When raised: " + raised_with.replace("'", "&#39;"))
    # the triage row beside it says the same
    assert html_reason in client.get("/therapist/").get_data(as_text=True)
    # acknowledged, it is history: the reason it was raised with, alone
    client.post(f"/therapist/flags/{slow_c1['flag']}/acknowledge", data={"note": "Called her."})
    page = client.get(f"/therapist/flags/{slow_c1['flag']}").get_data(as_text=True)
    assert "When raised:" not in page and raised_with.replace("'", "&#39;") in page


def test_triage_says_day_past_the_usual_like_the_timeline(app, client, auth, people):
    tid = make_treatment(app, people["c1"], people["t1"], days_ago=8.5)
    add_checkin(app, tid, 0.4, 12.0)
    add_checkin(app, tid, 8.4, 9.0)
    with app.app_context():
        flags.refresh(db.session.get(Treatment, tid))
        db.session.commit()
    auth.login(people["t1"])
    page = client.get("/therapist/").get_data(as_text=True)
    assert "Day 8, past the usual 7" in page and "Day 8 of 7" not in page


def test_a_first_photo_is_too_early_to_judge_not_waiting(app, client, auth, people):
    tid = make_treatment(app, people["c1"], people["t1"], days_ago=0.5)
    add_checkin(app, tid, 0.45, 12.0)
    with app.app_context():
        flags.refresh(db.session.get(Treatment, tid))
        db.session.commit()
    auth.login(people["t1"])
    page = client.get("/therapist/").get_data(as_text=True)
    assert "Too early to judge" in page and "Waiting for photos" not in page


def test_each_therapist_reads_a_flags_reason_in_their_own_language(app, client, auth, people):
    """A reason is raised once (here by an English client's check-in, in an English practice)
    and said in the reader's language: a Russian-speaking therapist reads it in Russian, figures
    in Russian style, on the triage list, the flag and the client's page."""
    tid = make_treatment(app, people["c1"], people["t1"], days_ago=5.5)
    for t, e, c in SLOW[:-1]:
        add_checkin(app, tid, t, e, c)
    add_checkin(app, tid, *SLOW[-1], blisters=True, fever=True)
    with app.app_context():
        raised = {f.kind: f for f in flags.refresh(db.session.get(Treatment, tid))}
        db.session.commit()
        # the words kept for the operator's command line are the practice's (English)
        assert raised["red_flag_symptom"].reason == (
            "Reported blisters or broken skin, and fever, on day 5.")
        assert raised["slow_healing"].reason.startswith("The mark is fading slower than expected")
        slow_flag = raised["slow_healing"].id
        db.session.get(User, people["t1"].id).language = "ru"
        db.session.commit()
    auth.login(people["t1"])
    pages = {url: client.get(url).get_data(as_text=True) for url in (
        "/therapist/", f"/therapist/flags/{slow_flag}",
        f"/therapist/clients/{people['c1'].id}")}
    for url, page in pages.items():
        assert "След проходит медленнее ожидаемого: на день 5 его разница цвета 12,0" in page, url
        assert "fading slower" not in page and "Reported" not in page, url
    for url in ("/therapist/", f"/therapist/clients/{people['c1'].id}"):
        assert ("Сообщено о волдырях или повреждении кожи и о температуре на день 5."
                in pages[url]), url


def test_a_flags_reason_names_the_clients_calendar_day_as_every_page_does(app, client, auth,
                                                                          people):
    """The tester's "on day 5.8": a reason named the days elapsed, not the calendar day of
    the client's zone that the timeline, chart and record number their days by. Cleo lives in
    Los Angeles: the slow course's last photo, 5.4 days after a treatment at 16:00 there, was
    taken at 01:36 on the sixth date after it: day 6, for the symptoms and the verdict alike."""
    with app.app_context():
        db.session.get(User, people["c1"].id).timezone = "America/Los_Angeles"
        db.session.commit()
    tid = make_treatment(app, people["c1"], people["t1"], days_ago=5.5)
    for t, e, c in SLOW[:-1]:
        add_checkin(app, tid, t, e, c)
    add_checkin(app, tid, *SLOW[-1], blisters=True)
    with app.app_context():
        raised = {f.kind: f for f in flags.refresh(db.session.get(Treatment, tid))}
        db.session.commit()
        assert raised["red_flag_symptom"].reason == "Reported blisters or broken skin on day 6."
        assert raised["slow_healing"].reason.startswith(
            "The mark is fading slower than expected: on day 6 its colour difference is 12.0")
        slow_flag = raised["slow_healing"].id
    auth.login(people["t1"])
    for url in ("/therapist/", f"/therapist/flags/{slow_flag}",
                f"/therapist/clients/{people['c1'].id}"):
        page = client.get(url).get_data(as_text=True)
        assert "fading slower than expected: on day 6 its" in page, url
        assert "day 5.4" not in page and "day 5," not in page, url


def test_a_flag_the_sweep_closed_says_why_in_the_readers_language(app, client, auth, people,
                                                                  slow_c1):
    """The sweep stores its closing note in the practice's language; a therapist who reads
    Russian reads it in Russian, and the flag's head in grammatical Russian."""
    with app.app_context():
        db.session.add(Flag(treatment_id=slow_c1["treatment"], kind="missed_checkins",
                            reason="No check-in", acknowledged_at=db.func.now(),
                            note="Closed automatically: the client checked in again, or the "
                                 "recovery is no longer followed."))
        db.session.get(User, people["t1"].id).language = "ru"
        db.session.commit()
    auth.login(people["t1"])
    page = client.get(f"/therapist/clients/{people['c1'].id}").get_data(as_text=True)
    assert "Закрыто автоматически: клиент снова прислал фото" in page
    assert "Closed automatically" not in page and "поступил" not in page


def test_a_triage_row_says_how_the_course_goes_once(app, client, auth, people):
    """A fever puts a recovery that fades as expected on top: its row says so in one sentence."""
    tid = make_treatment(app, people["c1"], people["t1"], days_ago=3.5)
    for t, e in ((0.4, 12.0), (1.4, 13.0), (2.4, 11.5)):
        add_checkin(app, tid, t, e)
    add_checkin(app, tid, 3.4, 9.0, fever=True)
    with app.app_context():
        flags.refresh(db.session.get(Treatment, tid))
        db.session.commit()
    auth.login(people["t1"])
    page = client.get("/therapist/").get_data(as_text=True)
    [reason] = re.findall(r'<p class="triage-reason">(.*?)</p>', page, re.S)
    assert reason.lower().count("fading as expected") == 1, reason


def test_a_flag_note_loses_its_bidi_controls(app, client, auth, people, slow_c1):
    """"Pay \u202e01$\u202c at the desk" showed as "Pay $10 at the desk", escaped but spoofed:
    the controls are dropped from the note, and from the message the client gets."""
    from webapp.models import Message
    auth.login(people["t1"])
    done = client.post(f"/therapist/flags/{slow_c1['flag']}/acknowledge",
                       data={"note": "Pay \u202e01$\u202c at the desk \u2067ok\u2069"},
                       headers={"HX-Request": "true"})
    assert done.status_code == 200
    assert "Pay 01$ at the desk ok" in done.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Flag, slow_c1["flag"]).note == "Pay 01$ at the desk ok"
        [message] = db.session.scalars(sa.select(Message)).all()
        assert "Pay 01$ at the desk ok" in message.body and "\u202e" not in message.body
