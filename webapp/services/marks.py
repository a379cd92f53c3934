"""Followed marks: the client confirms where the marks are, and each is measured there.

The first photo of a treatment shows the marks the analysis proposed; the client removes a
wrong one, taps a missed one, and "Looks right" makes them the treatment's followed marks.
Every later photo arrives with the marks carried over from the last confirmed photo (see
``services.intake``); one tap confirms them, or the client moves a point first. The therapist
may correct a point (audited). Whenever a point changes, the photo is measured again at every
point, so a check-in's reading is always that of its most visible followed mark.
"""
from __future__ import annotations

import datetime as dt
import io
import math
from dataclasses import dataclass, field, replace

import sqlalchemy as sa
from flask_babel import gettext as _
from PIL import Image

from webapp.analysis import ANALYZER_VERSION, PhotoReading, analyze_image
from webapp.analysis import quality
from webapp.analysis.analyze import DARK_SKIN_ITA, SURE_SCORE, in_light_of, summary
from webapp.analysis.colour import RESOLVED_BELOW
from webapp.analysis.course import JUMP_WITHIN_DAYS, implausible_jump
from webapp.analysis.reading import DARKER_THAN_LAST, NOT_MATCHED, UNDEREXPOSED, quality_item
from webapp.analysis.registration import WORKING_LONG_SIDE, carry_points, off_frame
from webapp.extensions import db
from webapp.models import CheckIn, Mark, MarkReading, Reading, Treatment, User, utcnow
from webapp.services import audit, flags
from webapp.services.intake import measure_carried
from webapp.services.storage import PhotoMissing, get_store


class MarksRefused(Exception):
    """A confirmation that cannot be saved, with the message the page shows."""

    def __init__(self, message: str):
        """Keep the message."""
        super().__init__(message)
        self.message = message


def active_marks(treatment_id: int) -> list[Mark]:
    """Return the treatment's marks still followed (those a new photo carries), by number."""
    return list(db.session.scalars(sa.select(Mark).where(
        Mark.treatment_id == treatment_id, Mark.followed_until.is_(None)).order_by(Mark.number)))


def marks_followed_on(checkin: CheckIn) -> list[Mark]:
    """Return the marks followed on a check-in's photo, by number: added on it or before, and not
    stopped on it or before (Mark.followed_from, Mark.followed_until)."""
    return list(db.session.scalars(sa.select(Mark).where(
        Mark.treatment_id == checkin.treatment_id, Mark.followed_at(checkin.taken_at))
        .order_by(Mark.number)))


def mark_readings(checkin_id: int) -> list[MarkReading]:
    """Return a check-in's mark readings, by mark number."""
    return list(db.session.scalars(sa.select(MarkReading).join(Mark).where(
        MarkReading.checkin_id == checkin_id).order_by(Mark.number)))


def display_image(checkin: CheckIn) -> Image.Image:
    """Open the check-in's stored display copy (our own clean sRGB JPEG)."""
    with Image.open(io.BytesIO(get_store().get(checkin.photo_key))) as image:
        return image.convert("RGB")


def reference_image(checkin: CheckIn) -> Image.Image:
    """Open the check-in's display copy as registration reads it: grey, near its working size.

    The JPEG decoder scales by 1/2, 1/4 or 1/8 and skips the colour for free (Pillow's draft),
    so a 1600 x 1200 copy arrives as an 800 x 600 grey image, all that registration looks at,
    in half the time of a full decode.
    """
    with Image.open(io.BytesIO(get_store().get(checkin.photo_key))) as image:
        scale = WORKING_LONG_SIDE / max(image.size)
        image.draft("L", (math.ceil(image.width * scale), math.ceil(image.height * scale)))
        return image.convert("L")


def reference_checkin(treatment_id: int, before: CheckIn | None = None,
                      matched: bool = False, scaled: bool = False,
                      taken_before: bool = False) -> CheckIn | None:
    """Return the treatment's latest confirmed check-in that has mark readings (not `before`);
    with ``matched``, the latest whose marks were found or placed (:func:`is_unmatched`); with
    ``scaled``, the latest of those whose scale is known (:func:`area_scale_of`); with
    ``taken_before``, the latest taken before `before`."""
    statement = (sa.select(CheckIn).where(
        CheckIn.treatment_id == treatment_id, CheckIn.marks_confirmed_at.is_not(None),
        sa.exists().where(MarkReading.checkin_id == CheckIn.id))
        .order_by(CheckIn.taken_at.desc(), CheckIn.id.desc()))
    if before is not None:
        statement = statement.where(CheckIn.id != before.id)
        if taken_before:
            statement = statement.where(CheckIn.taken_at <= before.taken_at)
    if not (matched or scaled):
        return db.session.scalar(statement.limit(1))
    # a photo of another body part, confirmed as it was shown, would be the next one's reference:
    # every photo after it would fail to match as well
    return next((c for c in db.session.scalars(statement) if not is_unmatched(c)
                 and (not scaled or area_scale_of(c) is not None)), None)


def is_unmatched(checkin: CheckIn) -> bool:
    """Tell whether a check-in's reading says its photo was not matched to the last one."""
    data = checkin.reading.data if checkin.reading is not None else None
    return any(isinstance(item, dict) and item.get("code") == NOT_MATCHED
               for item in (data or {}).get("quality") or [])


