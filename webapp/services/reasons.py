"""Why a recovery has its verdict or a flag: sentences kept by key, said in the reader's language.

A reason is written once, when a check-in or the cron sweep assesses a recovery, and read later
by a therapist who may speak another language than the client whose check-in raised it. So a
stored reason is its sentences' keys and their figures (:data:`Reason`), and :func:`said`
writes the words when a page is drawn, in that reader's language. Stored sentences in the
practice's language stay beside them (``reason`` columns) for the operator's command line and
for rows stored before the keys were.
"""
import datetime as dt
import math
from typing import Any, TypedDict

from flask_babel import format_decimal, format_percent, format_timedelta, gettext as _

from webapp.analysis import CourseAssessment
from webapp.analysis.course import DAY_FIGURES, N_, REASONS, SHARE_FIGURES, WHOLE_FIGURES


class Reason(TypedDict):
    """A reason as stored: the keys of its sentences (of :data:`SENTENCES`) and their figures."""

    keys: list[str]
    figures: dict[str, float]


# a course's reason when it is about one followed mark (figure n: the mark's number), by the
# reason's key: the same sentence naming the mark, so a therapist reads which one it is once
MARK_SENTENCES = {
    "darker_again": N_("Mark %(n)d is darker again: its colour difference rose from %(e_low)s on "
                       "day %(day_low)d to %(e_last)s now, when it should keep fading."),
    "grown": N_("Mark %(n)d has grown by %(growth)s since day %(day_low)d, on two photos in a "
                "row, and its colour has not faded: it should be shrinking."),
    "pigment": N_("On mark %(n)d the redness has gone but a darker brownish patch remains after "
                  "the usual healing time; this can be pigmentation left by the inflammation "
                  "rather than a bruise."),
    "above_curve": N_("Mark %(n)d is fading slower than expected: on day %(day_last)d its "
                      "colour difference is %(e_last)s, where up to %(ceiling)s is expected."),
    "past_usual": N_("Mark %(n)d is still visible (colour difference %(e_last)s) on day "
                     "%(day_last)d, more than %(grace)s days past the usual %(usual)s."),
    "faded": N_("Every followed mark has faded to the level of the surrounding skin."),
    # the headline of a treatment on track is its mark furthest behind: say so, and which
    "as_expected": N_("The marks are fading as expected: mark %(n)d, the furthest behind, has a "
                      "colour difference of %(e_last)s on day %(day_last)d, where up to "
                      "%(ceiling)s is expected."),
    "above_once": N_("On day %(day_last)d the colour difference of mark %(n)d is %(e_last)s, "
                     "where up to %(ceiling)s is expected: if the next photo is above that too, "
                     "it is fading slower than expected."),
}
SENTENCES = {
    **REASONS,
    **{f"{key}_mark": text for key, text in MARK_SENTENCES.items()},
    "blisters_and_fever": N_("Reported blisters or broken skin, and fever, on day %(day)d."),
    "blisters": N_("Reported blisters or broken skin on day %(day)d."),
    "fever": N_("Reported a fever on day %(day)d."),
    "silent_since_treatment": N_("No check-in since the treatment %(time)s ago."),
    "silent_since_photo": N_("No check-in for %(time)s: the last photo was on day %(day)d."),
}
# figures that are counts (passed as they are to a %d): a day is "day N" of the client's
# calendar, as every page numbers it; and durations in seconds
COUNT_FIGURES = frozenset({"n", "day"}) | DAY_FIGURES
DURATION_FIGURES = frozenset({"time"})


def of_assessment(assessment: CourseAssessment) -> Reason:
    """Return the reason of a course assessment; with figure ``n``, about that followed mark."""
    key = assessment.reason_key
    if "n" in assessment.reason_figures and key in MARK_SENTENCES:
        key = f"{key}_mark"
    return Reason(keys=[key] if key else [], figures=dict(assessment.reason_figures))


def of_symptoms(blisters: bool, fever: bool, day: int) -> Reason:
    """Return the reason a check-in's worrying symptoms give (at least one of them is true)."""
    key = "blisters_and_fever" if blisters and fever else "blisters" if blisters else "fever"
    return Reason(keys=[key], figures={"day": day})


def of_silence(silence: dt.timedelta, last_photo_day: int | None) -> Reason:
    """Return the reason of a silence: how long since the last photo (of that day number) or,
    with ``last_photo_day`` None, since the treatment."""
    if last_photo_day is None:
        return Reason(keys=["silent_since_treatment"], figures={"time": silence.total_seconds()})
    return Reason(keys=["silent_since_photo"],
                  figures={"time": silence.total_seconds(), "day": last_photo_day})


def duration(span: dt.timedelta) -> str:
    """Write a silence in whole days cut down ("11 days", never babel's rounding to "2 weeks"),
    or in whole hours under a day, in the reader's language."""
    if span >= dt.timedelta(days=1):
        return format_timedelta(dt.timedelta(days=span.days), granularity="day",
                                threshold=math.inf)
    return format_timedelta(dt.timedelta(hours=span.seconds // 3600), granularity="hour",
                            threshold=math.inf)


def tenths(value: float) -> str:
    """Write a ΔE (or a day) to one decimal in the reader's locale ("2,9" in Russian), cut
    down, not rounded: "under 3 counts as faded" (analysis.colour.RESOLVED_BELOW) must never
    sit beside a faded mark written "3.0" (2.97)."""
    # the rounding to 1e-6 first: 2.3 * 10 is 22.999999999999996 in binary
    return format_decimal(math.floor(round(value * 10, 6)) / 10, "0.0")


def _figure(name: str, value: float) -> Any:
    """Write one figure the way the reader's locale writes it (ΔE and days to one decimal)."""
    if name in COUNT_FIGURES:
        return int(value)
    if name in DURATION_FIGURES:
        return duration(dt.timedelta(seconds=value))
    if name in SHARE_FIGURES:
        return format_percent(value, "0%")
    if name in WHOLE_FIGURES:
        return format_decimal(value, "0")
    return tenths(value)


def said(reason: Reason | None, stored: str = "") -> str:
    """Say a reason in the current request's language; ``stored`` (the words written when it
    was raised) when there is no reason by key, as for rows kept before reasons had keys."""
    if not reason or not reason.get("keys"):
        return stored
    figures = {name: _figure(name, value) for name, value in reason["figures"].items()}
    return " ".join(_(SENTENCES[key], **figures) for key in reason["keys"])
