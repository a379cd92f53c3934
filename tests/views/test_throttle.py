"""Rate limits on sign-in, registration and upload, per account and address; memory and Redis."""
import time

import pytest
import redis

from tests.conftest import PASSWORD, app_on_fresh_database

JSON = {"Accept": "application/json"}
WRONG = "not the password at all"


@pytest.fixture(params=["memory", "redis"])
def storage(request):
    """Where the limiter counts: its memory, or a real redis-server (CI requires the latter)."""
    if request.param == "memory":
        return "memory://"
    url = request.getfixturevalue("redis_url")
    # each test starts with no counts (one limiter serves the process: its key prefix is the
    # first app's)
    connection = redis.Redis.from_url(url)
    connection.flushdb()
    connection.close()
    return url


@pytest.fixture
def limits(request):
    """The RATE_LIMITS a test sets with @pytest.mark.limits(door=(account, address))."""
    marker = request.node.get_closest_marker("limits")
    return marker.kwargs if marker else {}


@pytest.fixture
def app(tmp_path, storage, limits):
    """An app whose limiter counts in the storage under test, with the limits the test set."""
    from webapp.config import defaults
    rate_limits = {**defaults(str(tmp_path))["RATE_LIMITS"], **limits}
    yield from app_on_fresh_database(tmp_path, RATELIMIT_STORAGE_URI=storage,
                                     RATE_LIMITS=rate_limits)


def sign_in(client, email, password=PASSWORD, **kwargs):
    """Post the sign-in form."""
    return client.post("/auth/login", data={"email": email, "password": password}, **kwargs)


def test_the_eleventh_wrong_password_within_a_minute_is_refused(client, make_user):
    make_user("ada@example.org")
    for _ in range(10):
        assert sign_in(client, "ada@example.org", WRONG).status_code == 422
    refused = sign_in(client, "ada@example.org", WRONG)
    assert refused.status_code == 429
    # flask-limiter rounds the moment a try is heard again up to the next second
    assert 1 <= int(refused.headers["Retry-After"]) <= 61
    assert "Too many attempts. Please wait and try again in" in refused.text
    # the right password waits too: otherwise the 429 itself would tell a guess was right
    assert sign_in(client, "ada@example.org").status_code == 429
    # another account from the same address is still heard
    make_user("bob@example.org")
    assert sign_in(client, "bob@example.org").status_code == 302


# a window of seconds, not a minute: the test waits for it to pass (the 10 tries fit in it
# even on a loaded machine)
@pytest.mark.limits(sign_in=("10 per 4 seconds", "300 per hour"))
def test_the_right_password_works_once_the_window_has_passed(client, make_user):
    make_user("ada@example.org")
    for _ in range(10):
        assert sign_in(client, "ada@example.org", WRONG).status_code == 422
    refused = sign_in(client, "ada@example.org")
    assert refused.status_code == 429
    time.sleep(int(refused.headers["Retry-After"]) + 0.2)
    assert sign_in(client, "ada@example.org").status_code == 302


@pytest.mark.limits(sign_in=("100 per minute", "5 per minute"))
def test_one_address_guessing_many_accounts_is_refused(client, make_user):
    for n in range(5):
        assert sign_in(client, f"nobody{n}@example.org", WRONG).status_code == 422
    assert sign_in(client, "nobody5@example.org", WRONG).status_code == 429
    other = client.application.test_client()
    assert sign_in(other, "nobody6@example.org", WRONG,
                   environ_base={"REMOTE_ADDR": "192.0.2.7"}).status_code == 422


@pytest.mark.limits(sign_in=("3 per minute", "5 per minute"))
def test_successful_sign_ins_do_not_count(client, make_user):
    make_user("ada@example.org")
    for _ in range(6):
        assert sign_in(client, "ada@example.org").status_code == 302


def test_htmx_gets_the_message_as_a_fragment(client, make_user):
    for _ in range(10):
        sign_in(client, "ada@example.org", WRONG)
    refused = sign_in(client, "ada@example.org", WRONG, headers={"HX-Request": "true"})
    assert refused.status_code == 429
    assert refused.text.lstrip().startswith('<article class="notice" id="error"')
    assert "try again in" in refused.text


@pytest.mark.limits(register=("2 per hour", "4 per hour"))
def test_registration_is_limited_per_email_and_per_address(client):
    def register(email):
        return client.post("/auth/register", data={"name": "Ada", "email": email,
                                                   "password": "short", "role": "client"})
    assert [register("ada@example.org").status_code for _ in range(3)] == [422, 422, 429]
    assert register("bob@example.org").status_code == 422
    assert register("cy@example.org").status_code == 429


@pytest.mark.limits(upload=("2 per minute", "60 per minute"))
def test_upload_over_the_limit_tells_the_offline_queue_to_wait(client, auth, make_user):
    auth.login(make_user("ada@example.org"))
    for _ in range(2):
        assert client.post("/treatments/99999/checkin", headers=JSON).status_code == 404
    refused = client.post("/treatments/99999/checkin", headers=JSON)
    assert refused.status_code == 429
    assert refused.json["error"] == "rate_limited"
    assert refused.json["retry_after"] == int(refused.headers["Retry-After"])
    # looking at the form is not an upload
    assert client.get("/treatments/99999/checkin").status_code == 404
