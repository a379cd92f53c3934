"""Every database model of Cupmark, typed with SQLAlchemy 2 Mapped[] columns."""
from __future__ import annotations

import datetime as dt
import secrets
from typing import Any, Optional

import sqlalchemy as sa
import sqlalchemy.orm as so
from flask_login import UserMixin
from werkzeug.security import check_password_hash, generate_password_hash

from webapp import clock
from webapp.analysis.course import DEFAULT_EXPECTED_DAYS
from webapp.extensions import db

# werkzeug's scrypt with N=2^17, r=8, p=1: the work factor the foundation issue asks for
PASSWORD_METHOD = "scrypt:131072:8:1"

ROLES = ("client", "therapist")
BODY_AREAS = ("neck_shoulders", "upper_back", "lower_back", "chest", "abdomen", "arms",
              "thighs", "calves", "other")
TECHNIQUES = ("static", "dynamic", "honey", "anti_cellulite", "other")
CUP_MATERIALS = ("glass", "silicone", "plastic", "bamboo", "other")
SUCTIONS = ("light", "medium", "strong")
RISK_FACTORS = ("blood_thinners", "steroids", "bruises_easily", "over_65")
FLAG_KINDS = ("slow_healing", "worsening", "red_flag_symptom", "missed_checkins",
              "pigmentation")



def utcnow() -> dt.datetime:
    """Return the current time as an aware UTC datetime (the app's clock, see webapp.clock)."""
    return clock.now()


def select_rows(statement: sa.Select, params: dict) -> sa.CursorResult:
    """Run a select of columns on the session's connection: plain rows, no ORM objects."""
    # lists that show a few columns of many rows skip the ORM's execution of a statement (its
    # context and loading cost a fifth of such a query); that execution would flush first, and
    # a check-in is judged right after it was added, so the flush is done here
    db.session.flush()
    return db.session.connection().execute(statement, params)


class UTCDateTime(sa.types.TypeDecorator):
    """A timestamp stored as naive UTC and always read back as aware UTC."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        """Convert an aware datetime to naive UTC for storage."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous: pass an aware one")
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        """Mark a stored naive UTC datetime as UTC."""
        return None if value is None else value.replace(tzinfo=dt.timezone.utc)


def render_migration_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Write our column types into migrations as the plain SQLAlchemy types they store."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        # migrations must not import the app's models: they outlive them
        return "sa.DateTime()"
    return False


class User(UserMixin, db.Model):
    """A client or a therapist who signs in with an email and a password."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    email: so.Mapped[str] = so.mapped_column(sa.String(254), unique=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(120))
    password_hash: so.Mapped[str] = so.mapped_column(sa.String(256))
    role: so.Mapped[str] = so.mapped_column(sa.String(16))
    practice_name: so.Mapped[Optional[str]] = so.mapped_column(sa.String(120))
    timezone: so.Mapped[str] = so.mapped_column(sa.String(64), default="UTC")
    # the language chosen in settings (a code of LANGUAGES); none follows the browser's
    language: so.Mapped[Optional[str]] = so.mapped_column(sa.String(8))
    # set when the person opened the link we emailed: a therapist invites only after it
    email_verified_at: so.Mapped[Optional[dt.datetime]] = so.mapped_column(UTCDateTime)
    created_at: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    # the token of the device session this object was loaded for (not stored: see get_id)
    session_token = None

    def set_password(self, password: str) -> None:
        """Store a salted scrypt hash of the password."""
        self.password_hash = generate_password_hash(password, method=PASSWORD_METHOD)

    def check_password(self, password: str) -> bool:
        """Tell whether the password matches the stored hash."""
        return check_password_hash(self.password_hash, password)

    def get_id(self) -> str | None:
        """Return the token of this sign-in's device session: Flask-Login keeps it in the cookie."""
        # Flask-Login's "alternative tokens": the cookie names a device session, not the user,
        # so that one device can be signed out and a password change can end all the others
        return self.session_token

    @property
    def is_therapist(self) -> bool:
        """Tell whether the user is a therapist."""
        return self.role == "therapist"

    @property
    def is_client(self) -> bool:
        """Tell whether the user is a client."""
        return self.role == "client"