def unmatched(reading):
    """Return a PhotoReading marked as not matched to the last photo (its ``not_matched``
    quality item added), which keeps it off the course (course.UNUSABLE_QUALITY)."""
    if NOT_MATCHED in reading.quality_codes:
        return reading
    return replace(reading, quality=[*reading.quality, quality_item(NOT_MATCHED)])


def against_last(reading, reference: CheckIn | None):
    """Return a later photo's PhotoReading judged against the last confirmed photo of the same
    skin (``reference``): ``darker_than_last`` when it was taken much darker
    (quality.darker_than), and no dark-skin note when the skin read light there: the light
    differs from day to day, the person's skin does not."""
    data = reference.reading.data if reference is not None and reference.reading else {}
    if reference is None or not reading.skin_lab or not data.get("skin_lab"):
        return reading
    codes = reading.quality_codes
    drop = set()
    # a photo too dark in itself says so once (quality.underexposed), not twice
    if UNDEREXPOSED not in codes and quality.darker_than(reading.skin_lab, data["skin_lab"]):
        codes = codes | {DARKER_THAN_LAST}
        drop.add("dark_skin_low_confidence")
    if data.get("ita_deg") is not None and data["ita_deg"] >= DARK_SKIN_ITA:
        drop.add("dark_skin_low_confidence")
    kept = [item for item in reading.quality if item.get("code") not in drop]
    if DARKER_THAN_LAST in codes and DARKER_THAN_LAST not in reading.quality_codes:
        kept.append(quality_item(DARKER_THAN_LAST))
    return replace(reading, quality=kept)


def in_last_light(reading, reference: CheckIn | None, marks: list[Mark]):
    """Return a later photo's PhotoReading put into the light of the last confirmed photo of
    the same skin (``reference``, matched: :func:`reference_checkin`), whose reading is itself
    in the light of the one before it, so every photo of a treatment reads in the light of its
    first confirmed one (analyze.in_light_of: each mark by its own skin there). ``marks``: the
    followed marks the reading's mark_details are, in order. Unchanged without a reference, or
    when the reference's reading predates the body skin it is judged by (analyzer < 2.11)."""
    data = reference.reading.data if reference is not None and reference.reading else {}
    if not data.get("body_skin_lab"):
        return reading
    earlier = {r.mark_id: (r.data or {}).get("skin_lab") for r in mark_readings(reference.id)}
    return in_light_of(reading, data["body_skin_lab"], [earlier.get(m.id) for m in marks])


def reference_points(treatment_id: int, marks: list[Mark]
                     ) -> tuple[CheckIn | None, list[tuple[float, float]]]:
    """Return the photo a new one's marks are carried from, and where each mark is in it (its
    first point if absent): the last confirmed photo on the treatment's scale (registration
    matched it, its scale chained from the first photo's), else the last matched to its own
    last one or whose marks a person placed."""
    # a photo registration could not match has no scale even once the client placed its marks
    # (a 1.3x closer one, say): carried from it, the next photo, framed as usual, failed to
    # match it in turn and had no scale either, so no mark's size was judged again
    reference = (reference_checkin(treatment_id, scaled=True)
                 or reference_checkin(treatment_id, matched=True))
    found = {}
    if reference is not None:
        found = {r.mark_id: (r.x, r.y) for r in mark_readings(reference.id)}
    return reference, [found.get(m.id, (m.x, m.y)) for m in marks]


def area_scale_of(checkin: CheckIn | None) -> float | None:
    """Return a check-in's stored ``area_scale`` (PhotoReading.area_scale), None when unknown."""
    if checkin is None or checkin.reading is None:
        return None
    details = (checkin.reading.data or {}).get("mark_details") or [{}]
    scale = details[0].get("area_scale")
    return float(scale) if isinstance(scale, (int, float)) and scale > 0 else None


def chained_scale(reference_scale: float | None, area_ratio: float | None) -> float | None:
    """Return a new photo's area_scale: its reference's times the registration's area ratio
    (Registration.area_ratio), None when either is unknown."""
    if reference_scale is None or area_ratio is None:
        return None
    return reference_scale * area_ratio


def on_scale(reading, area_scale: float | None):
    """Return a PhotoReading with ``area_scale`` set on each of its mark_details.

    Not on the reading itself: its top-level fields are those of whichever followed mark is
    most visible that day, so its area is not one mark's from day to day; each mark's size is
    judged on that mark's own course (recovery.mark_courses).
    """
    return replace(reading, mark_details=[{**d, "area_scale": area_scale}
                                          for d in reading.mark_details])


def carry_reference(treatment: Treatment
                    ) -> tuple[Image.Image | None, list[tuple[float, float]], float | None]:
    """Return what a new photo's marks are carried from: the reference image, its points and
    its area_scale (None when unknown)."""
    marks = active_marks(treatment.id)
    if not marks:
        return None, [], None
    reference, points = reference_points(treatment.id, marks)
    if reference is None:
        return None, points, None
    try:
        return reference_image(reference), points, area_scale_of(reference)
    except PhotoMissing:
        # never expected (rows are committed after their bytes): the same fractions it is
        return None, points, None


