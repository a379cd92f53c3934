"""Staying signed in: one revocable session per device, with idle and absolute limits.

The cookie (Flask's signed session, made permanent) holds a random token; the database keeps
its SHA-256 in a UserSession row. A session ends when it is signed out, when it was not used
for SESSION_IDLE_DAYS, or SESSION_MAX_DAYS after sign-in, whichever comes first.
"""
import datetime as dt
import functools
import hashlib
import secrets
import time

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from webapp import audit
from webapp.extensions import db
from webapp.models import User, UserSession, utcnow
from webapp.pages import render

bp = Blueprint("sessions", __name__, url_prefix="/account/sessions")

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


def start(user: User) -> None:
    """Sign the user in on this device with a fresh, permanent session."""
    # a new cookie at sign-in: nothing an attacker planted before it survives
    session.clear()
    g.device_session, user.session_token = open_for(user, request.user_agent.string or "")
    # permanent: the cookie outlives the browser (an installed app reopens signed in); flask
    # sends it again with each answer, so its life counts from the last use
    session.permanent = True
    login_user(user)
    note_password_typed()


def note_password_typed() -> None:
    """Remember when the password was last typed on this device (for reauthentication_required)."""
    session["password_typed_at"] = time.time()


def reauthentication_required(view):
    """Let a view run only if the password was typed here recently, else ask for it first.

    A device that stays signed in for weeks may be in someone else's hands: signing the
    owner's other devices out is for the person who knows the password.
    """
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        typed_at = session.get("password_typed_at", 0)
        if time.time() - typed_at > current_app.config["REAUTHENTICATION_MINUTES"] * 60:
            flash(_("Please type your password again to do that."))
            return redirect(url_for("auth.confirm", next=url_for("sessions.index")))
        return view(*args, **kwargs)
    return wrapped


def load(token: str) -> User | None:
    """Return the user of a device session that is still open, else None."""
    row = db.session.scalar(sa.select(UserSession)
                            .where(UserSession.token_hash == token_hash(token)))
    if row is None or not is_open(row, utcnow()):
        return None
    row.user.session_token = token
    g.device_session = row
    return row.user


def is_open(row: UserSession, now: dt.datetime) -> bool:
    """Tell whether a device session is within its idle and absolute limits."""
    config = current_app.config
    return (now - row.last_seen_at < dt.timedelta(days=config["SESSION_IDLE_DAYS"])
            and now - row.created_at < dt.timedelta(days=config["SESSION_MAX_DAYS"]))


def current() -> UserSession | None:
    """Return the device session of this request, if signed in."""
    # loading the user (Flask-Login does it on first use) finds the row: no second query
    if not current_user.is_authenticated:
        return None
    return g.get("device_session")


def end(row: UserSession) -> None:
    """End a device session: its cookie no longer signs anyone in."""
    db.session.delete(row)


def end_all(user: User, *, keep: UserSession | None = None) -> int:
    """End every device session of the user (but the one to keep); return how many ended."""
    statement = sa.delete(UserSession).where(UserSession.user_id == user.id)
    if keep is not None:
        statement = statement.where(UserSession.id != keep.id)
    return db.session.execute(statement).rowcount


def sign_out() -> None:
    """End this device's session and forget the cookie."""
    row = current()
    if row is not None:
        end(row)
    logout_user()
    session.clear()


@bp.before_app_request
def renew() -> None:
    """Note that this device's session is in use, so that only idle ones expire."""
    if request.endpoint == "static" or not current_user.is_authenticated:
        return
    row = current()
    now = utcnow()
    if row is not None and now - row.last_seen_at >= SEEN_PRECISION:
        # before the view runs: this commit carries nothing of the request's own work
        row.last_seen_at = now
        db.session.commit()


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


@bp.route("")
@login_required
def index():
    """List the devices signed in to your account, this one first."""
    here = current()
    rows = db.session.scalars(sa.select(UserSession).where(UserSession.user_id == current_user.id)
                              .order_by(UserSession.last_seen_at.desc())).all()
    now = utcnow()
    devices = sorted((row for row in rows if is_open(row, now)), key=lambda row: row is not here)
    return render("sessions/index.html", devices=devices, here=here, device_name=device_name)


@bp.route("/<int:session_id>/end", methods=("POST",))
@login_required
@reauthentication_required
def end_one(session_id: int):
    """Sign one of your devices out; this device's own entry signs you out here."""
    row = db.session.get(UserSession, session_id)
    if row is None or row.user_id != current_user.id:
        abort(404)
    if row is current():
        audit.record("sign_out", current_user, subject=current_user)
        sign_out()
        db.session.commit()
        flash(_("You are signed out."))
        return redirect(url_for("auth.login"))
    audit.record("session_ended", current_user, subject=current_user, obj=row)
    end(row)
    db.session.commit()
    flash(_("That device is signed out."))
    return redirect(url_for("sessions.index"))


@bp.route("/end-others", methods=("POST",))
@login_required
@reauthentication_required
def end_others():
    """Sign out every device but this one."""
    count = end_all(current_user, keep=current())
    audit.record("sessions_ended", current_user, subject=current_user, detail={"count": count})
    db.session.commit()
    flash(_("Every other device is signed out."))
    return redirect(url_for("sessions.index"))
