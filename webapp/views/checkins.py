"""Check-in pages: the daily photo form, its JSON for the offline queue, and deleting a photo.

The views only read the request, call ``services.checkins`` and answer with a page, a redirect
or JSON.
"""
from __future__ import annotations

import datetime as dt
import uuid

import sqlalchemy as sa
from flask import Blueprint, abort, flash, jsonify, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from werkzeug.exceptions import RequestEntityTooLarge
from wtforms import BooleanField, DateTimeLocalField, HiddenField, IntegerField, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from webapp import clock
from webapp.extensions import db
from webapp.models import CheckIn, Treatment
from webapp.services.checkins import (NOTE_MAX, CheckInRefused, delete_checkin, refusal,
                                      submit_checkin)
from webapp.services.consent import current_consent
from webapp.views.access import role_required
from webapp.views.pages import (TIME_PATTERN, formatter, plain_text, redirect_to, render,
                                too_large_page, wants_json)
from webapp.views.quality import quality_notes
from webapp.views.throttle import limited

bp = Blueprint("checkins", __name__)


class CheckInForm(FlaskForm):
    """Today's photo, three quick questions, an optional note and when the photo was taken."""

    photo = FileField(_l("Photo of your marks"),
                      validators=[FileRequired(_l("Please take or choose a photo."))])
    # no default: a client who skipped it would be recorded as "Pain 0/10"
    pain = IntegerField(_l("Pain right now, from 0 (none) to 10 (worst)"),
                        validators=[InputRequired(_l("Please give a number from 0 to 10.")),
                                    NumberRange(0, 10, _l("Please give a number from 0 to 10."))])
    blisters = BooleanField(_l("Blisters or broken skin"))
    fever = BooleanField(_l("Fever, or feeling unwell"))
    note = TextAreaField(_l("Note (optional)"), filters=[plain_text],
                         validators=[Length(max=NOTE_MAX)])
    # left empty it means "now": the page's script fills in the moment of sending, and the
    # server the moment it receives a form sent without it
    taken_at = DateTimeLocalField(_l("Photo taken at"), validators=[Optional()])
    idempotency_key = HiddenField()
    # set by the page's script, never shown: "phone" when it filled taken_at from the phone's
    # clock, and that clock at the moment of sending (milliseconds since 1970), so the server
    # corrects a phone's fast or slow clock (services.checkins.phone_time_corrected)
    taken_at_by = HiddenField()
    phone_now = HiddenField()

    def phone_clock(self) -> dt.datetime | None:
        """Return the phone's clock at sending when the phone filled the time in, else None.

        A value that is not a whole number of milliseconds in the years 1970-9999 counts as
        none: the time is then judged as sent, and a wrong one refused with its message.
        """
        if self.taken_at_by.data != "phone":
            return None
        try:
            return dt.datetime.fromtimestamp(int(self.phone_now.data or "") / 1000, dt.timezone.utc)
        except (ValueError, OverflowError, OSError):
            return None


def fresh_form() -> CheckInForm:
    """Return an empty form with a new upload key (an empty time means the time of sending)."""
    form = CheckInForm(formdata=None)
    form.idempotency_key.data = str(uuid.uuid4())
    return form


def show_form(treatment: Treatment, form: CheckInForm, refused: CheckInRefused | None = None):
    """Render the check-in page (or its form alone for htmx), with the refusal if any."""
    if refused is None:
        status = 200
    else:
        # htmx swaps only 413 and 422 error answers into the page
        status = 413 if refused.status == 413 else 422
    return render("checkins/new.html", "checkins/_form.html", status=status, form=form,
                  treatment=treatment, refused=refused,
                  consent=current_consent(current_user))


def refuse(treatment: Treatment, form: CheckInForm, refused: CheckInRefused):
    """Answer a refusal: JSON for the offline queue, else the form with the message.

    A time the phone filled in is shown empty again: sent once more it is the new moment of
    sending, never an old one that would then count as typed.
    """
    if form.taken_at_by.data == "phone":
        form.taken_at.raw_data, form.taken_at.data = [], None
    if wants_json():
        body = {"ok": False, "error": refused.code, "message": refused.message}
        if form.errors:
            body["fields"] = {name: [str(e) for e in errors]
                              for name, errors in form.errors.items()}
        return jsonify(body), refused.status
    return show_form(treatment, form, refused)