def forget_unanchored(treatment: Treatment, actor: User) -> bool:
    """Stop following the treatment's marks once no confirmed photo of them is left (uncommitted).

    Their points were set on photos that are gone (deleted), so a new photo must not be
    carried over from them: the marks and their readings go, and every photo left is read
    again as a first photo, whose proposals the client confirms. Returns whether it happened.
    """
    if reference_checkin(treatment.id) is not None or db.session.scalar(
            sa.select(Mark.id).where(Mark.treatment_id == treatment.id).limit(1)) is None:
        return False
    audit.record("forget_marks", actor, subject=treatment.client_id, obj=treatment)
    # their readings go with them (on delete cascade)
    db.session.execute(sa.delete(Mark).where(Mark.treatment_id == treatment.id))
    for checkin in db.session.scalars(sa.select(CheckIn).where(
            CheckIn.treatment_id == treatment.id)):
        checkin.marks_confirmed_at = None
        try:
            store_reading(checkin, analyze_image(display_image(checkin)))
        except PhotoMissing:
            # never expected (rows are committed after their bytes): its old reading stays
            continue
    return True


def store_reading(checkin: CheckIn, reading) -> None:
    """Make a PhotoReading the check-in's reading (replacing the one it had)."""
    fields = dict(analyzer_version=reading.analyzer_version, ok=reading.ok,
                  stage=reading.stage, colour=reading.colour, delta_e=reading.delta_e,
                  mark_hex=reading.mark_hex, data=reading.to_dict())
    if checkin.reading is None:
        checkin.reading = Reading(**fields)
    else:
        for name, value in fields.items():
            setattr(checkin.reading, name, value)


def store_mark_readings(checkin: CheckIn, marks: list[Mark], reading,
                        set_by: list[str]) -> None:
    """Write one MarkReading per mark from a reading measured at the marks' points, in order."""
    existing = {r.mark_id: r for r in db.session.scalars(sa.select(MarkReading).where(
        MarkReading.checkin_id == checkin.id))}
    for mark, detail, source in zip(marks, reading.mark_details, set_by, strict=True):
        x, y = detail["point"]
        row = existing.get(mark.id)
        if row is None:
            row = MarkReading(checkin_id=checkin.id, mark=mark)
            db.session.add(row)
        elif (row.x, row.y) == (x, y) and "kept" in (row.data or {}):
            # the client's "save anyway" stays with the point it was said of
            detail = {**detail, "kept": row.data["kept"]}
        row.x, row.y, row.set_by = x, y, source
        row.analyzer_version = reading.analyzer_version
        row.delta_e, row.stage, row.data = detail["delta_e"], detail["stage"], detail
        row.measured_at = utcnow()


def measure(checkin: CheckIn, marks: list[Mark], points: list[tuple[float, float]],
            set_by: list[str], image: Image.Image | None = None,
            area_scale: float | None | bool = False, matched: bool | None = None,
            measured: PhotoReading | None = None, keep: dict[int, dict] | None = None) -> None:
    """Measure the check-in's photo at the marks' points and store every reading.

    ``keep``: the stored reading (MarkReading.data) of each mark, by id, that stays as it was:
    the marks whose point did not move (save).

    ``image``: the photo (its display copy) already opened; None opens it. ``measured``: the
    photo already measured at exactly these points, none skipped but those
    :func:`skipped_points` skips (Board.measured); None measures it here.

    ``area_scale`` (PhotoReading.area_scale) is the photo's scale; left out (False), the one
    its reading had is kept: moving a point does not change how near the photo was taken.
    ``matched`` says whether registration matched the photo to the last one; left out (None),
    what its reading said is kept. A photo not matched stays off the course while any point on
    it is still only "carried" (copied from the last photo): once a person has placed every
    mark on it, it counts.
    """
    if area_scale is False:
        area_scale = area_scale_of(checkin)
    if matched is None:
        matched = not is_unmatched(checkin)
    reading = measured or measure_carried(image if image is not None else display_image(checkin),
                                          points, skipped_points(points, set_by))
    reading = on_scale(reading, area_scale)
    if not matched and "carried" in set_by:
        reading = unmatched(reading)
    reading = against_last(reading, reference_checkin(checkin.treatment_id, before=checkin,
                                                      matched=True))
    # only into the light of an earlier photo: the first confirmed photo is the anchor, never
    # put into a later one's light
    reading = in_last_light(reading, reference_checkin(
        checkin.treatment_id, before=checkin, matched=True, taken_before=True), marks)
    reading = keeping(reading, marks, keep or {})
    store_reading(checkin, reading)
    store_mark_readings(checkin, marks, reading, set_by)


def keeping(reading: PhotoReading, marks: list[Mark], kept: dict[int, dict]) -> PhotoReading:
    """Return a reading measured at the marks' points (one mark_details entry per mark, in
    order) with the stored entry of each mark in ``kept`` (mark id -> MarkReading.data) in place
    of the one just measured, and its top-level fields those of its most visible entry again.

    A mark's entry depends on the other points (their marks are left out of its skin ring, and
    the light is matched on all the marks' skin): moving mark 1 away and back changed mark 2
    from 3.32 to 3.17 and mark 4 from 0.73 to 1.09. A mark nobody touched keeps its reading.
    Unchanged without a reading of the body's skin (nothing measured to rebuild it on).
    """
    if not kept or not reading.ok or reading.body_skin_lab is None:
        return reading
    details = [kept.get(mark.id, detail) for mark, detail in zip(marks, reading.mark_details)]
    return replace(reading, **summary(details, reading.body_skin_lab,
                                      [item["code"] for item in reading.quality]))


