"""Treatments: a client, or their linked therapist, records a cupping session."""
import datetime as dt
from types import SimpleNamespace

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import gettext as _, lazy_gettext as _l, ngettext
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import (DateTimeLocalField, IntegerField, SelectField, SelectMultipleField,
                     TextAreaField, widgets)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, ValidationError

from webapp import clock
from webapp.analysis.course import DEFAULT_EXPECTED_DAYS
from webapp.extensions import db, htmx
from webapp.models import (BODY_AREAS, CUP_MATERIALS, RISK_FACTORS, SUCTIONS, TECHNIQUES, CareLink,
                           CheckIn, Treatment, User, utcnow)
from webapp.services import audit, compare, flags, messages, timeline
from webapp.services.access import is_linked, linked_client_ids
from webapp.services.dates import DATETIME_PATTERN, formatter, show_times_of
from webapp.services.recovery import (MAX_AGE_DAYS, WIDENED_EXPECTED_DAYS, WIDENING_SUCTIONS,
                                      expected_days_for, recoveries)
from webapp.services.storage import discard, get_store
from webapp.views.access import get_treatment_or_404
from webapp.views.messages import thread
from webapp.views.pages import redirect_to, render, wants_fragment

bp = Blueprint("treatments", __name__, url_prefix="/treatments")

BODY_AREA_LABELS = {
    "neck_shoulders": _l("Neck & shoulders"), "upper_back": _l("Upper back"),
    "lower_back": _l("Lower back"), "chest": _l("Chest"), "abdomen": _l("Abdomen"),
    "arms": _l("Arms"), "thighs": _l("Thighs"), "calves": _l("Calves"), "other": _l("Other"),
}
TECHNIQUE_LABELS = {
    "static": _l("Static"), "dynamic": _l("Dynamic / massage"), "honey": _l("Honey"),
    "anti_cellulite": _l("Anti-cellulite"), "other": _l("Other"),
}
MATERIAL_LABELS = {
    "glass": _l("Glass"), "silicone": _l("Silicone"), "plastic": _l("Plastic"),
    "bamboo": _l("Bamboo"), "other": _l("Other"),
}
SUCTION_LABELS = {"light": _l("Light"), "medium": _l("Medium"), "strong": _l("Strong")}
RISK_LABELS = {
    "blood_thinners": _l("Takes blood thinners"), "steroids": _l("Steroid treatment"),
    "bruises_easily": _l("Bruises easily"), "over_65": _l("Over 65"),
}
STAGE_LABELS = {
    "fresh": _l("Fresh"), "turning": _l("Turning"), "faint": _l("Faint"),
    "resolved": _l("Faded"), "none": _l("Not measured"),
}
# a verdict has two forms, one per reader: the client's words (below; "slow" adds that the
# therapist sees it when one is linked) and the therapist's, lowercase to sit in a sentence
# (capitalised where one starts); a therapist's page never speaks to the client
THERAPIST_VERDICT_LABELS = {
    "on_track": _l("fading as expected"), "slow": _l("fading slower than expected"),
    "worsening": _l("darker or bigger again"), "resolved": _l("faded"),
    "pigmentation": _l("a darker patch remains"),
    "insufficient_data": _l("too few photos to judge"),
}
VERDICT_LABELS = {
    "on_track": _l("Fading as expected"),
    "slow": _l("Fading slower than usual"),
    "worsening": _l("Darker or bigger again: please contact your therapist"),
    "resolved": _l("Faded: the marks have cleared"),
    "pigmentation": _l("A darker patch remains: worth showing your therapist"),
    "insufficient_data": _l("Too early to tell: take a photo each day"),
}
# a suction that widens the expected window, as a cause in a list (webapp.recovery says which)
WIDENING_SUCTION_LABELS = {"light": _l("Light suction"), "medium": _l("Medium suction"),
                           "strong": _l("Strong suction")}
