"""The one way every page, message and record writes a date and a time of day."""
import datetime as dt

from babel.dates import get_timezone as babel_timezone, parse_pattern
from flask_babel import get_locale, get_timezone

from webapp import clock

# the one way every page writes a date, a time of day, and both (the `day`, `time_of_day` and
# `when` filters, and formatter() for a zone other than the user's)
DATE_PATTERN = "EEE d MMM"
TIME_PATTERN = "HH:mm"
DATETIME_PATTERN = f"{DATE_PATTERN}, {TIME_PATTERN}"
# the same with the year, for a message that may name any year: "Wed 1 Jan, 00:00 is before
# the session" about 2020 read as this January
YEAR_DATETIME_PATTERN = f"{DATE_PATTERN} y, {TIME_PATTERN}"


def formatter(pattern: str, timezone: str | None = None, *, other_year: str | None = None):
    """Return a function writing a UTC datetime, or a calendar date, with a babel pattern.

    Times are shown in ``timezone`` (default: the user's) and the user's language; a value
    outside the current year (in that zone, by the app's clock) is written with the
    ``other_year`` pattern when one is given.
    """
    zone = get_timezone() if timezone is None else babel_timezone(timezone)
    locale = get_locale()
    compiled = parse_pattern(pattern)
    elsewhen = parse_pattern(other_year) if other_year else compiled
    this_year = clock.now().astimezone(zone).year

    def write(value: dt.datetime | dt.date) -> str:
        """Write one datetime or date."""
        if isinstance(value, dt.datetime):
            value = value.astimezone(zone)
        return (compiled if value.year == this_year else elsewhen).apply(value, locale)
    return write
