"""Web Push: the app's VAPID keys and sending a notification to all of a person's devices.

- VAPID (py-vapid, pywebpush): one P-256 key pair, made once in ``VAPID_PRIVATE_KEY_FILE``
  (``instance/vapid_private.pem``, readable by its owner alone; several hosts share one file).
  Pages hand its public half to the browser as a subscription's applicationServerKey.
- :func:`send_push` is the one way any area (reminders, messages) notifies a person; the
  service worker (static/sw.js) shows what it sends and opens ``url`` on a tap.
- Which devices a person has is in :class:`webapp.models.PushSubscription`; the reminders page
  (webapp/reminders.py) adds and removes them.
"""
import base64
import json
import os
from pathlib import Path

import requests
import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from flask import current_app
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

from webapp.extensions import db
from webapp.models import PushSubscription, User, utcnow

# a notification still undelivered after 12 hours is stale: the push service may drop it
PUSH_TTL_SECONDS = 12 * 3600
PUSH_TIMEOUT_SECONDS = 10
# a push service's answer for a subscription that is gone for good: forget it
GONE = (404, 410)


def vapid() -> Vapid:
    """Return the app's VAPID key pair, making it once (owner-only file) on first use."""
    key = current_app.extensions.get("cupmark_vapid")
    if key is None:
        path = Path(current_app.config["VAPID_PRIVATE_KEY_FILE"])
        if not path.exists():
            fresh = Vapid()
            fresh.generate_keys()
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                # O_EXCL: of two processes starting at once, one writes and both read its key
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "wb") as f:
                    f.write(fresh.private_pem())
        key = Vapid.from_pem(path.read_bytes())
        current_app.extensions["cupmark_vapid"] = key
    return key


def application_server_key() -> str:
    """Return the VAPID public key as browsers take it: the raw P-256 point, base64url."""
    raw = vapid().public_key.public_bytes(serialization.Encoding.X962,
                                          serialization.PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def is_p256_point(value: str) -> bool:
    """Tell whether base64url text is an uncompressed point on the P-256 curve (RFC 8291's
    ua_public, which the message is encrypted to)."""
    raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    except ValueError:
        return False
    return True


def send_push(user: User, title: str, body: str, url: str) -> int:
    """Show a notification on every device the user subscribed; return how many took it.

    ``url`` is opened when the notification is tapped (a path of this site). Subscriptions the
    push service says are gone, or whose keys cannot encrypt (a stored key that is no P-256
    point), are deleted; other failures are logged and skipped: one device never stops the
    others, nor the reminders of the next person. The caller commits.
    """
    payload = json.dumps({"title": title, "body": body, "url": url})
    delivered = 0
    subscriptions = db.session.scalars(sa.select(PushSubscription).where(
        PushSubscription.user_id == user.id)).all()
    for subscription in subscriptions:
        try:
            webpush({"endpoint": subscription.endpoint,
                     "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth}},
                    data=payload, vapid_private_key=vapid(),
                    # a fresh dict each time: pywebpush writes this push's aud and exp into it
                    vapid_claims={"sub": current_app.config["VAPID_SUBJECT"]},
                    ttl=PUSH_TTL_SECONDS, timeout=PUSH_TIMEOUT_SECONDS)
        except WebPushException as error:
            status = error.response.status_code if error.response is not None else None
            if status in GONE:
                db.session.delete(subscription)
            else:
                current_app.logger.warning("push to subscription %s failed: %s",
                                           subscription.id, status or error)
            continue
        except requests.RequestException as error:
            current_app.logger.warning("push to subscription %s failed: %s", subscription.id,
                                       type(error).__name__)
            continue
        except ValueError as error:
            # pywebpush's encryption refuses the keys themselves: they will never work
            current_app.logger.warning("push subscription %s has unusable keys (%s): forgotten",
                                       subscription.id, error)
            db.session.delete(subscription)
            continue
        subscription.last_sent_at = utcnow()
        delivered += 1
    return delivered


def device_count(user_id: int) -> int:
    """How many devices of the user take push notifications."""
    return db.session.scalar(sa.select(sa.func.count(PushSubscription.id)).where(
        PushSubscription.user_id == user_id))
