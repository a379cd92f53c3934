"""Time in the user's zone: forms speak local wall-clock time, the database speaks UTC.

What a person calls a day is a calendar date in their zone: "day 0" is the date of the
treatment, "day N" the Nth date after it, across DST changes too. The course maths keeps exact
elapsed time (:func:`days_since`). :func:`now` is the one clock of the app; :func:`travel`
sets it to a chosen moment (tests and screenshots of a given moment).
"""
import contextlib
import datetime as dt
import zoneinfo

DAY = dt.timedelta(days=1)

# how far the app's clock is set off the machine's (see travel)
_offset = dt.timedelta(0)


def now() -> dt.datetime:
    """Return the app's current time as an aware UTC datetime."""
    return dt.datetime.now(dt.timezone.utc) + _offset


@contextlib.contextmanager
def travel(at: dt.datetime):
    """Set the app's clock (every thread's) to the aware ``at`` inside the block; it runs on.

    For tests and screenshots of a given moment: the clock keeps ticking from ``at``, so rows
    written one after the other still come in order.
    """
    global _offset
    if at.tzinfo is None:
        raise ValueError("travel needs an aware datetime")
    before, _offset = _offset, at - dt.datetime.now(dt.timezone.utc)
    try:
        yield
    finally:
        _offset = before


def local_to_utc(value: dt.datetime, timezone: str) -> dt.datetime:
    """Read a naive wall-clock time in the given zone and return it as aware UTC.

    Raises ValueError when that time has no UTC time (year 1 east of UTC, 9999 west of it).
    """
    try:
        return value.replace(tzinfo=zoneinfo.ZoneInfo(timezone)).astimezone(dt.timezone.utc)
    except OverflowError as error:
        raise ValueError(f"{value} in {timezone} is beyond the dates UTC can hold") from error


def utc_to_local(value: dt.datetime, timezone: str) -> dt.datetime:
    """Return an aware UTC time as naive wall-clock time in the given zone (for form fields)."""
    return value.astimezone(zoneinfo.ZoneInfo(timezone)).replace(tzinfo=None)


def local_date(at: dt.datetime, timezone: str) -> dt.date:
    """Return the calendar date an aware time falls on in the given zone."""
    return at.astimezone(zoneinfo.ZoneInfo(timezone)).date()


def days_since(start: dt.datetime, at: dt.datetime) -> float:
    """Return the exact days elapsed from start to at, as a fraction (the course maths)."""
    return (at - start) / DAY


def day_number(start: dt.datetime, at: dt.datetime, timezone: str) -> int:
    """Return "day N": how many calendar dates in the zone lie between start's and at's."""
    return (local_date(at, timezone) - local_date(start, timezone)).days


def day_date(start: dt.datetime, day: int, timezone: str) -> dt.date:
    """Return the calendar date of "day N" counted from start in the zone."""
    return local_date(start, timezone) + dt.timedelta(days=day)
