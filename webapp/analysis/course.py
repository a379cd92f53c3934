"""Judge a recovery course: where a mark's fading stands against the expected 5–7 day curve."""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from . import colour
from .colour import RESOLVED_BELOW
from .reading import DARKER_THAN_LAST, NOT_MATCHED, RETAKE_QUALITY, UNDEREXPOSED, PhotoReading

# every rule constant of DESIGN.md "Course", each with where it comes from
# marks darken until ~38 h (Mimasaka et al. 2010: ΔL* lowest at 38.9 h), so no rise before day 2 counts
DARKENING_DAYS = 2.0
# usual resolution: marks fade within 5–7 days (seed texts; Mimasaka et al. 2010: gone by 7–10 days)
DEFAULT_EXPECTED_DAYS = 7.0
# slow when above the ceiling by this factor (DESIGN.md; ~ the 2–4 ΔE phone-to-phone spread, Cugmas & Štruc 2020)
SLOW_FACTOR = 1.25
# slow is judged from day 3 on, a day after the darkening phase ends (DESIGN.md)
SLOW_FROM_DAY = 3.0
# slow at once on a lone reading from day 3 on (the one before it earlier, so none can confirm
# it) above this many times the band's top: a measurement does not double from one day to the
# next (JUMP_FACTOR), so no mis-measured photo of a mark on the curve reads that high, and a
# mark photographed on days 1, 2 and 7 that never faded was "as expected" until another photo
SLOW_ALONE_FACTOR = 2.0
# still visible this long after the expected day is slow whatever the curve (DESIGN.md; dark marks last 2–3 weeks)
SLOW_GRACE_DAYS = 3.0
# resolved with one reading under 3 once within two days of the expected day (DESIGN.md)
RESOLVED_WINDOW_DAYS = 2.0
# worsening: a rise of >25% and >3 ΔE00 units over the lowest reading after day 2 (3 = phone noise, Cugmas & Štruc 2020)
WORSENING_RATIO = 1.25
WORSENING_UNITS = 3.0
# worsening: mark area grew by >30% (DESIGN.md; size predicts bruise colour, Scafide et al. 2013),
# compared on one scale only (comparable_area), over the median of the earlier sizes, on two
# photos in a row, with the colour not fading (grown_and_confirmed)
AREA_GROWTH = 1.30
# a followed mark whose ΔE00 halves or doubles from one day's photo to the next asks the client
# to check its circle before it counts (implausible_jump); readings further apart are not compared
JUMP_FACTOR = 2.0
JUMP_WITHIN_DAYS = 1.5
# no projected day past this many days since the treatment: dark marks last up to 2–3 weeks
# (colour-evidence.md), so a fit that reaches further only says the mark is barely fading (as
# the slow verdict does), and a date weeks or years away would read as a promise
PROJECTION_HORIZON_DAYS = 28.0
# a projected day is fitted on at least this many readings from the peak on (_projection)
PROJECTION_MIN_READINGS = 3
# pigmentation: redness gone (|Δa*| ≤ 2) but still darker (ΔL* ≤ −4) and yellower (Δb* > 0) after day D
# (practitioner sources: brown that stays after the red is post-inflammatory pigmentation)
PIGMENT_A_WITHIN = 2.0
PIGMENT_L_AT_MOST = -4.0
PIGMENT_B_ABOVE = 0.0
# quality codes that make a reading unusable for a course: no skin to measure against, a
# photo to be taken again (cups still on, blood), one not matched to the last photo whose
# marks nobody has placed yet, or one much darker than the last or too dark in itself
UNUSABLE_QUALITY = frozenset({"no_skin", NOT_MATCHED, DARKER_THAN_LAST, UNDEREXPOSED}) | RETAKE_QUALITY

VERDICTS = ("on_track", "slow", "worsening", "resolved", "pigmentation", "insufficient_data")


def N_(text: str) -> str:
    """Mark a sentence for the translation catalogue (babel's N_ keyword); return it unchanged."""
    return text


