"""Your account and your data: download it all, see who opened it, delete the account."""
from flask import Blueprint, Response, flash, redirect, session, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError

from webapp.models import utcnow
from webapp.services import privacy
from webapp.views.pages import render

bp = Blueprint("account", __name__, url_prefix="/account")

# what each audited action means to the person whose data it touched
ACTIONS = {
    "view_photo": _l("Looked at a photo"),
    "view_client": _l("Opened your record"),
    "view_treatment": _l("Opened a treatment"),
    "edit_treatment": _l("Changed a treatment"),
    "delete_treatment": _l("Deleted a treatment"),
    "download_record": _l("Downloaded a treatment's record (PDF)"),
    "revoke_record": _l("Revoked a treatment's record"),
    "view_messages": _l("Read your messages"),
    "send_message": _l("Sent you a message"),
    "view_marks": _l("Looked at your followed marks"),
    "view_flag": _l("Opened a flag about your recovery"),
    "acknowledge_flag": _l("Answered a flag about your recovery"),
    "add_note": _l("Wrote a private note about you"),
    "move_mark_point": _l("Moved a followed mark's point"),
    "confirm_marks": _l("Confirmed where your marks are"),
    "stop_following_mark": _l("Stopped following a mark"),
    "forget_marks": _l("Stopped following your marks"),
    "delete_checkin": _l("Deleted a check-in"),
    "link": _l("Linked with you"),
    "unlink": _l("Removed the link with you"),
}


class DeleteForm(FlaskForm):
    """The password typed again, and a tick that says the person knows it is final."""

    password = PasswordField(_l("Your password"), validators=[InputRequired(), Length(max=256)])
    understood = BooleanField(
        _l("I understand that my account, photos and readings are deleted for good"),
        validators=[DataRequired(_l("Please tick the box to confirm."))])

    def validate_password(self, field):
        """Accept only the account's own password."""
        if not current_user.check_password(field.data):
            raise ValidationError(_("That is not your password."))


@bp.route("")
@login_required
def index():
    """List what you can do with your account and your data."""
    return render("account/index.html")


@bp.route("/export", methods=("GET", "POST"))
@login_required
def export():
    """Explain the download; a POST sends a ZIP of everything about you, photos included."""
    form = FlaskForm()
    if form.validate_on_submit():
        data = privacy.export_zip(current_user._get_current_object())
        name = f"cupmark-{utcnow():%Y-%m-%d}.zip"
        return Response(data, mimetype="application/zip",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})
    return render("account/export.html", form=form)


@bp.route("/audit")
@login_required
def audit():
    """Show who opened or changed your data, and when, newest first."""
    events = privacy.audit_trail(current_user)
    return render("account/audit.html", events=events, actions=ACTIONS,
                  limit=privacy.AUDIT_PAGE_EVENTS)


@bp.route("/delete", methods=("GET", "POST"))
@login_required
def delete():
    """Delete your account and all your data, once you typed your password again."""
    form = DeleteForm()
    if form.validate_on_submit():
        privacy.delete_account(current_user._get_current_object())
        logout_user()
        session.clear()
        flash(_("Your account and all its data are deleted."))
        return redirect(url_for("auth.login"))
    status = 422 if form.is_submitted() else 200
    return render("account/delete.html", status=status, form=form)
