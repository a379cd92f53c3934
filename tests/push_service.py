"""A browser's side of a push subscription, for the tests against the stand-in push service
(the `push_service` fixture): a Device has its own keys, so a test decrypts what was sent
exactly as the browser would, and checks the VAPID signature with the app's public key.
"""
import base64
import json
import os

import http_ece
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from webapp.extensions import db
from webapp.models import PushSubscription

# a push service's address as Chromium's subscriptions have it
FCM = "https://fcm.googleapis.com/fcm/send/abc123"


def b64url(data: bytes) -> str:
    """Encode bytes as unpadded base64url, as the Push API does."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    """Decode unpadded base64url."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Device:
    """A browser's side of a push subscription: its own P-256 key pair and auth secret."""

    def __init__(self, endpoint: str):
        self.endpoint = endpoint
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        self.p256dh = b64url(self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))

    def json(self) -> dict:
        """What PushSubscription.toJSON() gives the page."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": b64url(self.auth)}}

    def subscribe(self, app, user_id: int) -> None:
        """Store the subscription for the user, as the subscribe route does."""
        with app.app_context():
            db.session.add(PushSubscription(user_id=user_id, endpoint=self.endpoint,
                                            p256dh=self.p256dh, auth=b64url(self.auth)))
            db.session.commit()

    def decrypt(self, body: bytes) -> dict:
        """Decrypt a push message body (RFC 8291, aes128gcm) as the browser would."""
        return json.loads(http_ece.decrypt(body, private_key=self.private_key,
                                           auth_secret=self.auth, version="aes128gcm"))


def vapid_claims(authorization: str, expected_key: str) -> dict:
    """Check a `vapid t=JWT, k=KEY` header's ES256 signature with KEY; return the JWT's claims."""
    scheme, _, params = authorization.partition(" ")
    assert scheme == "vapid"
    values = dict(part.strip().split("=", 1) for part in params.split(","))
    assert values["k"] == expected_key
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(values["k"]))
    header, claims, signature = values["t"].split(".")
    assert json.loads(unb64url(header)) == {"typ": "JWT", "alg": "ES256"}
    raw = unb64url(signature)
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public.verify(der, f"{header}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
    return json.loads(unb64url(claims))


