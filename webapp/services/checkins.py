"""The daily check-in: a client sends today's photo of a treatment's marks and three answers.

``record_checkin`` stores one (the views, the demo data and the tests call it): the quota, the
calendar day, the idempotency key and consent are checked here, and a refusal carries its code,
its message and the HTTP status a view answers with.
"""
from __future__ import annotations

import datetime as dt
import re

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from webapp import clock
from webapp.analysis import PhotoRefused
from webapp.extensions import db
from webapp.models import CheckIn, Reading, Treatment, User, utcnow
from webapp.services import audit, flags, intake, marks
from webapp.services.consent import current_consent
from webapp.services.dates import (DATE_PATTERN, DATETIME_PATTERN, YEAR_DATETIME_PATTERN,
                                   formatter)
from webapp.services.storage import discard, get_store, new_key

# what a client may send as an idempotency key: a uuid, or any similar opaque token
KEY_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{8,64}$")
# a phone's clock may run a little ahead of the server's
CLOCK_SKEW = dt.timedelta(minutes=2)
# the largest offset between a phone's clock and the server's that a time the phone filled in
# is corrected by: further off, the phone's clock (or the value sent) is nonsense, and the
# time is judged as sent
PHONE_CLOCK_MAX_OFFSET = dt.timedelta(days=1)
NOTE_MAX = 2000
STATUS = {"too_large": 413, "over_quota": 429, "no_consent": 403, "not_found": 404,
          "key_elsewhere": 409}


class CheckInRefused(Exception):
    """A check-in that was not stored, with a code, a friendly message and an HTTP status."""

    def __init__(self, code: str, message: str):
        """Keep the code, the message and the status the code calls for."""
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = STATUS.get(code, 422)