# each reason a course can be given, by key; its %(figures)s are filled from the assessment's
# reason_figures (ΔE and days to one decimal). The app shows them in the reader's language
# through its catalogue; this core, which knows no language, writes them in English
REASONS = {
    "too_few_photos": N_("We need at least two usable daily photos before we can say how the "
                         "marks are healing."),
    "faded": N_("The marks have faded to the level of the surrounding skin (colour difference "
                "%(e_last)s, under 3)."),
    "darker_again": N_("The mark is darker again: its colour difference rose from %(e_low)s on "
                       "day %(day_low)d to %(e_last)s now, when it should keep fading."),
    "grown": N_("The mark has grown by %(growth)s since day %(day_low)d, on two photos in a "
                "row, and its colour has not faded: it should be shrinking."),
    "pigment": N_("The redness has gone but a darker brownish patch remains after the usual "
                  "healing time; this can be pigmentation left by the inflammation rather than "
                  "a bruise."),
    "above_curve": N_("The mark is fading slower than expected: on day %(day_last)d its colour "
                      "difference is %(e_last)s, where up to %(ceiling)s is expected."),
    "past_usual": N_("The mark is still visible (colour difference %(e_last)s) on day "
                     "%(day_last)d, more than %(grace)s days past the usual %(usual)s."),
    "first_days": N_("The marks are in their first two days, when they normally darken before "
                     "they fade."),
    "above_once": N_("On day %(day_last)d the colour difference is %(e_last)s, where up to "
                     "%(ceiling)s is expected: if the next photo is above that too, the mark is "
                     "fading slower than expected."),
    "as_expected": N_("The mark is fading as expected: colour difference %(e_last)s on day "
                      "%(day_last)d, where up to %(ceiling)s is expected."),
}
# figures written as a whole number (the rest have one decimal), the one that is a share, and
# the days a reason names: "day N" as the reader's calendar counts it (assess_course's day_of),
# never the days elapsed ("on day 5.8" was read as a date, and was a day off from the evening on)
WHOLE_FIGURES = frozenset({"grace", "usual"})
SHARE_FIGURES = frozenset({"growth"})
DAY_FIGURES = frozenset({"day_low", "day_last"})


def reason_in_english(key: str, figures: dict[str, float]) -> str:
    """Write a reason's sentence in English, its figures as _fmt writes them."""
    return REASONS[key] % {name: (f"{value:.0%}" if name in SHARE_FIGURES
                                  else int(value) if name in DAY_FIGURES
                                  else f"{value:.0f}" if name in WHOLE_FIGURES else _fmt(value))
                           for name, value in figures.items()}


def calendar_day(treated_at: datetime, at: datetime) -> int:
    """Return "day N" of ``at``: how many calendar dates lie between the treatment's and its,
    both in the treatment's own UTC offset (UTC for a naive time). The app counts them in the
    client's zone instead (assess_course's ``day_of``)."""
    treated_at = _aware(treated_at)
    return (_aware(at).astimezone(treated_at.tzinfo).date() - treated_at.date()).days


def expected_ceiling(t_days: float, peak: float, expected_days: float = DEFAULT_EXPECTED_DAYS) -> float:
    """Return U(t): the peak until day 2, then the curve P·(3/P)^((t−2)/(D−2)) reaching 3 on day D."""
    if peak <= 0:
        return 0.0
    if t_days <= DARKENING_DAYS:
        return float(peak)
    # a window shorter than the darkening phase would divide by zero; treat it as one day after
    span = max(float(expected_days) - DARKENING_DAYS, 1.0)
    return float(peak * (RESOLVED_BELOW / peak) ** ((t_days - DARKENING_DAYS) / span))


@dataclass
class CourseAssessment:
    """The verdict on a recovery course and the numbers behind it.

    ``expected_band`` is {low: U(t), high: 1.25·U(t)} at the latest day: at or under ``low`` is
    on the curve, above ``high`` is slow. ``ceiling_ratio`` is E/U(t) at the latest day.
    """

    verdict: str
    reason: str
    # which of REASONS the reason is and the figures in it, so the app can say it in any language
    reason_key: str = ""
    reason_figures: dict = field(default_factory=dict)
    day: float | None = None
    peak: float | None = None
    delta_e: float | None = None
    fade_fraction: float | None = None
    expected_band: dict | None = None
    ceiling_ratio: float | None = None
    projected_resolution_day: float | None = None
    projection_confidence: str | None = None
    expected_days: float = DEFAULT_EXPECTED_DAYS
    readings_used: int = 0

    def to_dict(self) -> dict:
        """Return the assessment as a JSON-safe dict."""
        return asdict(self)


