"""Reminder pages: the daily time and quiet hours, this device's push subscription, a test
reminder; and ``flask reminders send`` for cron.
"""
import base64
import binascii
from urllib.parse import urlsplit

import click
import sqlalchemy as sa
from flask import Blueprint, current_app, flash, g, jsonify, redirect, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, TimeField
from wtforms.validators import InputRequired, ValidationError

from webapp.extensions import db
from webapp.models import PushSubscription, utcnow
from webapp.services.push import application_server_key, device_count, is_p256_point, send_push
from webapp.services.reminders import (clock_time, in_quiet_hours, minutes, photo_due, send_due,
                                       setting_of)
from webapp.views.access import role_required
from webapp.views.pages import render

bp = Blueprint("reminders", __name__, url_prefix="/reminders")


# ---- the cron command ----


@bp.cli.command("send")
def send_command() -> None:
    """Send the reminders due now (push, else email); safe to run from cron as often as liked."""
    sent = send_due()
    click.echo(f"Sent {sum(s.channel != 'none' for s in sent)} reminder(s).")
    for s in sent:
        how = {"push": f"push to {s.devices} device(s)", "email": "email",
               "none": "nothing: no device took it and no email was possible"}[s.channel]
        click.echo(f"  user {s.user.id} ({s.day.isoformat()}): {how}")


# ---- the settings page ----


class ReminderForm(FlaskForm):
    """A client's daily reminder: on or off, when, quiet hours, and email as the fallback."""

    enabled = BooleanField(_l("Remind me every day while my marks are healing"))
    remind_at = TimeField(_l("Remind me at"), validators=[InputRequired()])
    quiet_start = TimeField(_l("Quiet from"), validators=[InputRequired()])
    quiet_end = TimeField(_l("Quiet until"), validators=[InputRequired()])
    email = BooleanField(_l("Email me when none of my devices shows notifications"))

    def validate_remind_at(self, field):
        """Refuse a reminder time that the quiet hours would always hold back."""
        if None in (field.data, self.quiet_start.data, self.quiet_end.data):
            return
        if in_quiet_hours(minutes(field.data), minutes(self.quiet_start.data),
                          minutes(self.quiet_end.data)):
            raise ValidationError(_("That time is inside your quiet hours, so no reminder would come. "
                               "Pick a time outside them, or change them."))


@bp.route("/", methods=("GET", "POST"))
@role_required("client")
def settings():
    """Set the daily reminder and turn notifications on for this device."""
    setting = setting_of(current_user.id)
    form = ReminderForm(data={"enabled": setting.enabled, "email": setting.email,
                              "remind_at": clock_time(setting.remind_at),
                              "quiet_start": clock_time(setting.quiet_start),
                              "quiet_end": clock_time(setting.quiet_end)})
    if form.validate_on_submit():
        setting.enabled = form.enabled.data
        setting.email = form.email.data
        setting.remind_at = minutes(form.remind_at.data)
        setting.quiet_start = minutes(form.quiet_start.data)
        setting.quiet_end = minutes(form.quiet_end.data)
        setting.updated_at = utcnow()
        db.session.add(setting)
        db.session.commit()
        flash(_("Reminders saved."))
        return redirect(url_for("reminders.settings"))
    status = 422 if form.is_submitted() else 200
    return render("reminders/page.html", status=status, form=form,
                  vapid_key=application_server_key(), devices=device_count(current_user.id))


# ---- this device's subscription ----

def b64url_length(value, size: int) -> bool:
    """Tell whether value is base64url text of exactly size bytes."""
    if not isinstance(value, str) or len(value) > 200:
        return False
    try:
        return len(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))) == size
    except (binascii.Error, ValueError):
        return False


