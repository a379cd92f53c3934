"""The one way every page, message and record writes a date and a time of day."""
import datetime as dt
import functools

from babel import Locale
from babel.dates import get_timezone as babel_timezone, parse_pattern
from flask_babel import get_locale, get_timezone

# the one way every page writes a date, a time of day, and both (the `day` and `when` filters,
# and the lists that format many rows through formatter())
DATE_PATTERN = "EEE d MMM"
TIME_PATTERN = "HH:mm"
DATETIME_PATTERN = f"{DATE_PATTERN}, {TIME_PATTERN}"


def formatter(pattern: str, timezone: str | None = None):
    """Return a function writing a UTC datetime, or a calendar date, with a babel pattern.

    Times are shown in ``timezone`` (default: the user's) and the user's language.
    """
    # flask-babel's filters find the zone and locale per call; a list formats one date per
    # row, so they are found once here
    zone = get_timezone() if timezone is None else babel_timezone(timezone)
    locale = get_locale()
    compiled = parse_pattern(pattern)

    def write(value: dt.datetime | dt.date) -> str:
        """Write one datetime or date."""
        if not isinstance(value, dt.datetime):
            return local_date(value, pattern, locale)
        local = value.astimezone(zone)
        if pattern == DATE_PATTERN:
            return local_date(local.date(), pattern, locale)
        return compiled.apply(local, locale)
    return write


@functools.lru_cache(maxsize=4096)
def local_date(day: dt.date, pattern: str, locale: Locale) -> str:
    """Format a calendar date with a babel pattern (kept: a timeline shows the same days daily)."""
    return parse_pattern(pattern).apply(day, locale)