def skipped_points(points: list[tuple[float, float]], set_by: list[str]) -> list[bool]:
    """Say which points are not measured: a carried point that left the photo
    (registration.off_frame); a person's point always is."""
    return [off and source == "carried" for off, source in zip(off_frame(points), set_by)]


def record_carried(checkin: CheckIn, treatment: Treatment) -> None:
    """Store the mark readings of a photo measured at carried-over points (in the session)."""
    marks = active_marks(treatment.id)
    reading = checkin.reading
    details = reading.data.get("mark_details", [])
    if len(details) != len(marks):
        return
    reference = reference_checkin(treatment.id, before=checkin, matched=True)
    before = {}
    if reference is not None and abs(checkin.taken_at - reference.taken_at) <= dt.timedelta(
            days=JUMP_WITHIN_DAYS):
        before = {r.mark_id: r.delta_e for r in mark_readings(reference.id)}
    t_now = (checkin.taken_at - treatment.treated_at).total_seconds() / 86400
    for mark, detail in zip(marks, details):
        x, y = detail["point"]
        e_before = before.get(mark.id)
        if (e_before is not None and detail["delta_e"] is not None
                and implausible_jump(e_before, detail["delta_e"], t_now)):
            # counted once the client has looked at its circle (Confirm, or moved it)
            detail = {**detail, "jump_from": e_before}
        db.session.add(MarkReading(
            checkin_id=checkin.id, mark=mark, x=x, y=y, set_by="carried",
            analyzer_version=reading.analyzer_version, delta_e=detail["delta_e"],
            stage=detail["stage"], data=detail))


def carry_to(checkin: CheckIn, reference: CheckIn, marks: list[Mark]) -> None:
    """Carry the marks from a confirmed photo onto an unconfirmed one and measure them there."""
    found = {r.mark_id: (r.x, r.y) for r in mark_readings(reference.id)}
    image = display_image(checkin)
    points, registration = carry_points(reference_image(reference), image,
                                        [found.get(m.id, (m.x, m.y)) for m in marks])
    measure(checkin, marks, points, ["carried"] * len(marks), image,
            area_scale=chained_scale(area_scale_of(reference), registration.area_ratio),
            matched=registration.ok)


# the confirm page shows the photo this many CSS pixels wide, so that a tap's coordinates
# (sent by <input type="image"> in the pixels of its box) turn into fractions of the photo;
# 340 fits a 390 px phone inside the page's margins
TAP_WIDTH = 340
# a tap this close to a shown mark (in CSS pixels) is on it: half a 44 px tap target
HIT_PX = 22
# the circle drawn for a tapped point, before it is measured (fraction of the short side)
TAPPED_RADIUS = 0.04
# css pixels between a mark's edge and the ring drawn around it
RING_GAP_PX = 4
# a mark's number badge: its radius, the room kept between two badges, and the sides of the
# ring tried in turn (upper right first; unit steps scaled by the ring's radius)
BADGE_R = 13
BADGE_GAP_PX = 4
BADGE_SIDES = ((0.75, 0.75), (-0.75, 0.75), (0.75, -0.75), (-0.75, -0.75),
               (1.06, 0.0), (-1.06, 0.0), (0.0, 1.06), (0.0, -1.06))
# how far out (in rings' radii) the sides are tried, when every side nearer is taken
BADGE_REACH = (1.0, 1.7, 2.4)
# a proposal is offered ticked only when it is visible at all (ΔE00 ≥ 3, DESIGN.md)
VISIBLE_DELTA_E = 3.0
# a point counts as moved when it changed by more than this (fractions): rounding aside
MOVED = 1e-4
MAX_POINTS = 24
# a circle placed on a photo taken this soon after the treatment (days) that reads as clear skin
# (ΔE00 < 3) is asked about before it is followed: a suction mark is at its most visible near
# 38 h and is still well seen until its yellowing (~5.5 days) and fading (7-10 days;
# reference/colour-evidence.md), so so early clear skin means the circle missed the mark. Later a
# faint late mark reads as little as clear skin does (6 of 80 faint marks at their true centres
# read < 3 on scenes 20-39): it is not asked about
CLEAR_ASKED_BEFORE_DAYS = 4.0
# a later photo offers at most this many marks it sees that nobody follows yet, named by a
# letter until followed (a number would read as one of the followed marks)
MAX_SUGGESTED = 3
SUGGESTED_LETTERS = "ABC"


def place_badge(cx: float, cy: float, r: float, width: int, height: int,
                placed: list[tuple[float, float]]) -> tuple[float, float]:
    """Return where a mark's number badge goes: on its circle, inside the photo, apart from others.

    The upper right of the circle first (off the mark); when that badge would touch one
    already placed (close marks), the next side that is free, then the same sides further
    out; else the least crowded. static/js/marks.js (placeBadge) places them the same way.
    """
    best, best_gap = None, -1.0
    for reach in BADGE_REACH:
        for dx, dy in BADGE_SIDES:
            bx = min(max(cx + r * reach * dx, BADGE_R + 1), width - BADGE_R - 1)
            by = min(max(cy - r * reach * dy, BADGE_R + 1), height - BADGE_R - 1)
            gap = min((math.hypot(bx - px, by - py) for px, py in placed), default=math.inf)
            if gap >= 2 * BADGE_R + BADGE_GAP_PX:
                return round(bx, 1), round(by, 1)
            if gap > best_gap:
                best, best_gap = (round(bx, 1), round(by, 1)), gap
    return best


