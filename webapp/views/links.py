"""Care-link pages: a therapist's invites, joining by link or code, and a person's links."""

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_babel import format_date, gettext as _, lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import EmailField, StringField
from wtforms.validators import Email, Length, Optional

from webapp.extensions import db
from webapp.models import CareLink, Invite, utcnow
from webapp.services import audit
from webapp.services.links import accept, create_invite, typed_code, usable_invite
from webapp.services.mail import send_mail
from webapp.views.access import role_required
from webapp.views.pages import plain_text, render, stripped

bp = Blueprint("links", __name__)


class InviteForm(FlaskForm):
    """A new invite: who it is for, and where to email it (both optional)."""

    name = StringField(_l("Who is it for? (optional)"), filters=[plain_text],
                       validators=[Length(max=120)])
    email = EmailField(_l("Email it to (optional)"), filters=[stripped],
                       validators=[Optional(), Email(), Length(max=254)])


def email_invite(invite: Invite, to: str) -> None:
    """Email the invite's link and code to the client, from the therapist's name."""
    therapist = invite.therapist
    link = url_for("links.join", code=invite.code, _external=True)
    text = _("%(name)s invites you to follow how your cupping marks fade, in Cupmark.\n\n"
             "Open this link to accept (it works once, until %(until)s):\n%(link)s\n\n"
             "Or open Cupmark, choose “I have an invite code” and type: %(code)s\n\n"
             "If you did not expect this, ignore this email: nothing happens without you.",
             name=therapist.name, until=format_date(invite.expires_at, "d MMMM"), link=link,
             code=invite.code)
    send_mail(to, _("%(name)s invites you to Cupmark", name=therapist.name), text)


@bp.route("/links")
@login_required
def index():
    """List your care links: a client's therapists, or a therapist's clients."""
    column = CareLink.client_id if current_user.is_client else CareLink.therapist_id
    care_links = db.session.scalars(
        sa.select(CareLink).where(column == current_user.id).order_by(CareLink.created_at)).all()
    return render("links/index.html", care_links=care_links)


@bp.route("/links/<int:link_id>/remove", methods=("POST",))
@login_required
def remove(link_id: int):
    """Remove a care link you are part of: the therapist no longer sees your data."""
    link = db.session.get(CareLink, link_id)
    if link is None or current_user.id not in (link.client_id, link.therapist_id):
        abort(404)
    audit.record("unlink", current_user, subject=link.client_id, obj=link)
    db.session.delete(link)
    db.session.commit()
    flash(_("The link is removed."))
    return redirect(url_for("links.index"))


@bp.route("/join")
def enter_code():
    """Take an invite code typed by hand, and open the invite it names."""
    code = typed_code(request.args.get("code", ""))
    if code:
        return redirect(url_for("links.join", code=code))
    return render("links/code.html")


@bp.route("/join/<code>", methods=("GET", "POST"))
def join(code: str):
    """Open an invite: a signed-in client links; anyone else registers or logs in first."""
    invite = usable_invite(code)
    if invite is None:
        return render("links/join.html", status=404, invite=None, code=code)
    if not current_user.is_authenticated:
        return render("links/join.html", invite=invite, code=code)
    if not current_user.is_client:
        # a therapist who opens a client's link (their own, to check it) is told what it is
        # for, and nothing is linked
        return render("links/join.html", status=403, invite=invite, code=code)
    if request.method == "POST":
        if accept(invite, current_user) is None:
            db.session.rollback()
            return render("links/join.html", status=404, invite=None, code=code)
        db.session.commit()
        flash(_("You are now linked with %(name)s.", name=invite.therapist.name))
        return redirect(url_for("links.index"))
    return render("links/join.html", invite=invite, code=code)


@bp.route("/invites", methods=("GET", "POST"))
@role_required("therapist")
def invites():
    """List your invites, and create a new one with a link that is easy to copy."""
    form = InviteForm()
    if form.validate_on_submit():
        if current_user.email_verified_at is None:
            # an invite speaks for a practice: its therapist must own the address they gave
            flash(_("Confirm your email before you invite clients."))
            return redirect(url_for("links.invites"))
        invite = create_invite(current_user, current_app.config["INVITE_DAYS"], form.name.data)
        db.session.commit()
        if form.email.data:
            email_invite(invite, form.email.data)
            flash(_("Invite emailed to %(email)s.", email=form.email.data))
        else:
            flash(_("New invite created. Send the link or the code to your client."))
        return redirect(url_for("links.invites", _anchor=f"invite-{invite.id}"))
    all_invites = db.session.scalars(
        sa.select(Invite).where(Invite.therapist_id == current_user.id)
        .order_by(Invite.created_at.desc())).all()
    return render("links/invites.html", status=422 if form.is_submitted() else 200,
                  invites=all_invites, now=utcnow(), form=form)


@bp.route("/invites/<int:invite_id>/revoke", methods=("POST",))
@role_required("therapist")
def revoke(invite_id: int):
    """Revoke one of your unused invites so that its link stops working."""
    invite = db.session.get(Invite, invite_id)
    if invite is None or invite.therapist_id != current_user.id:
        abort(404)
    if invite.used_at is None and invite.revoked_at is None:
        invite.revoked_at = utcnow()
        db.session.commit()
        flash(_("The invite is revoked."))
    return redirect(url_for("links.invites"))
