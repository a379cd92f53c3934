"""Account pages: register, sign in and out, reset and change a password, confirm an email.

The rules (passwords, time zones, signed links) are in ``services.auth``.
"""

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l, refresh
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from itsdangerous import BadData
from werkzeug.security import check_password_hash
from wtforms import EmailField, HiddenField, PasswordField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length, ValidationError

from webapp.extensions import db, htmx, login_manager
from webapp.models import User, utcnow
from webapp.services import audit, links
from webapp.services.auth import (MAX_PASSWORD, MIN_PASSWORD, ZONE_CHOICES, find_timezone,
                                  password_fingerprint, password_problem, token_serializer,
                                  unknown_account_hash, valid_timezone)
from webapp.services.mail import send_mail
from webapp.views import sessions
from webapp.views.pages import (plain_text, page_sent_from, redirect_to, render, render_error,
                                safe_next)
from webapp.views.throttle import limited

bp = Blueprint("auth", __name__, url_prefix="/auth")


@login_manager.user_loader
def load_user(token: str) -> User | None:
    """Load the user of a device session that is still open."""
    return sessions.load(token)


class NewPassword:
    """A WTForms validator: at least MIN_PASSWORD characters, and hard to guess."""

    def __init__(self, *personal_fields: str):
        self.personal_fields = personal_fields

    def __call__(self, form, field):
        """Refuse a new password that is short, or common, or close to the person's details."""
        if len(field.data or "") < MIN_PASSWORD:
            raise ValidationError(_("Use at least %(n)d characters.", n=MIN_PASSWORD))
        personal = [getattr(form, name).data or "" for name in self.personal_fields]
        if current_user.is_authenticated:
            personal += [current_user.email, current_user.name, current_user.practice_name]
        problem = password_problem(field.data, *personal)
        if problem:
            raise ValidationError(problem)


@login_manager.unauthorized_handler
def unauthorized():
    """Send an anonymous visitor to the login page, also from an htmx request.

    After the login they come back to what they asked for, or, for a form sent after their
    session ended, to the page they sent it from, where the browser kept what they wrote.
    """
    target = url_for("auth.login", next=request.full_path if request.method == "GET"
                     else page_sent_from())
    if htmx:
        return "", 401, {"HX-Redirect": target}
    return redirect(target)


class RegisterForm(FlaskForm):
    """New account: name, email, password, role, practice for therapists."""

    name = StringField(_l("Your name"), filters=[plain_text],
                       validators=[DataRequired(), Length(max=120)])
    email = EmailField(_l("Email"), validators=[InputRequired(), Email(), Length(max=254)])
    password = PasswordField(_l("Password"),
                             validators=[InputRequired(), Length(max=MAX_PASSWORD),
                                         NewPassword("email", "name", "practice_name")])
    role = RadioField(_l("I am"), choices=[SelectChoice("client", _l("A client")),
                                           SelectChoice("therapist", _l("A therapist"))],
                      default="client", validators=[InputRequired()])
    practice_name = StringField(_l("Practice name"), filters=[plain_text],
                                validators=[Length(max=120)])
    timezone = HiddenField(default="UTC")

    def validate_email(self, field):
        """Keep the email in one form (trimmed, lower case): it is how people are found."""
        field.data = field.data.strip().lower()

    def validate_practice_name(self, field):
        """Ask therapists for the name of their practice."""
        if self.role.data == "therapist" and not (field.data or "").strip():
            raise ValidationError(_("Therapists: please give your practice name."))