@dataclass
class Spot:
    """One point on the confirm page: a proposal, a tapped point or a followed mark."""

    x: float
    y: float
    radius: float
    kind: str  # "proposal", "tapped", "mark", or "suggested" (seen on a later photo, not followed)
    kept: bool = True  # a proposal the client has not removed
    number: int | None = None  # a followed mark's number; else its place among those kept
    set_by: str | None = None
    stage: str | None = None
    in_photo: bool = True  # False: a carried mark that left the photo, not measured
    jump: tuple[float, float] | None = None  # (ΔE00 before, now) of an implausible change

    @property
    def value(self) -> str:
        """Return the form value naming the point: a mark's and an added point's with its
        number ("3:0.1200,0.4500"), so that its number stays its name while others go."""
        point = f"{self.x:.4f},{self.y:.4f}"
        if self.kind == "mark" or (self.kind == "tapped" and self.number):
            return f"{self.number}:{point}"
        return point


@dataclass
class Board:
    """What the confirm page shows of one check-in: its marks, and what the client asked for."""

    checkin: CheckIn
    first: bool  # no followed marks yet: the proposals are offered
    spots: list[Spot]
    moving: str = ""  # a mark number (or "new") the next tap places
    message: str = ""
    error: bool = False
    changed: list[int] = field(default_factory=list)
    open_moves: bool = False  # the choices of mark to move are shown unfolded
    retired: frozenset[int] = frozenset()  # numbers of marks no longer followed: never given again
    selected: int | None = None  # the mark a tap chose on a first photo: its remove button shows
    questions: list[str] = field(default_factory=list)  # circles to check before saving (:func:`questioned`)
    insist: str = ""  # the "save anyway" button's value: the questioned circles, as placed
    asked: list[int] = field(default_factory=list)  # numbers of the circles :func:`questioned` names
    # the photo measured by :func:`questioned` at every point shown, with the points and their
    # skipping (skipped_points): :func:`save` stores it when it measures the same, so a save
    # decodes and analyses the photo once (None: not measured yet)
    measured: tuple[tuple, PhotoReading] | None = None
    # the circles asked about that the client kept where they are ("save anyway"), by number:
    # why each was asked, "edge", "off_body" or "clear_skin" (:func:`questioned`); saved with
    # the mark's reading (MarkReading.data["kept"]) for the therapist to see
    kept: dict[int, str] = field(default_factory=dict)

    @property
    def not_in_photo(self) -> str:
        """Say which followed marks were carried off the photo and not measured, or ''."""
        numbers = [str(s.number) for s in self.spots if s.kind == "mark" and not s.in_photo]
        if not numbers:
            return ""
        return _("Not in this photo, so not measured: mark %(n)s. If it is in the photo, move "
                 "its circle onto it.", n=", ".join(numbers))

    @property
    def jumps(self) -> list[str]:
        """Say, for each carried mark whose reading changed implausibly since the last photo
        (course.implausible_jump), to check its circle; nothing once the photo is confirmed."""
        if self.checkin.marks_confirmed_at is not None:
            return []
        return [_("Mark %(n)s looks very different from the last photo (colour difference "
                  "%(before).1f, now %(now).1f). Check that its circle is on the mark, then "
                  "confirm.", n=s.number, before=s.jump[0], now=s.jump[1])
                for s in self.spots if s.kind == "mark" and s.jump and s.set_by == "carried"]

    @property
    def unmatched(self) -> bool:
        """Tell whether the marks shown were copied from the last photo, not found on this one
        (registration could not match them): the page asks the client to place them."""
        return not self.first and is_unmatched(self.checkin)

    @property
    def width(self) -> int:
        """Return the photo's width on the page, in CSS pixels."""
        return TAP_WIDTH

    @property
    def height(self) -> int:
        """Return the photo's height on the page, in CSS pixels."""
        w, h = self.checkin.photo_width or 4, self.checkin.photo_height or 3
        return max(1, round(TAP_WIDTH * h / w))

    @property
    def short_px(self) -> int:
        """Return the photo's short side on the page: radii are fractions of it."""
        return min(self.width, self.height)

    def shown(self) -> list[Spot]:
        """Return the points that will be saved, numbered as the page shows them.

        A number is a mark's name for the whole recovery, so a point keeps the one it was given
        when another is removed: followed marks theirs, proposals theirs (board_for), an added
        point the one its form value carries (a proposal dragged becomes one, with its number).
        A point without one (just added, or a new mark ticked), or whose number another holds
        (a proposal ticked again), gets the lowest number nobody holds, nor any mark ever
        followed here (``retired``). static/js/marks.js (spots) numbers the same way.
        """
        used = set(self.retired)
        ranked = ([s for s in self.spots if s.kind == "mark"]
                  + [s for s in self.spots if s.kind == "tapped"]
                  + [s for s in self.spots if s.kind == "proposal" and s.kept])
        for spot in ranked:
            if spot.number is not None and spot.number in used and spot.kind != "mark":
                spot.number = None
            if spot.number is not None:
                used.add(spot.number)
        kept = [s for s in self.spots if s.kept]
        for spot in kept:
            if spot.number is None:
                spot.number = next(n for n in range(1, len(used) + 2) if n not in used)
                used.add(spot.number)
        return kept

    def drawn(self) -> list[dict]:
        """Return each point as the page draws it: circle, badge (number or letter), look, in pixels."""
        self.shown()
        drawn, badges = [], []
        letters = iter(SUGGESTED_LETTERS)
        for spot in self.spots:
            # drawn just outside the mark, so the ring never hides the mark's own edge
            r = max(spot.radius * self.short_px + RING_GAP_PX, 12)
            cx, cy = spot.x * self.width, spot.y * self.height
            letter = next(letters) if spot.kind == "suggested" else None
            bx, by = place_badge(cx, cy, r, self.width, self.height, badges)
            if spot.kept and spot.number:
                letter = None
            if (spot.kept and spot.number) or letter:
                badges.append((bx, by))
            look = [spot.kind] + (["asked"] if spot.kept and spot.number in self.asked else [])
            if not spot.kept:
                look.append("removed")
            if self.moving and str(spot.number) == self.moving and spot.kind == "mark":
                look.append("moving")
            drawn.append({"cx": round(cx, 1), "cy": round(cy, 1), "r": round(r, 1),
                          "bx": round(bx, 1), "by": round(by, 1), "look": " ".join(look),
                          "number": spot.number if spot.kept else None, "letter": letter})
        return drawn

    def hit(self, x: float, y: float, spots: list[Spot]) -> Spot | None:
        """Return the point a tap at (x, y) falls on, the nearest first, if any."""
        best, best_d = None, None
        for spot in spots:
            d = math.hypot((spot.x - x) * self.width, (spot.y - y) * self.height)
            if d <= max(spot.radius * self.short_px, HIT_PX) and (best_d is None or d < best_d):
                best, best_d = spot, d
        return best

    def added(self, spot: Spot) -> None:
        """Say which number a point just added (or kept again) has on the photo."""
        self.shown()
        self.message = _("Mark %(n)s added.", n=spot.number)

    def remove(self, number: str) -> None:
        """Remove a point the client added, or a proposal (it stays, dashed, to tick again);
        raise MarksRefused for a number no such point has."""
        self.shown()
        spot = next((s for s in self.spots if s.kept and s.kind in ("tapped", "proposal")
                     and str(s.number) == number), None)
        if spot is None:
            raise MarksRefused(_("There is no mark %(n)s on this photo.", n=number[:8]))
        if spot.kind == "tapped":
            self.spots.remove(spot)
        else:
            spot.kept = False
        self.message = _("Mark %(n)s removed.", n=spot.number)

    def tap(self, x: float, y: float) -> None:
        """Apply a tap on the photo: remove, add or move a point as the page says."""
        if self.first:
            spot = self.hit(x, y, [s for s in self.spots if s.kept])
            if spot is not None:
                # a tap near a circle (a new mark meant beside it) never removes it: removing
                # is its own button (remove)
                self.shown()
                self.selected = spot.number
                self.message = _("Mark %(n)s chosen: remove it with its button, or tap a little "
                                 "further from its circle to add a mark beside it.", n=spot.number)
            else:
                spot = self.hit(x, y, [s for s in self.spots if not s.kept])
                if spot is not None:
                    spot.kept = True
                else:
                    spot = Spot(x, y, TAPPED_RADIUS, "tapped")
                    self.spots.append(spot)
                self.added(spot)
            return
        marks = {str(s.number): s for s in self.spots if s.kind == "mark"}
        if self.moving in marks:
            spot = marks[self.moving]
            spot.x, spot.y = x, y
            self.message = _("Mark %(n)s moved. Confirm when every mark is right.", n=self.moving)
            self.moving = ""
        elif self.moving == "new":
            spot = Spot(x, y, TAPPED_RADIUS, "tapped")
            self.spots.append(spot)
            self.moving = ""
            self.added(spot)
        elif (seen := self.hit(x, y, [s for s in self.spots if s.kind == "suggested" and not s.kept])) is not None:
            seen.kept = True
            seen.kind = "tapped"
            self.added(seen)
        else:
            spot = self.hit(x, y, list(marks.values()))
            if spot is not None:
                self.moving = str(spot.number)
                self.message = _("Now tap where mark %(n)s is.", n=spot.number)
            else:
                self.message = _("To move a mark, choose its number below, then tap the photo.")
                self.open_moves = True


