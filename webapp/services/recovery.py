"""A treatment's recovery: its check-ins day by day and the course assessment over them."""
import datetime as dt
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields, replace

import sqlalchemy as sa

from webapp import clock
from webapp.analysis import CourseAssessment, PhotoReading, assess_course
from webapp.analysis.colour import RESOLVED_BELOW, lab_to_hex
from webapp.analysis.course import DEFAULT_EXPECTED_DAYS, usable
from webapp.models import CheckIn, Mark, MarkReading, Reading, Treatment, select_rows
from webapp.services import reasons

# a session older than this is history, not a recovery to follow
MAX_AGE_DAYS = 60
# how far a verdict is from "all is well", for picking the mark furthest behind: a treatment
# is as far along as its slowest followed mark (resolved only when every one is)
SEVERITY = {"resolved": 0, "insufficient_data": 1, "on_track": 2, "pigmentation": 3,
            "slow": 4, "worsening": 5}

# the expected window when a treatment's facts say the marks will be darker or the vessels
# fragile: suction bruises are gone by 7-10 days (Mimasaka et al. 2010), and seed texts say
# thin skin and fragile vessels take longer
WIDENED_EXPECTED_DAYS = 10
# strong suction widens it too: stronger suction makes darker marks (JTCM 2021: redness and
# erythema index rise to 60 kPa, melanin index to 80 kPa), and a suction bruise lasts longer
# the more severe it is (suction-bruise study, 41 volunteers: duration depended on severity);
# practitioners see dark marks last up to 2-3 weeks (reference/colour-evidence.md)
WIDENING_SUCTIONS = ("strong",)


def expected_days_for(risk_factors: Iterable[str], suction: str) -> int:
    """Return the days a treatment's marks are expected to take to fade, from its facts."""
    if any(True for _factor in risk_factors) or suction in WIDENING_SUCTIONS:
        return WIDENED_EXPECTED_DAYS
    return int(DEFAULT_EXPECTED_DAYS)


@dataclass(frozen=True, slots=True)
class ReadingRow:
    """The columns of a check-in's reading that recoveries show and judge."""

    ok: bool
    stage: str | None
    delta_e: float | None
    mark_hex: str | None
    stored: str  # the JSON text of PhotoReading.to_dict(), for the course assessment


@dataclass(frozen=True, slots=True)
class CheckInRow:
    """The columns of a check-in that recoveries show and judge, with its reading (if any)."""

    id: int
    treatment_id: int
    taken_at: dt.datetime
    created_at: dt.datetime
    pain: int
    blisters: bool
    fever: bool
    note: str
    photo_width: int
    photo_height: int
    photo_key: str  # the stored display copy, which the comparison registers (webapp.compare)
    marks_confirmed_at: dt.datetime | None
    reading: ReadingRow | None

    # the model's own rule, not a copy of it
    has_red_flag_symptom = CheckIn.has_red_flag_symptom


@dataclass(frozen=True, slots=True)
class MarkPoint:
    """One followed mark in one check-in's photo: where it was measured and what it read."""

    checkin_id: int
    mark_id: int
    number: int
    x: float
    y: float
    set_by: str
    delta_e: float | None
    stage: str | None
    stored: str  # the JSON text of the mark's mark_details entry
    # the photo (its taken_at) the mark is not followed from (Mark.followed_until; None: still
    # followed)
    followed_until: dt.datetime | None = None

    @property
    def detail(self) -> dict:
        """Return the mark's measured detail."""
        return json.loads(self.stored)


