"""A person's own data: all of it in one ZIP, their photos deleted, their account erased.

No HTTP here: the account and consent views call these and commit through them.
"""
from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from typing import Any

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import (AuditEvent, CareLink, CheckIn, Consent, Flag, Invite, Mark, MarkReading,
                           Message, PushSubscription, Reading, Record, RecoverySummary,
                           ReminderSent, ReminderSetting, Treatment, User, UserSession, utcnow)
from webapp.services import audit, flags
from webapp.services.storage import discard, get_store

EXPORT_FORMAT = 1
# columns that say nothing about the person and would only help an attacker
# secrets and capabilities: a password's hash, a device's token hash, a push subscription's
# address and keys (anyone holding them could sign in or push to the device)
SECRET_COLUMNS = {"password_hash", "session_version", "token_hash", "endpoint", "p256dh", "auth"}
# said in the export itself, so that nobody takes the file for more than it is
NOT_INCLUDED = ["notes a therapist keeps privately about you (ask your therapist)",
                "anything about other people, beyond the name of a therapist or client you "
                "linked with and of whoever opened your data"]
# how many of the latest audit events the audit page shows (the export has them all)
AUDIT_PAGE_EVENTS = 200


def plain(value: Any) -> Any:
    """Return a column value as JSON can hold it (dates and datetimes as ISO 8601, UTC)."""
    return value.isoformat() if isinstance(value, dt.date) else value


def as_dict(obj: Any) -> dict:
    """Return every column of a row as a JSON-ready dict, secrets left out."""
    return {column.key: plain(getattr(obj, column.key))
            for column in sa.inspect(type(obj)).column_attrs if column.key not in SECRET_COLUMNS}


def rows(model: type, *where) -> list[dict]:
    """Return the model's rows that match, oldest first, as dicts."""
    return [as_dict(obj) for obj in db.session.scalars(
        sa.select(model).where(*where).order_by(model.id))]


def others_seen(user: User) -> sa.Select:
    """Return a select of the events in which someone else opened or changed the user's data."""
    actor = sa.orm.aliased(User)
    return (sa.select(AuditEvent, actor.name)
            .outerjoin(actor, actor.id == AuditEvent.actor_id)
            .where(AuditEvent.subject_id == user.id,
                   sa.or_(AuditEvent.actor_id.is_(None), AuditEvent.actor_id != user.id))
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()))


def audit_trail(user: User, limit: int = AUDIT_PAGE_EVENTS) -> list[tuple[AuditEvent, str | None]]:
    """Return who (by name) opened or changed the user's data and when, newest first."""
    return db.session.execute(others_seen(user).limit(limit)).all()


def everything(user: User) -> dict:
    """Return every row about the user as one JSON-ready dict (photos are named, not inlined)."""
    treatment_ids = sa.select(Treatment.id).where(Treatment.client_id == user.id)
    checkin_ids = sa.select(CheckIn.id).where(CheckIn.client_id == user.id)
    link_column = CareLink.client_id if user.is_client else CareLink.therapist_id
    other = CareLink.therapist if user.is_client else CareLink.client
    links = db.session.scalars(sa.select(CareLink).where(link_column == user.id)
                               .order_by(CareLink.id)).all()
    checkins = rows(CheckIn, CheckIn.client_id == user.id)
    for checkin in checkins:
        # the store's keys mean nothing outside it: name the files of this ZIP instead
        del checkin["photo_key"], checkin["thumb_key"]
        checkin["photo_file"], checkin["thumb_file"] = photo_names(checkin["id"])
    return {
        "format": EXPORT_FORMAT,
        "exported_at": plain(utcnow()),
        "not_included": NOT_INCLUDED,
        "account": as_dict(user),
        "consents": rows(Consent, Consent.user_id == user.id),
        # the devices signed in (their tokens' hashes left out)
        "devices": rows(UserSession, UserSession.user_id == user.id),
        "reminder_settings": [as_dict(setting) for setting in db.session.scalars(
            sa.select(ReminderSetting).where(ReminderSetting.user_id == user.id))],
        "push_devices": rows(PushSubscription, PushSubscription.user_id == user.id),
        "reminders_sent": rows(ReminderSent, ReminderSent.user_id == user.id),
        # the other person of each link by name only: their email and the rest are theirs
        "care_links": [{**as_dict(link), "with": getattr(link, other.key).name}
                       for link in links],
        "invites": rows(Invite, sa.or_(Invite.therapist_id == user.id,
                                       Invite.used_by_id == user.id)),
        "treatments": rows(Treatment, Treatment.client_id == user.id),
        "check_ins": checkins,
        "readings": rows(Reading, Reading.checkin_id.in_(checkin_ids)),
        "marks": rows(Mark, Mark.treatment_id.in_(treatment_ids)),
        "mark_readings": rows(MarkReading, MarkReading.checkin_id.in_(checkin_ids)),
        "flags": rows(Flag, Flag.treatment_id.in_(treatment_ids)),
        "messages": rows(Message, Message.treatment_id.in_(treatment_ids)),
        "records": rows(Record, Record.treatment_id.in_(treatment_ids)),
        "recovery_summaries": [as_dict(summary) for summary in db.session.scalars(
            sa.select(RecoverySummary).where(RecoverySummary.treatment_id.in_(treatment_ids))
            .order_by(RecoverySummary.treatment_id))],
        "audit": [{**as_dict(event), "actor_name": name}
                  for event, name in db.session.execute(
                      sa.select(AuditEvent, User.name)
                      .outerjoin(User, User.id == AuditEvent.actor_id)
                      .where(AuditEvent.subject_id == user.id)
                      .order_by(AuditEvent.id))],
    }


