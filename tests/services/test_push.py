"""Web Push: VAPID keys made once, and send_push to a local push service, whose payload the
device's keys decrypt and whose VAPID JWT verifies with the app's public key."""
import os
import stat
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.exceptions import InvalidSignature

from tests.push_service import Device, unb64url, vapid_claims
from webapp.extensions import db
from webapp.models import PushSubscription, User
from webapp.services import push

# ---- VAPID ----

def test_vapid_keys_are_made_once_and_only_their_owner_reads_them(app):
    with app.app_context():
        key = push.application_server_key()
        path = app.config["VAPID_PRIVATE_KEY_FILE"]
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
        first = Path(path).read_bytes()
        app.extensions.pop("cupmark_vapid")  # a new process reads the same file
        assert push.application_server_key() == key
        assert Path(path).read_bytes() == first
    assert len(unb64url(key)) == 65 and unb64url(key)[0] == 4  # an uncompressed P-256 point


# ---- sending a push ----

def test_send_push_encrypts_for_the_device_and_signs_with_vapid(app, make_user, push_service):
    user = make_user("pia@example.org", "client", "Pia Push")
    device = Device(push_service.url + "/push/device-1")
    device.subscribe(app, user.id)
    before = time.time()
    with app.app_context():
        delivered = push.send_push(db.session.get(User, user.id), "Title", "Body text",
                                        "/client/")
        db.session.commit()
        key = push.application_server_key()
        assert db.session.scalar(sa.select(PushSubscription.last_sent_at)) is not None
    assert delivered == 1
    (request,) = push_service.received
    assert request.path == "/push/device-1"
    assert request.headers["content-encoding"] == "aes128gcm"
    assert int(request.headers["ttl"]) == push.PUSH_TTL_SECONDS
    # only the device can read it, and it says what the notification shows
    assert b"Body text" not in request.body
    assert device.decrypt(request.body) == {"title": "Title", "body": "Body text", "url": "/client/"}
    with pytest.raises(Exception):
        Device(device.endpoint).decrypt(request.body)  # another device's keys cannot
    # the VAPID JWT is signed with our key, for this push service, for a while only
    claims = vapid_claims(request.headers["authorization"], key)
    assert claims["aud"] == push_service.url
    assert claims["sub"] == app.config["VAPID_SUBJECT"]
    assert before < claims["exp"] <= time.time() + 24 * 3600
    # and a signature check that can fail does fail on a forged token
    forged = request.headers["authorization"].replace("t=", "t=x", 1)
    with pytest.raises((InvalidSignature, ValueError)):
        vapid_claims(forged, key)


def test_a_subscription_the_push_service_says_is_gone_is_forgotten(app, make_user, push_service):
    user = make_user("gus@example.org", "client", "Gus Gone")
    Device(push_service.url + "/push/busy").subscribe(app, user.id)
    with app.app_context():
        push_service.status = 503  # a passing failure: kept for the next reminder
        assert push.send_push(db.session.get(User, user.id), "t", "b", "/") == 0
        db.session.commit()
        assert push.device_count(user.id) == 1
        push_service.status = 410  # gone for good: forgotten
        assert push.send_push(db.session.get(User, user.id), "t", "b", "/") == 0
        db.session.commit()
        assert push.device_count(user.id) == 0


