"""The one way every page, message and record writes a date and a time of day."""
import datetime as dt

from babel.dates import get_timezone as babel_timezone, parse_pattern
from flask import g
from flask_babel import get_locale, get_timezone, refresh
from flask_login import current_user

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


def show_times_of(client) -> None:
    """Write every date and time of this request in the client's zone, whoever reads it.

    The rule for a page (or record) about one client's recovery: its days are the client's
    calendar dates (webapp.clock), so its times are the client's wall-clock times too, the
    session's as well as each photo's; a therapist elsewhere is told which zone they read
    (``times_zone``). Other pages (a therapist's list of many clients) keep the reader's zone.
    """
    g.times_zone = client.timezone
    # Flask-Babel keeps the zone it found first in this request
    refresh()


def times_zone() -> str | None:
    """Return the zone this request's times are written in when it is not the reader's own
    (set by show_times_of), else None."""
    zone = g.get("times_zone")
    return zone if zone and zone != getattr(current_user, "timezone", zone) else None
