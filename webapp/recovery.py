"""A treatment's recovery: its check-ins day by day and the course assessment over them."""
import datetime as dt
import functools
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

import sqlalchemy as sa

from webapp import clock
from webapp.analysis import CourseAssessment, PhotoReading, assess_course
from webapp.models import CheckIn, Reading, Treatment, select_rows


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
    reading: ReadingRow | None

    # the model's own rule, not a copy of it
    has_red_flag_symptom = CheckIn.has_red_flag_symptom


@dataclass(frozen=True)
class Recovery:
    """One treatment, the latest check-in of each of its days, and how the course is going."""

    treatment: Treatment
    days: list[CheckInRow]
    assessment: CourseAssessment

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


@functools.cache
def checkins_statement() -> sa.Select:
    """Return the statement selecting the check-ins of the treatments `ids` (built once)."""
    # building it cost a quarter of running it for a timeline: the ids are a bound parameter.
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


@functools.lru_cache(maxsize=2048)
def photo_reading(stored: str) -> PhotoReading:
    """Rebuild a stored reading from its JSON text (the same text gives the same reading)."""
    # kept: decoding and rebuilding 14 readings cost as much as the query that loads them,
    # and every view of a recovery (timeline, home, review, flags) rebuilds the same ones.
    # the readings are shared, so they are only read (as assess_course does)
    return PhotoReading.from_dict(json.loads(stored))


def latest_per_day(treatment: Treatment, checkins: Sequence[CheckInRow]) -> list[CheckInRow]:
    """Keep the latest check-in of each day since the treatment, oldest day first."""
    by_day: dict[int, CheckInRow] = {}
    for checkin in sorted(checkins, key=lambda c: (c.taken_at, c.id)):
        by_day[clock.day_number(treatment.treated_at, checkin.taken_at)] = checkin
    return [by_day[day] for day in sorted(by_day)]


def assess(treatment: Treatment, checkins: Sequence[CheckInRow]) -> Recovery:
    """Judge the course of one treatment from its check-ins (already loaded)."""
    days = latest_per_day(treatment, checkins)
    readings = [(c.taken_at, photo_reading(c.reading.stored))
                for c in days if c.reading is not None]
    assessment = assess_course(treatment.treated_at, readings,
                               expected_days=treatment.expected_days)
    return Recovery(treatment=treatment, days=days, assessment=assessment)


def recoveries(treatments: Sequence[Treatment]) -> list[Recovery]:
    """Judge many treatments with a single query for all their check-ins."""
    checkins = checkins_by_treatment(t.id for t in treatments)
    return [assess(t, checkins.get(t.id, [])) for t in treatments]
