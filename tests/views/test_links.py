"""Care links: invites, joining, removing, and what a link lets a therapist see."""
import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from tests.conftest import PASSWORD, signed_in
from webapp.extensions import db
from webapp.models import INVITE_ALPHABET, AuditEvent, CareLink, Invite, User, utcnow


def make_invite(app, therapist, **fields) -> str:
    """Create an invite for the therapist and return its code."""
    with app.app_context():
        invite = Invite(therapist_id=therapist.id,
                        expires_at=utcnow() + dt.timedelta(days=7), **fields)
        db.session.add(invite)
        db.session.commit()
        return invite.code


def links_of(app, client_id):
    """Return the therapist ids linked to a client."""
    with app.app_context():
        return db.session.scalars(sa.select(CareLink.therapist_id)
                                  .where(CareLink.client_id == client_id)).all()


def test_therapist_creates_invite_valid_for_seven_days(app, client, auth, people):
    auth.login(people["t1"])
    response = client.post("/invites")
    assert response.status_code == 302
    page = client.get("/invites")
    with app.app_context():
        invite = db.session.scalar(sa.select(Invite))
        assert dt.timedelta(days=6, hours=23) < invite.expires_at - utcnow() <= dt.timedelta(days=7)
    assert f"/join/{invite.code}".encode() in page.data


def test_logged_in_client_joins_through_invite(app, client, auth, people, make_user):
    code = make_invite(app, people["t1"])
    newcomer = make_user("new@example.org")
    auth.login(newcomer)
    page = client.get(f"/join/{code}")
    assert b"<bdi>Tess One</bdi> invites you" in page.data
    assert links_of(app, newcomer.id) == []  # opening the link changes nothing
    client.post(f"/join/{code}")
    assert links_of(app, newcomer.id) == [people["t1"].id]
    with app.app_context():
        assert db.session.scalar(sa.select(AuditEvent.action).where(
            AuditEvent.action == "link")) == "link"


@pytest.mark.parametrize("who", ["t1", "t2"])
def test_a_therapist_who_opens_a_client_invite_is_told_what_it_is_for(app, client, auth, people,
                                                                      who):
    """Their own invite (to check it) or another's: said plainly, nothing linked, no form."""
    code = make_invite(app, people["t1"])
    auth.login(people[who])
    page = client.get(f"/join/{code}")
    assert page.status_code == 403 and "This invite is for a client." in page.text
    assert f'action="/join/{code}"' not in page.text
    assert client.post(f"/join/{code}").status_code == 403
    assert links_of(app, people[who].id) == []


def test_client_registers_from_invite_and_is_linked(app, client, people):
    code = make_invite(app, people["t1"])
    response = client.post(f"/auth/register?invite={code}", data={
        "name": "Nia", "email": "nia@example.org", "password": PASSWORD,
        "role": "therapist", "timezone": "UTC"})
    assert response.status_code == 302
    with app.app_context():
        link = db.session.scalar(sa.select(CareLink).where(CareLink.therapist_id == people["t1"].id,
                                                           CareLink.client_id != people["c1"].id))
        assert link.client.role == "client"  # an invite always makes a client


def test_invite_is_single_use(app, client, auth, people, make_user):
    code = make_invite(app, people["t1"])
    first, second = make_user("a@example.org"), make_user("b@example.org")
    auth.login(first)
    client.post(f"/join/{code}")
    auth.logout()
    auth.login(second)
    assert client.get(f"/join/{code}").status_code == 404
    assert client.post(f"/join/{code}").status_code == 404
    assert links_of(app, second.id) == []


def test_expired_and_revoked_invites_do_not_link(app, client, auth, people, make_user):
    expired = make_invite(app, people["t1"])
    with app.app_context():
        invite = db.session.scalar(sa.select(Invite).where(Invite.code == expired))
        invite.expires_at = utcnow() - dt.timedelta(seconds=1)
        db.session.commit()
    revoked = make_invite(app, people["t1"], revoked_at=utcnow())
    newcomer = make_user("new@example.org")
    auth.login(newcomer)
    for code in (expired, revoked, "no-such-code"):
        response = client.post(f"/join/{code}")
        assert response.status_code == 404
        assert b"cannot be used" in response.data
    assert links_of(app, newcomer.id) == []


