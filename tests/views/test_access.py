"""Who may open what: every route, as anonymous, wrong role, another client, another therapist."""
import datetime as dt

import pytest
import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import CareLink, CheckIn, Flag, Invite, Note, Record, Treatment, User, utcnow
from webapp.services import sessions

# open to everyone: signing in, joining from an invite, static files and public pages
PUBLIC = {"static", "index", "auth.login", "auth.register", "links.join", "auth.check_email",
          "auth.verify", "auth.reset_request", "auth.reset", "records.lookup", "records.verify",
          "links.enter_code"}
PUBLIC_PREFIXES = ("pages.",)
# routes with no object in the URL, and the role they belong to (None: any signed-in user)
ROLE_OF = {
    "auth.logout": None, "auth.settings": None, "links.index": None, "treatments.new": None,
    "auth.password": None, "auth.resend_verification": None, "sessions.index": None,
    "sessions.end_others": None, "auth.confirm": None,
    "messages.inbox": None,
    "client.home": "client", "consent.show": "client", "consent.withdraw": "client",
    "reminders.settings": "client", "reminders.subscribe": "client",
    "reminders.unsubscribe": "client", "reminders.test": "client",
    "therapist.home": "therapist", "links.invites": "therapist",
    # everyone's own account and data, whatever the role
    "account.index": None, "account.export": None, "account.audit": None, "account.delete": None,
}
# photos are embedded in pages: anonymous gets 404, not a redirect to the login page
NOT_FOUND_FOR_ANONYMOUS = {"photos.show"}


@pytest.fixture
def world(app, people):
    """People T1↔C1 and T2↔C2, and one of every kind of object that belongs to C1 / T1."""
    c1, t1 = people["c1"], people["t1"]
    with app.app_context():
        treatment = Treatment(client_id=c1.id, therapist_id=t1.id, recorded_by_id=t1.id,
                              treated_at=utcnow() - dt.timedelta(days=2), body_area="upper_back",
                              technique="static", cup_count=6, cup_material="glass",
                              suction="medium")
        db.session.add(treatment)
        db.session.flush()
        checkin = CheckIn(treatment_id=treatment.id, client_id=c1.id, idempotency_key="k1",
                          upload_sha256="0" * 64, taken_at=utcnow(), photo_key="p",
                          thumb_key="t")
        flag = Flag(treatment_id=treatment.id, kind="slow_healing", reason="Slower than usual.")
        note = Note(therapist_id=t1.id, client_id=c1.id, body="Private note about Cleo")
        invite = Invite(therapist_id=t1.id, expires_at=utcnow() + dt.timedelta(days=7))
        device, _token = sessions.open_for(db.session.get(User, c1.id))
        record = Record(treatment_id=treatment.id, code="A" * 16, sha256="0" * 64)
        db.session.add_all([checkin, flag, note, invite, record])
        db.session.commit()
        link_id = db.session.scalar(sa.select(CareLink.id).where(CareLink.client_id == c1.id))
        args = {"treatment_id": treatment.id, "checkin_id": checkin.id, "client_id": c1.id,
                "flag_id": flag.id, "note_id": note.id, "invite_id": invite.id,
                "link_id": link_id, "session_id": device.id, "record_id": record.id,
                "size": "thumb"}
    return people | {"args": args}


def private_rules(app):
    """Return (endpoint, method, rule) for every route that is not public."""
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC or rule.endpoint.startswith(PUBLIC_PREFIXES):
            continue
        for method in sorted(rule.methods & {"GET", "POST"}):
            found.append((rule.endpoint, method, rule))
    return found


def url_for_rule(rule, args):
    """Build the rule's URL with the world's objects; fail loudly for an unknown argument."""
    unknown = rule.arguments - args.keys()
    assert not unknown, f"{rule.endpoint}: add {unknown} to the world fixture"
    return rule.build({name: args[name] for name in rule.arguments}, append_unknown=False)[1]


def row_counts(app):
    """Count the rows of every table: a refused request must change none of them."""
    with app.app_context():
        return {table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table))
                for table in db.metadata.sorted_tables}


def request(client, method, url):
    """Send a GET or an (empty) POST."""
    return client.get(url) if method == "GET" else client.post(url, data={})


def test_every_private_route_sends_anonymous_to_login(app, client, world):
    for endpoint, method, rule in private_rules(app):
        response = request(client, method, url_for_rule(rule, world["args"]))
        if endpoint in NOT_FOUND_FOR_ANONYMOUS:
            assert response.status_code == 404, (endpoint, method)
        else:
            assert response.status_code == 302, (endpoint, method)
            assert "/auth/login" in response.headers["Location"], (endpoint, method)


def test_every_route_without_an_object_is_classified_and_refuses_the_wrong_role(
        app, client, auth, world):
    for endpoint, method, rule in private_rules(app):
        if rule.arguments:
            continue
        assert endpoint in ROLE_OF, f"classify {endpoint} in ROLE_OF"
        role = ROLE_OF[endpoint]
        if role is None or endpoint == "auth.logout":
            continue
        wrong = world["t1"] if role == "client" else world["c1"]
        auth.login(wrong)
        before = row_counts(app)
        response = request(client, method, url_for_rule(rule, world["args"]))
        assert response.status_code == 404, (endpoint, method, wrong.role)
        assert row_counts(app) == before, (endpoint, method)
        auth.logout()


@pytest.mark.parametrize("intruder", ["c2", "t2"])
def test_another_client_or_therapist_gets_404_and_never_the_data(app, client, auth, world,
                                                                  intruder):
    auth.login(world[intruder])
    checked = 0
    for endpoint, method, rule in private_rules(app):
        if not rule.arguments:
            continue
        before = row_counts(app)
        response = request(client, method, url_for_rule(rule, world["args"]))
        assert response.status_code == 404, (endpoint, method, intruder)
        assert b"Cleo" not in response.data and b"Private note" not in response.data
        assert row_counts(app) == before, (endpoint, method, intruder)
        checked += 1
    assert checked >= 4  # treatments.show, therapist.client, links.remove, links.revoke at least


def test_owner_and_linked_therapist_open_the_treatment(app, client, auth, world):
    url = f"/treatments/{world['args']['treatment_id']}"
    for person in ("c1", "t1"):
        auth.login(world[person])
        assert client.get(url).status_code == 200, person
        auth.logout()