class UserSession(db.Model):
    """One device's sign-in: it lasts while it is used, within an absolute limit."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"),
                                               index=True)
    # a SHA-256 of the token in the cookie: a copy of the database signs nobody in
    token_hash: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True)
    user_agent: so.Mapped[str] = so.mapped_column(sa.String(300), default="")
    created_at: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    # joined: every signed-in request loads the session with its user, this saves a query
    user: so.Mapped[User] = so.relationship(lazy="joined")

# an invite code is read aloud or typed from a message: capitals and digits that cannot be
# mistaken for one another (no 0/O, 1/I/L); 10 of these 31 are ~50 bits, for a code that works
# once and only for a week
INVITE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
INVITE_CODE_LENGTH = 10


def new_invite_code() -> str:
    """Return a fresh random invite code that is easy to type."""
    return "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_CODE_LENGTH))


class Invite(db.Model):
    """A single-use code with which a therapist invites a client to link."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    code: so.Mapped[str] = so.mapped_column(sa.String(64), unique=True, default=new_invite_code)
    # who the therapist meant it for: only the therapist sees it, to tell open invites apart
    name: so.Mapped[Optional[str]] = so.mapped_column(sa.String(120))
    therapist_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"),
                                                    index=True)
    created_at: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    expires_at: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime)
    used_at: so.Mapped[Optional[dt.datetime]] = so.mapped_column(UTCDateTime)
    used_by_id: so.Mapped[Optional[int]] = so.mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL"))
    revoked_at: so.Mapped[Optional[dt.datetime]] = so.mapped_column(UTCDateTime)

    therapist: so.Mapped[User] = so.relationship(foreign_keys=[therapist_id])

    def is_usable(self, now: dt.datetime) -> bool:
        """Tell whether the invite can still be accepted at the given time."""
        return self.used_at is None and self.revoked_at is None and now < self.expires_at


class CareLink(db.Model):
    """A therapist linked to a client: the therapist may see the client's data."""

    __table_args__ = (sa.UniqueConstraint("therapist_id", "client_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    therapist_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"),
                                                    index=True)
    client_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"),
                                                 index=True)
    created_at: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    # joined: the links page always shows the other person's name, this saves a query per row
    therapist: so.Mapped[User] = so.relationship(foreign_keys=[therapist_id], lazy="joined")
    client: so.Mapped[User] = so.relationship(foreign_keys=[client_id], lazy="joined")


class Consent(db.Model):
    """A client's consent to storing photos of their skin, given and maybe withdrawn."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"),
                                               index=True)
    version: so.Mapped[str] = so.mapped_column(sa.String(16))
    given_at: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    withdrawn_at: so.Mapped[Optional[dt.datetime]] = so.mapped_column(UTCDateTime)


class Treatment(db.Model):
    """One cupping session whose marks the client follows until they fade."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    client_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"),
                                                 index=True)
    therapist_id: so.Mapped[Optional[int]] = so.mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL"), index=True)
    recorded_by_id: so.Mapped[Optional[int]] = so.mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL"))
    treated_at: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime)
    body_area: so.Mapped[str] = so.mapped_column(sa.String(32))
    technique: so.Mapped[str] = so.mapped_column(sa.String(32))
    cup_count: so.Mapped[int]
    cup_material: so.Mapped[str] = so.mapped_column(sa.String(32))
    suction: so.Mapped[str] = so.mapped_column(sa.String(16))
    notes: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    risk_factors: so.Mapped[list[str]] = so.mapped_column(sa.JSON, default=list)
    # set from the treatment's facts by webapp.recovery.expected_days_for
    expected_days: so.Mapped[int] = so.mapped_column(default=int(DEFAULT_EXPECTED_DAYS))
    created_at: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    client: so.Mapped[User] = so.relationship(foreign_keys=[client_id])
    therapist: so.Mapped[Optional[User]] = so.relationship(foreign_keys=[therapist_id])