def expire(app, code: str) -> None:
    """Let the invite with this code run out a second ago."""
    with app.app_context():
        invite = db.session.scalar(sa.select(Invite).where(Invite.code == code))
        invite.expires_at = utcnow() - dt.timedelta(seconds=1)
        db.session.commit()


def test_the_register_page_says_when_its_invite_cannot_be_used(app, client, people):
    code = make_invite(app, people["t1"])
    assert "cannot be used" not in client.get(f"/auth/register?invite={code}").text
    expire(app, code)
    page = client.get(f"/auth/register?invite={code}").text
    assert "This invite cannot be used" in page and "ask your therapist for a new one" in page
    assert "An account made here is not linked to a therapist." in page
    # the form sends the code on, so that its answer says so again
    assert f'action="/auth/register?invite={code}"' in page


@pytest.mark.parametrize("email", ["nia@example.org", "c2@example.org"])
def test_an_invite_that_ran_out_before_the_form_was_sent_is_named_in_the_answer(
        app, client, people, email):
    code = make_invite(app, people["t1"])
    assert client.get(f"/auth/register?invite={code}").status_code == 200
    expire(app, code)
    response = client.post(f"/auth/register?invite={code}", data={
        "name": "Nia", "email": email, "password": PASSWORD, "role": "client",
        "timezone": "UTC"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).text
    # the same answer whether or not the email was taken
    assert "Check your email" in page and "so no therapist is linked" in page
    assert "Ask your therapist for a new invite." in page
    with app.app_context():
        nia = db.session.scalar(sa.select(User).where(User.email == "nia@example.org"))
    if email == "nia@example.org":
        assert nia is not None and links_of(app, nia.id) == []


def test_registering_with_a_used_invite_links_nobody(app, client, people):
    code = make_invite(app, people["t1"], used_at=utcnow())
    client.post(f"/auth/register?invite={code}", data={
        "name": "Nia", "email": "nia@example.org", "password": PASSWORD, "role": "client",
        "timezone": "UTC"})
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(CareLink.id))) == 2  # the people fixture's


def test_therapist_revokes_own_invite_but_not_anothers(app, client, auth, people):
    code = make_invite(app, people["t2"])
    auth.login(people["t1"])
    with app.app_context():
        invite_id = db.session.scalar(sa.select(Invite.id).where(Invite.code == code))
    assert client.post(f"/invites/{invite_id}/revoke").status_code == 404
    auth.logout()
    auth.login(people["t2"])
    client.post(f"/invites/{invite_id}/revoke")
    with app.app_context():
        assert db.session.get(Invite, invite_id).revoked_at is not None


def test_client_sees_and_removes_own_link(app, client, auth, people):
    auth.login(people["c1"])
    page = client.get("/links")
    assert b"Tess One" in page.data and b"Theo Two" not in page.data
    with app.app_context():
        link_id = db.session.scalar(sa.select(CareLink.id).where(
            CareLink.client_id == people["c1"].id))
        other_id = db.session.scalar(sa.select(CareLink.id).where(
            CareLink.client_id == people["c2"].id))
    assert client.post(f"/links/{other_id}/remove").status_code == 404
    client.post(f"/links/{link_id}/remove")
    assert links_of(app, people["c1"].id) == []
    assert links_of(app, people["c2"].id) == [people["t2"].id]
    with app.app_context():
        assert db.session.scalar(sa.select(AuditEvent.action).where(
            AuditEvent.action == "unlink")) == "unlink"


def test_therapist_sees_only_linked_clients(client, auth, people):
    auth.login(people["t1"])
    page = client.get("/links")
    assert b"Cleo One" in page.data and b"Cato Two" not in page.data


def test_unlinked_therapist_loses_access(app, client, auth, people):
    with app.app_context():
        db.session.execute(sa.delete(CareLink).where(CareLink.client_id == people["c1"].id))
        db.session.commit()
    auth.login(people["t1"])
    assert client.get(f"/therapist/clients/{people['c1'].id}").status_code == 404



