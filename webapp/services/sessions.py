"""Staying signed in: one revocable session per device, with idle and absolute limits.

The cookie (Flask's signed session, made permanent) holds a random token; the database keeps
its SHA-256 in a UserSession row. A session ends when it is signed out, when it was not used
for SESSION_IDLE_DAYS, or SESSION_MAX_DAYS after sign-in, whichever comes first.
"""
import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from webapp.extensions import db
from webapp.models import User, UserSession

# last_seen_at is written at most this often: a page of requests costs no writes
SEEN_PRECISION = dt.timedelta(minutes=5)


def token_hash(token: str) -> str:
    """Return the stored form of a session token."""
    return hashlib.sha256(token.encode()).hexdigest()


def open_for(user: User, user_agent: str = "") -> tuple[UserSession, str]:
    """Add a device session for the user; return it and the token its cookie will hold."""
    token = secrets.token_urlsafe(32)
    row = UserSession(user_id=user.id, token_hash=token_hash(token), user_agent=user_agent[:300])
    db.session.add(row)
    return row, token


def is_open(row: UserSession, now: dt.datetime) -> bool:
    """Tell whether a device session is within its idle and absolute limits."""
    config = current_app.config
    return (now - row.last_seen_at < dt.timedelta(days=config["SESSION_IDLE_DAYS"])
            and now - row.created_at < dt.timedelta(days=config["SESSION_MAX_DAYS"]))


def end(row: UserSession) -> None:
    """End a device session: its cookie no longer signs anyone in."""
    db.session.delete(row)


def end_all(user: User, *, keep: UserSession | None = None) -> int:
    """End every device session of the user (but the one to keep); return how many ended."""
    statement = sa.delete(UserSession).where(UserSession.user_id == user.id)
    if keep is not None:
        statement = statement.where(UserSession.id != keep.id)
    return db.session.execute(statement).rowcount


def device_name(user_agent: str) -> str:
    """Name a device from its browser's User-Agent, e.g. "Chrome on Android"."""
    browsers = (("Edg/", "Edge"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
                ("Chromium/", "Chromium"), ("Safari/", "Safari"))
    systems = (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"),
               ("Windows", "Windows"), ("Mac OS X", "macOS"), ("Linux", "Linux"))
    browser = next((name for mark, name in browsers if mark in user_agent), None)
    system = next((name for mark, name in systems if mark in user_agent), None)
    if browser and system:
        return _("%(browser)s on %(system)s", browser=browser, system=system)
    return browser or system or _("Unknown device")