class CheckIn(db.Model):
    """A client's daily photo of a treatment's marks, with symptoms and a reading."""

    # the index: today's upload quota and the therapist's "since yesterday" count a client's
    # check-ins created since a time
    __table_args__ = (sa.UniqueConstraint("client_id", "idempotency_key"),
                      sa.Index("ix_check_in_client_created", "client_id", "created_at"))

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    treatment_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("treatment.id", ondelete="CASCADE"), index=True)
    client_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"),
                                                 index=True)
    idempotency_key: so.Mapped[str] = so.mapped_column(sa.String(64))
    # sha256 of the uploaded bytes: the same key with other bytes is a client error
    upload_sha256: so.Mapped[str] = so.mapped_column(sa.String(64))
    taken_at: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime, index=True)
    created_at: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    pain: so.Mapped[int] = so.mapped_column(default=0)
    blisters: so.Mapped[bool] = so.mapped_column(default=False)
    fever: so.Mapped[bool] = so.mapped_column(default=False)
    note: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    photo_key: so.Mapped[str] = so.mapped_column(sa.String(128))
    thumb_key: so.Mapped[str] = so.mapped_column(sa.String(128))
    photo_width: so.Mapped[int] = so.mapped_column(default=0)
    photo_height: so.Mapped[int] = so.mapped_column(default=0)
    # when the client (or their therapist) confirmed where the followed marks are in this photo;
    # None: the marks shown are the server's guess (proposals, or points carried over)
    marks_confirmed_at: so.Mapped[Optional[dt.datetime]] = so.mapped_column(UTCDateTime)

    treatment: so.Mapped[Treatment] = so.relationship()
    # joined: every place that shows a check-in shows its reading, this saves a query each
    reading: so.Mapped[Optional["Reading"]] = so.relationship(
        back_populates="checkin", lazy="joined", cascade="all, delete-orphan",
        passive_deletes=True)

    @property
    def has_red_flag_symptom(self) -> bool:
        """Tell whether the client reported blisters, broken skin or fever."""
        return self.blisters or self.fever


class Reading(db.Model):
    """The colour analysis of one check-in's photo, kept with the analyzer version."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    checkin_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("check_in.id", ondelete="CASCADE"), unique=True)
    analyzer_version: so.Mapped[str] = so.mapped_column(sa.String(32))
    ok: so.Mapped[bool]
    stage: so.Mapped[Optional[str]] = so.mapped_column(sa.String(16))
    colour: so.Mapped[Optional[str]] = so.mapped_column(sa.String(16))
    delta_e: so.Mapped[Optional[float]]
    mark_hex: so.Mapped[Optional[str]] = so.mapped_column(sa.String(7))
    # the analyzer's whole to_dict(): rebuilt with PhotoReading.from_dict for course rules
    data: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON)

    checkin: so.Mapped[CheckIn] = so.relationship(back_populates="reading")


# who put a followed mark's point where it is in a photo
POINT_SOURCES = ("client", "therapist", "carried")


class Mark(db.Model):
    """One of a treatment's followed marks: its number and where it was first pointed at."""

    __table_args__ = (sa.UniqueConstraint("treatment_id", "number"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    treatment_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("treatment.id", ondelete="CASCADE"), index=True)
    number: so.Mapped[int]
    # the first point, as fractions of the upright photo's width and height
    x: so.Mapped[float]
    y: so.Mapped[float]
    created_at: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    # when a person stopped following it (the audit's time); which photos it is followed on is
    # followed_from and followed_until
    removed_at: so.Mapped[Optional[dt.datetime]] = so.mapped_column(UTCDateTime)
    # the photos it is followed on, by their taken_at: from the photo it was added on (None: a
    # mark of the first confirmed photo, followed on every photo before it as well) up to, not
    # including, the photo it was stopped on (None: still followed). Earlier days keep it
    followed_from: so.Mapped[Optional[dt.datetime]] = so.mapped_column(UTCDateTime)
    followed_until: so.Mapped[Optional[dt.datetime]] = so.mapped_column(UTCDateTime)

    treatment: so.Mapped[Treatment] = so.relationship()

    @property
    def active(self) -> bool:
        """Tell whether the mark is still followed (on the next photo taken)."""
        return self.followed_until is None

    @classmethod
    def followed_at(cls, taken_at: Any) -> sa.ColumnElement[bool]:
        """Return the condition that the mark is followed on a photo taken at ``taken_at`` (an
        aware datetime, or a column such as CheckIn.taken_at)."""
        return sa.and_(sa.or_(cls.followed_from.is_(None), cls.followed_from <= taken_at),
                       sa.or_(cls.followed_until.is_(None), cls.followed_until > taken_at))


class MarkReading(db.Model):
    """One followed mark in one check-in's photo: the point it was measured at and its reading."""

    __table_args__ = (sa.UniqueConstraint("checkin_id", "mark_id"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    checkin_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("check_in.id", ondelete="CASCADE"), index=True)
    mark_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("mark.id", ondelete="CASCADE"),
                                               index=True)
    x: so.Mapped[float]
    y: so.Mapped[float]
    set_by: so.Mapped[str] = so.mapped_column(sa.String(16))  # one of POINT_SOURCES
    analyzer_version: so.Mapped[str] = so.mapped_column(sa.String(32))
    delta_e: so.Mapped[Optional[float]]
    stage: so.Mapped[Optional[str]] = so.mapped_column(sa.String(16))
    # the analyzer's mark_details entry measured at the point
    data: so.Mapped[dict[str, Any]] = so.mapped_column(sa.JSON)
    measured_at: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime, default=utcnow)

    # joined: a mark reading is always shown with its mark's number
    mark: so.Mapped[Mark] = so.relationship(lazy="joined")
    checkin: so.Mapped[CheckIn] = so.relationship()