def test_parallel_acceptances_of_one_invite_link_one_client(app, people, make_user):
    """Six clients accept the same invite at the same moment: one is linked, five are told no."""
    code = make_invite(app, people["t1"])
    clients = [make_user(f"racer{n}@example.org") for n in range(6)]
    barrier = threading.Barrier(len(clients))
    answers = []

    def accept(user):
        client = signed_in(app, user)
        barrier.wait()
        answers.append(client.post(f"/join/{code}"))

    threads = [threading.Thread(target=accept, args=(user,)) for user in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [302] + [404] * 5
    assert all(b"cannot be used" in a.data for a in answers if a.status_code == 404)
    linked = [user.id for user in clients if links_of(app, user.id)]
    assert len(linked) == 1
    with app.app_context():
        invite = db.session.scalar(sa.select(Invite).where(Invite.code == code))
        assert invite.used_by_id == linked[0]

def test_a_typed_invite_code_opens_its_invite(app, client, auth, people):
    page = client.get("/join").get_data(as_text=True)
    assert 'name="code"' in page and "I have an invite code" in page
    assert client.get("/join?code=+ab+c-12+").headers["Location"] == "/join/ABC12"
    # a wrong code says so and offers the form again
    wrong = client.get("/join/nope")
    assert wrong.status_code == 404 and 'name="code"' in wrong.get_data(as_text=True)


def test_invites_have_names_and_a_code_that_is_easy_to_type(app, client, auth, people,
                                                           make_user):
    auth.login(people["t1"])
    client.post("/invites", data={"name": "  Ana, Tuesday  "})
    client.post("/invites", data={"name": ""})
    assert client.post("/invites", data={"name": "x" * 121}).status_code == 422
    with app.app_context():
        named, unnamed = db.session.scalars(sa.select(Invite).order_by(Invite.id)).all()
    assert named.name == "Ana, Tuesday" and unnamed.name is None
    assert len(named.code) == 10 and set(named.code) <= set(INVITE_ALPHABET)
    page = client.get("/invites").get_data(as_text=True)
    assert "Ana, Tuesday" in page and "Invite of" in page
    assert f"<code>{named.code}</code>" in page
    assert "data-share" in page and "data-copy-button" in page
    auth.logout()
    # typed by hand, in small letters with a gap and a dash, it opens the same invite
    typed = named.code.lower()[:4] + " " + named.code.lower()[4:7] + "-" + named.code.lower()[7:]
    follow = client.get("/join", query_string={"code": typed}, follow_redirects=True)
    assert "<bdi>Tess One</bdi> invites you" in follow.get_data(as_text=True)
    # the name is the therapist's own: the client never sees it
    assert "Ana, Tuesday" not in follow.get_data(as_text=True)
    response = client.post("/auth/register", query_string={"invite": typed}, data={
        "name": "Ana", "email": "ana@example.org", "password": "a long enough password",
        "role": "client", "timezone": "Europe/Berlin"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Invite, named.id).used_at is not None


def test_an_invite_can_be_emailed_with_its_link_and_code(app, client, auth, people, outbox):
    auth.login(people["t1"])
    assert client.post("/invites", data={"email": "not an email"}).status_code == 422
    assert outbox() == []
    response = client.post("/invites", data={"name": "Ana", "email": " ana@example.org "},
                           follow_redirects=True)
    assert "Invite emailed to ana@example.org" in response.get_data(as_text=True)
    with app.app_context():
        invite = db.session.scalar(sa.select(Invite))
    [message] = outbox()
    assert message["To"] == "ana@example.org" and "Tess One" in message["Subject"]
    body = message.get_content()
    assert f"/join/{invite.code}" in body and f"type: {invite.code}" in body
    # the name is the therapist's own note: it is not in the email
    assert "Ana" not in body


def test_invite_names_lose_bidi_controls_and_names_in_sentences_are_isolated(app, client, auth,
                                                                             people):
    auth.login(people["t1"])
    client.post("/invites", data={"name": "Cleo \u202eRTL\u202c"})
    with app.app_context():
        invite = db.session.scalar(sa.select(Invite))
        assert invite.name == "Cleo RTL"
        code = invite.code
    client.post("/auth/logout")
    page = client.get(f"/join/{code}").text
    # the therapist's name sits inside sentences: isolated, whatever its script's direction
    assert f"<bdi>{people['t1'].name}</bdi> invites you" in page
