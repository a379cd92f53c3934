"""The fade chart as numbers: SVG coordinates of ΔE by days since the session (the course's t)
against the expected ceiling.

Pure: no Flask, no database. ``templates/treatments/_chart.html`` draws what ``build`` returns.
"""
import datetime as dt
import math
from dataclasses import dataclass

from webapp.analysis import expected_ceiling
from webapp.analysis.colour import RESOLVED_BELOW

# viewBox size: about the content width of a 390 px phone, so 15 units read as ~16 px text
WIDTH = 340
HEIGHT = 230
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 34, 12, 12, 40
# the ceiling is drawn as a polyline sampled this often (days)
CURVE_STEP = 0.25
# the x-axis reaches a projected day up to this far: a guess of "day 60" would squash the
# rest, so it is left off (the verdict still says it in words)
MAX_PROJECTED_SPAN = 30
# a point's label sits this far above it (below it near the top), and its middle this far from
# the sides: half of a label of about 14 bold characters ("2.3 days: 12.0")
LABEL_RISE, LABEL_DROP, LABEL_INSET = 14, 26, 60


@dataclass(frozen=True)
class ChartInput:
    """One measured photo: days since the session, ΔE00, stage, measured colour, and when.

    ``t_days`` is the exact time elapsed since the treatment in days (clock.days_since), the
    t of the course maths: a photo 2 hours after an 18:00 session lies at 0.08, not at the
    end of day 0's evening, and photos at 23:58 and 00:04 lie 6 minutes apart. ``day`` is
    its "day N" on the client's calendar (clock.day_number), which its label names beside
    the time elapsed, as the timeline's rows do (None: no calendar, the welcome page's example).
    """

    t_days: float
    delta_e: float
    stage: str | None = None
    mark_hex: str | None = None
    taken_at: dt.datetime | None = None
    day: int | None = None


@dataclass(frozen=True)
class Point:
    """A measured reading placed on the chart, with where its label shows on focus."""

    x: float
    y: float
    t_days: float
    delta_e: float
    stage: str | None
    mark_hex: str | None
    taken_at: dt.datetime | None = None
    day: int | None = None
    label_x: float = 0.0
    label_y: float = 0.0


@dataclass(frozen=True)
class Tick:
    """An axis tick: its position along the axis and its label."""

    pos: float
    label: str


@dataclass(frozen=True)
class Chart:
    """Everything the SVG needs, in viewBox units."""

    width: int
    height: int
    left: float
    top: float
    right: float
    bottom: float
    points: tuple[Point, ...]
    line: str  # polyline "x,y x,y" through the readings
    ceiling: str  # polyline of the expected ceiling curve
    resolved_y: float
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    expected_days: int
    projected_x: float | None
    projected_day: int | None = None  # the calendar "day N" the projection line marks


def nice_top(value: float) -> float:
    """Round the top of the ΔE axis up to a multiple of 5 (at least 10)."""
    return max(10.0, math.ceil(value / 5.0) * 5.0)


def ceiling_line(peak: float, expected_days: int, span: float, top_value: float) -> str:
    """Return the polyline of the expected ceiling from the peak, sampled over the span (days
    since the session, as the course counts them)."""
    # ~60 samples a chart: the scales are applied inline, not through build's x() and y(),
    # and ".1f" writes what str(round(v, 1)) would (the samples lie within the span and the
    # ceiling under the top, so neither needs clamping)
    left, top = MARGIN_LEFT, MARGIN_TOP
    right, bottom = WIDTH - MARGIN_RIGHT, HEIGHT - MARGIN_BOTTOM
    width, height = right - left, bottom - top
    samples = [(t, min(expected_ceiling(t, peak, expected_days), top_value))
               for t in (i * CURVE_STEP for i in range(int(span / CURVE_STEP) + 1))]
    return " ".join(f"{left + width * t / span:.1f},{bottom - height * e / top_value:.1f}"
                    for t, e in samples)


def build(readings: tuple[ChartInput, ...], expected_days: int, now_days: float,
          projected: float | None = None, projected_day: int | None = None) -> Chart:
    """Place the readings, the ceiling curve from their peak and the resolved line at 3.

    The x axis is days since the session (ChartInput.t_days), reaching past ``now_days`` (the
    time elapsed until now) and the expected day. ``projected`` is when the marks likely fade,
    in days since the session, and ``projected_day`` its calendar "day N", which the key names
    (as the verdict does); without it, the whole days elapsed.
    """
    # the axis reaches the projected day too, so "around day 12" is on the chart
    reach = (projected + 0.5 if projected is not None
             and projected <= MAX_PROJECTED_SPAN else 0.0)
    span = max(now_days + 0.5, expected_days + 1.0,
               max((r.t_days for r in readings), default=0.0) + 0.5, reach)
    peak = max((r.delta_e for r in readings), default=0.0)
    top_value = nice_top(peak * 1.05)
    left, top = MARGIN_LEFT, MARGIN_TOP
    right, bottom = WIDTH - MARGIN_RIGHT, HEIGHT - MARGIN_BOTTOM

    def x(t: float) -> float:
        """Map days since treatment to a horizontal position."""
        return round(left + (right - left) * min(max(t, 0.0), span) / span, 1)

    def y(e: float) -> float:
        """Map a colour difference to a vertical position."""
        return round(bottom - (bottom - top) * min(max(e, 0.0), top_value) / top_value, 1)

    def point(r: ChartInput) -> Point:
        """Place a reading, and its label above it (below near the top), inside the chart."""
        px, py = x(r.t_days), y(r.delta_e)
        label_y = py - LABEL_RISE if py - LABEL_RISE > top + LABEL_RISE else py + LABEL_DROP
        return Point(px, py, r.t_days, r.delta_e, r.stage, r.mark_hex, r.taken_at, r.day,
                     min(max(px, left + LABEL_INSET), right - LABEL_INSET), label_y)

    points = tuple(point(r) for r in sorted(readings, key=lambda r: r.t_days))
    ceiling = ceiling_line(peak, expected_days, span, top_value) if peak > 0 else ""
    day_step = 1 if span <= 11 else 2 if span <= 22 else 5
    x_ticks = tuple(Tick(x(d), str(d)) for d in range(0, int(span) + 1, day_step))
    value_step = 5 if top_value <= 30 else 10
    y_ticks = tuple(Tick(y(v), str(v)) for v in range(0, int(top_value) + 1, value_step))
    shown = projected is not None and projected <= span
    projected_x = x(projected) if shown else None
    return Chart(width=WIDTH, height=HEIGHT, left=left, top=top, right=right, bottom=bottom,
                 points=points, line=" ".join(f"{p.x},{p.y}" for p in points), ceiling=ceiling,
                 resolved_y=y(RESOLVED_BELOW), x_ticks=x_ticks, y_ticks=y_ticks,
                 expected_days=expected_days, projected_x=projected_x,
                 projected_day=(None if not shown else projected_day if projected_day is not None
                                else math.floor(projected)))