class LoginForm(FlaskForm):
    """Email and password."""

    email = EmailField(_l("Email"), validators=[InputRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[InputRequired(), Length(max=256)])


class ResetRequestForm(FlaskForm):
    """The email to send a reset link to."""

    email = EmailField(_l("Email"), validators=[InputRequired(), Email(), Length(max=254)])


class ResetForm(FlaskForm):
    """A new password, chosen through a reset link."""

    password = PasswordField(_l("New password"),
                             validators=[InputRequired(), Length(max=MAX_PASSWORD),
                                         NewPassword()])


class PasswordForm(FlaskForm):
    """The current password, and the new one."""

    current_password = PasswordField(_l("Current password"),
                                     validators=[InputRequired(), Length(max=MAX_PASSWORD)])
    password = PasswordField(_l("New password"),
                             validators=[InputRequired(), Length(max=MAX_PASSWORD),
                                         NewPassword()])

    def validate_current_password(self, field):
        """Ask for the password in use: a borrowed, signed-in phone cannot change it."""
        if not current_user.check_password(field.data):
            raise ValidationError(_("That is not your current password."))


class ConfirmForm(FlaskForm):
    """The password, typed again."""

    password = PasswordField(_l("Your password"),
                             validators=[InputRequired(), Length(max=MAX_PASSWORD)])

    def validate_password(self, field):
        """Accept only the signed-in person's password."""
        if not current_user.check_password(field.data):
            raise ValidationError(_("That is not your password."))


class SettingsForm(FlaskForm):
    """A user's name, time zone and language."""

    name = StringField(_l("Your name"), filters=[plain_text],
                       validators=[DataRequired(), Length(max=120)])
    timezone = StringField(_l("Time zone"), validators=[InputRequired(), Length(max=64)])
    # each language named in itself, so whoever cannot read the page still finds their own;
    # "" follows the browser (stored as no choice)
    language = SelectField(_l("Language"), choices=[
        SelectChoice("", _l("Browser default")), SelectChoice("en", "English"),
        SelectChoice("ru", "Русский")], default="")

    def validate_timezone(self, field):
        """Accept IANA zone names such as Europe/Berlin, or a city such as Berlin."""
        found = find_timezone(field.data)
        if found is None:
            raise ValidationError(_("Pick a time zone from the list, such as Europe/Berlin, "
                                    "or type its city."))
        field.data = found


def start_session(user: User) -> None:
    """Sign the user in on this device and record it."""
    sessions.start(user)
    audit.record("sign_in", user, subject=user)


def send_verification(user: User) -> None:
    """Email the user a link that confirms their address."""
    token = token_serializer("verify").dumps({"u": user.id, "e": user.email})
    send_mail(user.email, _("Confirm your email for Cupmark"),
              render_template("auth/mail/verify.txt", user=user,
                              link=url_for("auth.verify", token=token, _external=True)))


@bp.route("/register", methods=("GET", "POST"))
@limited("register")
def register():
    """Create an account; from an invite link, create a client linked to that therapist.

    A taken email gets the same answer as a new one (its owner is told by email instead),
    so that the form does not tell who has an account.
    """
    code = request.values.get("invite")
    invite = links.usable_invite(code)
    # a code came along but cannot be used (expired, revoked, used, mistyped): the form says so,
    # and so does the answer, as the account is then made without the link
    unusable = bool(code) and invite is None
    form = RegisterForm()
    if invite:
        form.role.data = "client"
    if form.validate_on_submit():
        practice = (form.practice_name.data or "").strip() if form.role.data == "therapist" else ""
        user = User(name=form.name.data.strip(), email=form.email.data, role=form.role.data,
                    practice_name=practice or None, timezone=valid_timezone(form.timezone.data))
        # hashed whether or not the email is taken: the answer takes as long either way
        user.set_password(form.password.data)
        owner = db.session.scalar(sa.select(User).where(User.email == user.email))
        if owner is None:
            try:
                db.session.add(user)
                db.session.flush()
            except sa.exc.IntegrityError:
                # the same email registered at the same moment: the other request made it
                db.session.rollback()
                owner = db.session.scalar(sa.select(User).where(User.email == user.email))
        if owner is None:
            linked = invite is not None and links.accept(invite, user) is not None
            audit.record("register", user, subject=user)
            db.session.commit()
            send_verification(user)
            if invite and not linked:
                # used up by someone else a moment ago: the account stands, unlinked
                flash(_("This invite was just used by someone else. Ask your therapist for a new one."))
        else:
            send_mail(owner.email, _("Someone tried to create a Cupmark account with your email"),
                      render_template("auth/mail/taken.txt", user=owner,
                                      login=url_for("auth.login", _external=True),
                                      reset=url_for("auth.reset_request", _external=True)))
        if unusable:
            # said whether or not the email was taken: the answer must not tell which
            flash(_("The invite could not be used (it has expired, was used or was revoked), so "
                    "no therapist is linked. Ask your therapist for a new invite."))
        return redirect_to(url_for("auth.check_email"))
    status = 422 if form.is_submitted() else 200
    return render("auth/register.html", "auth/_register_form.html", status=status,
                  form=form, invite=invite, unusable=unusable)


@bp.route("/check-email")
def check_email():
    """Say that a message is on its way, whatever the email was."""
    return render("auth/check_email.html")


@bp.route("/verify/<token>")
def verify(token: str):
    """Confirm the email address a link was sent to."""
    try:
        data = token_serializer("verify").loads(
            token, max_age=current_app.config["VERIFY_LINK_DAYS"] * 86400)
    except BadData:
        data = None
    user = db.session.get(User, data["u"]) if isinstance(data, dict) else None
    if user is None or user.email != data.get("e"):
        return render_error(400, _("This link does not work"),
                            _("It has expired or is not complete. Sign in to ask for a new one."))
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        audit.record("email_verified", user, subject=user)
        db.session.commit()
    flash(_("Thank you: your email is confirmed."))
    return redirect(url_for("index"))


@bp.route("/verify", methods=("POST",))
@limited("reset")
@login_required
def resend_verification():
    """Send the confirmation link again."""
    if current_user.email_verified_at is None:
        send_verification(current_user)
    flash(_("We sent a new link to %(email)s.", email=current_user.email))
    return redirect(safe_next(request.args.get("next")) or url_for("index"))


@bp.route("/login", methods=("GET", "POST"))
@limited("sign_in", only_failures=True)
def login():
    """Sign in with email and password."""
    form = LoginForm()
    next_url = safe_next(request.values.get("next"))
    error = None
    if form.validate_on_submit():
        user = db.session.scalar(sa.select(User).where(User.email == form.email.data.strip().lower()))
        # an unknown email costs the same hashing: the time taken does not tell who has an account
        stored_hash = user.password_hash if user is not None else unknown_account_hash()
        if check_password_hash(stored_hash, form.password.data) and user is not None:
            start_session(user)
            db.session.commit()
            return redirect_to(next_url or url_for("index"))
        # never say which of the two was wrong: that would tell who has an account
        error = _("That email and password do not match an account.")
    status = 422 if form.is_submitted() else 200
    return render("auth/login.html", "auth/_login_form.html", status=status,
                  form=form, error=error, next_url=next_url)


@bp.route("/logout", methods=("POST",))
@login_required
def logout():
    """Sign out on this device: its session ends, and its cookie no longer works."""
    audit.record("sign_out", current_user, subject=current_user)
    sessions.sign_out()
    db.session.commit()
    flash(_("You are signed out."))
    return redirect(url_for("auth.login"))


@bp.route("/confirm", methods=("GET", "POST"))
@limited("sign_in", only_failures=True)
@login_required
def confirm():
    """Type your password again before a step that needs it (signing other devices out)."""
    form = ConfirmForm()
    next_url = safe_next(request.args.get("next"))
    if form.validate_on_submit():
        sessions.note_password_typed()
        return redirect(next_url or url_for("index"))
    status = 422 if form.is_submitted() else 200
    return render("auth/confirm.html", status=status, form=form, next_url=next_url)


@bp.route("/reset", methods=("GET", "POST"))
@limited("reset")
def reset_request():
    """Ask for a link to choose a new password; the answer is the same for any email."""
    form = ResetRequestForm()
    if form.validate_on_submit():
        email = form.email.data.strip().lower()
        user = db.session.scalar(sa.select(User).where(User.email == email))
        # a message either way: the time the answer takes does not tell who has an account
        if user is None:
            send_mail(email, _("Cupmark password reset"),
                      render_template("auth/mail/reset_unknown.txt",
                                      register=url_for("auth.register", _external=True)))
        else:
            token = token_serializer("reset").dumps({"u": user.id,
                                                     "p": password_fingerprint(user)})
            send_mail(email, _("Cupmark password reset"),
                      render_template("auth/mail/reset.txt", user=user,
                                      minutes=current_app.config["RESET_LINK_MINUTES"],
                                      link=url_for("auth.reset", token=token, _external=True)))
        return render("auth/reset_sent.html", minutes=current_app.config["RESET_LINK_MINUTES"])
    status = 422 if form.is_submitted() else 200
    return render("auth/reset_request.html", status=status, form=form)


def reset_user(token: str) -> User | None:
    """Return the user a reset link is for, if it is unused and not expired."""
    try:
        data = token_serializer("reset").loads(
            token, max_age=current_app.config["RESET_LINK_MINUTES"] * 60)
    except BadData:
        return None
    user = db.session.get(User, data.get("u")) if isinstance(data, dict) else None
    # the link names the password it replaces: once that changed, the link is spent
    if user is None or data.get("p") != password_fingerprint(user):
        return None
    return user


@bp.route("/reset/<token>", methods=("GET", "POST"))
def reset(token: str):
    """Choose a new password through an emailed link: it works once, for a short while."""
    user = reset_user(token)
    if user is None:
        return render_error(400, _("This link does not work"),
                            _("It was used already or has expired. Ask for a new one on the "
                              "“Forgot your password?” page."))
    form = ResetForm()
    if form.validate_on_submit():
        user.set_password(form.password.data)
        # the link came by email: the address is the person's
        user.email_verified_at = user.email_verified_at or utcnow()
        sessions.end_all(user)
        audit.record("password_reset", user, subject=user)
        db.session.commit()
        flash(_("Your password is changed, and every device is signed out. Sign in with it."))
        return redirect(url_for("auth.login"))
    status = 422 if form.is_submitted() else 200
    return render("auth/reset.html", status=status, form=form, token=token)


@bp.route("/password", methods=("GET", "POST"))
@limited("sign_in", only_failures=True)
@login_required
def password():
    """Change your password: the current one first; every other device is signed out."""
    form = PasswordForm()
    if form.validate_on_submit():
        current_user.set_password(form.password.data)
        ended = sessions.end_all(current_user, keep=sessions.current())
        audit.record("password_changed", current_user, subject=current_user,
                     detail={"sessions_ended": ended})
        db.session.commit()
        send_mail(current_user.email, _("Your Cupmark password was changed"),
                  render_template("auth/mail/changed.txt", user=current_user,
                                  reset=url_for("auth.reset_request", _external=True)))
        flash(_("Your password is changed. Every other device is signed out."))
        return redirect(url_for("auth.settings"))
    status = 422 if form.is_submitted() else 200
    return render("auth/password.html", status=status, form=form)


@bp.route("/settings", methods=("GET", "POST"))
@login_required
def settings():
    """Change your name, the time zone times are shown in, and the language of the pages."""
    # no stored choice is the list's "browser default" ("", which obj= would read as None)
    form = SettingsForm(name=current_user.name, timezone=current_user.timezone,
                        language=current_user.language or "")
    if form.validate_on_submit():
        current_user.name = form.name.data.strip()
        current_user.timezone = form.timezone.data
        current_user.language = form.language.data or None
        db.session.commit()
        # the locale was picked for this request before the choice changed: pick it again, so
        # the confirmation is already in the language chosen
        refresh()
        flash(_("Settings saved."))
        return redirect(url_for("auth.settings"))
    status = 422 if form.is_submitted() else 200
    return render("auth/settings.html", status=status, form=form, zones=ZONE_CHOICES)