def board_for(checkin: CheckIn, seen: bool = False) -> Board:
    """Return the confirm page's points as stored: the marks followed on this photo
    (:func:`marks_followed_on`: none added after it, none stopped before it), or else, while
    the treatment has no followed mark at all, the proposals.

    ``seen`` also offers the new marks a later photo shows (:func:`new_marks_seen`): a whole
    analysis of the photo, so only for a page that is shown, never for a save.
    """
    marks = marks_followed_on(checkin)
    # every other mark of the treatment (stopped before this photo, or added after it) keeps
    # its number: a point added here gets another
    retired = frozenset(db.session.scalars(sa.select(Mark.number).where(
        Mark.treatment_id == checkin.treatment_id, Mark.id.not_in([m.id for m in marks]))))
    if marks or retired:
        readings = {r.mark_id: r for r in mark_readings(checkin.id)}
        reference, points = None, None
        spots = []
        for i, mark in enumerate(marks):
            row = readings.get(mark.id)
            if row is None:
                if points is None:
                    reference, points = reference_points(checkin.treatment_id, marks)
                x, y, radius, stage, source = *points[i], TAPPED_RADIUS, None, "carried"
            else:
                x, y, radius, stage, source = (row.x, row.y, row.data.get("radius") or TAPPED_RADIUS,
                                               row.stage, row.set_by)
            jump = None
            if row is not None and row.data.get("jump_from") is not None and row.delta_e is not None:
                jump = (row.data["jump_from"], row.delta_e)
            spots.append(Spot(x, y, radius, "mark", number=mark.number, set_by=source,
                              stage=stage, in_photo=row is None or row.data.get("in_photo", True),
                              jump=jump))
        return Board(checkin, first=False, spots=spots + (new_marks_seen(checkin, spots) if seen else []),
                     retired=retired)
    details = checkin.reading.data.get("mark_details", []) if checkin.reading else []
    spots = [Spot(d["centre"][0], d["centre"][1], d.get("radius") or TAPPED_RADIUS, "proposal",
                  kept=(d.get("delta_e") or 0) >= VISIBLE_DELTA_E, stage=d.get("stage"))
             for d in details if d.get("centre")]
    # numbered once, those offered ticked first: a proposal keeps its number when another goes
    for number, spot in enumerate(sorted(spots, key=lambda s: not s.kept), 1):
        spot.number = number
    return Board(checkin, first=True, spots=spots)


