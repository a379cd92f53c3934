"""Route guards: a role per route, and 404 for a client or treatment the viewer may not see.

The care-link rules themselves are in ``services.access``.
"""
import functools

from flask import abort
from flask_login import current_user, login_required

from webapp.extensions import db
from webapp.models import Treatment, User
from webapp.services.access import can_see_client, is_linked


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
