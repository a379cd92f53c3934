"""Daily reminders: Web Push to every device a client allowed, email to those with none.

- Each device subscribes after a tap on this area's page (static/js/reminders.js); pushes go
  out through services/push.py, emails through services/mail.py.
- A client sets a reminder time and quiet hours (wall-clock, in their own zone). ``flask
  reminders send`` (cron, e.g. every 10 minutes) reminds each client whose time has come today,
  outside quiet hours, while a recovery is under way and today's photo is not taken yet. A row
  per client and local day is written BEFORE sending, so a run repeated or overlapping never
  reminds twice.
"""
import datetime as dt
import zoneinfo
from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from webapp.extensions import db
from webapp.models import ReminderSent, ReminderSetting, User, utcnow
from webapp.services.mail import in_language_of, send_mail
from webapp.services.push import send_push
from webapp.services.timeline import recovery_views


def send_email(user: User, subject: str, text: str) -> bool:
    """Email the reminder through the project's mail sender; tell whether it went."""
    try:
        send_mail(user.email, subject, text)
    except Exception as error:  # noqa: BLE001 - any mail failure is one reminder not sent, logged
        current_app.logger.warning("reminder email to user %s failed: %s", user.id, error)
        return False
    return True


def in_quiet_hours(minute: int, start: int, end: int) -> bool:
    """Tell whether a minute of the day falls in quiet hours [start, end), across midnight too."""
    if start == end:
        return False
    return start <= minute < end if start < end else minute >= start or minute < end


def photo_due(client_id: int, now: dt.datetime) -> bool:
    """Tell whether a recovery of the client is under way and its photo for today is not taken."""
    # the home page's own rule for "today" and for a recovery under way
    active, _past = recovery_views(client_id, now)
    return any(not view.today_done for view in active)


@dataclass(frozen=True)
class Sent:
    """What one run of the reminders did for one client."""

    user: User
    day: dt.date
    channel: str
    devices: int


def send_due(now: dt.datetime | None = None) -> list[Sent]:
    """Remind every client whose reminder is due now; return what was sent. Idempotent."""
    now = now or utcnow()
    sent = []
    rows = db.session.execute(sa.select(User, ReminderSetting).join(
        ReminderSetting, ReminderSetting.user_id == User.id).where(
        ReminderSetting.enabled, User.role == "client").order_by(User.id)).all()
    for user, setting in rows:
        local = now.astimezone(zoneinfo.ZoneInfo(user.timezone))
        minute = local.hour * 60 + local.minute
        if minute < setting.remind_at or in_quiet_hours(minute, setting.quiet_start,
                                                        setting.quiet_end):
            continue
        day = local.date()
        if db.session.scalar(sa.select(ReminderSent.id).where(
                ReminderSent.user_id == user.id, ReminderSent.day == day)):
            continue
        if not photo_due(user.id, now):
            continue
        # claimed before sending: a second run at the same moment fails here, not at the phone
        claim = ReminderSent(user_id=user.id, day=day, channel="none")
        db.session.add(claim)
        try:
            db.session.commit()
        except sa.exc.IntegrityError:
            db.session.rollback()
            continue
        with in_language_of(user):
            devices = send_push(user, _("Time for today's photo"),
                                _("One photo of your marks, in daylight, about 30 cm away."),
                                "/client/")
            if devices:
                claim.channel = "push"
            elif setting.email and send_email(user, _("Time for today's photo"),
                                              email_text(user)):
                claim.channel = "email"
        db.session.commit()
        sent.append(Sent(user, day, claim.channel, devices))
    return sent


def email_text(user: User) -> str:
    """The reminder email's text: what to do, where, and how to stop it."""
    return _("Hello %(name)s,\n\nit is time for today's photo of your cupping marks: one photo "
             "in daylight, about 30 cm away, with some skin around them.\n\nOpen Cupmark to "
             "take it. You can change or turn off these reminders under Reminders in the app.",
             name=user.name)


def minutes(value: dt.time) -> int:
    """Return a wall-clock time as minutes after midnight."""
    return value.hour * 60 + value.minute


def clock_time(value: int) -> dt.time:
    """Return minutes after midnight as a wall-clock time."""
    return dt.time(value // 60, value % 60)


def setting_of(user_id: int) -> ReminderSetting:
    """Return the client's reminder setting, a default one (off) if they never set it."""
    return db.session.get(ReminderSetting, user_id) or ReminderSetting(
        user_id=user_id, enabled=False, remind_at=18 * 60, quiet_start=21 * 60,
        quiet_end=8 * 60, email=True)