def questioned(board: Board, insisted: str = "") -> list[str]:
    """Say which circles placed on the board are to be checked before they are followed.

    Every point of a first photo and every point a person placed or moved on a later one is
    measured; one is asked about when it lies on the frame's edge (registration.off_frame), off
    the body (a towel, the floor: MarkDetail.on_body), or, on a photo taken before
    ``CLEAR_ASKED_BEFORE_DAYS``, reads as clear skin (ΔE00 < 3). ``insisted`` is what the
    "save anyway" button sent (Board.insist): the circles the client keeps where they are.
    Sets ``board.insist`` for the page; returns one sentence per circle, by number.
    """
    shown = board.shown()
    stored = {} if board.first else {s.number: s for s in board_for(board.checkin).spots}
    placed = [s for s in shown if s.kind != "mark" or s.number not in stored
              or abs(stored[s.number].x - s.x) > MOVED or abs(stored[s.number].y - s.y) > MOVED]
    if not placed or not board.checkin.photo_key:
        return []
    keep = set(insisted.split(";"))
    # measured at every point shown, as save measures them (a point not placed keeps its
    # source): save stores this very reading
    every = [(s.x, s.y) for s in shown]
    placed_at = [next(i for i, s in enumerate(shown) if s is spot) for spot in placed]
    skipped = skipped_points(every, ["placed" if i in placed_at else s.set_by or "carried"
                                     for i, s in enumerate(shown)])
    reading = measure_carried(display_image(board.checkin), every, skipped)
    board.measured = ((tuple(every), tuple(skipped)), reading)
    treatment = board.checkin.treatment
    early = (board.checkin.taken_at - treatment.treated_at) < dt.timedelta(days=CLEAR_ASKED_BEFORE_DAYS)
    asked, texts = [], []
    edges = off_frame([(s.x, s.y) for s in placed])
    for spot, i, edge in sorted(zip(placed, placed_at, edges), key=lambda t: t[0].number):
        detail = reading.mark_details[i]
        if edge:
            why = "edge"
        elif detail.get("on_body") is False:
            why = "off_body"
        elif early and detail["delta_e"] < RESOLVED_BELOW:
            why = "clear_skin"
        else:
            continue
        name = f"{spot.number}:{spot.x:.4f},{spot.y:.4f}"
        if name in keep:
            # "save anyway": kept where it is, and the therapist sees that it was asked about
            board.kept[spot.number] = why
            continue
        if why == "edge":
            texts.append(_("Mark %(n)s is on the very edge of the photo: move it onto the mark, "
                           "or remove it.", n=spot.number))
        elif why == "off_body":
            texts.append(_("Mark %(n)s is not on skin here (a towel or the background?): move it "
                           "onto the mark, or remove it.", n=spot.number))
        else:
            texts.append(_("Mark %(n)s reads as clear skin here: move its circle onto the mark, "
                           "or remove it.", n=spot.number))
        asked.append(name)
        board.asked.append(spot.number)
    board.insist = ";".join(sorted(keep - {""}) + asked)
    return texts


