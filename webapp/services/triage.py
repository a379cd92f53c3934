"""The therapist's triage list: every active recovery, most urgent first, and what changed today.

The ranking runs in the database over each treatment's :class:`RecoverySummary` (kept by
``webapp.flags``), so a page costs the same few queries and reads no check-ins however many
clients a practice follows. Urgency, most urgent first:

1. ``red_flag``: a flag for reported blisters or fever is open (not yet acknowledged);
2. ``worsening``, or a worsening flag still open (the client was told it is on top);
3. ``slow``, furthest above the expected ceiling first; then ``pigmentation`` (behind the
   curve, but not getting worse);
4. ``missed``: no check-in for 36 h (only recoveries that are otherwise on track or still
   waiting for data: a slow one stays slow);
5. ``on_track``; then ``waiting`` (insufficient data: fewer than two usable photos so far);
6. ``resolved``.
"""
import collections
import datetime as dt
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
import sqlalchemy.orm as so

from webapp import clock
from webapp.models import (CheckIn, Flag, Reading, RecoverySummary, Treatment, User, UTCDateTime,
                           select_rows)
from webapp.services import reasons
from webapp.services.access import linked_client_ids
from webapp.services.flags import ACTIVE_DAYS, MISSED_AFTER, silence_reason
from webapp.services.recovery import MAX_AGE_DAYS

STATUSES = ("red_flag", "worsening", "slow", "pigmentation", "missed", "on_track", "waiting",
            "resolved")
# the statuses a therapist should look at today
ATTENTION = STATUSES[:5]
# rows per page: the top of the list is what matters (20 fill a few phone screens); "show
# more" extends it
PAGE_SIZE = 20
MAX_PAGE = 1000
DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class Filters:
    """What the therapist asked the list for: a name to search, a status, how many rows."""

    query: str = ""
    status: str = ""
    limit: int = PAGE_SIZE

    @classmethod
    def from_args(cls, args) -> "Filters":
        """Read the filters from query arguments, ignoring values that mean nothing."""
        query = " ".join(args.get("q", "").split())[:120]
        status = args.get("status", "")
        if status not in STATUSES and status != "attention":
            status = ""
        try:
            limit = min(max(int(args.get("limit", PAGE_SIZE)), PAGE_SIZE), MAX_PAGE)
        except ValueError:
            limit = PAGE_SIZE
        return cls(query=query, status=status, limit=limit)


@dataclass(frozen=True)
class TriageRow:
    """One active recovery as the triage list shows it."""

    # named tuples of the columns the list shows (see ROW_GROUPS), not ORM objects
    treatment: tuple
    client: tuple
    summary: tuple | None
    reading: tuple | None
    status: str
    now: dt.datetime
    flags: list[sa.Row] = field(default_factory=list)

    @property
    def day(self) -> int:
        """Return today's day number since the treatment (dates in the client's zone)."""
        return clock.day_number(self.treatment.treated_at, self.now, self.client.timezone)

    @property
    def verdict(self) -> str:
        """Return the course verdict (insufficient data before any assessment)."""
        return self.summary.verdict if self.summary else "insufficient_data"

    @property
    def reason(self) -> str:
        """Return the plain-language reason of the verdict in the reader's language, if assessed."""
        return reasons.said(self.summary.reason_data, self.summary.reason) if self.summary else ""

    @property
    def last_checkin_at(self) -> dt.datetime | None:
        """Return when the latest photo was taken, if any."""
        return self.summary.last_checkin_at if self.summary else None

    @property
    def since_last_checkin(self) -> dt.timedelta | None:
        """Return how long ago the latest photo was taken, if any."""
        return self.now - self.last_checkin_at if self.last_checkin_at else None

    @property
    def silence(self) -> str:
        """Say how long the client has not checked in, as it stands now (flags.silence_reason)."""
        return reasons.said(silence_reason(self.treatment.treated_at, self.last_checkin_at,
                                           self.now, self.client.timezone))