@dataclass(frozen=True)
class MarkCourse:
    """One followed mark's course: its reading on each day and the verdict over them."""

    number: int
    days: list[tuple[CheckInRow, MarkPoint]]
    assessment: CourseAssessment
    # the day (its number, as every page counts them) the mark is no longer followed from: its
    # course ends the day before, and it no longer judges the treatment (None: still followed)
    stopped_day: int | None = None
    # the days on which the client kept its circle where they placed it though asked about it
    # ("save anyway"), each with why it was asked (marks.Board.kept)
    kept: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class Recovery:
    """One treatment, its check-ins, the one each day counts, and how the course is going.

    Days are calendar dates in the client's zone (``timezone``). The course is judged on the
    check-in each day counts (``days``, see :func:`latest_per_day`); ``checkins`` holds every
    one, oldest first. With
    followed marks, ``assessment`` is that of the mark furthest behind (or of the whole photo,
    when that is further behind), and ``marks`` holds each mark's own course.
    ``photo_readings`` holds the check-ins' readings, by check-in id.
    """

    treatment: Treatment
    days: list[CheckInRow]
    assessment: CourseAssessment
    timezone: str = "UTC"
    checkins: list[CheckInRow] = field(default_factory=list)
    marks: list[MarkCourse] = field(default_factory=list)
    # the followed marks in each check-in's photo, by check-in id
    mark_points: dict[int, list[MarkPoint]] = field(default_factory=dict)
    photo_readings: dict[int, PhotoReading] = field(default_factory=dict)

    def counts(self, checkin: CheckInRow) -> bool:
        """Tell whether a check-in has a reading that stands on the course (course.usable: not
        one with the cups still on, with blood, or without skin)."""
        reading = self.photo_readings.get(checkin.id)
        return reading is not None and usable(reading)

    @property
    def latest_reading(self) -> ReadingRow | None:
        """Return the reading of the most recent check-in when it stands on the course (a photo
        with the cups still on says nothing of the mark's stage)."""
        latest = self.latest
        return latest.reading if latest is not None and self.counts(latest) else None

    def spoilt(self, checkin: CheckInRow) -> bool:
        """Tell whether a check-in's photo is to be taken again (cups still on, blood)."""
        reading = self.photo_readings.get(checkin.id)
        return reading is not None and reading.to_retake

    def mark_course(self, number: int | None) -> MarkCourse | None:
        """Return the course of the mark with this number, if it is followed."""
        return next((m for m in self.marks if m.number == number), None)

    @property
    def latest(self) -> CheckInRow | None:
        """Return the most recent check-in that counts, if any."""
        return self.days[-1] if self.days else None


# the columns a CheckInRow and a ReadingRow are built from, in their fields' order (the
# reading's analysis as its JSON text)
CHECKIN_COLUMNS = tuple(getattr(CheckIn, f.name) for f in fields(CheckInRow)
                        if f.name != "reading")
READING_COLUMNS = (Reading.ok, Reading.stage, Reading.delta_e, Reading.mark_hex,
                   sa.cast(Reading.data, sa.Text))


def checkins_statement() -> sa.Select:
    """Return the statement selecting the check-ins of the treatments `ids` (a bound parameter)."""
    # plain columns, not ORM objects: building an object per check-in and reading cost more
    # than the query
    return (sa.select(*CHECKIN_COLUMNS, *READING_COLUMNS)
            .outerjoin(Reading, Reading.checkin_id == CheckIn.id)
            .where(CheckIn.treatment_id.in_(sa.bindparam("ids", expanding=True)))
            .order_by(CheckIn.taken_at, CheckIn.id))


def checkins_by_treatment(treatment_ids: Iterable[int]) -> dict[int, list[CheckInRow]]:
    """Load the check-ins, with their readings, of many treatments in one query."""
    ids = list(treatment_ids)
    found: dict[int, list[CheckInRow]] = defaultdict(list)
    if not ids:
        return found
    split = len(CHECKIN_COLUMNS)
    for row in select_rows(checkins_statement(), {"ids": ids}):
        # a reading's ok is never null: a null one is the outer join finding no reading
        reading = ReadingRow(*row[split:]) if row[split] is not None else None
        found[row.treatment_id].append(CheckInRow(*row[:split], reading))
    return found


MARK_POINT_COLUMNS = (MarkReading.checkin_id, MarkReading.mark_id, Mark.number, MarkReading.x,
                      MarkReading.y, MarkReading.set_by, MarkReading.delta_e, MarkReading.stage,
                      sa.cast(MarkReading.data, sa.Text), Mark.followed_until)


def mark_points_statement() -> sa.Select:
    """Return the statement selecting the readings of the check-ins `ids` of the marks followed
    on each photo (Mark.followed_at): a mark stopped on day 6 keeps days 1-5, and a mark added
    on day 14 is on no earlier day."""
    return (sa.select(*MARK_POINT_COLUMNS).join(Mark, Mark.id == MarkReading.mark_id)
            .join(CheckIn, CheckIn.id == MarkReading.checkin_id)
            .where(MarkReading.checkin_id.in_(sa.bindparam("ids", expanding=True)),
                   Mark.followed_at(CheckIn.taken_at))
            .order_by(MarkReading.checkin_id, Mark.number))


def mark_points_by_checkin(checkin_ids: Iterable[int]) -> dict[int, list[MarkPoint]]:
    """Load the followed marks' readings of many check-ins in one query."""
    ids = list(checkin_ids)
    found: dict[int, list[MarkPoint]] = defaultdict(list)
    if ids:
        for row in select_rows(mark_points_statement(), {"ids": ids}):
            found[row[0]].append(MarkPoint(*row))
    return found