def own_treatment_or_404(treatment_id: int) -> Treatment:
    """Return the signed-in client's own treatment, or 404."""
    treatment = db.session.get(Treatment, treatment_id)
    if treatment is None or treatment.client_id != current_user.id:
        abort(404)
    return treatment


@bp.errorhandler(RequestEntityTooLarge)
def too_large(error):
    """Answer a body over the size cap sent to the check-in form with the form again and the
    size message (JSON for the offline queue). The app's CSRF check reads the form before any
    view does, so the cap is met there, before the view could catch it."""
    if request.endpoint != "checkins.new" or not current_user.is_authenticated:
        return too_large_page()
    return refuse(own_treatment_or_404(request.view_args["treatment_id"]), fresh_form(),
                  refusal("too_large"))


@bp.route("/treatments/<int:treatment_id>/checkin", methods=("GET", "POST"))
@limited("upload")
@role_required("client")
def new(treatment_id: int):
    """Show the check-in form for your treatment; a POST stores the check-in."""
    treatment = own_treatment_or_404(treatment_id)
    if request.method == "GET":
        return show_form(treatment, fresh_form())
    form = CheckInForm()
    if not form.validate():
        return refuse(treatment, form, refusal("invalid"))
    key = request.headers.get("Idempotency-Key") or form.idempotency_key.data or ""
    try:
        taken_at = (clock.local_to_utc(form.taken_at.data, current_user.timezone)
                    if form.taken_at.data else None)
    except ValueError:
        # year 1 or 9999: no real moment, so no date to name in the refusal
        form.taken_at.errors = [*form.taken_at.errors, _(
            "Please check the time, or leave it empty to use the time of sending.")]
        return refuse(treatment, form, refusal("invalid"))
    try:
        checkin, created = submit_checkin(
            current_user, treatment, form.photo.data.read(), idempotency_key=key,
            taken_at=taken_at, phone_now=form.phone_clock(),
            pain=form.pain.data, blisters=form.blisters.data, fever=form.fever.data,
            note=form.note.data or "", any_day=wants_json())
    except CheckInRefused as refused:
        return refuse(treatment, form, refused)
    # the next step is confirming where the marks are in the new photo
    url = url_for("marks.confirm", checkin_id=checkin.id)
    # the confirmation shows on the next page, the one the page's script goes to as well; a
    # form sent twice (a double tap) says the same as once, and the page shows it once
    if quality_notes(checkin.reading, retake_only=True):
        # the next page says what is wrong with the photo; it offers no marks to check
        flash(_("Check-in saved."))
    else:
        flash(_("Check-in saved. Now check the marks on your photo."))
    if wants_json():
        return jsonify(ok=True, checkin_id=checkin.id, url=url), 201 if created else 200
    return redirect_to(url, status=303, in_place=True)


@bp.route("/checkins/<int:checkin_id>/delete", methods=("POST",))
@role_required("client")
def delete(checkin_id: int):
    """Delete one of your check-ins and its photos."""
    checkin = db.session.get(CheckIn, checkin_id)
    if checkin is None or checkin.client_id != current_user.id:
        abort(404)
    treatment = checkin.treatment
    day = clock.day_number(treatment.treated_at, checkin.taken_at, current_user.timezone)
    delete_checkin(checkin, current_user)
    url = url_for("treatments.show", treatment_id=treatment.id, _anchor=f"day-{treatment.id}-{day}")
    if wants_json():
        return jsonify(ok=True, url=url)
    flash(deleted_message(treatment, day))
    return redirect_to(url, status=303, in_place=True)


def deleted_message(treatment: Treatment, day: int) -> str:
    """Say that a check-in is gone, and what its day shows now: another photo of it, or none."""
    zone = treatment.client.timezone
    left = [c for c in db.session.scalars(sa.select(CheckIn).where(
        CheckIn.treatment_id == treatment.id).order_by(CheckIn.taken_at.desc()))
        if clock.day_number(treatment.treated_at, c.taken_at, zone) == day]
    if not left:
        return _("Check-in deleted, with its photos. Day %(n)d now has no photo.", n=day)
    return _("Check-in deleted, with its photos. Day %(n)d now shows your other photo of that "
             "day, taken at %(time)s.", n=day,
             time=formatter(TIME_PATTERN, zone)(left[0].taken_at))
