"""Messages: a thread per treatment between the client and their therapist."""
import pytest
import sqlalchemy as sa

from tests.push_service import Device
from tests.recovery_rows import (add_checkin, make_treatment, photo_routes)  # noqa: F401 (an autouse fixture)
from webapp.extensions import db
from webapp.models import AuditEvent, CareLink, Message, Treatment
from webapp.services import flags

SLOW = [(0.4, 12.0, "violet"), (1.4, 14.0, "violet"), (3.4, 13.0, "green"),
        (4.4, 12.5, "green"), (5.4, 12.0, "yellow")]


@pytest.fixture
def treatment_id(app, people):
    """A treatment of C1's recorded by T1."""
    return make_treatment(app, people["c1"], people["t1"], days_ago=3.5)


def form(treatment_id: int, body: str) -> dict:
    """Return the message form of a treatment's thread."""
    return {f"message-{treatment_id}-body": body}


def send(client, auth, person, treatment_id, body, **kwargs):
    """Log in as the person, send a message on the treatment, log out; return the response."""
    auth.login(person)
    response = client.post(f"/treatments/{treatment_id}/messages", data=form(treatment_id, body),
                           **kwargs)
    auth.logout()
    return response


def nav_count(html: str) -> str | None:
    """Return the unread count the navigation shows, if any."""
    header = html.split("</header>")[0]
    if 'class="count"' not in header:
        return None
    return header.split('class="count"')[1].split(">")[1].split("<")[0]


def test_client_and_therapist_write_to_each_other(app, client, auth, people, treatment_id,
                                                  outbox):
    response = send(client, auth, people["c1"], treatment_id, "Is the dark one normal?")
    assert response.status_code == 302
    thread_url = f"/treatments/{treatment_id}#thread-{treatment_id}"
    assert response.headers["Location"].endswith(thread_url)
    # the therapist is told by email who wrote, never what
    [mail] = outbox()
    assert mail["To"] == people["t1"].email and "Cleo One" in mail["Subject"]
    text = mail.get_content()
    assert "dark one" not in text and thread_url in text

    auth.login(people["t1"])
    home = client.get("/therapist/").get_data(as_text=True)
    assert nav_count(home) == "1"
    page = client.get(f"/therapist/clients/{people['c1'].id}").get_data(as_text=True)
    assert "Is the dark one normal?" in page and "Messages with <bdi>Cleo One</bdi>" in page
    # seen on the review page: the count is gone
    assert nav_count(client.get("/therapist/").get_data(as_text=True)) is None
    response = client.post(f"/treatments/{treatment_id}/messages",
                           data=form(treatment_id, "Yes, it fades from day 3."),
                           headers={"HX-Request": "true", "HX-Target": f"thread-{treatment_id}"})
    auth.logout()
    # htmx gets the thread back, with both messages
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert html.lstrip().startswith(f'<section id="thread-{treatment_id}"')
    assert "Is the dark one normal?" in html and "Yes, it fades from day 3." in html
    assert "HX-Request" in response.headers["Vary"]
    assert outbox()[-1]["To"] == people["c1"].email

    auth.login(people["c1"])
    assert nav_count(client.get("/client/").get_data(as_text=True)) == "1"
    inbox = client.get("/messages").get_data(as_text=True)
    assert "Tess One" in inbox and "1 new" in inbox
    page = client.get(f"/treatments/{treatment_id}").get_data(as_text=True)
    assert "Yes, it fades from day 3." in page and "Messages with your therapist" in page
    assert nav_count(client.get("/client/").get_data(as_text=True)) is None


def test_polling_gets_the_list_alone(app, client, auth, people, treatment_id):
    send(client, auth, people["t1"], treatment_id, "How are the marks today?")
    auth.login(people["c1"])
    response = client.get(f"/treatments/{treatment_id}/messages",
                          headers={"HX-Request": "true",
                                   "HX-Target": f"thread-list-{treatment_id}"})
    html = response.get_data(as_text=True)
    assert html.lstrip().startswith(f'<ol id="thread-list-{treatment_id}"')
    assert "How are the marks today?" in html and "<form" not in html
    # without javascript the same URL is a whole page with the form
    page = client.get(f"/treatments/{treatment_id}/messages").get_data(as_text=True)
    assert "<html" in page and f'name="message-{treatment_id}-body"' in page


@pytest.mark.parametrize(("body", "error"), [("   ", "Write your message first."),
                                             ("x" * 2001, "2000")])
def test_a_bad_message_is_refused_with_a_reason(app, client, auth, people, treatment_id, body,
                                                error):
    response = send(client, auth, people["c1"], treatment_id, body,
                    headers={"HX-Request": "true", "HX-Target": f"thread-{treatment_id}"})
    assert response.status_code == 422 and error in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Message.id))) == 0


@pytest.mark.parametrize("intruder", ["c2", "t2", "t3"])
def test_only_the_two_linked_people_read_the_thread(app, client, auth, people, make_user, link,
                                                    treatment_id, intruder):
    # t3 is linked to C1 too, but the conversation is T1's: t3 sees the treatment, not it
    people["t3"] = make_user("t3@example.org", "therapist", "Tara Three")
    link(people["t3"], people["c1"])
    send(client, auth, people["c1"], treatment_id, "Private words for Tess")
    send(client, auth, people["t1"], treatment_id, "Private answer for Cleo")
    auth.login(people[intruder])
    for url in (f"/treatments/{treatment_id}/messages", f"/treatments/{treatment_id}",
                "/messages", "/therapist/" if intruder != "c2" else "/client/"):
        response = client.get(url)
        assert b"Private words" not in response.data and b"Private answer" not in response.data
        if intruder != "t3" and url.startswith("/treatments"):
            assert response.status_code == 404, url
    auth.logout()
    for person in ("c1", "t1"):
        auth.login(people[person])
        page = client.get(f"/treatments/{treatment_id}/messages").get_data(as_text=True)
        assert "Private words" in page and "Private answer" in page, person
        auth.logout()


