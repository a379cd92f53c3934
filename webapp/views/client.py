"""The client's home: their treatments and what to do today."""

from flask import Blueprint
from flask_login import current_user

from webapp.models import utcnow
from webapp.services.consent import current_consent
from webapp.services.timeline import recovery_views
from webapp.views.access import role_required
from webapp.views.pages import render
from webapp.views.treatments import has_therapist

bp = Blueprint("client", __name__, url_prefix="/client")


@bp.route("/")
@role_required("client")
def home():
    """Show a card per recovery still under way, then the finished ones, newest first."""
    active, past = recovery_views(current_user.id, utcnow())
    return render("client/home.html", active=active, past=past,
                  consent=current_consent(current_user),
                  has_therapist=has_therapist(current_user.id))
