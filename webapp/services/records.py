"""Treatment-mark records: a dated PDF of one treatment's marks that anyone holding it can check.

Each download issues a record: a PDF (WeasyPrint, from ``templates/records/record.html``)
with the treatment's facts, each day's photo with the followed marks outlined, the numbers of
each day, the pain and symptoms reported each day and the flags raised (with the reason the
client's therapist read), the fade chart and the verdict, and a verification code with its QR
code. The
SHA-256 of the PDF is kept under the code, so ``/verify/<code>`` tells a reader of a printed or
forwarded copy whether it is genuine, showing nothing about the person. A record can be revoked.
"""
import base64
import re
import secrets

import qrcode
import qrcode.image.svg
import sqlalchemy as sa
import weasyprint
from flask import render_template, url_for
from flask_babel import lazy_gettext as _l

from webapp.analysis import PhotoReading
from webapp import clock
from webapp.extensions import db
from webapp.models import CheckIn, Flag, Treatment, utcnow
from webapp.services import timeline
from webapp.services.reasons import said
from webapp.services.recovery import Recovery, recoveries
from webapp.services.storage import PhotoMissing, get_store

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
    return {c.id: recovery.photo_readings[c.id] for c in recovery.days
            if c.id in recovery.photo_readings}


def flags_by_day(treatment: Treatment) -> dict[int, list[tuple[Flag, str]]]:
    """Return the treatment's flags by the day they were raised ("day N" on the client's
    calendar, as the rows are), oldest first, each with its reason in the reader's language
    (reasons.said: the words the therapist's pages show)."""
    found: dict[int, list[tuple[Flag, str]]] = {}
    for flag in db.session.scalars(sa.select(Flag).where(Flag.treatment_id == treatment.id)
                                   .order_by(Flag.raised_at, Flag.id)):
        day = clock.day_number(treatment.treated_at, flag.raised_at, treatment.client.timezone)
        found.setdefault(day, []).append((flag, said(flag.reason_data, flag.reason)))
    return found


def render_pdf(treatment: Treatment, code: str, issued_at, with_photos: bool) -> bytes:
    """Render a treatment's record as PDF bytes, carrying the verification code; the daily
    photos only ``with_photos`` (a therapist's copy when the client withdrew consent has none)."""
    recovery = recoveries([treatment])[0]
    view = timeline.build(recovery, utcnow())
    verify_url = url_for("records.verify", code=code, _external=True)
    readings = measured(recovery)
    raised = flags_by_day(treatment)
    photo_days = {row.day for row in view.photo_rows}
    html = render_template(
        "records/record.html", treatment=treatment, timeline=view, code=code,
        issued_at=issued_at, photos=photo_uris(recovery) if with_photos else {},
        with_photos=with_photos, verify_url=verify_url,
        qr=qr_image(verify_url), readings=readings, colours=COLOUR_LABELS,
        versions=sorted({r.analyzer_version for r in readings.values()}), flags=raised,
        other_flag_days=sorted(day for day in raised if day not in photo_days))
    # the template embeds everything as data: URIs; nothing else is ever fetched
    fetcher = weasyprint.URLFetcher(allowed_protocols=["data"])
    return weasyprint.HTML(string=html, url_fetcher=fetcher).write_pdf()
