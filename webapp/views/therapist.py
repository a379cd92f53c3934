"""The therapist's workspace: the triage list, a client's review page, flags and private notes."""
import datetime as dt

import sqlalchemy as sa
from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_babel import format_timedelta, gettext as _, lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from webapp.extensions import db
from webapp.models import Flag, Note, Treatment, User, utcnow
from webapp.services import audit, flags as flagging, messages, reasons, timeline, triage
from webapp.services.dates import show_times_of
from webapp.services.access import is_linked, linked_client_ids
from webapp.services.recovery import recoveries
from webapp.views.access import get_linked_client_or_404, role_required
from webapp.views.messages import thread
from webapp.views.pages import plain_text, render, wants_fragment
from webapp.views.treatments import FLAG_LABELS, THERAPIST_VERDICT_LABELS, Labels

bp = Blueprint("therapist", __name__, url_prefix="/therapist")

# the triage statuses in a therapist's words (webapp.triage explains the order)
STATUS_LABELS = {
    "red_flag": _l("Red-flag symptoms"), "worsening": _l("Worsening"),
    "slow": _l("Slower than expected"), "pigmentation": _l("Pigmentation"),
    "missed": _l("Missed check-ins"), "on_track": _l("On track"),
    "waiting": _l("Too early to judge"), "resolved": _l("Resolved"),
}
NOTE_MAX = 2000


class AcknowledgeForm(FlaskForm):
    """A therapist's note on a flag: what they did or will do about it."""

    note = TextAreaField(_l("Your note"), filters=[plain_text], validators=[
        DataRequired(_l("Write a short note on what you did or will do.")),
        Length(max=NOTE_MAX)])


class NoteForm(FlaskForm):
    """A private note about a client, seen by its author alone."""

    body = TextAreaField(_l("New note"), filters=[plain_text], validators=[
        DataRequired(_l("The note is empty.")), Length(max=NOTE_MAX)])


@bp.context_processor
def workspace_words():
    """Give the workspace templates its labels and a "how long ago" helper."""
    return {"flag_labels": Labels(FLAG_LABELS), "status_labels": Labels(STATUS_LABELS),
            "verdict_labels": Labels(THERAPIST_VERDICT_LABELS), "statuses": triage.STATUSES,
            "ago": ago, "page_size": triage.PAGE_SIZE, "said": reasons.said}


def ago(delta: dt.timedelta | None) -> str:
    """Say how long ago a time span ending now began, e.g. "3 hours ago" ("" when there is none)."""
    return "" if delta is None else format_timedelta(-delta, add_direction=True)


@bp.route("/")
@role_required("therapist")
def home():
    """Rank the active recoveries of the therapist's clients, with what changed since yesterday."""
    now = utcnow()
    filters = triage.Filters.from_args(request.args)
    ranked = triage.triage(current_user.id, now, filters)
    if wants_fragment():
        return render("therapist/_triage.html", triage=ranked, filters=filters)
    return render("therapist/home.html", triage=ranked, filters=filters, now=now,
                  since=triage.since_yesterday(current_user.id, now),
                  has_clients=ranked.total > 0 or has_clients(current_user.id))


def has_clients(therapist_id: int) -> bool:
    """Tell whether the therapist has any linked client (to tell an empty practice apart)."""
    return db.session.scalar(sa.select(sa.exists(linked_client_ids(therapist_id)))) or False


def review(person: User, note_form: NoteForm | None = None) -> dict:
    """Gather a client's review page: timelines, flag history, and the therapist's own notes."""
    now = utcnow()
    treatments = db.session.scalars(sa.select(Treatment).where(
        Treatment.client_id == person.id).order_by(Treatment.treated_at.desc())).all()
    timelines = [timeline.build(r, now) for r in recoveries(treatments)]
    flags = db.session.scalars(sa.select(Flag).where(
        Flag.treatment_id.in_([t.id for t in treatments]))
        .order_by(Flag.acknowledged_at.is_not(None), Flag.raised_at.desc(), Flag.id.desc())).all()
    threads = {t.id: thread(t, current_user) for t in treatments}
    return {"client": person, "timelines": timelines, "flags": flags, "threads": threads,
            "notes": own_notes(person.id),
            "current_reasons": flagging.current_reasons(flags, now),
            "note_form": note_form or NoteForm(formdata=None), "now": now}


