"""Treatment-mark records: a dated PDF of one treatment's marks that anyone holding it can check.

Each download issues a record: a PDF (WeasyPrint, from ``templates/records/record.html``)
with the treatment's facts, each day's photo with the followed marks outlined, the numbers of
each day, the fade chart and the verdict, and a verification code with its QR code. The
SHA-256 of the PDF is kept under the code, so ``/verify/<code>`` tells a reader of a printed or
forwarded copy whether it is genuine, showing nothing about the person. A record can be revoked.
"""
import base64
import hashlib
import re
import secrets

import qrcode
import qrcode.image.svg
import sqlalchemy as sa
import weasyprint
from PIL import ImageFile
from flask import (Blueprint, Response, abort, flash, render_template, request, url_for)
from flask_babel import gettext as _, lazy_gettext as _l
from flask_login import current_user, login_required

from webapp import audit, timeline
from webapp.access import can_see_client, get_treatment_or_404
from webapp.extensions import db
from webapp.models import CheckIn, Record, Treatment, utcnow
from webapp.pages import redirect_to, render
from webapp.analysis import PhotoReading
from webapp.recovery import Recovery, photo_reading, recoveries
from webapp.storage import PhotoMissing, get_store

bp = Blueprint("records", __name__)

# importing weasyprint (its images module) turns on Pillow's loading of truncated images for
# the whole process; the intake must refuse a truncated upload (webapp.analysis.photo), and a
# record only embeds whole stored JPEGs, so Pillow's default is put back
ImageFile.LOAD_TRUNCATED_IMAGES = False

# letters and digits that cannot be misread on paper (no 0/O, 1/I/L, U/V pairs)
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTWXYZ23456789"
# 29^16 ≈ 2^77 codes: a code cannot be guessed, so knowing one is the right to check it
CODE_LENGTH = 16
# the measured colour's name (webapp.analysis.colour) in words
COLOUR_LABELS = {
    "red": _l("red"), "violet-red": _l("violet-red"), "violet": _l("violet"),
    "violet-blue": _l("violet-blue"), "blue": _l("blue"), "green": _l("green"),
    "yellow": _l("yellow"), "brown": _l("brown"), "none": _l("like the skin"),
}


def new_code() -> str:
    """Return a fresh verification code."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalised(code: str) -> str:
    """Return a code as stored: capitals, without the dashes and spaces people type."""
    return re.sub(r"[^A-Z0-9]", "", code.upper())


@bp.app_template_filter("record_code")
def grouped(code: str) -> str:
    """Write a code in groups of four, the way it is printed."""
    return "-".join(code[i:i + 4] for i in range(0, len(code), 4))


def qr_image(text: str) -> str:
    """Return a QR code of the text as an SVG data URI."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, border=2)
    return "data:image/svg+xml;base64," + base64.b64encode(image.to_string()).decode()


def photo_uris(recovery: Recovery) -> dict[int, str]:
    """Return each shown day's photo (the display copy) as a data URI, by check-in id."""
    keys = db.session.execute(sa.select(CheckIn.id, CheckIn.photo_key).where(
        CheckIn.id.in_([c.id for c in recovery.days]))).all()
    store, found = get_store(), {}
    for checkin_id, key in keys:
        try:
            data = store.get(key)
        except PhotoMissing:
            continue  # the day is listed with its numbers and says the photo is missing
        found[checkin_id] = "data:image/jpeg;base64," + base64.b64encode(data).decode()
    return found


def measured(recovery: Recovery) -> dict[int, PhotoReading]:
    """Return each shown day's whole reading (colour name, analyzer version), by check-in id."""
    return {c.id: photo_reading(c.reading.stored) for c in recovery.days if c.reading is not None}


def render_pdf(treatment: Treatment, code: str, issued_at) -> bytes:
    """Render a treatment's record as PDF bytes, carrying the verification code."""
    recovery = recoveries([treatment])[0]
    view = timeline.build(recovery, utcnow())
    verify_url = url_for("records.verify", code=code, _external=True)
    readings = measured(recovery)
    html = render_template(
        "records/record.html", treatment=treatment, timeline=view, code=code,
        issued_at=issued_at, photos=photo_uris(recovery), verify_url=verify_url,
        qr=qr_image(verify_url), readings=readings, colours=COLOUR_LABELS,
        versions=sorted({r.analyzer_version for r in readings.values()}))
    # the template embeds everything as data: URIs; nothing else is ever fetched
    fetcher = weasyprint.URLFetcher(allowed_protocols=["data"])
    return weasyprint.HTML(string=html, url_fetcher=fetcher).write_pdf()


def get_record_or_404(record_id: int) -> Record:
    """Return a record of a treatment the signed-in person may see, or answer 404."""
    record = db.session.get(Record, record_id)
    if record is None or not can_see_client(current_user, record.treatment.client_id):
        abort(404)
    return record


@bp.app_template_global()
def issued_records(treatment: Treatment) -> list[Record]:
    """Return the records issued for a treatment, newest first (for its page)."""
    return db.session.scalars(sa.select(Record).where(Record.treatment_id == treatment.id)
                              .order_by(Record.issued_at.desc(), Record.id.desc())).all()


@bp.route("/treatments/<int:treatment_id>/record.pdf")
@login_required
def download(treatment_id: int):
    """Issue and send a treatment's record (PDF) to its client or their linked therapist."""
    treatment = get_treatment_or_404(treatment_id)
    issued_at = utcnow()
    code = new_code()
    pdf = render_pdf(treatment, code, issued_at)
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