class Flag(db.Model):
    """Something about a recovery that a therapist should look at, with the reason why."""

    __table_args__ = (
        # at most one open flag of each kind per treatment
        sa.Index("uq_flag_open_kind", "treatment_id", "kind", unique=True,
                 sqlite_where=sa.text("acknowledged_at IS NULL"),
                 postgresql_where=sa.text("acknowledged_at IS NULL")),
    )

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    treatment_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("treatment.id", ondelete="CASCADE"), index=True)
    kind: so.Mapped[str] = so.mapped_column(sa.String(32))
    # the reason in the practice's language, as raised; reason_data says it again in the
    # reader's (webapp.services.reasons; none on flags raised before it was kept)
    reason: so.Mapped[str] = so.mapped_column(sa.Text)
    reason_data: so.Mapped[Optional[dict[str, Any]]] = so.mapped_column(sa.JSON)
    raised_at: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    acknowledged_by_id: so.Mapped[Optional[int]] = so.mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL"))
    acknowledged_at: so.Mapped[Optional[dt.datetime]] = so.mapped_column(UTCDateTime)
    note: so.Mapped[str] = so.mapped_column(sa.Text, default="")

    treatment: so.Mapped[Treatment] = so.relationship()


class RecoverySummary(db.Model):
    """A treatment's latest course assessment, kept so the triage list reads no check-ins."""

    treatment_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("treatment.id", ondelete="CASCADE"), primary_key=True)
    verdict: so.Mapped[str] = so.mapped_column(sa.String(24))
    # as a flag's: the words in the practice's language, and the reason by key for any reader
    reason: so.Mapped[str] = so.mapped_column(sa.Text, default="")
    reason_data: so.Mapped[Optional[dict[str, Any]]] = so.mapped_column(sa.JSON)
    # latest ΔE00 over the expected ceiling U(t): how far behind the curve, for ranking
    ceiling_ratio: so.Mapped[Optional[float]]
    checkin_id: so.Mapped[Optional[int]] = so.mapped_column(
        sa.ForeignKey("check_in.id", ondelete="SET NULL"))
    last_checkin_at: so.Mapped[Optional[dt.datetime]] = so.mapped_column(UTCDateTime)
    # the latest check-in reported blisters, broken skin or fever
    red_flag: so.Mapped[bool] = so.mapped_column(default=False)
    resolved_at: so.Mapped[Optional[dt.datetime]] = so.mapped_column(UTCDateTime, index=True)
    assessed_at: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime, default=utcnow)


class Message(db.Model):
    """One message between a client and a therapist about one of the client's treatments."""

    # the index: a thread is read in order, and the unread counts look at the newest messages
    __table_args__ = (sa.Index("ix_message_treatment_created", "treatment_id", "created_at"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    treatment_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("treatment.id", ondelete="CASCADE"))
    # the therapist of the conversation, who may read it while linked to the client
    therapist_id: so.Mapped[Optional[int]] = so.mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL"), index=True)
    # who wrote it: the client, or the therapist (a deleted therapist's messages stay the client's)
    from_client: so.Mapped[bool]
    body: so.Mapped[str] = so.mapped_column(sa.Text)
    # set when the message is a therapist's note on a flag
    flag_id: so.Mapped[Optional[int]] = so.mapped_column(
        sa.ForeignKey("flag.id", ondelete="SET NULL"))
    created_at: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    # when the other person first saw it
    read_at: so.Mapped[Optional[dt.datetime]] = so.mapped_column(UTCDateTime)

    # joined: every message is shown with the therapist's name
    therapist: so.Mapped[Optional[User]] = so.relationship(lazy="joined")
    treatment: so.Mapped[Treatment] = so.relationship()
    flag: so.Mapped[Optional["Flag"]] = so.relationship()


class Record(db.Model):
    """An issued treatment-mark record (a PDF): its verification code and the hash of its bytes."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    treatment_id: so.Mapped[int] = so.mapped_column(
        sa.ForeignKey("treatment.id", ondelete="CASCADE"), index=True)
    code: so.Mapped[str] = so.mapped_column(sa.String(32), unique=True)
    sha256: so.Mapped[str] = so.mapped_column(sa.String(64))
    issued_by_id: so.Mapped[Optional[int]] = so.mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL"))
    issued_at: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    revoked_at: so.Mapped[Optional[dt.datetime]] = so.mapped_column(UTCDateTime)

    treatment: so.Mapped[Treatment] = so.relationship()


class Note(db.Model):
    """A therapist's private note about a linked client."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    therapist_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"),
                                                    index=True)
    client_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"),
                                                 index=True)
    body: so.Mapped[str] = so.mapped_column(sa.Text)
    created_at: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime, default=utcnow)


