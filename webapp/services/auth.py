"""Account rules: strong enough passwords, time zones people type, and signed single-use links."""
import functools
import hashlib
import secrets
import zoneinfo

from flask import current_app
from flask_babel import gettext as _
from itsdangerous import URLSafeTimedSerializer
from werkzeug.security import generate_password_hash
from zxcvbn import zxcvbn

from webapp.models import PASSWORD_METHOD, User

MIN_PASSWORD = 10
MAX_PASSWORD = 256
# zxcvbn's scale: 3 is "safely unguessable" (over 10^8 guesses), what it advises for accounts
MIN_PASSWORD_SCORE = 3
# zxcvbn refuses longer input (its time grows with length): a longer password is judged by
# its start, and hashed and checked whole
PASSWORD_JUDGED_CHARS = 72
# words of this app that guessers try first: zxcvbn counts a password built on them as weak
CONTEXT_WORDS = ("cupmark", "cupping", "cups", "hijama", "therapy", "therapist", "practice",
                 "marks", "recovery")
# not places, though the system's tz database lists them: "Factory" is its placeholder for a zone
# not set up, "localtime" the machine's own (a link beside the zones); pytz, which babel writes
# dates with, knows neither, so a person with one saw every dated page fail
NOT_PLACES = frozenset({"Factory", "localtime"})
TIMEZONES = frozenset(zoneinfo.available_timezones()) - NOT_PLACES
# the zones the settings list offers: the canonical Area/City names (no "Etc/GMT+5" or legacy
# aliases such as "US/Pacific", which are still accepted when typed)
ZONE_CHOICES = tuple(sorted(zone for zone in TIMEZONES if "/" in zone and not zone.startswith(
    ("Etc/", "SystemV/", "US/", "Canada/", "Mexico/", "Brazil/", "Chile/"))))


def zones_by_city(zones) -> dict[str, list[str]]:
    """Return the zones by their city in small letters ("new york"), several where it repeats."""
    found: dict[str, list[str]] = {}
    for zone in zones:
        found.setdefault(zone.rsplit("/", 1)[1].replace("_", " ").lower(), []).append(zone)
    return found


# a city typed alone ("Berlin", "new york") names the one zone that ends with it
ZONES_BY_CITY = zones_by_city(ZONE_CHOICES)


def valid_timezone(name: str | None) -> str:
    """Return the IANA zone name if we know it, else UTC."""
    return name if name in TIMEZONES else "UTC"


def find_timezone(text: str | None) -> str | None:
    """Return the IANA zone a person typed: its exact name, any capitalisation, or its city."""
    typed = " ".join((text or "").split())
    if typed in TIMEZONES:
        return typed
    by_name = {zone.lower(): zone for zone in TIMEZONES}
    found = by_name.get(typed.replace(" ", "_").lower())
    if found:
        return found
    cities = ZONES_BY_CITY.get(typed.replace("_", " ").lower(), [])
    return cities[0] if len(cities) == 1 else None


def password_problem(password: str, *personal: str) -> str | None:
    """Return why a new password would be easy to guess, or None if it is not."""
    judged = zxcvbn(password[:PASSWORD_JUDGED_CHARS],
                    user_inputs=[*CONTEXT_WORDS, *(word for word in personal if word)])
    if judged["score"] >= MIN_PASSWORD_SCORE:
        return None
    # zxcvbn says why in English; the sentence around it is ours, and translated
    reason = judged["feedback"]["warning"] or _(
        "It is close to your name or email, or follows a pattern guessing tools try early.")
    return _("This password is too easy to guess. %(reason)s Try a few uncommon words together.",
             reason=reason)


@functools.cache
def unknown_account_hash() -> str:
    """Return a hash to check a password against when no account has the email typed."""
    # kept: making one took 350 ms, so a new one per login would tell an unknown email apart
    # by its time, which checking against it exists to prevent
    return generate_password_hash(secrets.token_urlsafe(16), method=PASSWORD_METHOD)


def token_serializer(purpose: str) -> URLSafeTimedSerializer:
    """Return the signer of the links we email for one purpose (reset, verify)."""
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"cupmark-{purpose}")


def password_fingerprint(user: User) -> str:
    """Return a short digest of the user's password hash: a reset link names it to be single-use."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]