def _aware(moment: datetime) -> datetime:
    """Treat a naive datetime as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def usable(reading: PhotoReading) -> bool:
    """Say whether a reading can stand on the curve: opened, skin found, ΔE00 measured, and no
    problem in ``UNUSABLE_QUALITY`` (cups still on, blood, not matched to the last photo)."""
    return (
        reading.ok
        and reading.delta_e is not None
        and not UNUSABLE_QUALITY.intersection(item.get("code") for item in reading.quality)
    )


def implausible_jump(e_before: float, e_now: float, t_now: float) -> bool:
    """Tell whether a followed mark's ΔE00 changed too much since its reading of a day or so
    before (``e_before``, ``e_now``; ``t_now`` days since the treatment) to be the same mark
    measured well: a circle left beside the mark, or on another one.

    More than phone noise (``WORSENING_UNITS``) and by more than half: the expected curve
    loses at most ~28% a day (U(t) from 15 to 3 over days 2-7), so halving overnight is not
    fading; doubling is not darkening once the first two days are over (before them it is).
    The tester's case: 12.7 to 0.5 in one day.
    """
    if abs(e_now - e_before) <= WORSENING_UNITS:
        return False
    return e_now < e_before / JUMP_FACTOR or (t_now > DARKENING_DAYS and e_now > JUMP_FACTOR * e_before)


def comparable_area(reading: PhotoReading) -> float | None:
    """A reading's ``area_fraction`` on the scale of the treatment's first confirmed photo, or
    None when the photo's scale is not known (``area_scale`` unset or not positive).

    A mark's area is a share of the photo, so a photo taken 1.3x closer makes it 1.69x larger:
    compared as measured, a fading mark photographed closer "grew" by 67-84% on the test scenes
    (scenes.transformed(scale=1.3), seeds 11-13 and 21) and was judged worsening. Divided by the
    registration's area ratio it stays within 1-2% of its size. Without a known scale the
    course says nothing about size, rather than raise a flag on the framing.
    """
    scale = reading.area_scale
    if scale is None or not scale > 0:
        return None
    return float(reading.area_fraction) / float(scale)


def grown_and_confirmed(series: list[tuple[float, PhotoReading]], exposed: dict[int, float]
                        ) -> tuple[float, float] | None:
    """Tell whether a mark has grown in a way that is a red flag: return (growth, t) with the
    smaller of the two growths (a share: 0.4 is 40%) and the day (elapsed) it was first seen,
    or None.

    ``series``: the usable (t, reading) of a course, oldest first; ``exposed``: each reading's
    ΔE00 on one exposure, by ``id(reading)``. Its latest two photos, both after the darkening
    phase, must each show the mark's area (comparable_area) over ``AREA_GROWTH`` times the
    median of the sizes before them, with its colour not fading since the photo before each.

    Why each condition. A bruise spreading while it fades is expected: the blood seeps along
    the tissue and with gravity, so the discoloured area widens as it pales (gravity spread);
    what DESIGN.md's red flag "a mark that gets bigger or darker after day 2" is about is a
    mark that grows without fading (fresh bleeding). One day's size is no baseline: an outline
    that took a part of a diffuse mark one day and the whole of it the next doubled the area
    every other photo (the tester's mark 4: 0.0045, 0.0146, 0.0039, 0.0140 while its ΔE00 fell
    8.6 to 7.0, "grown by 163%"); the median of the earlier sizes is not moved by one such
    photo, and a growth seen once waits for the next photo to confirm it.
    """
    if len(series) < 3 or series[-2][0] <= DARKENING_DAYS:
        return None
    sizes = [area for _, r in series[:-2] if r.mark_found and (area := comparable_area(r))]
    if not sizes:
        return None
    baseline = statistics.median(sizes)
    growths = []
    for (_, before), (_, reading) in ((series[-3], series[-2]), (series[-2], series[-1])):
        area = comparable_area(reading)
        if (not reading.mark_found or area is None or area <= AREA_GROWTH * baseline
                or exposed[id(reading)] < exposed[id(before)]):
            return None
        growths.append(area / baseline - 1)
    return min(growths), series[-2][0]


def _on_exposure_of(reference: PhotoReading, reading: PhotoReading) -> float:
    """A reading's ΔE00 as if taken in the reference reading's light (by their skins' luminance).

    Falls back to the ΔE00 as measured when either has no skin or the reading no mark colour.
    """
    if not (reference.skin_lab and reading.skin_lab and reading.mark_lab):
        return float(reading.delta_e)
    # luminance from L* (CIE 15:2004: L* = 116 (Y/Yn)^(1/3) − 16 above the dark end)
    factor = ((float(reference.skin_lab[0]) + 16.0) / max(float(reading.skin_lab[0]) + 16.0, 1.0)) ** 3
    as_taken = colour.delta_e_at_exposure(reading.skin_lab, reading.mark_lab, 1.0)
    if not 0.1 <= factor <= 10 or as_taken <= 0:
        return float(reading.delta_e)
    # the reading's own ΔE00, changed in the proportion the re-lighting changes its colours'
    return float(reading.delta_e) * colour.delta_e_at_exposure(reading.skin_lab, reading.mark_lab, factor) / as_taken


def _fmt(value: float) -> str:
    """Format a ΔE or a day for a sentence."""
    return f"{value:.1f}"


def _projection(points: list[tuple[float, float]], peak_day: float) -> tuple[float | None, str | None]:
    """Fit log E against t over the post-peak readings; return (day E reaches 3, confidence),
    or (None, None) when it does not fall or reaches 3 only past ``PROJECTION_HORIZON_DAYS``."""
    post = [(t, e) for t, e in points if t >= peak_day]
    if post and post[-1][1] < RESOLVED_BELOW:
        first_clear = next(t for t, e in post if e < RESOLVED_BELOW)
        return round(first_clear, 2), "high"
    fit = [(t, math.log(max(e, 0.5))) for t, e in post]
    # two points always fit a line: the peak and one photo after it read "around day 28" on
    # the second day of a mark fading as expected; a third is the least that tests a fit
    if len(fit) < PROJECTION_MIN_READINGS or fit[-1][0] - fit[0][0] < 0.5:
        return None, None
    n = len(fit)
    mean_t = sum(t for t, _ in fit) / n
    mean_y = sum(y for _, y in fit) / n
    sxx = sum((t - mean_t) ** 2 for t, _ in fit)
    sxy = sum((t - mean_t) * (y - mean_y) for t, y in fit)
    slope = sxy / sxx
    if slope >= -1e-6:
        return None, None
    intercept = mean_y - slope * mean_t
    day = (math.log(RESOLVED_BELOW) - intercept) / slope
    if day > PROJECTION_HORIZON_DAYS:
        return None, None
    ss_tot = sum((y - mean_y) ** 2 for _, y in fit)
    ss_res = sum((y - (intercept + slope * t)) ** 2 for t, y in fit)
    r2 = 1 - ss_res / ss_tot if ss_tot > 0 else 0.0
    if n >= 4 and r2 >= 0.9:
        confidence = "high"
    elif r2 >= 0.7:
        confidence = "medium"
    else:
        confidence = "low"
    return round(day, 2), confidence


def assess_course(
    treated_at: datetime,
    readings: list[tuple[datetime, PhotoReading]],
    expected_days: float = DEFAULT_EXPECTED_DAYS,
    day_of: Callable[[datetime], int] | None = None,
) -> CourseAssessment:
    """Judge a course from its readings (any order) against the expected curve, DESIGN.md's rules.

    The maths runs on exact elapsed days (``day``); a reason names a photo's day as
    ``day_of(taken_at)`` says it ("day N" of the reader's calendar; default
    :func:`calendar_day`), in the figures ``day_low`` and ``day_last``.

    Each reading's ΔE00 is first put on the first usable reading's light (both its colours
    re-lit by the ratio of the two skins' luminance Y), so a darker or brighter photo one day
    does not look like fading or worsening; the figures in the assessment are in that light.
    """
    treated_at = _aware(treated_at)
    d = float(expected_days)
    if day_of is None:
        def day_of(at: datetime) -> int:
            """Count the day on the treatment's own calendar."""
            return calendar_day(treated_at, at)
    series = []
    # each reading's day as the reader calls it, by its elapsed days
    days: dict[float, int] = {}
    for taken_at, reading in readings:
        if not usable(reading):
            continue
        t = (_aware(taken_at) - treated_at).total_seconds() / 86400.0
        if t < 0:
            continue  # a photo from before the treatment says nothing about healing
        series.append((t, reading))
        days[t] = day_of(_aware(taken_at))
    series.sort(key=lambda item: item[0])
    if len(series) < 2:
        return CourseAssessment(
            verdict="insufficient_data",
            reason=reason_in_english("too_few_photos", {}),
            reason_key="too_few_photos",
            day=round(series[-1][0], 3) if series else None,
            expected_days=d,
            readings_used=len(series),
        )

    # every ΔE00 on the first photo's exposure: light that is dimmer or brighter one day changes
    # every colour difference; the person's skin is the same from day to day, so the ratio of the
    # skins' luminance is the ratio of the light, and both colours are re-lit by it
    reference = series[0][1]
    exposed = {id(r): _on_exposure_of(reference, r) for _, r in series}
    points = [(t, exposed[id(r)]) for t, r in series]
    t_last, latest = series[-1]
    e_last = points[-1][1]
    peak = max(e for _, e in points)
    peak_day = next(t for t, e in points if e == peak)
    ceiling = expected_ceiling(t_last, peak, d)
    projected, confidence = _projection(points, peak_day)
    numbers = dict(
        day=round(t_last, 3),
        peak=round(peak, 3),
        delta_e=round(e_last, 3),
        fade_fraction=round(1 - e_last / peak, 3) if peak > 0 else 1.0,
        expected_band={"low": round(ceiling, 3), "high": round(SLOW_FACTOR * ceiling, 3)},
        ceiling_ratio=round(e_last / ceiling, 3) if ceiling > 0 else None,
        projected_resolution_day=projected,
        projection_confidence=confidence,
        expected_days=d,
        readings_used=len(series),
    )

    # a reason states each photo's ΔE00 as its reading says it, the number every page shows for
    # that day (the tester read "3.7" on the flag and 3.5 on the timeline), and the band's top
    # in the latest photo's light: the ratio the verdict compared on one exposure is kept
    as_read = {id(r): float(r.delta_e) for _, r in series}
    e_read = as_read[id(latest)]
    band_read = SLOW_FACTOR * ceiling * (e_read / e_last if e_last > 0 else 1.0)

    def verdict(name: str, key: str, **figures: float) -> CourseAssessment:
        """Build the assessment with the shared numbers and the reason of REASONS[key]."""
        return CourseAssessment(verdict=name, reason=reason_in_english(key, figures),
                                reason_key=key, reason_figures=figures, **numbers)

    e_prev = points[-2][1]
    if e_last < RESOLVED_BELOW and (e_prev < RESOLVED_BELOW or t_last >= d - RESOLVED_WINDOW_DAYS):
        # under 3 as the verdict counted it, however the photo read it
        return verdict("resolved", "faded", e_last=min(e_read, e_last))

    if t_last > DARKENING_DAYS:
        earlier = [(t, r) for t, r in series[:-1] if t >= DARKENING_DAYS]
        if earlier:
            t_low, low = min(earlier, key=lambda item: exposed[id(item[1])])
            e_low = exposed[id(low)]
            if e_last > WORSENING_RATIO * e_low and e_last - e_low > WORSENING_UNITS:
                return verdict("worsening", "darker_again", e_low=as_read[id(low)],
                               day_low=days[t_low], e_last=e_read)
        grown = grown_and_confirmed(series, exposed)
        if grown is not None:
            growth, t_grown = grown
            return verdict("worsening", "grown", growth=growth, day_low=days[t_grown])

    if t_last > d and latest.delta_lab is not None:
        d_l, d_a, d_b = latest.delta_lab
        if abs(d_a) <= PIGMENT_A_WITHIN and d_l <= PIGMENT_L_AT_MOST and d_b > PIGMENT_B_ABOVE:
            return verdict("pigmentation", "pigment")

    band_top = SLOW_FACTOR * ceiling
    if t_last >= SLOW_FROM_DAY:
        above = all(
            e > SLOW_FACTOR * expected_ceiling(t, peak, d) for t, e in points[-2:]
        )
        alone = points[-2][0] < SLOW_FROM_DAY and e_last > SLOW_ALONE_FACTOR * band_top
        if above or alone:
            return verdict("slow", "above_curve", day_last=days[t_last], e_last=e_read,
                           ceiling=band_read)
    if e_last >= RESOLVED_BELOW and t_last > d + SLOW_GRACE_DAYS:
        return verdict("slow", "past_usual", e_last=e_read, day_last=days[t_last],
                       grace=SLOW_GRACE_DAYS, usual=d)
    if t_last <= DARKENING_DAYS:
        return verdict("on_track", "first_days")
    if e_last > band_top:
        # above the band once, not yet confirmed: on track by the rules, never "within"
        return verdict("on_track", "above_once", e_last=e_read, day_last=days[t_last],
                       ceiling=band_read)
    # "expected" means one thing in every reason: up to the band's top (SLOW_FACTOR × U), never
    # U itself, which a mark on track may exceed ("3.7, above the expected 2.9" beside "3.4,
    # within the expected 3.6")
    return verdict("on_track", "as_expected", e_last=e_read, day_last=days[t_last],
                   ceiling=band_read)