def photo_names(checkin_id: int) -> tuple[str, str]:
    """Return the ZIP's file names of a check-in's photo and thumbnail."""
    return f"photos/{checkin_id}.jpg", f"photos/{checkin_id}-thumb.jpg"


def export_zip(user: User) -> bytes:
    """Return a ZIP of everything about the user: data.json and every photo (audited, committed)."""
    # recorded first, so that the export holds its own record too
    audit.record("export", user, subject=user)
    data = everything(user)
    store = get_store()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.json", json.dumps(data, ensure_ascii=False, indent=2))
        keys = db.session.execute(sa.select(CheckIn.id, CheckIn.photo_key, CheckIn.thumb_key)
                                  .where(CheckIn.client_id == user.id).order_by(CheckIn.id))
        for checkin_id, photo_key, thumb_key in keys:
            for name, key in zip(photo_names(checkin_id), (photo_key, thumb_key)):
                # JPEG is compressed already: stored, not deflated again
                archive.writestr(name, store.get(key), zipfile.ZIP_STORED)
    db.session.commit()
    return buffer.getvalue()


def delete_photos(client: User) -> int:
    """Delete every check-in of the client with its readings, then the bytes; return how many."""
    found = db.session.execute(sa.select(CheckIn.photo_key, CheckIn.thumb_key, CheckIn.treatment_id)
                               .where(CheckIn.client_id == client.id)).all()
    if not found:
        return 0
    db.session.execute(sa.delete(CheckIn).where(CheckIn.client_id == client.id))
    # readings and mark readings went with their check-ins in the database, not in this session
    db.session.expire_all()
    for treatment_id in sorted({row.treatment_id for row in found}):
        flags.refresh(db.session.get(Treatment, treatment_id))
    audit.record("delete_photos", client, subject=client, detail={"check_ins": len(found)})
    db.session.commit()
    # bytes only after the rows are gone for good: a crash leaves bytes for cleanup, never a
    # row without its bytes
    discard(get_store(), [key for row in found for key in (row.photo_key, row.thumb_key)])
    return len(found)


def delete_account(user: User) -> None:
    """Erase the user, every row about them and their photo bytes; audit rows stay, anonymous."""
    keys = [key for row in db.session.execute(
        sa.select(CheckIn.photo_key, CheckIn.thumb_key).where(CheckIn.client_id == user.id))
        for key in row]
    role = user.role
    # the database's foreign keys delete the person's rows and set the audit's names to NULL
    db.session.execute(sa.delete(User).where(User.id == user.id))
    db.session.expire_all()
    audit.record("delete_account", None, detail={"role": role})
    db.session.commit()
    discard(get_store(), keys)
