"""A recovery laid out for the timeline page: one row per day, the chart, tips and a comparison.

Pure over an already loaded :class:`webapp.recovery.Recovery`: building a timeline runs no
query, so a page costs the same number of queries whatever the number of check-ins.
The therapist's client review builds the same object and includes the same partials.
"""
import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa

from webapp import clock
from webapp.analysis import CourseAssessment
from webapp.analysis.course import SLOW_GRACE_DAYS
from webapp.extensions import db
from webapp.models import Treatment
from webapp.services import chart, flags, tips
from webapp.services.recovery import (MAX_AGE_DAYS, CheckInRow, MarkCourse, MarkPoint, ReadingRow,
                                      Recovery, mark_reading, recoveries)

# empty days past a month after the last photo tell nothing: the rows stop there
ROW_LIMIT_DAYS = 30


@dataclass(frozen=True)
class DayRow:
    """One calendar day since the treatment: its check-ins (newest first) and how faded it was.

    The day's reading, fade and photo are those of ``checkin``, the one its course counts (its
    latest, unless that is to be taken again and an earlier one is not: see
    recovery.latest_per_day); every check-in is listed with its own symptoms.
    """

    day: int
    date: dt.date
    checkins: tuple[CheckInRow, ...]
    fade: float | None  # 1 − ΔE/peak, 0..1
    checkin: CheckInRow | None = None

    @property
    def reading(self) -> ReadingRow | None:
        """Return the day's reading when it was measured."""
        return self.checkin.reading if self.checkin is not None else None


@dataclass(frozen=True)
class Timeline:
    """Everything the timeline partials show about one recovery."""

    recovery: Recovery
    today: int
    rows: list[DayRow]  # newest day first
    chart: chart.Chart
    aftercare: tips.Aftercare
    compare: tuple[DayRow, DayRow] | None
    photo_rows: list[DayRow]  # days with a photo, oldest first: the comparison's choices
    projected_on: dt.datetime | None  # when the marks likely fade (believable_projection)
    projected_day: int | None  # its day number (clock.day_number, as the rows count)
    mark: MarkCourse | None = None  # the followed mark whose curve the chart shows (None: all)

    @property
    def marks(self) -> list[MarkCourse]:
        """Return the followed marks' courses, by number."""
        return self.recovery.marks

    def outlines(self, checkin: CheckInRow) -> list[MarkPoint]:
        """Return the followed marks measured in a check-in's photo, by number."""
        return self.recovery.mark_points.get(checkin.id, [])

    @property
    def unconfirmed(self) -> CheckInRow | None:
        """Return the latest check-in when its marks still wait for the client's confirmation
        (not when its photo is to be taken again: the new photo's marks are the ones to check)."""
        latest = self.recovery.latest
        return (latest if latest is not None and latest.marks_confirmed_at is None
                and not self.recovery.spoilt(latest) else None)

    @property
    def today_done(self) -> bool:
        """Tell whether a photo was taken on today's date (the client's zone), and is not one to
        take again (cups still on, blood)."""
        newest = self.rows[0] if self.rows else None
        return (newest is not None and newest.day == self.today and newest.checkin is not None
                and self.retake is None)

    @property
    def retake(self) -> CheckInRow | None:
        """Return today's photo when it is to be taken again and today has no good one."""
        newest = self.rows[0] if self.rows else None
        if (newest is not None and newest.day == self.today and newest.checkin is not None
                and self.recovery.spoilt(newest.checkin)):
            return newest.checkin
        return None

    @property
    def today_row(self) -> DayRow | None:
        """Return today's row, when today's photo is done (``today_done``)."""
        return self.rows[0] if self.today_done else None

    @property
    def tells_therapist(self) -> bool:
        """Tell whether the latest state raises a flag a therapist sees (see flags.wanted)."""
        # a reported blister or fever, or a worsening course (once the photo's marks are
        # confirmed: flags.awaits_confirmation); pain and slow fading do not
        latest = self.recovery.latest
        return ((latest is not None and latest.has_red_flag_symptom)
                or (self.recovery.assessment.verdict == "worsening"
                    and not flags.awaits_confirmation(self.recovery)))

    @property
    def latest_reading(self) -> ReadingRow | None:
        """Return the reading of the most recent check-in when it stands on the course."""
        return self.recovery.latest_reading


def mark_readings(course: MarkCourse) -> list[tuple[dt.datetime, float, str | None, str | None]]:
    """Return one followed mark's measured days: when, ΔE00, stage and measured colour."""
    return [(checkin.taken_at, point.delta_e, point.stage, mark_reading(point.stored).mark_hex)
            for checkin, point in course.days if point.delta_e is not None]