def new_marks_seen(checkin: CheckIn, followed: list[Spot]) -> list[Spot]:
    """Marks the photo shows clearly that no followed mark is near: offered for adding.

    The photo's own proposals (most mark-like first) with a sure score, away from every
    followed mark by more than twice its radius; at most ``MAX_SUGGESTED``.
    """
    if not checkin.photo_key:
        return []
    proposals = analyze_image(display_image(checkin)).mark_details
    seen = []
    for detail in proposals:
        x, y = detail["centre"]
        radius = detail.get("radius") or TAPPED_RADIUS
        if (detail.get("score") or 0) < SURE_SCORE or detail["delta_e"] < VISIBLE_DELTA_E:
            continue
        if any(math.hypot(x - s.x, y - s.y) < 2 * max(radius, s.radius) for s in followed + seen):
            continue
        seen.append(Spot(x, y, radius, "suggested", kept=False, stage=detail.get("stage")))
        if len(seen) == MAX_SUGGESTED:
            break
    return seen


def save(board: Board, actor: User) -> list[int]:
    """Save the points on the board as the check-in's followed marks, measure them, commit.

    Returns the numbers of the marks whose point changed. The therapist's changes are audited
    with the old and the new point.
    """
    checkin = board.checkin
    treatment = checkin.treatment
    shown = board.shown()
    if not shown:
        raise MarksRefused(_("Tap at least one mark on the photo, or tick one below.") if board.first
                           else _("Keep at least one mark: a treatment is followed by its marks."))
    source = "therapist" if actor.is_therapist else "client"
    stored = {s.number: s for s in board_for(checkin).spots} if not board.first else {}
    existing = {r.mark_id: r for r in db.session.scalars(sa.select(MarkReading).where(
        MarkReading.checkin_id == checkin.id))}
    marks, points, set_by, moved, stopping = [], [], [], [], False
    by_number = {m.number: m for m in marks_followed_on(checkin)}
    for spot in board.spots:
        if spot.kind == "mark" and not spot.kept and spot.number in by_number:
            stopped = by_number.pop(spot.number)
            # from this photo on: every earlier photo keeps the mark and its readings
            stopped.removed_at = utcnow()
            stopped.followed_until = checkin.taken_at
            stopping = True
            # its readings from this photo on are of no day it is followed on
            db.session.execute(sa.delete(MarkReading).where(
                MarkReading.mark_id == stopped.id, MarkReading.checkin_id.in_(
                    sa.select(CheckIn.id).where(CheckIn.treatment_id == treatment.id,
                                                CheckIn.taken_at >= checkin.taken_at))))
            audit.record("stop_following_mark", actor, subject=treatment.client_id, obj=stopped,
                         detail={"checkin_id": checkin.id, "mark": stopped.number})
    for spot in shown:
        mark = by_number.get(spot.number) if spot.kind == "mark" else None
        if mark is None:
            # the first photo's marks are followed on every photo (those sent before it as
            # well: carry_to); a mark added later, from its photo on
            mark = Mark(treatment_id=treatment.id, number=spot.number, x=spot.x, y=spot.y,
                        followed_from=None if board.first else checkin.taken_at)
            db.session.add(mark)
            moved.append(spot.number)
            set_by.append(source)
        else:
            before, row = stored[spot.number], existing.get(mark.id)
            if abs(before.x - spot.x) > MOVED or abs(before.y - spot.y) > MOVED:
                moved.append(spot.number)
                set_by.append(source)
                if actor.is_therapist:
                    audit.record("move_mark_point", actor, subject=treatment.client_id,
                                 obj=mark, detail={
                                     "checkin_id": checkin.id, "mark": mark.number,
                                     "old": [round(before.x, 4), round(before.y, 4)],
                                     "new": [round(spot.x, 4), round(spot.y, 4)]})
            else:
                set_by.append(row.set_by if row is not None else "carried")
        marks.append(mark)
        points.append((spot.x, spot.y))
    db.session.flush()
    first = board.first
    # a photo whose readings miss a mark is measured, and one that stopped a mark is measured
    # again: its reading is that of its most visible mark still followed
    if moved or stopping or first or any(m.id not in existing for m in marks):
        # the first confirmed photo is the scale every later one is compared on
        key, reading = board.measured or ((), None)
        # a mark whose point did not move keeps its reading (keeping), unless an older
        # analyzer measured it
        kept = {} if first else {m.id: existing[m.id].data for m in marks
                                 if m.number not in moved and m.id in existing
                                 and existing[m.id].analyzer_version == ANALYZER_VERSION}
        measure(checkin, marks, points, set_by, area_scale=1.0 if first else False,
                measured=reading if key == (tuple(points), tuple(skipped_points(points, set_by)))
                else None, keep=kept)
    for row in db.session.scalars(sa.select(MarkReading).where(
            MarkReading.checkin_id == checkin.id,
            MarkReading.mark_id.in_([m.id for m in marks if m.number in board.kept]))):
        row.data = {**row.data, "kept": board.kept[row.mark.number]}
    if actor.id == treatment.client_id or checkin.marks_confirmed_at is None:
        checkin.marks_confirmed_at = utcnow()
    if first:
        audit.record("confirm_marks", actor, subject=treatment.client_id, obj=checkin,
                     detail={"marks": len(marks)})
        db.session.flush()
        # photos sent before the marks were first confirmed follow them as well
        for other in db.session.scalars(sa.select(CheckIn).where(
                CheckIn.treatment_id == treatment.id, CheckIn.id != checkin.id)):
            carry_to(other, checkin, marks)
    db.session.flush()
    flags.refresh(treatment)
    db.session.commit()
    return moved
