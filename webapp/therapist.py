"""The therapist's workspace: linked clients and their recoveries."""
import sqlalchemy as sa
from flask import Blueprint
from flask_login import current_user

from webapp import audit
from webapp.access import get_linked_client_or_404, linked_client_ids, role_required
from webapp.extensions import db
from webapp.models import Treatment, User
from webapp.pages import render

bp = Blueprint("therapist", __name__, url_prefix="/therapist")


@bp.route("/")
@role_required("therapist")
def home():
    """List the therapist's linked clients."""
    clients = db.session.scalars(sa.select(User).where(
        User.id.in_(linked_client_ids(current_user.id))).order_by(User.name)).all()
    return render("therapist/home.html", clients=clients)


@bp.route("/clients/<int:client_id>")
@role_required("therapist")
def client(client_id: int):
    """Show a linked client's treatments; the view is recorded in the audit log."""
    person = get_linked_client_or_404(client_id)
    treatments = db.session.scalars(sa.select(Treatment).where(
        Treatment.client_id == person.id).order_by(Treatment.treated_at.desc())).all()
    audit.record("view_client", current_user, subject=person, obj=person)
    db.session.commit()
    return render("therapist/client.html", client=person, treatments=treatments)