# one followed mark's verdict, said plainly beside its number ("Mark 2 · Fading slower than
# usual"): what to do about it is said once, for the whole treatment
MARK_VERDICT_LABELS = {
    "on_track": _l("Fading as expected"),
    "slow": _l("Fading slower than usual"),
    "worsening": _l("Darker or bigger again"),
    "resolved": _l("Faded"),
    "pigmentation": _l("A darker patch remains"),
    "insufficient_data": _l("Too early to tell"),
}
# a flag's kind (webapp.services.flags) in words: the therapist's pages and the printed record
FLAG_LABELS = {
    "red_flag_symptom": _l("Red-flag symptom"), "worsening": _l("Worsening"),
    "slow_healing": _l("Slow healing"), "pigmentation": _l("Pigmentation"),
    "missed_checkins": _l("Missed check-ins"),
}
LABELS = {"body_area": BODY_AREA_LABELS, "technique": TECHNIQUE_LABELS,
          "cup_material": MATERIAL_LABELS, "suction": SUCTION_LABELS, "risk": RISK_LABELS,
          "stage": STAGE_LABELS, "verdict": VERDICT_LABELS,
          "therapist_verdict": THERAPIST_VERDICT_LABELS, "mark_verdict": MARK_VERDICT_LABELS,
          "flag": FLAG_LABELS}


class CheckboxesField(SelectMultipleField):
    """A multiple choice shown as a list of checkboxes."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class Labels:
    """One group of LABELS, read by key in the current language: `labels.stage["fresh"]`."""

    def __init__(self, labels: dict):
        """Keep the group's lazy labels."""
        self.labels = labels

    def __getitem__(self, key: str) -> str:
        """Return the key's label translated, as a plain string."""
        # a plain string, so the template escapes it ("Neck & shoulders"): flask-babel's lazy
        # strings pass as markup and would be written out unescaped
        return str(self.labels[key])


# every template, and the macros they import without context, gets the labels as a global
bp.add_app_template_global(SimpleNamespace(**{group: Labels(labels)
                                              for group, labels in LABELS.items()}), "labels")


@bp.app_template_global()
def expected_window() -> SimpleNamespace:
    """Return the usual and the widened expected days, and the recorded facts that widen it."""
    # the what's-normal page and the treatment form say what webapp.recovery decides
    causes = ([str(WIDENING_SUCTION_LABELS[s]) for s in WIDENING_SUCTIONS]
              + [str(RISK_LABELS[r]) for r in RISK_FACTORS])
    return SimpleNamespace(usual=int(DEFAULT_EXPECTED_DAYS), widened=WIDENED_EXPECTED_DAYS,
                           causes=causes)


# the comparison slider lays the earlier photo over the later one, aligned (webapp.compare)
bp.add_app_template_global(compare.overlay, "compare_overlay")


def choices(keys, labels) -> list[SelectChoice]:
    """Return the select options for the keys, in their order, with their labels."""
    return [SelectChoice(key, labels[key]) for key in keys]


class TreatmentForm(FlaskForm):
    """The facts of one cupping session that shape its recovery."""

    client_id = SelectField(_l("Client"), coerce=int, validate_choice=True)
    treated_at = DateTimeLocalField(_l("Date and time of the session"),
                                    validators=[InputRequired()])
    # no area chosen for the therapist: a form sent as it came would name the wrong part of the
    # body on every page, triage row and record of the recovery
    body_area = SelectField(_l("Body area"), choices=[
        SelectChoice("", _l("Choose the body area"), render_kw={"disabled": True}),
        *choices(BODY_AREAS, BODY_AREA_LABELS)], default="",
        validators=[InputRequired(_l("Please choose the body area."))])
    technique = SelectField(_l("Technique"), choices=choices(TECHNIQUES, TECHNIQUE_LABELS))
    cup_count = IntegerField(_l("Number of cups"), default=6,
                             validators=[InputRequired(), NumberRange(min=1, max=40)])
    cup_material = SelectField(_l("Cup material"), choices=choices(CUP_MATERIALS, MATERIAL_LABELS))
    suction = SelectField(_l("Suction"), choices=choices(SUCTIONS, SUCTION_LABELS),
                          default="medium")
    risk_factors = CheckboxesField(_l("Anything that slows healing"),
                                   choices=choices(RISK_FACTORS, RISK_LABELS))
    notes = TextAreaField(_l("Notes"), validators=[Length(max=2000)])

    def __init__(self, timezone: str, *args, first_photo_at: dt.datetime | None = None,
                 **kwargs):
        """Remember the zone the wall-clock time is entered in, and when the first photo was
        taken (a treatment that is edited cannot move after its photos)."""
        super().__init__(*args, **kwargs)
        self.timezone = timezone
        self.first_photo_at = first_photo_at

    def validate_treated_at(self, field):
        """Refuse a time in the future or too long ago to follow."""
        if field.data is None:
            return  # unparsable: the field already says so
        try:
            when = clock.local_to_utc(field.data, self.timezone)
        except ValueError:
            # year 1 or 9999: true of either end, and no date to name
            raise ValidationError(_("Only sessions from the last %(n)d days can be followed.",
                                    n=MAX_AGE_DAYS)) from None
        now = utcnow()
        if when > now + dt.timedelta(minutes=5):
            raise ValidationError(_("The session cannot be in the future."))
        if when < now - dt.timedelta(days=MAX_AGE_DAYS):
            raise ValidationError(_("Only sessions from the last %(n)d days can be followed.",
                                    n=MAX_AGE_DAYS))
        if self.first_photo_at is not None and when > self.first_photo_at:
            raise ValidationError(_("The session cannot be after its first photo (%(when)s).",
                                    when=formatter(DATETIME_PATTERN, self.timezone)(
                                        self.first_photo_at)))


