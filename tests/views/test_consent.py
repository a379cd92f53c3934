"""Consent to storing photos: given, withdrawn, versioned, audited."""
import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import AuditEvent, Consent


def consents(app, user):
    """Return the user's consent rows, oldest first."""
    with app.app_context():
        return db.session.scalars(sa.select(Consent).where(Consent.user_id == user.id)
                                  .order_by(Consent.id)).all()


def test_client_gives_and_withdraws_consent(app, client, auth, people):
    auth.login(people["c1"])
    page = client.get("/consent")
    assert b"I agree" in page.data
    client.post("/consent")
    [consent] = consents(app, people["c1"])
    assert consent.version == app.config["CONSENT_VERSION"] and consent.given_at
    assert b"You gave your consent" in client.get("/consent").data
    client.post("/consent/withdraw", data={"photos": "keep"})
    [consent] = consents(app, people["c1"])
    assert consent.withdrawn_at is not None
    client.post("/consent")
    assert len(consents(app, people["c1"])) == 2
    with app.app_context():
        actions = db.session.scalars(sa.select(AuditEvent.action).where(
            AuditEvent.action.like("consent%")).order_by(AuditEvent.id)).all()
    assert actions == ["consent_given", "consent_withdrawn", "consent_given"]


def test_giving_consent_twice_stores_one_row(app, client, auth, people):
    auth.login(people["c1"])
    client.post("/consent")
    client.post("/consent")
    assert len(consents(app, people["c1"])) == 1


def test_consent_to_an_old_text_does_not_count(app, client, auth, people):
    with app.app_context():
        db.session.add(Consent(user_id=people["c1"].id, version="1999-01"))
        db.session.commit()
    auth.login(people["c1"])
    assert b"I agree" in client.get("/consent").data


def test_consent_redirects_back_only_to_our_own_pages(client, auth, people):
    auth.login(people["c1"])
    assert client.post("/consent?next=/client/").headers["Location"] == "/client/"
    client.post("/consent/withdraw", data={"photos": "keep"})
    assert client.post("/consent?next=https://evil.example/").headers["Location"] == "/treatments/new"


def test_therapists_have_no_consent_page(client, auth, people):
    auth.login(people["t1"])
    assert client.get("/consent").status_code == 404


def test_consent_continues_to_the_first_treatment_then_home(app, client, auth, people):
    from tests.recovery_rows import make_treatment
    auth.login(people["c1"])
    # no treatment yet: recording the session is what comes next
    assert client.post("/consent").headers["Location"] == "/treatments/new"
    client.post("/consent/withdraw", data={"photos": "keep"})
    make_treatment(app, people["c1"])
    assert client.post("/consent").headers["Location"] == "/client/"
    # the page itself, once consent is given, leads on instead of ending at "Withdraw"
    assert 'href="/client/"' in client.get("/consent").get_data(as_text=True)
    client.post("/consent/withdraw", data={"photos": "keep"})
    # a client sent here from somewhere goes back there
    assert client.post("/consent?next=/join/abc").headers["Location"] == "/join/abc"
    client.post("/consent/withdraw", data={"photos": "keep"})
    assert client.post("/consent?next=https://evil.example/").headers["Location"] == "/client/"