def endpoint_parts(endpoint):
    """Return a posted endpoint split as a URL, or None when it is no usable URL text (too
    long, control characters, a port out of range)."""
    if not isinstance(endpoint, str) or len(endpoint) > 2048 or not (
            endpoint.isascii() and endpoint.isprintable()):
        return None
    parts = urlsplit(endpoint)
    try:
        parts.port
    except ValueError:
        return None
    return parts


def subscription_problem(data) -> str | None:
    """Return why a posted PushSubscription.toJSON() is unusable, or None when it is fine."""
    if not isinstance(data, dict) or not isinstance(data.get("keys"), dict):
        return _("This browser sent no subscription we can use.")
    parts = endpoint_parts(data.get("endpoint"))
    hosts = current_app.config["PUSH_SERVICE_HOSTS"]
    if parts is None or parts.scheme != "https" or not parts.hostname or not any(
            parts.hostname == host or parts.hostname.endswith("." + host) for host in hosts):
        return _("This browser's push service is not one we can send to.")
    # a P-256 public point (65 bytes) and a 16-byte auth secret, as the Push API makes them
    if not (b64url_length(data["keys"].get("p256dh"), 65)
            and b64url_length(data["keys"].get("auth"), 16)
            and is_p256_point(data["keys"]["p256dh"])):
        return _("This browser sent no subscription we can use.")
    return None


@bp.route("/devices", methods=("POST",))
@role_required("client")
def subscribe():
    """Keep this browser's push subscription for the signed-in client (JSON in and out)."""
    data = request.get_json(silent=True)
    problem = subscription_problem(data)
    if problem:
        return jsonify(ok=False, message=problem), 422
    subscription = db.session.scalar(sa.select(PushSubscription).where(
        PushSubscription.endpoint == data["endpoint"]))
    if subscription is None:
        subscription = PushSubscription(endpoint=data["endpoint"], p256dh=data["keys"]["p256dh"],
                                        auth=data["keys"]["auth"])
        db.session.add(subscription)
    elif (subscription.p256dh, subscription.auth) != (data["keys"]["p256dh"], data["keys"]["auth"]):
        # the Push API gives each subscription its own endpoint and keys: the endpoint with other
        # keys is not that browser, but someone who learnt its address, and taking it over would
        # silently end its owner's reminders
        return jsonify(ok=False, message=_("This browser sent no subscription we can use.")), 422
    # one browser, one person: a phone that changed hands now reminds its new owner only
    subscription.user_id = current_user.id
    db.session.commit()
    return jsonify(ok=True, devices=device_count(current_user.id))


@bp.route("/devices/remove", methods=("POST",))
@role_required("client")
def unsubscribe():
    """Forget this browser's push subscription (the client turned notifications off here)."""
    data = request.get_json(silent=True)
    endpoint = data.get("endpoint") if isinstance(data, dict) else None
    if not isinstance(endpoint, str):
        return jsonify(ok=False, message=_("This browser sent no subscription we can use.")), 422
    db.session.execute(sa.delete(PushSubscription).where(
        PushSubscription.endpoint == endpoint, PushSubscription.user_id == current_user.id))
    db.session.commit()
    return jsonify(ok=True, devices=device_count(current_user.id))


@bp.route("/test", methods=("POST",))
@role_required("client")
def test():
    """Send a test notification to the client's devices and say how many took it."""
    devices = send_push(current_user, _("Cupmark reminders work"),
                        _("This is how your daily reminder will look."),
                        url_for("reminders.settings"))
    db.session.commit()
    if devices:
        flash(_("Sent to %(n)s device(s). It should show in a few seconds.", n=devices))
    else:
        flash(_("No device took it. Turn notifications on with the button below."))
    return redirect(url_for("reminders.settings"))


# ---- the app badge ----

@bp.app_context_processor
def badge_context() -> dict:
    """Let every page say whether the signed-in client's photo is due (the app badge)."""
    def due() -> bool:
        if "photo_due" not in g:
            g.photo_due = photo_due(current_user.id, utcnow())
        return g.photo_due
    return {"photo_due": due}
