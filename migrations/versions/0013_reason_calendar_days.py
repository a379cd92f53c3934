"""a stored reason names "day N" of the client's calendar (day_low, day_last), not days elapsed

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 21:00:00

"""
import datetime as dt
import zoneinfo

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

# a reason's figure of elapsed days, by the calendar-day figure the sentences now name
RENAMED = {'t_low': 'day_low', 't_last': 'day_last'}


def _day_number(treated_at: dt.datetime, elapsed: float, zone: str) -> int:
    """"day N" of the moment ``elapsed`` days after the (naive UTC) treatment, in the zone:
    webapp.clock.day_number when this was written (a migration keeps its own copy)."""
    start = treated_at.replace(tzinfo=dt.timezone.utc)
    try:
        place = zoneinfo.ZoneInfo(zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        place = dt.timezone.utc
    # the figure is the elapsed time as assessed, to the microsecond a float keeps
    at = start + dt.timedelta(days=elapsed)
    return (at.astimezone(place).date() - start.astimezone(place).date()).days


def _convert(figures: dict, treated_at: dt.datetime, zone: str, to_days: bool) -> dict:
    """The figures with their days renamed one way or the other."""
    if to_days:
        return {RENAMED.get(name, name): (_day_number(treated_at, value, zone)
                                          if name in RENAMED else value)
                for name, value in figures.items()}
    # back: the day's noon, as near the elapsed time as a calendar day says
    back = {day: elapsed for elapsed, day in RENAMED.items()}
    return {back.get(name, name): (value + 0.5 if name in back else value)
            for name, value in figures.items()}


def _rewrite(to_days: bool) -> None:
    """Rewrite the reason figures of every flag and recovery summary."""
    bind = op.get_bind()
    treatment = sa.table('treatment', sa.column('id', sa.Integer),
                         sa.column('client_id', sa.Integer),
                         sa.column('treated_at', sa.DateTime))
    user = sa.table('user', sa.column('id', sa.Integer), sa.column('timezone', sa.String))
    names = set(RENAMED) if to_days else set(RENAMED.values())
    for name, key in (('flag', 'id'), ('recovery_summary', 'treatment_id')):
        table = sa.table(name, sa.column(key, sa.Integer), sa.column('treatment_id', sa.Integer),
                         sa.column('reason_data', sa.JSON))
        rows = bind.execute(sa.select(table.c[key], table.c.reason_data, treatment.c.treated_at,
                                      user.c.timezone)
                            .join(treatment, treatment.c.id == table.c.treatment_id)
                            .join(user, user.c.id == treatment.c.client_id)
                            .where(table.c.reason_data.is_not(None))).all()
        for row_id, data, treated_at, zone in rows:
            figures = (data or {}).get('figures') or {}
            if not names.intersection(figures):
                continue
            data = {**data, 'figures': _convert(figures, treated_at, zone or 'UTC', to_days)}
            bind.execute(table.update().where(table.c[key] == row_id).values(reason_data=data))


def upgrade():
    # "on day 5.8" was the days elapsed since the treatment; every page numbers a client's days
    # by their calendar ("day 6" from the evening on), and a stored reason now says the same
    _rewrite(to_days=True)


def downgrade():
    _rewrite(to_days=False)