def own_notes(client_id: int) -> list[Note]:
    """Return the signed-in therapist's notes about the client, newest first."""
    return db.session.scalars(sa.select(Note).where(
        Note.therapist_id == current_user.id, Note.client_id == client_id)
        .order_by(Note.created_at.desc(), Note.id.desc())).all()


@bp.route("/clients/<int:client_id>")
@role_required("therapist")
def client(client_id: int):
    """Show a linked client's treatments with their timelines, flags and notes (audited)."""
    person = get_linked_client_or_404(client_id)
    show_times_of(person)
    # commit the audit first: a commit expires loaded objects, and reloading each costs a query
    audit.record("view_client", current_user, subject=person, obj=person)
    # the page shows each treatment's thread: what the client wrote is seen
    messages.mark_read(current_user, person.id,
                       sa.select(Treatment.id).where(Treatment.client_id == person.id))
    db.session.commit()
    return render("therapist/client.html", **review(person))


@bp.route("/clients/<int:client_id>/notes", methods=("POST",))
@role_required("therapist")
def add_note(client_id: int):
    """Add a private note about a linked client; htmx gets the notes section back."""
    person = get_linked_client_or_404(client_id)
    show_times_of(person)
    form = NoteForm()
    if not form.validate():
        if wants_fragment():
            return render("therapist/_notes.html", status=422, client=person,
                          notes=own_notes(person.id), note_form=form)
        return render("therapist/client.html", status=422, **review(person, form))
    note = Note(therapist_id=current_user.id, client_id=person.id, body=form.body.data)
    db.session.add(note)
    db.session.flush()
    audit.record("add_note", current_user, subject=person, obj=note)
    db.session.commit()
    if wants_fragment():
        return render("therapist/_notes.html", client=person, notes=own_notes(person.id),
                      note_form=NoteForm(formdata=None))
    flash(_("Note saved."))
    return redirect(url_for("therapist.client", client_id=person.id, _anchor="notes"))


def get_flag_or_404(flag_id: int) -> Flag:
    """Return a flag on a treatment of a client linked to the signed-in therapist, or 404."""
    flag = db.session.get(Flag, flag_id)
    if flag is None or not is_linked(current_user.id, flag.treatment.client_id):
        abort(404)
    return flag


@bp.route("/flags/<int:flag_id>")
@role_required("therapist")
def flag(flag_id: int):
    """Show one flag with its reason, and the form to acknowledge it (audited)."""
    found = get_flag_or_404(flag_id)
    show_times_of(found.treatment.client)
    audit.record("view_flag", current_user, subject=found.treatment.client_id, obj=found)
    db.session.commit()
    return render("therapist/flag.html", flag=found, form=AcknowledgeForm(formdata=None),
                  current_reasons=flagging.current_reasons([found], utcnow()))


@bp.route("/flags/<int:flag_id>/acknowledge", methods=("POST",))
@role_required("therapist")
def acknowledge(flag_id: int):
    """Acknowledge a flag with a note, recording who and when; it stays in the history."""
    found = get_flag_or_404(flag_id)
    show_times_of(found.treatment.client)
    form = AcknowledgeForm()
    message = announce = None
    if found.acknowledged_at is not None:
        # someone (or the sweep) was first: show the flag as it is, change nothing
        message = _("This flag was already acknowledged; nothing was changed.")
        status = 200
    elif not form.validate():
        status = 422
    else:
        found.acknowledged_at = utcnow()
        found.acknowledged_by_id = current_user.id
        found.note = form.note.data
        audit.record("acknowledge_flag", current_user, subject=found.treatment.client_id,
                     obj=found)
        # the note reaches the client as a message on the treatment's thread
        note = messages.send(found.treatment, current_user, found.note, current_user.id,
                             flag=found)
        db.session.commit()
        messages.announce(note)
        if not wants_fragment():
            flash(_("Flag acknowledged."))
            return redirect(url_for("therapist.client", client_id=found.treatment.client_id,
                                    _anchor="flags"))
        status = 200
        announce = _("Flag acknowledged: your note was sent to the client as a message.")
    return render("therapist/flag.html", "therapist/_flag.html", status=status, flag=found,
                  form=form, message=message, announce=announce,
                  current_reasons=flagging.current_reasons([found], utcnow()))
