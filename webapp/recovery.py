"""A treatment's recovery: its check-ins day by day and the course assessment over them."""
import functools
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from webapp import clock
from webapp.analysis import CourseAssessment, PhotoReading, assess_course
from webapp.extensions import db
from webapp.models import CheckIn, Treatment


@dataclass(frozen=True)
class Recovery:
    """One treatment, the latest check-in of each of its days, and how the course is going."""

    treatment: Treatment
    days: list[CheckIn]
    assessment: CourseAssessment

    @property
    def latest(self) -> CheckIn | None:
        """Return the most recent check-in that counts, if any."""
        return self.days[-1] if self.days else None


@functools.cache
def checkins_statement() -> sa.Select:
    """Return the statement selecting the check-ins of the treatments `ids` (built once)."""
    # building it cost a quarter of running it for a timeline: the ids are a bound parameter
    return (sa.select(CheckIn).where(CheckIn.treatment_id.in_(sa.bindparam("ids", expanding=True)))
            .order_by(CheckIn.taken_at, CheckIn.id))


def checkins_by_treatment(treatment_ids: Iterable[int]) -> dict[int, list[CheckIn]]:
    """Load the check-ins, with their readings, of many treatments in one query."""
    ids = list(treatment_ids)
    found: dict[int, list[CheckIn]] = defaultdict(list)
    if not ids:
        return found
    rows = db.session.scalars(checkins_statement(), {"ids": ids}).unique()
    for checkin in rows:
        found[checkin.treatment_id].append(checkin)
    return found


def latest_per_day(treatment: Treatment, checkins: Sequence[CheckIn]) -> list[CheckIn]:
    """Keep the latest check-in of each day since the treatment, oldest day first."""
    by_day: dict[int, CheckIn] = {}
    for checkin in sorted(checkins, key=lambda c: (c.taken_at, c.id)):
        by_day[clock.day_number(treatment.treated_at, checkin.taken_at)] = checkin
    return [by_day[day] for day in sorted(by_day)]


def assess(treatment: Treatment, checkins: Sequence[CheckIn]) -> Recovery:
    """Judge the course of one treatment from its check-ins (already loaded)."""
    days = latest_per_day(treatment, checkins)
    readings = [(c.taken_at, PhotoReading.from_dict(c.reading.data))
                for c in days if c.reading is not None]
    assessment = assess_course(treatment.treated_at, readings,
                               expected_days=treatment.expected_days)
    return Recovery(treatment=treatment, days=days, assessment=assessment)


def recoveries(treatments: Sequence[Treatment]) -> list[Recovery]:
    """Judge many treatments with a single query for all their check-ins."""
    checkins = checkins_by_treatment(t.id for t in treatments)
    return [assess(t, checkins.get(t.id, [])) for t in treatments]
