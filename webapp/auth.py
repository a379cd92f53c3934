"""Accounts: register, log in, log out, settings; the session and role guards."""
import zoneinfo

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, request, session, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Email, InputRequired, Length, ValidationError

from webapp import audit, links
from webapp.extensions import db, htmx, login_manager
from webapp.models import User
from webapp.pages import redirect_to, render, safe_next

bp = Blueprint("auth", __name__, url_prefix="/auth")

MIN_PASSWORD = 10
TIMEZONES = frozenset(zoneinfo.available_timezones())


def valid_timezone(name: str | None) -> str:
    """Return the IANA zone name if we know it, else UTC."""
    return name if name in TIMEZONES else "UTC"


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """Load the user of a session, unless the session was ended by a logout."""
    user_id, _sep, version = session_id.partition(":")
    if not user_id.isdigit() or not version.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or user.session_version != int(version):
        return None
    return user


@login_manager.unauthorized_handler
def unauthorized():
    """Send an anonymous visitor to the login page, also from an htmx request."""
    target = url_for("auth.login", next=request.full_path if request.method == "GET" else None)
    if htmx:
        return "", 401, {"HX-Redirect": target}
    return redirect(target)


class RegisterForm(FlaskForm):
    """New account: name, email, password, role, practice for therapists."""

    name = StringField(_l("Your name"), validators=[InputRequired(), Length(max=120)])
    email = EmailField(_l("Email"), validators=[InputRequired(), Email(), Length(max=254)])
    password = PasswordField(
        _l("Password"),
        validators=[InputRequired(),
                    Length(min=MIN_PASSWORD, max=256,
                           message=_l("Use at least %(n)d characters.", n=MIN_PASSWORD))])
    role = RadioField(_l("I am"), choices=[SelectChoice("client", _l("A client")),
                                           SelectChoice("therapist", _l("A therapist"))],
                      default="client", validators=[InputRequired()])
    practice_name = StringField(_l("Practice name"), validators=[Length(max=120)])
    timezone = HiddenField(default="UTC")

    def validate_email(self, field):
        """Refuse an email that already has an account."""
        field.data = field.data.strip().lower()
        taken = db.session.scalar(sa.select(User.id).where(User.email == field.data))
        if taken:
            raise ValidationError(_("An account with this email already exists. Log in instead."))

    def validate_practice_name(self, field):
        """Ask therapists for the name of their practice."""
        if self.role.data == "therapist" and not (field.data or "").strip():
            raise ValidationError(_("Therapists: please give your practice name."))


class LoginForm(FlaskForm):
    """Email and password."""

    email = EmailField(_l("Email"), validators=[InputRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[InputRequired(), Length(max=256)])


class SettingsForm(FlaskForm):
    """A user's name and time zone."""

    name = StringField(_l("Your name"), validators=[InputRequired(), Length(max=120)])
    timezone = StringField(_l("Time zone"), validators=[InputRequired(), Length(max=64)])

    def validate_timezone(self, field):
        """Accept only IANA zone names such as Europe/Berlin."""
        if field.data not in TIMEZONES:
            raise ValidationError(_("Pick a time zone such as Europe/Berlin."))


def start_session(user: User) -> None:
    """Sign the user in with a fresh session and record it."""
    # a new session at login: nothing an attacker planted before login survives it
    session.clear()
    login_user(user)
    audit.record("sign_in", user, subject=user)


@bp.route("/register", methods=("GET", "POST"))
def register():
    """Create an account; from an invite link, create a client linked to that therapist."""
    invite = links.usable_invite(request.values.get("invite"))
    form = RegisterForm()
    if invite:
        form.role.data = "client"
    if form.validate_on_submit():
        practice = (form.practice_name.data or "").strip() if form.role.data == "therapist" else ""
        user = User(name=form.name.data.strip(), email=form.email.data, role=form.role.data,
                    practice_name=practice or None, timezone=valid_timezone(form.timezone.data))
        user.set_password(form.password.data)
        db.session.add(user)
        db.session.flush()
        linked = invite is not None and links.accept(invite, user) is not None
        start_session(user)
        db.session.commit()
        if linked:
            flash(_("You are now linked with %(name)s.", name=invite.therapist.name))
        elif invite:
            # used up by someone else a moment ago: the account stands, unlinked
            flash(_("This invite was just used by someone else. Ask your therapist for a new one."))
        return redirect_to(url_for("index"))
    status = 422 if form.is_submitted() else 200
    return render("auth/register.html", "auth/_register_form.html", status=status,
                  form=form, invite=invite)


@bp.route("/login", methods=("GET", "POST"))
def login():
    """Sign in with email and password."""
    form = LoginForm()
    next_url = safe_next(request.values.get("next"))
    error = None
    if form.validate_on_submit():
        user = db.session.scalar(sa.select(User).where(User.email == form.email.data.strip().lower()))
        if user is not None and user.check_password(form.password.data):
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
    """Sign out everywhere this session was used: old cookies stop working."""
    user = current_user._get_current_object()
    user.session_version += 1
    audit.record("sign_out", user, subject=user)
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You are signed out."))
    return redirect(url_for("auth.login"))


@bp.route("/settings", methods=("GET", "POST"))
@login_required
def settings():
    """Change your name and the time zone times are shown in."""
    form = SettingsForm(obj=current_user)
    if form.validate_on_submit():
        current_user.name = form.name.data.strip()
        current_user.timezone = form.timezone.data
        db.session.commit()
        flash(_("Settings saved."))
        return redirect(url_for("auth.settings"))
    status = 422 if form.is_submitted() else 200
    return render("auth/settings.html", status=status, form=form)
