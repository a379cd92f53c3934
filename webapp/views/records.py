"""Record routes: download a treatment's PDF record, revoke it, and check a code at /verify."""
import hashlib

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from PIL import ImageFile

from webapp.extensions import db
from webapp.models import Record, Treatment, utcnow
from webapp.services import audit
from webapp.services.access import can_see_client, can_see_photos
from webapp.services.dates import show_times_of
from webapp.services.records import new_code, normalised, render_pdf
from webapp.views.access import get_treatment_or_404
from webapp.views.pages import redirect_to, render

bp = Blueprint("records", __name__)

# importing weasyprint (its images module) turns on Pillow's loading of truncated images for
# the whole process; the intake must refuse a truncated upload (webapp.analysis.photo), and a
# record only embeds whole stored JPEGs, so Pillow's default is put back
ImageFile.LOAD_TRUNCATED_IMAGES = False


@bp.app_template_filter("record_code")
def grouped(code: str) -> str:
    """Write a code in groups of four, the way it is printed."""
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


def get_record_or_404(record_id: int) -> Record:
    """Return a record the signed-in person may see and revoke (see issued_records), or 404."""
    record = db.session.get(Record, record_id)
    if (record is None or not can_see_client(current_user, record.treatment.client_id)
            or not (current_user.id == record.treatment.client_id
                    or record.issued_by_id == current_user.id)):
        abort(404)
    return record


@bp.app_template_global()
def issued_records(treatment: Treatment) -> list[Record]:
    """Return the records issued for a treatment that the signed-in person may see, newest first.

    The client sees every record of their own treatment; a therapist only those they issued: a
    client linked to therapists of two practices shares their photos with both, but what one
    practice did with them is not the other's to see (as their message threads are kept apart).
    """
    statement = sa.select(Record).where(Record.treatment_id == treatment.id)
    if current_user.id != treatment.client_id:
        statement = statement.where(Record.issued_by_id == current_user.id)
    return db.session.scalars(
        statement.order_by(Record.issued_at.desc(), Record.id.desc())).all()


@bp.route("/treatments/<int:treatment_id>/record.pdf", methods=("POST",))
@login_required
def download(treatment_id: int):
    """Issue and send a treatment's record (PDF) to its client or their linked therapist.

    A POST (with the CSRF token): each one issues a record with its own code, listed and
    audited, which no link followed, prefetched or planted on another site may do.
    """
    treatment = get_treatment_or_404(treatment_id)
    show_times_of(treatment.client)
    issued_at = utcnow()
    code = new_code()
    pdf = render_pdf(treatment, code, issued_at,
                     with_photos=can_see_photos(current_user, treatment.client_id))
    record = Record(treatment_id=treatment.id, code=code, issued_at=issued_at,
                    sha256=hashlib.sha256(pdf).hexdigest(), issued_by_id=current_user.id)
    db.session.add(record)
    db.session.flush()
    audit.record("download_record", current_user, subject=treatment.client_id, obj=record)
    db.session.commit()
    name = f"cupmark-record-{treatment.treated_at:%Y-%m-%d}-{grouped(code)}.pdf"
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{name}"'})


@bp.route("/records/<int:record_id>/revoke", methods=("POST",))
@login_required
def revoke(record_id: int):
    """Revoke an issued record: its code then says it is no longer valid."""
    record = get_record_or_404(record_id)
    if record.revoked_at is None:
        record.revoked_at = utcnow()
        audit.record("revoke_record", current_user, subject=record.treatment.client_id,
                     obj=record)
        db.session.commit()
    flash(_("Record %(code)s revoked: checking its code now says so.",
            code=grouped(record.code)))
    return redirect_to(url_for("treatments.show", treatment_id=record.treatment_id,
                               _anchor="records"))


@bp.route("/verify")
def lookup():
    """Ask for a code from a printed record, and go to what it says."""
    code = normalised(request.args.get("code", ""))
    if code:
        return redirect_to(url_for("records.verify", code=code))
    return render("records/verify.html", record=None, code="")


@bp.route("/verify/<code>")
def verify(code: str):
    """Show anyone holding a code the record's date, practice, treatment date and PDF hash."""
    record = db.session.scalar(sa.select(Record).where(Record.code == normalised(code)))
    if record is None:
        return render("records/verify.html", status=404, record=None, code=code)
    treatment = record.treatment
    practice = treatment.therapist.practice_name if treatment.therapist else None
    return render("records/verify.html", record=record, code=record.code, practice=practice,
                  treated_at=treatment.treated_at)
