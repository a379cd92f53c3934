"""The client's home: their treatments and what to do today."""
import datetime as dt

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
from webapp.timeline import Timeline
from webapp.treatments import MAX_AGE_DAYS, has_therapist

bp = Blueprint("client", __name__, url_prefix="/client")


def recovery_views(client_id: int, now: dt.datetime) -> tuple[list[Timeline], list[Timeline]]:
    """Return the client's recoveries laid out for now: (still under way, finished), newest first."""
    treatments = db.session.scalars(sa.select(Treatment).where(
        Treatment.client_id == client_id).order_by(Treatment.treated_at.desc())).all()
    active, past = [], []
    for recovery in recoveries(treatments):
        view = timeline.build(recovery, now)
        finished = (recovery.assessment.verdict == "resolved" and not view.today_done) \
            or view.today > MAX_AGE_DAYS
        (past if finished else active).append(view)
    return active, past


@bp.route("/")
@role_required("client")
def home():
    """Show a card per recovery still under way, then the finished ones, newest first."""
    active, past = recovery_views(current_user.id, utcnow())
    return render("client/home.html", active=active, past=past,
                  consent=current_consent(current_user),
                  has_therapist=has_therapist(current_user.id))