@dataclass(frozen=True)
class Triage:
    """One page of the triage list, with how many recoveries are in each status."""

    rows: list[TriageRow]
    counts: dict[str, int]
    filters: Filters

    @property
    def total(self) -> int:
        """Return how many recoveries match the name search, whatever their status."""
        return sum(self.counts.values())

    @property
    def attention(self) -> int:
        """Return how many recoveries matching the search a therapist should look at."""
        return sum(self.counts.get(s, 0) for s in ATTENTION)

    @property
    def matching(self) -> int:
        """Return how many recoveries match both the search and the status filter."""
        if self.filters.status == "attention":
            return self.attention
        if self.filters.status:
            return self.counts.get(self.filters.status, 0)
        return self.total

    @property
    def more(self) -> int:
        """Return how many matching recoveries lie past this page."""
        return max(self.matching - len(self.rows), 0)


# a treatment's open red-flag flag, outer-joined: the partial unique index allows one at most,
# so the join adds no row, and the rank (evaluated up to three times a row) reads a column
# instead of running a subquery each time
OpenRedFlag = so.aliased(Flag, name="open_red_flag")
# the same for a worsening flag: the client was told their therapist has it at the top of
# their list (treatments/_red_flags.html), so it stays there until acknowledged, even when the
# next photo reads on track again
OpenWorsening = so.aliased(Flag, name="open_worsening")


def rank_expression() -> sa.ColumnElement[int]:
    """Return the SQL expression of a recovery's urgency: 0 (most urgent) to 7 (:missed_before)."""
    verdict = sa.func.coalesce(RecoverySummary.verdict, "insufficient_data")
    activity = sa.func.coalesce(RecoverySummary.last_checkin_at, Treatment.treated_at)
    return sa.case(
        # an open red-flag flag, not the latest check-in's symptoms: a check-in with them
        # raises one in the same commit, and once a therapist acknowledged it the row ranks
        # by its course again (a later report raises a new flag)
        (OpenRedFlag.id.is_not(None), STATUSES.index("red_flag")),
        (sa.or_(verdict == "worsening", OpenWorsening.id.is_not(None)),
         STATUSES.index("worsening")),
        (verdict == "slow", STATUSES.index("slow")),
        (verdict == "pigmentation", STATUSES.index("pigmentation")),
        (verdict == "resolved", STATUSES.index("resolved")),
        (activity < sa.bindparam("missed_before", type_=UTCDateTime), STATUSES.index("missed")),
        (verdict == "on_track", STATUSES.index("on_track")),
        else_=STATUSES.index("waiting"))


class Group:
    """Columns selected side by side in a row and read back as one named tuple."""

    def __init__(self, name: str, *columns):
        """Name the group and its columns (the tuple's fields are the columns' keys)."""
        self.columns = columns
        self.make = collections.namedtuple(name, [column.key for column in columns])._make


def split(row: Sequence, groups: Sequence[Group]) -> list[tuple]:
    """Read a row of the groups' columns (in their order) back as a named tuple per group."""
    parts, start = [], 0
    for group in groups:
        end = start + len(group.columns)
        parts.append(group.make(row[start:end]))
        start = end
    return parts


# what a row shows, as named groups of columns: a page builds no ORM object per row (nor reads
# a reading's whole analysis or the notes)
ROW_GROUPS = (
    Group("treatment", Treatment.id, Treatment.client_id, Treatment.treated_at,
          Treatment.body_area, Treatment.expected_days),
    Group("client", User.id, User.name, User.timezone),
    Group("summary", RecoverySummary.treatment_id, RecoverySummary.verdict,
          RecoverySummary.reason, RecoverySummary.reason_data, RecoverySummary.last_checkin_at,
          RecoverySummary.ceiling_ratio),
    Group("reading", Reading.checkin_id, Reading.ok, Reading.stage, Reading.mark_hex))


