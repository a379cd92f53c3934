"""The client's home: their treatments and what to do today."""
import sqlalchemy as sa
from flask import Blueprint
from flask_login import current_user

from webapp import timeline
from webapp.access import role_required
from webapp.consent import current_consent
from webapp.extensions import db
from webapp.models import Treatment, utcnow
from webapp.pages import render
from webapp.recovery import recoveries
from webapp.treatments import MAX_AGE_DAYS, has_therapist

bp = Blueprint("client", __name__, url_prefix="/client")


@bp.route("/")
@role_required("client")
def home():
    """Show a card per recovery still under way, then the finished ones, newest first."""
    treatments = db.session.scalars(sa.select(Treatment).where(
        Treatment.client_id == current_user.id).order_by(Treatment.treated_at.desc())).all()
    now = utcnow()
    active, past = [], []
    for recovery in recoveries(treatments):
        view = timeline.build(recovery, now)
        finished = (recovery.assessment.verdict == "resolved" and not view.today_done) \
            or view.today > MAX_AGE_DAYS
        (past if finished else active).append(view)
    return render("client/home.html", active=active, past=past,
                  consent=current_consent(current_user),
                  has_therapist=has_therapist(current_user.id))