def believable_projection(assessment: CourseAssessment, treated_at: dt.datetime,
                          now: dt.datetime) -> dt.datetime | None:
    """Return when the marks likely fade (the course's projected day, from ``treated_at``), or
    None where that cannot be right beside the verdict.

    None: when the course projects none (too few photos since the peak to fit: course
    projection), when it is worsening (a mark darker or bigger again is not fading: the tester
    read "Darker or bigger again" beside "likely to fade around day 9"), when it is on track
    but the fit reaches past the day it would be slow (expected day + SLOW_GRACE_DAYS: "fading
    as expected" beside "around day 28" on a 7-day treatment), and when the date is already
    reached while the marks still show (a day gone by, or "today" said of a past guess).
    """
    projected = assessment.projected_resolution_day
    if projected is None or assessment.verdict == "worsening":
        return None
    if (assessment.verdict != "slow"
            and projected > assessment.expected_days + SLOW_GRACE_DAYS):
        return None
    fades_at = treated_at + projected * clock.DAY
    return fades_at if fades_at > now else None


def build(recovery: Recovery, now: dt.datetime, first: int | None = None,
          second: int | None = None, mark: int | None = None) -> Timeline:
    """Lay out the recovery as of now; compare days first and second (default: oldest, latest).

    With ``mark`` the chart shows that followed mark's curve instead of the photo's.
    """
    treatment, zone = recovery.treatment, recovery.timezone
    today = max(clock.day_number(treatment.treated_at, now, zone), 0)
    by_day = {clock.day_number(treatment.treated_at, c.taken_at, zone): c for c in recovery.days}
    # every check-in of a date, newest first: an earlier report that day stays in view
    of_day: dict[int, list[CheckInRow]] = {}
    for checkin in reversed(recovery.checkins):
        of_day.setdefault(clock.day_number(treatment.treated_at, checkin.taken_at, zone),
                          []).append(checkin)
    measured = {day: c.reading.delta_e for day, c in by_day.items() if recovery.counts(c)}
    peak = max(measured.values(), default=None)
    # before the peak the mark is still darkening: "faded" would read as a false promise
    peak_day = min((day for day, e in measured.items() if e == peak), default=0)
    last = max(by_day, default=0)
    rows = []
    for day in range(max(last, min(today, last + ROW_LIMIT_DAYS)), -1, -1):
        fade = None
        if day >= peak_day and day in measured and peak:
            fade = max(0.0, min(1.0, 1 - measured[day] / peak))
        rows.append(DayRow(day, clock.day_date(treatment.treated_at, day, zone),
                           tuple(of_day.get(day, ())), fade, by_day.get(day)))
    photo_rows = [row for row in reversed(rows) if row.checkin is not None]
    followed = recovery.mark_course(mark)

    def reading(at: dt.datetime, delta_e: float, stage: str | None,
                mark_hex: str | None) -> chart.ChartInput:
        """Place a photo on the chart: days since the session, named by its calendar day."""
        return chart.ChartInput(clock.days_since(treatment.treated_at, at), delta_e, stage,
                                mark_hex, at, clock.day_number(treatment.treated_at, at, zone))

    if followed is not None:
        readings = tuple(reading(*row) for row in mark_readings(followed))
        projected_on = believable_projection(followed.assessment, treatment.treated_at, now)
    else:
        readings = tuple(reading(c.taken_at, c.reading.delta_e, c.reading.stage,
                                 c.reading.mark_hex)
                         for c in recovery.days if recovery.counts(c))
        projected_on = believable_projection(recovery.assessment, treatment.treated_at, now)
    stage = recovery.latest_reading.stage if recovery.latest_reading is not None else None
    # a symptom reported earlier on the latest day still counts: a later photo without it
    # does not make it go away
    signs = tips.signs_shown(recovery.days, recovery.assessment.verdict, today,
                             same_day=of_day.get(last, ()))
    projected_day = (clock.day_number(treatment.treated_at, projected_on, zone)
                     if projected_on is not None else None)
    return Timeline(
        recovery=recovery, today=today, rows=rows,
        chart=chart.build(readings, treatment.expected_days,
                          clock.days_since(treatment.treated_at, now),
                          clock.days_since(treatment.treated_at, projected_on)
                          if projected_on is not None else None, projected_day),
        aftercare=tips.aftercare(today, stage, signs, recovery.assessment.verdict),
        compare=pick_pair(photo_rows, first, second), photo_rows=photo_rows,
        projected_on=projected_on, projected_day=projected_day, mark=followed)


def pick_pair(photo_rows: list[DayRow], first: int | None,
              second: int | None) -> tuple[DayRow, DayRow] | None:
    """Choose the two days to compare, falling back to the oldest and the latest photo."""
    if len(photo_rows) < 2:
        return None
    by_day = {row.day: row for row in photo_rows}
    return by_day.get(first, photo_rows[0]), by_day.get(second, photo_rows[-1])


def recovery_views(client_id: int, now: dt.datetime) -> tuple[list[Timeline], list[Timeline]]:
    """Return the client's recoveries laid out for now: (under way, finished), newest first."""
    treatments = db.session.scalars(sa.select(Treatment).where(
        Treatment.client_id == client_id).order_by(Treatment.treated_at.desc())).all()
    active, past = [], []
    for recovery in recoveries(treatments):
        view = build(recovery, now)
        finished = (recovery.assessment.verdict == "resolved" and not view.today_done) \
            or view.today > MAX_AGE_DAYS
        (past if finished else active).append(view)
    return active, past
