"""The client's home: their treatments and what to do today."""
import sqlalchemy as sa
from flask import Blueprint
from flask_login import current_user

from webapp.access import role_required
from webapp.consent import current_consent
from webapp.extensions import db
from webapp.models import Treatment
from webapp.pages import render

bp = Blueprint("client", __name__, url_prefix="/client")


@bp.route("/")
@role_required("client")
def home():
    """Show the client's treatments, newest first."""
    treatments = db.session.scalars(sa.select(Treatment).where(
        Treatment.client_id == current_user.id).order_by(Treatment.treated_at.desc())).all()
    return render("client/home.html", treatments=treatments,
                  consent=current_consent(current_user))
