"""No request parameter reaches an exception: every route, hostile values, never a 500."""
import io
import re
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import signed_in
from tests.views.test_account import fill
from webapp.extensions import db
from webapp.models import CareLink, CheckIn, Flag, Invite, Note, Record, Treatment, UserSession

ROOT = Path(__file__).resolve().parents[1]
HOSTILE = ["", "0", "-1", "2147483648", "9223372036854775808", "1" * 40, "1e309", "NaN",
           "abc", "a\nb", "line\r\nX-Injected: 1", "nul\x00byte", "\x00", "../../etc/passwd",
           "2026-02-30", "2026-13-01T25:61", "0000-00-00", "9999-12-31T23:59", "x" * 5000,
           "<script>alert(1)</script>", "' OR 1=1 --", "🙂", "%00", "//evil.example"]
# path values for <int:...> arguments beyond what a database integer holds, and for strings
HOSTILE_IDS = [0, 2**31, 2**63, 10**30]
HOSTILE_STRINGS = ["x" * 300, "a\nb", "%00", "..", "🙂"]
# a logout would end the very session the sweep is using; it reads no parameter
SKIPPED = {"auth.logout", "static"}


def parameter_names() -> set[str]:
    """Return every parameter name the app reads: form fields, query and form keys, inputs."""
    names = set()
    for path in (ROOT / "webapp").rglob("*.py"):
        text = path.read_text()
        names.update(re.findall(r"^\s+(\w+) = \w+Field\(", text, re.M))
        names.update(re.findall(r"(?:args|form|values)\.get\(\"(\w+)\"", text))
    for path in (ROOT / "templates").rglob("*.html"):
        names.update(re.findall(r'name="(\w+)"', path.read_text()))
    return names - {"csrf_token"}


def test_the_sweep_knows_the_parameters():
    names = parameter_names()
    # a sample from forms, query strings and templates: the harvest works
    assert {"email", "password", "next", "invite", "first", "q", "limit", "photos", "pain",
            "taken_at", "idempotency_key", "understood"} <= names


@pytest.fixture
def world(app, people):
    """C1 with real photos, a flag, a note, an invite; the ids every route argument needs."""
    fill(app, people, "c1", "t1", photos=1)
    with app.app_context():
        c1 = people["c1"].id
        treatment = db.session.scalar(sa.select(Treatment.id).where(Treatment.client_id == c1))
        args = {
            "treatment_id": treatment, "client_id": c1, "size": "thumb",
            "checkin_id": db.session.scalar(sa.select(CheckIn.id).where(CheckIn.client_id == c1)),
            "flag_id": db.session.scalar(sa.select(Flag.id).where(Flag.treatment_id == treatment)),
            "note_id": db.session.scalar(sa.select(Note.id).where(Note.client_id == c1)),
            "invite_id": db.session.scalar(sa.select(Invite.id)),
            "link_id": db.session.scalar(sa.select(CareLink.id).where(CareLink.client_id == c1)),
            "code": db.session.scalar(sa.select(Invite.code)),
            "record_id": db.session.scalar(sa.select(Record.id).where(Record.treatment_id == treatment)),
            # a link token that was never issued: its page answers that the link is not valid
            "token": "never-issued",
            "session_id": db.session.scalar(sa.select(UserSession.id).where(UserSession.user_id == c1)
                                            .limit(1)) or 0,
        }
    return people | {"args": args}



def rules(app):
    """Return every rule the sweep sends requests to."""
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint not in SKIPPED]


def header_value(value: str) -> str:
    """Return the value as an HTTP header can carry it (no line breaks; servers refuse those)."""
    return value.replace("\r", "").replace("\n", "")[:200]


def assert_answered(response, what) -> None:
    """Fail on a 500 (or any 5xx): every bad input gets a clear answer."""
    response.close()  # a file response (the icon) holds its file open until closed
    assert response.status_code < 500, (what, response.status_code,
                                         response.get_data(as_text=True)[:300])


@pytest.mark.parametrize("who", [None, "c1", "t1"])
def test_hostile_parameters_never_give_a_500(app, world, who):
    names = sorted(parameter_names())
    user = world[who] if who else None
    sent = 0
    for rule in rules(app):
        url = rule.build(world["args"], append_unknown=False)[1]
        for value in HOSTILE:
            values = {name: value for name in names}
            if "GET" in rule.methods:
                client = signed_in(app, user)
                assert_answered(client.get(url, query_string=values), (rule.endpoint, "GET", value))
                assert_answered(client.get(url, query_string=values, headers={
                    "HX-Request": "true", "HX-Current-URL": header_value(value)}),
                    (rule.endpoint, "GET htmx", value))
                sent += 2
            if "POST" in rule.methods:
                client = signed_in(app, user)
                form = dict(values, photo=(io.BytesIO(value.encode()), "x.jpg"))
                response = client.post(url, data=form, content_type="multipart/form-data",
                                       headers={"Idempotency-Key": header_value(value)})
                assert_answered(response, (rule.endpoint, "POST", value))
                sent += 1
    assert sent > 1000


@pytest.mark.parametrize("who", [None, "c1", "t1"])
def test_hostile_path_values_never_give_a_500(app, world, who):
    user = world[who] if who else None
    client = signed_in(app, user)
    for rule in rules(app):
        for name in rule.arguments:
            hostile = HOSTILE_IDS if name.endswith("_id") else HOSTILE_STRINGS
            for value in hostile:
                url = rule.build(world["args"] | {name: value}, append_unknown=False)[1]
                for method in sorted(rule.methods & {"GET", "POST"}):
                    response = client.open(url, method=method)
                    assert_answered(response, (rule.endpoint, method, name, value))
                    # an id no database integer holds names nothing: 404, like any unknown id
                    if name.endswith("_id") and value >= 2**31:
                        assert response.status_code == 404, (rule.endpoint, value)


def test_a_nul_byte_is_refused_with_a_clear_message(client, auth, people):
    response = client.post("/auth/login", data={"email": "a\x00@example.org", "password": "x"})
    assert response.status_code == 400
    assert b"could not be read" in response.data


def test_an_unexpected_error_is_a_plain_500_page_without_detail(app, client):
    """The page apologises; no traceback, no code, no debugger."""
    app.config.update(TESTING=False, PROPAGATE_EXCEPTIONS=False)

    def broken(*args, **kwargs):
        raise RuntimeError("secret detail of the failure")

    app.view_functions["pages.normal"] = broken
    response = client.get("/normal")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "Something went wrong" in html and "<html" in html
    assert "secret detail" not in html and "Traceback" not in html
    assert response.headers["Cache-Control"] == "no-store"
    fragment = client.get("/normal", headers={"HX-Request": "true"})
    assert fragment.status_code == 500 and "<html" not in fragment.get_data(as_text=True)