def client_choices() -> list[SelectChoice]:
    """Return who the signed-in user may record a treatment for."""
    if current_user.is_client:
        return [SelectChoice(current_user.id, current_user.name)]
    clients = db.session.execute(sa.select(User.id, User.name).where(
        User.id.in_(linked_client_ids(current_user.id))).order_by(User.name)).all()
    return [SelectChoice(row.id, row.name) for row in clients]


@bp.route("/new", methods=("GET", "POST"))
@login_required
def new():
    """Record a cupping session: for yourself, or for one of your linked clients."""
    form = TreatmentForm(current_user.timezone)
    form.client_id.choices = client_choices()
    if request.method == "GET":
        form.treated_at.data = clock.utc_to_local(utcnow(), current_user.timezone).replace(
            second=0, microsecond=0)
        form.client_id.data = request.args.get("client", type=int) or current_user.id
    if form.validate_on_submit():
        client_id = form.client_id.data
        if current_user.is_therapist and not is_linked(current_user.id, client_id):
            abort(404)
        treatment = Treatment(
            client_id=client_id,
            therapist_id=current_user.id if current_user.is_therapist else None,
            recorded_by_id=current_user.id,
            treated_at=clock.local_to_utc(form.treated_at.data, current_user.timezone),
            body_area=form.body_area.data, technique=form.technique.data,
            cup_count=form.cup_count.data, cup_material=form.cup_material.data,
            suction=form.suction.data, notes=form.notes.data or "",
            risk_factors=list(form.risk_factors.data or []),
            expected_days=expected_days_for(form.risk_factors.data or [], form.suction.data))
        db.session.add(treatment)
        db.session.commit()
        flash(_("Treatment recorded."))
        return redirect(url_for("treatments.show", treatment_id=treatment.id))
    status = 422 if form.is_submitted() else 200
    return render("treatments/new.html", status=status, form=form)


def first_photo_at(treatment: Treatment) -> dt.datetime | None:
    """Return when the treatment's first photo was taken, if it has one."""
    return db.session.scalar(sa.select(sa.func.min(CheckIn.taken_at)).where(
        CheckIn.treatment_id == treatment.id))


@bp.route("/<int:treatment_id>/edit", methods=("GET", "POST"))
@login_required
def edit(treatment_id: int):
    """Correct a treatment's facts (its client or a linked therapist); its course is re-judged."""
    # who may see it may correct it: its client, or a linked therapist
    treatment = get_treatment_or_404(treatment_id)
    form = TreatmentForm(current_user.timezone, obj=treatment,
                         first_photo_at=first_photo_at(treatment))
    # whose treatment it is does not change
    form.client_id.choices = [SelectChoice(treatment.client_id, treatment.client.name)]
    form.client_id.data = treatment.client_id
    if request.method == "GET":
        form.treated_at.data = clock.utc_to_local(treatment.treated_at, current_user.timezone)
    if form.validate_on_submit():
        treatment.treated_at = clock.local_to_utc(form.treated_at.data, current_user.timezone)
        for name in ("body_area", "technique", "cup_count", "cup_material", "suction"):
            setattr(treatment, name, getattr(form, name).data)
        treatment.notes = form.notes.data or ""
        treatment.risk_factors = list(form.risk_factors.data or [])
        treatment.expected_days = expected_days_for(treatment.risk_factors, treatment.suction)
        audit.record("edit_treatment", current_user, subject=treatment.client_id, obj=treatment)
        db.session.flush()
        flags.refresh(treatment)
        db.session.commit()
        flash(_("Treatment saved. Its course is judged again with these facts."))
        return redirect_to(url_for("treatments.show", treatment_id=treatment.id), status=303)
    status = 422 if form.is_submitted() else 200
    return render("treatments/new.html", status=status, form=form, treatment=treatment)


