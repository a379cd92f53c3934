"""Why a recovery has its verdict or a flag: sentences kept by key, said in the reader's language.

A reason is written once, when a check-in or the cron sweep assesses a recovery, and read later
by a therapist who may speak another language than the client whose check-in raised it. So a
stored reason is its sentences' keys and their figures (:data:`Reason`), and :func:`said`
writes the words when a page is drawn, in that reader's language. Stored sentences in the
practice's language stay beside them (``reason`` columns) for the operator's command line and
for rows stored before the keys were.
"""
import datetime as dt
from typing import Any, TypedDict

from flask_babel import format_decimal, format_percent, format_timedelta, gettext as _

from webapp.analysis import CourseAssessment
from webapp.analysis.course import N_, REASONS, SHARE_FIGURES, WHOLE_FIGURES


class Reason(TypedDict):
    """A reason as stored: the keys of its sentences (of :data:`SENTENCES`) and their figures."""

    keys: list[str]
    figures: dict[str, float]


# the sentences a course assessment's reason is preceded by when it is about one followed mark
# (figure n: the mark's number), by verdict; the other verdicts say nothing more
MARK_SENTENCES = {
    "slow": N_("Mark %(n)d is fading slower than expected."),
    "worsening": N_("Mark %(n)d is darker or bigger again."),
    "pigmentation": N_("Mark %(n)d leaves a darker patch."),
    "resolved": N_("Every followed mark has faded."),
}
SENTENCES = {
    **REASONS,
    **{f"mark_{verdict}": text for verdict, text in MARK_SENTENCES.items()},
    "blisters_and_fever": N_("Reported blisters or broken skin, and fever, on day %(day)d."),
    "blisters": N_("Reported blisters or broken skin on day %(day)d."),
    "fever": N_("Reported a fever on day %(day)d."),
    "silent_since_treatment": N_("No check-in since the treatment %(time)s ago."),
    "silent_since_photo": N_("No check-in for %(time)s: the last photo was on day %(day)d."),
}
# figures that are counts (passed as they are to a %d), and durations in seconds
COUNT_FIGURES = frozenset({"n", "day"})
DURATION_FIGURES = frozenset({"time"})


def of_assessment(assessment: CourseAssessment) -> Reason:
    """Return the reason of a course assessment; with figure ``n``, about that followed mark."""
    keys = [assessment.reason_key] if assessment.reason_key else []
    if "n" in assessment.reason_figures and assessment.verdict in MARK_SENTENCES:
        keys.insert(0, f"mark_{assessment.verdict}")
    return Reason(keys=keys, figures=dict(assessment.reason_figures))


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


def _figure(name: str, value: float) -> Any:
    """Write one figure the way the reader's locale writes it (ΔE and days to one decimal)."""
    if name in COUNT_FIGURES:
        return int(value)
    if name in DURATION_FIGURES:
        return format_timedelta(dt.timedelta(seconds=value), threshold=1.5)
    if name in SHARE_FIGURES:
        return format_percent(value, "0%")
    if name in WHOLE_FIGURES:
        return format_decimal(value, "0")
    return format_decimal(value, "0.0")


def said(reason: Reason | None, stored: str = "") -> str:
    """Say a reason in the current request's language; ``stored`` (the words written when it
    was raised) when there is no reason by key, as for rows kept before reasons had keys."""
    if not reason or not reason.get("keys"):
        return stored
    figures = {name: _figure(name, value) for name, value in reason["figures"].items()}
    return " ".join(_(SENTENCES[key], **figures) for key in reason["keys"])