def refusal(code: str, **values) -> CheckInRefused:
    """Build the refusal for a code, with its message (and its values) in the user's language."""
    config = current_app.config
    messages = {
        "empty": _("The file is empty. Please choose the photo again."),
        "not_an_image": _("This file is not a photo we can read. "
                          "Please send a JPEG, PNG, WebP or HEIC photo."),
        "unsupported_format": _("Only JPEG, PNG, WebP and HEIC photos are accepted, "
                                "and this file is another format."),
        "too_large": _("That file is too large. Photos up to %(mb)d MB are accepted.",
                       mb=config["MAX_CONTENT_LENGTH"] // (1024 * 1024)),
        "too_many_pixels": _("This picture has too many pixels to process (the limit is "
                             "%(mp)d megapixels). Please send an ordinary phone photo.",
                             mp=config["PHOTO_MAX_PIXELS"] // 1_000_000),
        "truncated": _("The photo seems damaged or incomplete. Please take or send it again."),
        "no_skin": _("We could not find skin in this photo. Photograph the marked skin itself, "
                     "close up, in good light, with the marks in the middle."),
        "no_consent": _("Please give your consent to storing photos before you upload one."),
        "over_quota": _("You have reached today's limit of %(n)d uploads. "
                        "Please try again tomorrow.", n=config["UPLOADS_PER_DAY"]),
        "key_reused": _("This upload was already sent with a different photo. "
                        "Please reload the form and send it again."),
        "key_elsewhere": _("This upload key was already used for a check-in of another "
                           "treatment. Please reload the form and send it again."),
        "bad_key": _("This form is missing its upload key. Please reload it and send it again."),
        "future": _("The photo cannot be taken later than now: %(when)s is in the future. "
                    "Please check the time, or leave it empty to use the time of sending."),
        "before_treatment": _("The photo cannot be taken before the treatment: %(when)s is "
                              "before the session on %(treated)s."),
        "not_today": _("Only a photo taken today can be sent: %(when)s is not today "
                       "(%(today)s). Leave the time empty to use the time of sending."),
        "invalid": _("Please check the answers marked below."),
        "not_found": _("There is nothing here, or it is not yours to see."),
    }
    # the times a message names are put in once it is chosen: only some codes have them
    return CheckInRefused(code, messages[code] % values if values else messages[code])


def replay(treatment: Treatment, idempotency_key: str, upload_sha256: str) -> CheckIn | None:
    """Return the check-in already stored under this key for this treatment.

    Keys are unique per client (the offline queue sends one item, to one treatment, under
    its key): the key of another treatment's check-in, or the same key with other bytes, is
    refused, never answered with that other check-in.
    """
    existing = db.session.scalar(sa.select(CheckIn).where(
        CheckIn.client_id == treatment.client_id, CheckIn.idempotency_key == idempotency_key))
    if existing is not None and existing.treatment_id != treatment.id:
        raise refusal("key_elsewhere")
    if existing is not None and existing.upload_sha256 != upload_sha256:
        raise refusal("key_reused")
    return existing


def uploads_today(client: User) -> int:
    """Count the client's uploads since midnight in their own time zone."""
    today = clock.utc_to_local(utcnow(), client.timezone).date()
    midnight = clock.local_to_utc(dt.datetime.combine(today, dt.time()), client.timezone)
    return db.session.scalar(sa.select(sa.func.count(CheckIn.id)).where(
        CheckIn.client_id == client.id, CheckIn.created_at >= midnight))


def within_quota(client: User) -> bool:
    """Tell whether today's uploads, the one just flushed included, fit the daily quota.

    Called inside the transaction that stores the check-in, after its row is flushed:
    parallel uploads of one client take turns here, so no two of them both see room for one.
    """
    # SQLite: the flushed insert holds the database's one write lock until commit.
    # PostgreSQL: the client's row stays locked until commit, and the count that follows
    # (a fresh snapshot per statement) sees every upload that held the lock before. NO KEY
    # UPDATE: the insert's foreign key already holds a KEY SHARE lock on the row, which a
    # plain FOR UPDATE would wait on in the other uploads (a deadlock)
    db.session.execute(sa.select(User.id).where(User.id == client.id)
                       .with_for_update(key_share=True))
    return uploads_today(client) <= current_app.config["UPLOADS_PER_DAY"]


def phone_time_corrected(taken_at: dt.datetime, phone_now: dt.datetime | None,
                         now: dt.datetime) -> dt.datetime:
    """Move a photo time the phone's clock filled in by that clock's offset from the server's.

    ``phone_now`` is the phone's clock at the moment the check-in was sent (the offline queue
    sets it when it actually sends, not when it queued), ``now`` the server's on receipt, both
    aware: a phone 5 minutes fast that stamped 18:05 sent at its 18:05 means 18:00. The
    transit time is ignored (it makes the photo seconds earlier, never later). Without
    ``phone_now``, or with an offset over PHONE_CLOCK_MAX_OFFSET, the time stays as sent. This
    is for a time the page filled in only: a time the person typed is what they meant.
    """
    if phone_now is None:
        return taken_at
    offset = now - phone_now
    return taken_at + offset if abs(offset) <= PHONE_CLOCK_MAX_OFFSET else taken_at


def check_taken_at(client: User, treatment: Treatment, taken_at: dt.datetime, *,
                   any_day: bool = False) -> None:
    """Refuse a photo time in the future, before the treatment, or (unless any_day) not today.

    Today is the client's calendar date in their own zone. Raises CheckInRefused, whose message
    names the time and why it is refused.
    """
    if taken_at.tzinfo is None:
        raise ValueError("taken_at must be an aware datetime")
    now, zone = utcnow(), client.timezone

    def when(value: dt.datetime) -> str:
        """Write a time as the refusal names it, in the client's zone (with a year not this)."""
        return formatter(DATETIME_PATTERN, zone, other_year=YEAR_DATETIME_PATTERN)(value)

    if taken_at > now + CLOCK_SKEW:
        raise refusal("future", when=when(taken_at))
    if taken_at < treatment.treated_at:
        raise refusal("before_treatment", when=when(taken_at), treated=when(treatment.treated_at))
    if not any_day and clock.local_date(taken_at, zone) != clock.local_date(now, zone):
        raise refusal("not_today", when=when(taken_at),
                      today=formatter(DATE_PATTERN, zone)(now))


def submit_checkin(client: User, treatment: Treatment, data: bytes, *, idempotency_key: str,
                   taken_at: dt.datetime | None = None, pain: int = 0, blisters: bool = False,
                   fever: bool = False, note: str = "", any_day: bool = False,
                   phone_now: dt.datetime | None = None) -> tuple[CheckIn, bool]:
    """Store one check-in and commit; return it and whether it is new (False: a replay).

    ``taken_at`` defaults to now, the moment of sending. It must be today in the client's zone,
    unless ``any_day``: the offline queue sends a photo stamped when the client pressed send,
    which may reach the server after midnight, and demo data fills past days. ``phone_now``
    (the phone's clock when it sent, given only when the phone filled ``taken_at`` in itself)
    corrects ``taken_at`` by the phone's offset (phone_time_corrected). Bytes are
    written first, under fresh keys; then the rows, the flags and one commit. If anything
    fails the written bytes are deleted best-effort (``flask photos cleanup`` catches what a
    crash leaves), so no row ever names missing bytes. Raises CheckInRefused.
    """
    if treatment.client_id != client.id:
        raise refusal("not_found")
    if not idempotency_key or not KEY_PATTERN.match(idempotency_key):
        raise refusal("bad_key")
    now = utcnow()
    taken_at = phone_time_corrected(taken_at, phone_now, now) if taken_at else now
    check_taken_at(client, treatment, taken_at, any_day=any_day)
    if not 0 <= pain <= 10 or len(note) > NOTE_MAX:
        raise refusal("invalid")
    sha = intake.upload_hash(data)
    # a retry must find its check-in even after consent or quota changed
    existing = replay(treatment, idempotency_key, sha)
    if existing is not None:
        return existing, False
    if current_consent(client) is None:
        raise refusal("no_consent")
    config = current_app.config
    # a cheap first answer; within_quota decides for good when the check-in is stored
    if uploads_today(client) >= config["UPLOADS_PER_DAY"]:
        raise refusal("over_quota")
    # a treatment with followed marks measures them where they were in the last confirmed photo
    reference, points, reference_scale = marks.carry_reference(treatment)
    try:
        result = intake.process(data, max_pixels=config["PHOTO_MAX_PIXELS"],
                                max_bytes=config["MAX_CONTENT_LENGTH"],
                                reference=reference, points=points)
    except PhotoRefused as refused:
        raise refusal(refused.code) from refused

    store = get_store()
    keys = []
    try:
        for blob in (result.photo, result.thumb):
            key = new_key()
            # remembered before the write: a half-done write is cleaned up as well
            keys.append(key)
            store.put(key, blob)
        checkin = CheckIn(
            treatment_id=treatment.id, client_id=client.id, idempotency_key=idempotency_key,
            upload_sha256=sha, taken_at=taken_at, pain=pain, blisters=blisters, fever=fever,
            note=note, photo_key=keys[0], thumb_key=keys[1],
            photo_width=result.width, photo_height=result.height)
        reading = result.reading
        if result.carried is not None:
            reading = marks.on_scale(reading, marks.chained_scale(reference_scale,
                                                                  result.area_ratio))
            if reference is not None and not result.registered:
                # the points were copied, not found: what they read stays off the course
                # until the client places the marks (marks.measure)
                reading = marks.unmatched(reading)
            last = marks.reference_checkin(treatment.id, matched=True)
            reading = marks.against_last(reading, last)
            reading = marks.in_last_light(reading, last, marks.active_marks(treatment.id))
        checkin.reading = Reading(
            analyzer_version=reading.analyzer_version, ok=reading.ok, stage=reading.stage,
            colour=reading.colour, delta_e=reading.delta_e, mark_hex=reading.mark_hex,
            data=reading.to_dict())
        db.session.add(checkin)
        db.session.flush()
        if not within_quota(client):
            raise refusal("over_quota")
        if result.carried is not None:
            marks.record_carried(checkin, treatment)
            db.session.flush()
        flags.refresh(treatment)
        db.session.commit()
    except sa.exc.IntegrityError:
        db.session.rollback()
        discard(store, keys)
        # a parallel duplicate committed first: answer with its check-in
        winner = replay(treatment, idempotency_key, sha)
        if winner is None:
            raise
        return winner, False
    except BaseException:
        db.session.rollback()
        discard(store, keys)
        raise
    return checkin, True


def record_checkin(client: User, treatment: Treatment, data: bytes, *, idempotency_key: str,
                   taken_at: dt.datetime | None = None, pain: int = 0, blisters: bool = False,
                   fever: bool = False, note: str = "") -> CheckIn:
    """Store one check-in of any day since the treatment (or the one stored under the key)."""
    return submit_checkin(client, treatment, data, idempotency_key=idempotency_key,
                          taken_at=taken_at, pain=pain, blisters=blisters, fever=fever,
                          note=note, any_day=True)[0]


def delete_checkin(checkin: CheckIn, actor: User) -> None:
    """Delete a check-in: the row is committed away first, then its bytes are removed."""
    keys = (checkin.photo_key, checkin.thumb_key)
    treatment = checkin.treatment
    audit.record("delete_checkin", actor, subject=checkin.client_id, obj=checkin)
    db.session.delete(checkin)
    db.session.flush()
    marks.forget_unanchored(treatment, actor)
    flags.refresh(treatment)
    db.session.commit()
    discard(get_store(), keys)