def may_delete(treatment: Treatment, user: User) -> bool:
    """Tell whether the user may delete the treatment: its client always; a therapist only one
    they recorded that holds no photo yet (a session entered by mistake), since the photos are
    the client's own health data and only the client deletes them."""
    if user.id == treatment.client_id:
        return True
    return treatment.recorded_by_id == user.id and db.session.scalar(
        sa.select(CheckIn.id).where(CheckIn.treatment_id == treatment.id).limit(1)) is None


def delete_treatment(treatment: Treatment, actor: User) -> int:
    """Delete a treatment with its check-ins, readings, marks and flags, then its photos' bytes.

    The rows go first, in one commit (the database cascades to everything of the treatment);
    the bytes after it, so no row ever names missing bytes (``flask photos cleanup`` catches
    bytes a crash leaves). Returns how many check-ins were deleted.
    """
    keys = db.session.execute(sa.select(CheckIn.photo_key, CheckIn.thumb_key).where(
        CheckIn.treatment_id == treatment.id)).all()
    audit.record("delete_treatment", actor, subject=treatment.client_id, obj=treatment,
                 detail={"checkins": len(keys)})
    db.session.delete(treatment)
    db.session.commit()
    discard(get_store(), [key for pair in keys for key in pair])
    return len(keys)


@bp.route("/<int:treatment_id>/delete", methods=("POST",))
@login_required
def delete(treatment_id: int):
    """Delete a treatment and every photo of it (the page asks first)."""
    treatment = get_treatment_or_404(treatment_id)
    client_id = treatment.client_id
    if not may_delete(treatment, current_user):
        flash(_("Only the client can delete a treatment that has photos."))
        return redirect_to(url_for("treatments.show", treatment_id=treatment.id), status=303)
    count = delete_treatment(treatment, current_user)
    flash(ngettext("Treatment deleted, with its %(num)d photo.",
                   "Treatment deleted, with its %(num)d photos.", count))
    url = (url_for("client.home") if current_user.id == client_id
           else url_for("therapist.client", client_id=client_id))
    return redirect_to(url, status=303)


def has_therapist(client_id: int) -> bool:
    """Tell whether any therapist is linked to the client (and so sees their recoveries)."""
    return db.session.scalar(sa.select(CareLink.id).where(
        CareLink.client_id == client_id).limit(1)) is not None


@bp.route("/<int:treatment_id>")
@login_required
def show(treatment_id: int):
    """Show one treatment's recovery timeline; htmx asks for the timeline or the comparison.

    The comparison shows its two photos only when the query names its days (``first`` or
    ``second``, day numbers; one without a photo falls back to the oldest or the latest).
    """
    treatment = get_treatment_or_404(treatment_id)
    show_times_of(treatment.client)
    # only a request aimed at a slice gets the slice: any other htmx request wants the page
    partial = {f"timeline-{treatment.id}": "treatments/_timeline.html",
               f"compare-{treatment.id}": "treatments/_compare.html",
               f"marks-{treatment.id}": "treatments/_marks.html"}.get(htmx.target or "")
    if current_user.id != treatment.client_id:
        audit.record("view_treatment", current_user, subject=treatment.client_id, obj=treatment)
    whole_page = not (partial and wants_fragment())
    if whole_page:
        # the page shows the thread: what the other person wrote is seen
        messages.mark_read(current_user, treatment.client_id, [treatment.id])
    # committed before the check-ins load: a commit expires them, and each would reload
    db.session.commit()
    recovery = recoveries([treatment])[0]
    view = timeline.build(recovery, utcnow(), request.args.get("first", type=int),
                          request.args.get("second", type=int),
                          request.args.get("mark", type=int))
    # only a slow course or a flagged alarm tells the client their therapist sees it: no query
    # otherwise
    tell_client = current_user.id == treatment.client_id and (
        recovery.assessment.verdict == "slow" or view.tells_therapist)
    # the comparison's photos come once asked for: its form (the button, or a day chosen after
    # it) sends the two days, with htmx or as a plain GET
    compare_photos = "first" in request.args or "second" in request.args
    return render("treatments/show.html", partial, treatment=treatment, timeline=view,
                  compare_photos=compare_photos, may_delete=may_delete(treatment, current_user),
                  has_therapist=tell_client and has_therapist(treatment.client_id),
                  thread=thread(treatment, current_user) if whole_page else None)