def test_anonymous_is_sent_to_log_in(client, treatment_id):
    for response in (client.get(f"/treatments/{treatment_id}/messages"),
                     client.post(f"/treatments/{treatment_id}/messages",
                                 data=form(treatment_id, "hello")),
                     client.get("/messages")):
        assert response.status_code == 302 and "/auth/login" in response.headers["Location"]


def test_messages_stay_after_unlinking_for_the_client_alone(app, client, auth, people,
                                                           treatment_id):
    send(client, auth, people["c1"], treatment_id, "Thank you for the session")
    send(client, auth, people["t1"], treatment_id, "Keep it warm")
    with app.app_context():
        db.session.execute(sa.delete(CareLink).where(CareLink.client_id == people["c1"].id))
        db.session.commit()
    auth.login(people["t1"])
    assert client.get(f"/treatments/{treatment_id}/messages").status_code == 404
    assert b"Keep it warm" not in client.get("/messages").data
    auth.logout()
    auth.login(people["c1"])
    page = client.get(f"/treatments/{treatment_id}").get_data(as_text=True)
    assert "Thank you for the session" in page and "Keep it warm" in page
    assert "you can read these messages, but not send new ones" in page
    response = client.post(f"/treatments/{treatment_id}/messages",
                           data=form(treatment_id, "Anyone there?"))
    assert response.status_code == 422 and b"not send new ones" in response.data
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(Message.id))) == 2


def test_a_flag_note_reaches_the_client_as_a_message(app, client, auth, people, outbox):
    tid = make_treatment(app, people["c1"], people["t1"], days_ago=5.5)
    for t, e, c in SLOW:
        add_checkin(app, tid, t, e, c)
    with app.app_context():
        [flag] = flags.refresh(db.session.get(Treatment, tid))
        db.session.commit()
        flag_id = flag.id
    auth.login(people["t1"])
    client.post(f"/therapist/flags/{flag_id}/acknowledge",
                data={"note": "Warm compresses twice a day, and send me a photo on Friday."})
    page = client.get(f"/therapist/clients/{people['c1'].id}").get_data(as_text=True)
    assert "Sent as your note on this flag" in page
    auth.logout()
    assert outbox()[-1]["To"] == people["c1"].email
    auth.login(people["c1"])
    page = client.get(f"/treatments/{tid}").get_data(as_text=True)
    thread = page.split(f'id="thread-{tid}"')[1]
    assert "Warm compresses twice a day, and send me a photo on Friday." in thread
    assert "About your marks fading slowly" in thread and "Tess One" in thread
    with app.app_context():
        actions = db.session.scalars(sa.select(AuditEvent.action).where(
            AuditEvent.actor_id == people["t1"].id)).all()
        assert "send_message" in actions and "acknowledge_flag" in actions


def test_client_without_a_treatment_therapist_writes_to_the_linked_one(app, client, auth,
                                                                       people):
    tid = make_treatment(app, people["c1"], days_ago=1.5)  # recorded by the client alone
    send(client, auth, people["c1"], tid, "Recorded it myself")
    with app.app_context():
        [message] = db.session.scalars(sa.select(Message)).all()
        assert (message.therapist_id, message.from_client) == (people["t1"].id, True)


def test_the_client_is_told_which_therapist_reads_their_message(app, client, auth, people,
                                                                make_user, link, treatment_id):
    """With one therapist the form names them; with a second one linked (another practice) it
    says the message goes to that one only, and the named therapist is the one who gets it."""
    auth.login(people["c1"])
    page = client.get(f"/treatments/{treatment_id}").get_data(as_text=True)
    assert "Your message goes to <bdi>Tess One</bdi>." in page
    auth.logout()
    link(make_user("t3@example.org", "therapist", "Tara Three"), people["c1"])
    auth.login(people["c1"])
    page = client.get(f"/treatments/{treatment_id}").get_data(as_text=True)
    assert ("Your message goes to <bdi>Tess One</bdi> only: your other therapists do not read "
            "this conversation.") in page
    assert "Tara Three" not in page
    auth.logout()
    send(client, auth, people["c1"], treatment_id, "Which of you reads this?")
    with app.app_context():
        [message] = db.session.scalars(sa.select(Message)).all()
        assert message.therapist_id == people["t1"].id


def test_a_device_that_allowed_push_gets_the_news_instead_of_an_email(app, client, auth, people,
                                                                      treatment_id, outbox,
                                                                      push_service):
    device = Device(push_service.url + "/push/cleo-phone")
    device.subscribe(app, people["c1"].id)
    send(client, auth, people["t1"], treatment_id, "Your photo looks fine today.")
    (request,) = push_service.received
    shown = device.decrypt(request.body)
    assert shown["title"] == "New message from Tess One"
    assert shown["url"] == f"/treatments/{treatment_id}#thread-{treatment_id}"
    assert "looks fine" not in str(shown)  # who wrote, never what
    assert outbox() == []
    # a therapist without a device is told by email
    send(client, auth, people["c1"], treatment_id, "Thanks!")
    assert [m["To"] for m in outbox()] == [people["t1"].email]


def test_a_message_loses_its_bidi_controls(app, client, auth, people, treatment_id):
    """A right-to-left override would show "\u202e01$" as "$10": the controls are dropped."""
    response = send(client, auth, people["c1"], treatment_id, "I paid \u202e01$\u202c \u200fthen")
    assert response.status_code < 400
    with app.app_context():
        [message] = db.session.scalars(sa.select(Message)).all()
        assert message.body == "I paid 01$ then"