def mark_reading(stored: str) -> PhotoReading:
    """Build the PhotoReading of one followed mark from its stored detail."""
    detail = json.loads(stored)
    delta_e = detail.get("delta_e")
    mark_lab = detail.get("mark_lab")
    return PhotoReading.from_dict({
        **detail, "ok": True, "marks": 1,
        "mark_found": delta_e is not None and delta_e >= RESOLVED_BELOW,
        "mark_hex": lab_to_hex(mark_lab) if mark_lab else None,
        "total_area_fraction": detail.get("area_fraction", 0.0),
        "confidence": "high", "mark_details": [detail]})


def in_words(assessment: CourseAssessment) -> CourseAssessment:
    """Return the assessment with its reason in the reader's language, figures in its style."""
    if not assessment.reason_key:
        return assessment
    return replace(assessment, reason=reasons.said(reasons.of_assessment(assessment)))


def calendar_of(treatment: Treatment) -> Callable[[dt.datetime], int]:
    """Return how a reason names a photo's day: "day N" of the client's calendar
    (clock.day_number), the numbering of every page, message and record."""
    zone = treatment.client.timezone
    return lambda at: clock.day_number(treatment.treated_at, at, zone)


def mark_courses(treatment: Treatment, days: Sequence[CheckInRow],
                 points: dict[int, list[MarkPoint]]) -> list[MarkCourse]:
    """Judge each followed mark's course over the latest check-in of each day whose photo
    reading stands on the course (``days``: those check-ins)."""
    by_number: dict[int, list[tuple[CheckInRow, MarkPoint]]] = defaultdict(list)
    for checkin in days:
        for point in points.get(checkin.id, ()):
            # a carried reading that changed implausibly counts once the client has looked at
            # its circle (marks.record_carried): confirmed the photo, or moved the point
            if (checkin.marks_confirmed_at is None and point.set_by == "carried"
                    and '"jump_from"' in point.stored):
                continue
            by_number[point.number].append((checkin, point))
    day_of = calendar_of(treatment)
    return [MarkCourse(number, found, in_words(assess_course(
        treatment.treated_at, [(c.taken_at, mark_reading(p.stored)) for c, p in found],
        expected_days=treatment.expected_days, day_of=day_of)),
        stopped_day=day_of(found[-1][1].followed_until)
        if found[-1][1].followed_until is not None else None,
        kept=[(day_of(c.taken_at), p.detail["kept"]) for c, p in found if '"kept"' in p.stored])
        for number, found in sorted(by_number.items())]


# the fields of a PhotoReading that are those of its most visible mark (analyze.summary)
MARK_FIELDS = ("mark_found", "marks", "stage", "colour", "delta_e", "delta_lab", "hue_deg",
               "mark_lab", "skin_lab", "mark_hex", "skin_hex", "erythema_index",
               "area_fraction", "total_area_fraction")


def of_marks_followed(reading: PhotoReading, points: Sequence[MarkPoint]) -> PhotoReading:
    """Return a photo's reading as the headline counts it: that of its most visible mark among
    those still followed (``points``: the photo's followed marks, MarkPoint).

    A photo's stored reading is its most visible mark followed that day. Once a mark is no
    longer followed, a photo taken before that still holds it (its board, its curve, the
    record), but the headline (the chart "of the most visible mark", the fade, the stage of
    the day, the projection, the verdict) follows the marks followed now on every day alike:
    it never drops on the day a mark stopped, as if that mark had faded. Unchanged when its
    most visible mark (the entry of its mark_details its top-level fields are: marks.measure)
    is a mark followed now, or when no mark followed now was measured on it.
    """
    current = [p for p in points if p.followed_until is None and p.delta_e is not None]
    measured = [d for d in reading.mark_details if d.get("delta_e") is not None]
    if not current or not measured:
        return reading
    shown = max(measured, key=lambda d: d["delta_e"])
    # a mark reading's point is its entry's (marks.store_mark_readings, record_carried)
    if shown.get("point") is None or tuple(shown["point"]) in {(p.x, p.y) for p in current}:
        return reading
    mark = mark_reading(max(current, key=lambda p: p.delta_e).stored)
    return replace(reading, **{name: getattr(mark, name) for name in MARK_FIELDS},
                   mark_details=[p.detail for p in current])


