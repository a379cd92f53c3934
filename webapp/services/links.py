"""Care links: invites a therapist makes, and a client accepting one."""
import datetime as dt

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import CareLink, Invite, User, utcnow
from webapp.services import audit


def typed_code(text: str) -> str:
    """Return an invite code as typed by hand in its stored form: capitals, no gaps or dashes."""
    return "".join(char for char in text.upper() if char.isalnum())


def usable_invite(code: str | None) -> Invite | None:
    """Return the invite with this code (as in its link, or typed) if it can still be accepted."""
    if not code:
        return None
    # a link carries the code exactly (older links are case-sensitive); a typed one may not
    candidates = {code, typed_code(code)} - {""}
    invite = db.session.scalar(sa.select(Invite).where(Invite.code.in_(candidates)).limit(1))
    return invite if invite and invite.is_usable(utcnow()) else None


def accept(invite: Invite, client: User) -> CareLink | None:
    """Use up the invite and link the client to its therapist; None if it was used up first."""
    now = utcnow()
    # one conditional update: of clients accepting at the same moment exactly one finds the
    # invite unused (PostgreSQL re-checks the condition once the first one's row lock is
    # released; SQLite runs one writer at a time)
    claimed = db.session.execute(
        sa.update(Invite)
        .where(Invite.id == invite.id, Invite.used_at.is_(None), Invite.revoked_at.is_(None),
               Invite.expires_at > now)
        .values(used_at=now, used_by_id=client.id)).rowcount
    if not claimed:
        return None
    link = db.session.scalar(sa.select(CareLink).where(
        CareLink.therapist_id == invite.therapist_id, CareLink.client_id == client.id))
    if link is None:
        link = CareLink(therapist_id=invite.therapist_id, client_id=client.id)
        db.session.add(link)
        db.session.flush()
        audit.record("link", client, subject=client, obj=link)
    return link


def create_invite(therapist: User, days: int, name: str | None = None) -> Invite:
    """Create a single-use invite that expires after the given number of days."""
    invite = Invite(therapist_id=therapist.id, expires_at=utcnow() + dt.timedelta(days=days),
                    name=name or None)
    db.session.add(invite)
    return invite
