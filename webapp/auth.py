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
# the zones the settings list offers: the canonical Area/City names (no "Etc/GMT+5" or legacy
# aliases such as "US/Pacific", which are still accepted when typed)
ZONE_CHOICES = tuple(sorted(zone for zone in TIMEZONES if "/" in zone and not zone.startswith(
    ("Etc/", "SystemV/", "US/", "Canada/", "Mexico/", "Brazil/", "Chile/"))))


def zones_by_city(zones) -> dict[str, list[str]]:
    """Return the zones by their city in small letters ("new york"), several where it repeats."""
    found: dict[str, list[str]] = {}
    for zone in zones:
        found.setdefault(zone.rsplit("/", 1)[1].replace("_", " ").lower(), []).append(zone)
    return found


# a city typed alone ("Berlin", "new york") names the one zone that ends with it
ZONES_BY_CITY = zones_by_city(ZONE_CHOICES)


def valid_timezone(name: str | None) -> str:
    """Return the IANA zone name if we know it, else UTC."""
    return name if name in TIMEZONES else "UTC"


def find_timezone(text: str | None) -> str | None:
    """Return the IANA zone a person typed: its exact name, any capitalisation, or its city."""
    typed = " ".join((text or "").split())
    if typed in TIMEZONES:
        return typed
    by_name = {zone.lower(): zone for zone in TIMEZONES}
    found = by_name.get(typed.replace(" ", "_").lower())
    if found:
        return found
    cities = ZONES_BY_CITY.get(typed.replace("_", " ").lower(), [])
    return cities[0] if len(cities) == 1 else None


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
        """Accept IANA zone names such as Europe/Berlin, or a city such as Berlin."""
        found = find_timezone(field.data)
        if found is None:
            raise ValidationError(_("Pick a time zone from the list, such as Europe/Berlin, "
                                    "or type its city."))
        field.data = found


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
        if invite:
            links.accept(invite, user)
        start_session(user)
        db.session.commit()
        if invite:
            flash(_("You are now linked with %(name)s.", name=invite.therapist.name))
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
    return render("auth/settings.html", status=status, form=form, zones=ZONE_CHOICES)
