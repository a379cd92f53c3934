"""The consent page: give consent to storing photos, see it, withdraw it (and the route guard)."""
import functools

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, request, url_for
from flask_babel import gettext as _, ngettext
from flask_login import current_user

from webapp.extensions import db
from webapp.models import Consent, Treatment, User, utcnow
from webapp.services import audit, privacy
from webapp.services.consent import PHOTO_CHOICES, current_consent, give
from webapp.views.access import role_required
from webapp.views.pages import render, safe_next

bp = Blueprint("consent", __name__, url_prefix="/consent")


def next_step(user: User) -> str:
    """Return where a client goes on after consenting: their first treatment, or home."""
    has_treatment = db.session.scalar(sa.select(Treatment.id).where(
        Treatment.client_id == user.id).limit(1)) is not None
    return url_for("client.home") if has_treatment else url_for("treatments.new")


def consent_required(view):
    """Send a client without standing consent to the consent page instead of the view."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_consent(current_user) is None:
            flash(_("Please give your consent before uploading photos."))
            return redirect(url_for("consent.show", next=request.path))
        return view(*args, **kwargs)
    return wrapped


@bp.route("", methods=("GET", "POST"))
@role_required("client")
def show():
    """Show the consent text and your choice; a POST gives consent."""
    consent = current_consent(current_user)
    if request.method == "POST" and consent is None:
        consent = give(current_user)
        db.session.commit()
        flash(_("Thank you. You can now upload photos."))
        return redirect(safe_next(request.args.get("next")) or next_step(current_user))
    return render("consent/show.html", consent=consent,
                  version=current_app.config["CONSENT_VERSION"])


@bp.route("/withdraw", methods=("POST",))
@role_required("client")
def withdraw():
    """Withdraw consent, keeping or deleting the stored photos: either way only you see them."""
    choice = request.form.get("photos")
    if choice not in PHOTO_CHOICES:
        return render("consent/show.html", status=422, consent=current_consent(current_user),
                      version=current_app.config["CONSENT_VERSION"],
                      choice_error=_("Please choose whether to keep or delete your stored photos."))
    now = utcnow()
    # every consent still standing ends, to older texts too
    for consent in db.session.scalars(sa.select(Consent).where(
            Consent.user_id == current_user.id, Consent.withdrawn_at.is_(None))):
        consent.withdrawn_at = now
        audit.record("consent_withdrawn", current_user, subject=current_user, obj=consent)
    db.session.commit()
    if choice == "delete":
        count = privacy.delete_photos(current_user._get_current_object())
        flash(ngettext("Consent withdrawn. %(num)d stored photo was deleted.",
                       "Consent withdrawn. %(num)d stored photos were deleted.", count))
    else:
        flash(_("Consent withdrawn. No new photos will be accepted, and your therapist can no "
                "longer see the stored ones."))
    return redirect(url_for("consent.show"))