def active_recoveries(searching: bool) -> sa.Select:
    """Select a therapist's active recoveries (optionally by client name) with their summary.

    Bound parameters: therapist_id, oldest (MAX_AGE_DAYS ago), active_since (ACTIVE_DAYS ago)
    and, when searching, pattern (see :func:`name_pattern`).
    """
    stmt = (sa.select(*(column for group in ROW_GROUPS for column in group.columns))
            .join(User, User.id == Treatment.client_id)
            .outerjoin(RecoverySummary, RecoverySummary.treatment_id == Treatment.id)
            .outerjoin(Reading, Reading.checkin_id == RecoverySummary.checkin_id)
            .outerjoin(OpenRedFlag, sa.and_(OpenRedFlag.treatment_id == Treatment.id,
                                            OpenRedFlag.kind == "red_flag_symptom",
                                            OpenRedFlag.acknowledged_at.is_(None)))
            .outerjoin(OpenWorsening, sa.and_(OpenWorsening.treatment_id == Treatment.id,
                                              OpenWorsening.kind == "worsening",
                                              OpenWorsening.acknowledged_at.is_(None)))
            .where(Treatment.client_id.in_(linked_client_ids(sa.bindparam("therapist_id"))),
                   Treatment.treated_at >= sa.bindparam("oldest", type_=UTCDateTime),
                   sa.or_(Treatment.treated_at >= sa.bindparam("active_since", type_=UTCDateTime),
                          RecoverySummary.verdict.is_(None),
                          RecoverySummary.verdict != "resolved")))
    if searching:
        stmt = stmt.where(User.name.ilike(sa.bindparam("pattern"), escape="\\"))
    return stmt


def name_pattern(query: str) -> str:
    """Return the LIKE pattern matching names that contain the query literally."""
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@functools.cache
def triage_statements(searching: bool, status: str) -> tuple[sa.Select, sa.Select]:
    """Return the statements counting each status and selecting one page (built once each)."""
    # kept (the values, who, when, the search and how many, are bound parameters, see triage()):
    # building them took 0.5 ms, a tenth of the triage page's server time, on every view
    rank = rank_expression()
    base = active_recoveries(searching)
    counted = base.with_only_columns(rank.label("rank"), sa.func.count()).group_by(rank)
    stmt = base.add_columns(rank.label("rank"))
    if status == "attention":
        stmt = stmt.where(rank <= STATUSES.index(ATTENTION[-1]))
    elif status:
        stmt = stmt.where(rank == STATUSES.index(status))
    missed_since = sa.case((rank == STATUSES.index("missed"), sa.func.coalesce(
        RecoverySummary.last_checkin_at, Treatment.treated_at)))
    stmt = stmt.order_by(
        rank,
        missed_since.asc().nulls_last(),  # the longest silence first
        RecoverySummary.ceiling_ratio.desc().nulls_last(),  # furthest behind the curve first
        User.name, Treatment.id).limit(sa.bindparam("limit"))
    return counted, stmt


# the open flags of the listed treatments (:ids)
OPEN_FLAGS = (sa.select(Flag.id, Flag.treatment_id, Flag.kind, Flag.reason, Flag.reason_data)
              .where(Flag.treatment_id.in_(sa.bindparam("ids", expanding=True)),
                     Flag.acknowledged_at.is_(None))
              .order_by(Flag.raised_at))


def triage(therapist_id: int, now: dt.datetime, filters: Filters) -> Triage:
    """Rank the therapist's active recoveries and return the page the filters ask for."""
    counted, stmt = triage_statements(bool(filters.query), filters.status)
    params = {"therapist_id": therapist_id, "missed_before": now - MISSED_AFTER,
              "oldest": now - dt.timedelta(days=MAX_AGE_DAYS),
              "active_since": now - dt.timedelta(days=ACTIVE_DAYS),
              "pattern": name_pattern(filters.query), "limit": filters.limit}
    counts = {STATUSES[r]: n for r, n in select_rows(counted, params)}
    rows = []
    for row in select_rows(stmt, params):
        t, c, s, r = split(row, ROW_GROUPS)
        # an outer join without a summary or reading gives a group of nulls: the row has none
        rows.append(TriageRow(treatment=t, client=c,
                              summary=s if s.treatment_id is not None else None,
                              reading=r if r.checkin_id is not None else None,
                              status=STATUSES[row[-1]], now=now))
    by_treatment = {row.treatment.id: row for row in rows}
    if rows:
        for flag in select_rows(OPEN_FLAGS, {"ids": list(by_treatment)}):
            by_treatment[flag.treatment_id].flags.append(flag)
    return Triage(rows=rows, counts=counts, filters=filters)


