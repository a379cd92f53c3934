"""Who may see what: the care-link checks behind every private page (its route guards
are in views.access).
"""

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import CareLink, User
from webapp.services.consent import current_consent


def is_linked(therapist_id: int, client_id: int) -> bool:
    """Tell whether the therapist is linked to the client."""
    return db.session.scalar(sa.select(CareLink.id).where(
        CareLink.therapist_id == therapist_id, CareLink.client_id == client_id)) is not None


def linked_client_ids(therapist_id: int) -> sa.Select:
    """Return a select of the ids of the clients linked to the therapist."""
    return sa.select(CareLink.client_id).where(CareLink.therapist_id == therapist_id)


def linked_therapist_ids(client_id: int) -> sa.Select:
    """Return a select of the ids of the therapists linked to the client."""
    return sa.select(CareLink.therapist_id).where(CareLink.client_id == client_id)


def can_see_client(viewer: User, client_id: int) -> bool:
    """Tell whether the viewer may see the client's data: themselves or a linked therapist."""
    if viewer.id == client_id:
        return True
    return viewer.is_therapist and is_linked(viewer.id, client_id)


def can_see_photos(viewer: User, client_id: int) -> bool:
    """Tell whether the viewer may see the client's photos: themselves, or a linked therapist
    while the client consents to keeping them (DESIGN.md, "Accounts and privacy": a therapist who lost
    consent or the link sees nothing more). The numbers measured on them stay visible."""
    if viewer.id == client_id:
        return True
    return can_see_client(viewer, client_id) and current_consent(client_id) is not None