class ReminderSetting(db.Model):
    """When a client wants the daily reminder, in their own zone's wall-clock minutes."""

    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"),
                                               primary_key=True)
    enabled: so.Mapped[bool] = so.mapped_column(default=True)
    # minutes after local midnight: a wall-clock time, so it stays put across DST
    remind_at: so.Mapped[int] = so.mapped_column(default=18 * 60)
    # no reminder from quiet_start until quiet_end (across midnight when start > end)
    quiet_start: so.Mapped[int] = so.mapped_column(default=21 * 60)
    quiet_end: so.Mapped[int] = so.mapped_column(default=8 * 60)
    # email the reminder when no device of theirs takes a push
    email: so.Mapped[bool] = so.mapped_column(default=True)
    updated_at: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime, default=utcnow)


class PushSubscription(db.Model):
    """One browser's Web Push subscription: where to send, and the keys to encrypt for it."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"),
                                               index=True)
    # push services' URLs run to a few hundred characters; one browser, one row
    endpoint: so.Mapped[str] = so.mapped_column(sa.String(2048), unique=True)
    p256dh: so.Mapped[str] = so.mapped_column(sa.String(200))
    auth: so.Mapped[str] = so.mapped_column(sa.String(100))
    created_at: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime, default=utcnow)
    last_sent_at: so.Mapped[Optional[dt.datetime]] = so.mapped_column(UTCDateTime)


class ReminderSent(db.Model):
    """The reminder of one client's local day: written before sending, so it goes at most once."""

    # also the index for a client's rows: user_id leads it
    __table_args__ = (sa.UniqueConstraint("user_id", "day"),)

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    user_id: so.Mapped[int] = so.mapped_column(sa.ForeignKey("user.id", ondelete="CASCADE"))
    day: so.Mapped[dt.date]
    # "push", "email", or "none" (no device took it and no email was wanted or possible)
    channel: so.Mapped[str] = so.mapped_column(sa.String(16))
    sent_at: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime, default=utcnow)


class AuditEvent(db.Model):
    """An append-only record of who did what to whose data, and when."""

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    actor_id: so.Mapped[Optional[int]] = so.mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL"), index=True)
    action: so.Mapped[str] = so.mapped_column(sa.String(64))
    # whose data the event is about: lets a client see who looked at their data
    subject_id: so.Mapped[Optional[int]] = so.mapped_column(
        sa.ForeignKey("user.id", ondelete="SET NULL"), index=True)
    object_type: so.Mapped[Optional[str]] = so.mapped_column(sa.String(32))
    object_id: so.Mapped[Optional[int]]
    at: so.Mapped[dt.datetime] = so.mapped_column(UTCDateTime, default=utcnow, index=True)
    # what changed, when the action alone does not say (e.g. a mark's old and new point)
    detail: so.Mapped[Optional[dict[str, Any]]] = so.mapped_column(sa.JSON)


@sa.event.listens_for(so.Session, "before_flush")
def _refuse_audit_changes(session: so.Session, flush_context: Any, instances: Any) -> None:
    """Refuse to update or delete audit events: the audit log is append-only."""
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent):
            raise ValueError("audit events are append-only")


# SQLite gives a deleted row's id to the next row unless the table says AUTOINCREMENT; an id
# names a photo in a saved link and an object in the audit log, so none is ever given twice
# (PostgreSQL's sequences never re-use one; migration 0012 rebuilds existing SQLite tables)
for _table in db.metadata.tables.values():
    _table.dialect_kwargs["sqlite_autoincrement"] = True