def with_reading(checkin: CheckInRow, reading: PhotoReading) -> CheckInRow:
    """Return a check-in row whose reading is ``reading`` (of_marks_followed)."""
    row = ReadingRow(reading.ok, reading.stage, reading.delta_e, reading.mark_hex,
                     json.dumps(reading.to_dict()))
    return replace(checkin, reading=row)


def furthest_behind(photo: CourseAssessment, marks: Sequence[MarkCourse]) -> CourseAssessment:
    """Return the treatment's assessment: that of its followed mark furthest behind, saying
    which (figure ``n``); the photo's only when no mark is followed.

    The photo's course strings together each day's most visible mark, on the first photo's
    light, which is no one mark's course: it read "slower than usual, 3.7 on day 7" while
    every followed mark faded as expected (3.0, 2.1, 3.5, 1.3). The headline agrees with its
    marks: it is the furthest behind of them.
    """
    if not marks:
        return photo
    worst = max(marks, key=lambda m: (SEVERITY.get(m.assessment.verdict, 0),
                                      m.assessment.ceiling_ratio or 0.0))
    ratio = max((m.assessment.ceiling_ratio for m in marks
                 if m.assessment.ceiling_ratio is not None), default=photo.ceiling_ratio)
    # the mark's number goes with the figures, so the reason can be said again in any language
    figures = {**worst.assessment.reason_figures, "n": worst.number}
    return in_words(replace(worst.assessment, reason_figures=figures, ceiling_ratio=ratio))


def photo_reading(stored: str) -> PhotoReading:
    """Rebuild a stored reading from its JSON text."""
    return PhotoReading.from_dict(json.loads(stored))


def latest_per_day(treatment: Treatment, checkins: Sequence[CheckInRow],
                   spoilt: Callable[[CheckInRow], bool] = lambda checkin: False
                   ) -> list[CheckInRow]:
    """Keep the check-in each calendar date (the client's zone) counts, oldest first: its latest
    whose photo is not ``spoilt`` (to be taken again, or not counted), else its latest."""
    zone = treatment.client.timezone
    by_day: dict[int, CheckInRow] = {}
    for checkin in sorted(checkins, key=lambda c: (c.taken_at, c.id)):
        day = clock.day_number(treatment.treated_at, checkin.taken_at, zone)
        # a photo with the cups put back on does not undo the good one taken before it
        if day not in by_day or not spoilt(checkin) or spoilt(by_day[day]):
            by_day[day] = checkin
    return [by_day[day] for day in sorted(by_day)]


def assess(treatment: Treatment, checkins: Sequence[CheckInRow],
           points: dict[int, list[MarkPoint]] | None = None) -> Recovery:
    """Judge the course of one treatment, and of each followed mark, from loaded check-ins."""
    points = points or {}
    stored = {c.id: photo_reading(c.reading.stored) for c in checkins if c.reading is not None}
    # the headline follows the marks followed now on every day (of_marks_followed)
    readings = {i: of_marks_followed(r, points.get(i, ())) for i, r in stored.items()}
    checkins = [c if readings.get(c.id) is stored.get(c.id) else with_reading(c, readings[c.id])
                for c in checkins]
    # a photo that does not count (cups, blood, not matched to the last one) does not undo the
    # one of the same day that does
    days = latest_per_day(treatment, checkins,
                          lambda c: c.id in readings and not usable(readings[c.id]))
    assessment = in_words(assess_course(treatment.treated_at,
                                        [(c.taken_at, readings[c.id]) for c in days
                                         if c.id in readings],
                                        expected_days=treatment.expected_days,
                                        day_of=calendar_of(treatment)))
    # a followed mark measured through a cup or under blood is no more on its curve than the
    # photo's reading is
    marks = mark_courses(treatment, [c for c in days if c.id in readings
                                     and usable(readings[c.id])], points)
    # a mark no longer followed keeps its course on the days it was, but judges the treatment no more
    followed = [m for m in marks if m.stopped_day is None]
    return Recovery(treatment=treatment, days=days, assessment=furthest_behind(assessment, followed),
                    timezone=treatment.client.timezone, checkins=list(checkins),
                    marks=marks, mark_points={c.id: points[c.id] for c in checkins
                                              if c.id in points}, photo_readings=readings)


def recoveries(treatments: Sequence[Treatment]) -> list[Recovery]:
    """Judge many treatments with one query for their check-ins and one for their marks."""
    checkins = checkins_by_treatment(t.id for t in treatments)
    points = mark_points_by_checkin(c.id for found in checkins.values() for c in found)
    return [assess(t, checkins.get(t.id, []), points) for t in treatments]