@dataclass(frozen=True)
class SinceYesterday:
    """What happened in the therapist's practice in the last 24 hours."""

    checkins: int
    clients_checked_in: int
    # (flag, person) and (treatment, person): named tuples of the columns the panel shows
    new_flags: list[tuple[tuple, tuple]]
    new_flag_count: int
    resolved: list[tuple[tuple, tuple]]
    resolved_count: int

    @property
    def empty(self) -> bool:
        """Tell whether nothing happened."""
        return not (self.checkins or self.new_flag_count or self.resolved_count)


# how many new flags and resolved recoveries the panel names; the rest are counted
PANEL_ITEMS = 5
# what a panel item shows: a new flag or a resolved treatment, and who it is about
NEW_FLAG = (Group("flag", Flag.id, Flag.kind, Flag.raised_at), Group("person", User.id, User.name))
RESOLVED = (Group("treatment", Treatment.id, Treatment.body_area),
            Group("person", User.id, User.name))


@functools.cache
def since_statements() -> tuple[sa.Select, sa.Select, sa.Select]:
    """Return the panel's three statements, built once: :therapist_id's clients, since :since."""
    # kept: building them took 0.26 ms of the triage page's 5 ms on every view
    linked = linked_client_ids(sa.bindparam("therapist_id"))
    since = sa.bindparam("since", type_=UTCDateTime)
    total = sa.func.count().over().label("total")
    checkins = (sa.select(sa.func.count(CheckIn.id), sa.func.count(sa.distinct(CheckIn.client_id)))
                .where(CheckIn.client_id.in_(linked), CheckIn.created_at >= since))
    flags = (sa.select(*(column for group in NEW_FLAG for column in group.columns), total)
             .join(Treatment, Treatment.id == Flag.treatment_id)
             .join(User, User.id == Treatment.client_id)
             .where(Treatment.client_id.in_(linked), Flag.raised_at >= since)
             .order_by(Flag.raised_at.desc(), Flag.id.desc()).limit(PANEL_ITEMS))
    resolved = (sa.select(*(column for group in RESOLVED for column in group.columns), total)
                .join(RecoverySummary, RecoverySummary.treatment_id == Treatment.id)
                .join(User, User.id == Treatment.client_id)
                .where(Treatment.client_id.in_(linked), RecoverySummary.resolved_at >= since)
                .order_by(RecoverySummary.resolved_at.desc(), Treatment.id).limit(PANEL_ITEMS))
    return checkins, flags, resolved


def since_yesterday(therapist_id: int, now: dt.datetime) -> SinceYesterday:
    """Count the check-ins, new flags and newly resolved recoveries of the last 24 hours."""
    counted, flags, resolved = since_statements()
    params = {"therapist_id": therapist_id, "since": now - DAY}
    checkins, clients = select_rows(counted, params).one()
    flag_rows = select_rows(flags, params).all()
    resolved_rows = select_rows(resolved, params).all()
    return SinceYesterday(
        checkins=checkins, clients_checked_in=clients,
        new_flags=[tuple(split(row, NEW_FLAG)) for row in flag_rows],
        new_flag_count=flag_rows[0].total if flag_rows else 0,
        resolved=[tuple(split(row, RESOLVED)) for row in resolved_rows],
        resolved_count=resolved_rows[0].total if resolved_rows else 0)
