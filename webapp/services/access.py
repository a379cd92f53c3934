"""Who may see what: the care-link checks behind every private page (its route guards
are in views.access).
"""

import sqlalchemy as sa

from webapp.extensions import db
from webapp.models import CareLink, User


def is_linked(therapist_id: int, client_id: int) -> bool:
    """Tell whether the therapist is linked to the client."""
    return db.session.scalar(sa.select(CareLink.id).where(
        CareLink.therapist_id == therapist_id, CareLink.client_id == client_id)) is not None


def linked_client_ids(therapist_id: int) -> sa.Select:
    """Return a select of the ids of the clients linked to the therapist."""
    return sa.select(CareLink.client_id).where(CareLink.therapist_id == therapist_id)


def can_see_client(viewer: User, client_id: int) -> bool:
    """Tell whether the viewer may see the client's data: themselves or a linked therapist."""
    if viewer.id == client_id:
        return True
    return viewer.is_therapist and is_linked(viewer.id, client_id)
