"""Time in the user's zone: forms speak local wall-clock time, the database speaks UTC."""
import datetime as dt
import zoneinfo

DAY = dt.timedelta(days=1)


def local_to_utc(value: dt.datetime, timezone: str) -> dt.datetime:
    """Read a naive wall-clock time in the given zone and return it as aware UTC."""
    return value.replace(tzinfo=zoneinfo.ZoneInfo(timezone)).astimezone(dt.timezone.utc)


def utc_to_local(value: dt.datetime, timezone: str) -> dt.datetime:
    """Return an aware UTC time as naive wall-clock time in the given zone (for form fields)."""
    return value.astimezone(zoneinfo.ZoneInfo(timezone)).replace(tzinfo=None)


def days_since(start: dt.datetime, at: dt.datetime) -> float:
    """Return the days from start to at, as a fraction."""
    return (at - start) / DAY


def day_number(start: dt.datetime, at: dt.datetime) -> int:
    """Return "day N" counted from the treatment's time: day 0 is its first 24 hours."""
    return int((at - start) // DAY)
