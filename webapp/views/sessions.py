"""The devices page: every signed-in device, ending one or all others; and the per-request
renewal of this device's session.
"""
import functools
import time

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, g, redirect, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from webapp.extensions import db
from webapp.models import User, UserSession, utcnow
from webapp.services import audit
from webapp.services.sessions import (SEEN_PRECISION, device_name, end, end_all, is_open, open_for,
                                      token_hash)
from webapp.views.pages import render

bp = Blueprint("sessions", __name__, url_prefix="/account/sessions")


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


def current() -> UserSession | None:
    """Return the device session of this request, if signed in."""
    # loading the user (Flask-Login does it on first use) finds the row: no second query
    if not current_user.is_authenticated:
        return None
    return g.get("device_session")


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
