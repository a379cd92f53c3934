"""Who may see what: role guards and the care-link checks every private route uses."""
import functools

import sqlalchemy as sa
from flask import abort
from flask_login import current_user, login_required

from webapp.extensions import db
from webapp.models import CareLink, Treatment, User


def role_required(role: str):
    """Let only signed-in users of the given role through; others get 404."""
    def decorator(view):
        @functools.wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role != role:
                abort(404)
            return view(*args, **kwargs)
        return wrapped
    return decorator


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


def get_linked_client_or_404(client_id: int) -> User:
    """Return a client linked to the signed-in therapist, or answer 404."""
    client = db.session.get(User, client_id)
    if client is None or not client.is_client or not is_linked(current_user.id, client.id):
        abort(404)
    return client


def get_treatment_or_404(treatment_id: int) -> Treatment:
    """Return a treatment the signed-in user may see, or answer 404."""
    treatment = db.session.get(Treatment, treatment_id)
    if treatment is None or not can_see_client(current_user, treatment.client_id):
        abort(404)
    return treatment
