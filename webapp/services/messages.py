"""Messages: a client and their therapist write to each other about one treatment.

A thread is a treatment's messages between its client and one therapist. The client reads
every message of their treatment, also after unlinking; a therapist reads the messages of
their own conversation while linked to the client. A therapist's note on a flag is sent to
the client as a message. Each new message is announced to the other person by Web Push on
the devices they allowed it on, and by email otherwise.
"""
from types import SimpleNamespace

import sqlalchemy as sa
from flask import current_app, url_for
from flask_babel import gettext as _, lazy_gettext as _l

from webapp.extensions import db
from webapp.models import CareLink, Flag, Message, Treatment, User, utcnow
from webapp.services import audit
from webapp.services.access import is_linked, linked_client_ids
from webapp.services.mail import in_language_of, send_mail
from webapp.services.push import send_push

BODY_MAX = 2000
# what a therapist's note on a flag is about, in the client's words
FLAG_TOPICS = {
    "red_flag_symptom": _l("About the symptoms you reported"),
    "worsening": _l("About your marks getting darker"),
    "slow_healing": _l("About your marks fading slowly"),
    "pigmentation": _l("About the darker patch"),
    "missed_checkins": _l("About the missing photos"),
}


def client_recipient(treatment: Treatment) -> int | None:
    """Return the therapist a client's new message goes to, or None when no one is linked."""
    # the therapist who last wrote, else the treatment's own, else the latest link: each only
    # while linked, so a message never goes to someone who may no longer read it
    last_writer = db.session.scalar(sa.select(Message.therapist_id).where(
        Message.treatment_id == treatment.id, Message.from_client.is_(False),
        Message.therapist_id.is_not(None)).order_by(Message.id.desc()).limit(1))
    for therapist_id in (last_writer, treatment.therapist_id):
        if therapist_id is not None and is_linked(therapist_id, treatment.client_id):
            return therapist_id
    return db.session.scalar(sa.select(CareLink.therapist_id).where(
        CareLink.client_id == treatment.client_id)
        .order_by(CareLink.created_at.desc(), CareLink.id.desc()).limit(1))


def visible(treatment: Treatment, viewer: User) -> sa.Select:
    """Return a select of the treatment's messages the viewer may read, oldest first."""
    statement = sa.select(Message).where(Message.treatment_id == treatment.id)
    if viewer.id != treatment.client_id:
        # a therapist reads their own conversation only (the caller checked the link)
        statement = statement.where(Message.therapist_id == viewer.id)
    return statement.order_by(Message.created_at, Message.id)


def mark_read(viewer: User, client_id: int, treatment_ids) -> None:
    """Mark what the other person wrote on the treatments' threads as seen; the caller commits."""
    # run before the page loads anything: the commit that writes it expires loaded objects
    own = viewer.id == client_id
    statement = sa.update(Message).where(Message.treatment_id.in_(treatment_ids),
                                         Message.read_at.is_(None),
                                         Message.from_client.is_(not own))
    if not own:
        statement = statement.where(Message.therapist_id == viewer.id)
    db.session.execute(statement.values(read_at=utcnow()),
                       execution_options={"synchronize_session": False})


def send(treatment: Treatment, sender: User, body: str, therapist_id: int,
         flag: Flag | None = None) -> Message:
    """Add a message from the client or the therapist to the session; the caller commits."""
    message = Message(treatment_id=treatment.id, therapist_id=therapist_id,
                      from_client=sender.id == treatment.client_id, body=body,
                      flag_id=flag.id if flag is not None else None)
    db.session.add(message)
    db.session.flush()
    audit.record("send_message", sender, subject=treatment.client_id, obj=message)
    return message


def announce(message: Message) -> None:
    """Tell the other person a committed message arrived: by push on their devices, else email.

    Neither says what was written, only who wrote and where to read it: a lock screen and an
    inbox are not the secure channel the thread is.
    """
    treatment = message.treatment
    recipient = (db.session.get(User, message.therapist_id) if message.from_client
                 else treatment.client)
    if recipient is None:
        return
    sender = treatment.client if message.from_client else message.therapist
    path = url_for("treatments.show", treatment_id=treatment.id, _anchor=f"thread-{treatment.id}")
    # said to the recipient, so in their language, not the sender's
    with in_language_of(recipient):
        name = sender.name if sender else _("Your therapist")
        title = _("New message from %(name)s", name=name)
        if send_push(recipient, title, _("Open Cupmark to read it and reply."), path):
            # the push service may have said a device is gone, and each sent one is noted
            db.session.commit()
            return
        text = _("%(name)s sent you a message about a cupping treatment. Open Cupmark to "
                 "read it and reply:\n\n%(url)s\n", name=name,
                 url=url_for("treatments.show", treatment_id=treatment.id, _external=True,
                             _anchor=f"thread-{treatment.id}"))
    try:
        send_mail(recipient.email, title, text)
    except OSError as error:
        # the message is stored and shows in the thread: a mail server that is down loses the
        # news of it, not the message, and the sender gets no error for it
        current_app.logger.warning("announcing message %s by email failed: %s", message.id,
                                   error)


def unread_count(user: User) -> int:
    """Count the messages written to the user that they have not seen yet."""
    statement = sa.select(sa.func.count(Message.id)).where(Message.read_at.is_(None))
    if user.is_client:
        statement = statement.join(Treatment, Treatment.id == Message.treatment_id).where(
            Treatment.client_id == user.id, Message.from_client.is_(False))
    else:
        statement = statement.join(Treatment, Treatment.id == Message.treatment_id).where(
            Message.therapist_id == user.id, Message.from_client.is_(True),
            Treatment.client_id.in_(linked_client_ids(user.id)))
    return db.session.scalar(statement) or 0


def inbox_rows(user: User) -> list[SimpleNamespace]:
    """Return the user's threads, latest first: treatment, the other person, last time, unread."""
    unread = sa.func.count(Message.id).filter(
        Message.read_at.is_(None), Message.from_client.is_(not user.is_client))
    statement = (sa.select(Treatment, sa.func.max(Message.created_at).label("last_at"),
                           unread.label("unread"), Message.therapist_id)
                 .join(Message, Message.treatment_id == Treatment.id)
                 .group_by(Treatment.id, Message.therapist_id)
                 .order_by(sa.func.max(Message.created_at).desc()))
    if user.is_client:
        statement = statement.where(Treatment.client_id == user.id)
    else:
        statement = statement.where(Message.therapist_id == user.id,
                                    Treatment.client_id.in_(linked_client_ids(user.id)))
    rows = db.session.execute(statement).all()
    names = dict(db.session.execute(sa.select(User.id, User.name).where(User.id.in_(
        {row.therapist_id for row in rows}))).all()) if user.is_client else {}
    return [SimpleNamespace(treatment=row.Treatment, last_at=row.last_at, unread=row.unread,
                            other=(names.get(row.therapist_id, _("Your former therapist"))
                                   if user.is_client else row.Treatment.client.name))
            for row in rows]
