"""Read a photo: find the body, measure the marks at given points or propose them, judge quality."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import NamedTuple

import cv2
import numpy as np
from PIL import Image

from . import colour, masks
from .body import Body, find_body
from .measure import Measured, Scene, measure_at
from .photo import PhotoRefused, open_photo
from .proposals import propose
from .quality import UNDEREXPOSED_STOPS, underexposed
from .quality import problems as on_skin_problems
from .reading import (DARKER_THAN_LAST, LIGHT_UNLIKE_LAST, NOT_MATCHED, UNDEREXPOSED, MarkDetail,
                      PhotoReading, quality_item)

# long side of the grid marks are found and measured on: a mark 3% of the short side across is
# still ~9 px there, and a phone photo's 1/8 JPEG draft is about this size
ANALYSIS_LONG_SIDE = 400
# jpeg draft request: dct scaling keeps at least this many pixels on each side
DRAFT_MIN_SIDE = 360
# light smoothing (px) that takes sensor noise and skin grain off the pixels
SMOOTH_SIGMA = 1.0
# quality thresholds
GLARE_CODE = 250  # all three channels at least this: specular reflection
OVEREXPOSED_FRACTION = 0.10
GLARE_FRACTION = 0.0003
TOO_DARK_L = 14.0
BLUR_LAPLACIAN_STD = 0.45
# the marks' rings (median of their ring_skin_fraction) hold less clear skin than this share:
# too little to compare them with (a close-up of a mark filling the frame)
LITTLE_SKIN_RING = 0.5
# dark skin category (ITA < −30): yellowing is hard to measure there (Thavarajah et al. 2012)
DARK_SKIN_ITA = -30.0
# a top proposal scoring under this is as often wrong as right on real photos (on 54 bruise and
# cupping photos: 74% right at or above it, 50% below), so the client is asked to check it
SURE_SCORE = 0.6
# a point this close to the body's region (share of the short side) is on it: a fingertip's
# tap lands a few pixels off a mark at the body's outline (CLEAR_DISC, the clear-skin disc, is 0.025)
ON_BODY_REACH = 0.02
# quality codes that make a reading low-confidence
LOW_CONFIDENCE_CODES = frozenset(
    {"too_dark", UNDEREXPOSED, "overexposed", "blurred", "little_skin_around_marks", "dark_skin_low_confidence", "no_skin",
     "marks_uncertain", "cups_on_skin", "blood", LIGHT_UNLIKE_LAST}
)


def _reduced(image: Image.Image, long_side: int) -> Image.Image:
    """Reduce an upright RGB image so its long side is at most ``long_side`` (box filter)."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    width, height = image.size
    scale = long_side / max(width, height)
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        # whole factors first by reduce(), a plain average far cheaper than box resampling
        image = image.resize(size, Image.Resampling.BOX, reducing_gap=1.0)
    return image


def analysis_array(image: Image.Image, long_side: int | None = None) -> np.ndarray:
    """Reduce an upright RGB image to the analysis size and return it as uint8 (H, W, 3)."""
    return np.asarray(_reduced(image, long_side or ANALYSIS_LONG_SIDE))


def _quality(rgb8: np.ndarray, lab: np.ndarray, body, glare: np.ndarray) -> list[str]:
    """Quality codes of the photo as a whole: exposure, glare, darkness, blur, cups or blood on the skin."""
    codes = []
    region = body.region
    # counts, not the mean of a gathered copy: the same share at a tenth of the cost
    glare_share = np.count_nonzero(glare & region) / np.count_nonzero(region) if region.any() else 0.0
    brightest = np.maximum(np.maximum(rgb8[..., 0], rgb8[..., 1]), rgb8[..., 2])
    clipped = np.count_nonzero((brightest >= 254) & body.skin) / np.count_nonzero(body.skin) if body.skin.any() else 0.0
    if glare_share > OVEREXPOSED_FRACTION or clipped > 0.25:
        codes.append("overexposed")
    elif glare_share > GLARE_FRACTION:
        codes.append("glare")
    if underexposed(body.skin_lab):
        # not counted, which says more than too_dark's "read less well"
        codes.append(UNDEREXPOSED)
    elif body.skin_lab[0] < TOO_DARK_L:
        codes.append("too_dark")
    inner = masks.erode(body.skin, 3)
    values = masks.laplacian(lab[0])[inner]
    if values.size and float(values.std()) < BLUR_LAPLACIAN_STD:
        codes.append("blurred")
    codes += on_skin_problems(lab)
    return codes


def _rounded(values, digits: int = 2) -> list[float]:
    """Round a vector to plain floats for JSON."""
    return [round(float(v), digits) for v in values]


def on_body(body: Body | None, point: tuple[float, float]) -> bool | None:
    """Tell whether a point ((x, y) fractions) lies where a mark may lie on the body found
    (Body.reach: its region, and a mark cut by its outline, never a floor, towel or clothing
    beside it), or within ``ON_BODY_REACH`` of it (a tap is a fingertip wide); None when no
    body was found."""
    if body is None:
        return None
    height, width = body.reach.shape
    reach = max(1, round(ON_BODY_REACH * min(height, width)))
    col = min(int(point[0] * width), width - 1)
    row = min(int(point[1] * height), height - 1)
    return bool(body.reach[max(0, row - reach): row + reach + 1,
                            max(0, col - reach): col + reach + 1].any())


def _detail(measured: Measured, score: float | None = None, body_at: bool | None = None) -> MarkDetail:
    """Turn one measurement into a MarkDetail with its stage, erythema index and score."""
    d_lab = measured.mark_lab - measured.skin_lab
    erythema = colour.erythema_index(colour.lab_to_linear(measured.mark_lab)) - colour.erythema_index(
        colour.lab_to_linear(measured.skin_lab)
    )
    return MarkDetail(
        delta_e=round(measured.delta_e, 3),
        delta_lab=_rounded(d_lab),
        hue_deg=round(measured.hue_deg, 1),
        colour=measured.colour if measured.delta_e >= colour.RESOLVED_BELOW else "none",
        stage=colour.stage_for(measured.delta_e, measured.colour),
        area_fraction=round(measured.area_fraction, 6) if measured.found else 0.0,
        centre=_rounded(measured.centre, 4),
        radius=round(measured.radius, 4),
        mark_lab=_rounded(measured.mark_lab),
        skin_lab=_rounded(measured.skin_lab),
        erythema_index=round(float(erythema), 2),
        ring_skin_fraction=round(measured.ring_fraction, 3),
        point=_rounded(measured.point, 4),
        mixed=measured.mixed,
        score=None if score is None else round(score, 3),
        on_body_skin=measured.on_body_skin,
        on_body=body_at,
    )


def checked_points(at: Sequence[tuple[float, float]] | None) -> list[tuple[float, float]] | None:
    """The points to measure as (x, y) floats, or None without points.

    Raises ValueError for a point that is not two numbers or lies outside [0, 1]² (x a fraction
    of the photo's width, y of its height).
    """
    if at is None:
        return None
    try:
        points = [(float(x), float(y)) for x, y in at]
    except (TypeError, ValueError):
        raise ValueError("A point must be two numbers.") from None
    for x, y in points:
        if not (np.isfinite(x) and np.isfinite(y) and 0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
            raise ValueError("a point must lie within the photo: x and y between 0 and 1")
    return points


class Survey(NamedTuple):
    """What a photo shows before any mark is measured, on the analysis grid (H, W).

    ``scene``: the measuring scene (None when no body was found); ``rgb8``: the grid's sRGB
    pixels (H, W, 3) uint8; ``lab``: their CIELAB planes (3, H, W); ``glare``: specular pixels
    (H, W) bool; ``body``: the body found (None without one).
    """

    scene: Scene | None
    rgb8: np.ndarray
    lab: np.ndarray
    glare: np.ndarray
    body: Body | None


def survey(image: Image.Image) -> Survey:
    """Survey an upright RGB image of any size: reduce it to the analysis grid, find the body.

    The part of an analysis that needs no points, so a caller may survey a photo while the
    points are still being found (a registration on another thread), then pass the Survey to
    :func:`analyze_image`.
    """
    rgb8 = analysis_array(image)
    # cielab as planes (3, H, W): every per-channel step below reads contiguous memory
    lab = colour.srgb8_to_lab_planes(rgb8)
    lab_s = masks.gaussian(lab, SMOOTH_SIGMA)
    # all three channels in range, in one OpenCV pass over the interleaved pixels (0 or 255):
    # numpy's minimum of the three strided channels costs four times as much
    glare = cv2.inRange(rgb8, (GLARE_CODE,) * 3, (255,) * 3) > 0
    glare_near = masks.dilate(glare, 3) if glare.any() else glare
    body = find_body(lab_s, ~glare_near)
    if body is None:
        return Survey(None, rgb8, lab, glare, None)
    scene = Scene(lab=lab, lab_s=lab_s, skin=body.skin, reach=body.reach, edges=body.edges, skin_lab=body.skin_lab, region=body.region)
    return Survey(scene, rgb8, lab, glare, body)


def _no_body_scene(lab: np.ndarray, glare: np.ndarray) -> Scene:
    """A scene for measuring at points in a photo with no body found: every usable pixel is skin."""
    usable = ~glare
    lab_s = masks.gaussian(lab, SMOOTH_SIGMA)
    median = np.array([np.median(p[usable]) if usable.any() else 50.0 for p in lab_s])
    return Scene(lab=lab, lab_s=lab_s, skin=usable, reach=usable, edges=np.zeros_like(usable), skin_lab=median, region=usable)


def analyze_image(image: Image.Image | Survey, at: Sequence[tuple[float, float]] | None = None) -> PhotoReading:
    """Analyse an opened, upright RGB image (or its :func:`survey`) and return its reading.

    ``at``: optional (x, y) points, fractions 0–1 of the image's width and height, one per mark
    to measure; ``mark_details`` then has one entry per point, in order. Without points the
    marks are proposed (most mark-like first, at most 12). Raises ValueError for a point
    outside [0, 1]² (``analyze_photo`` turns that into a refusal).
    """
    points = checked_points(at)
    scene, rgb8, lab, glare, body = image if isinstance(image, Survey) else survey(image)
    quality: list[str] = []
    if scene is None:
        if float(lab[0].mean()) < TOO_DARK_L:
            quality.append("too_dark")
        quality.append("no_skin")
        if not points:
            return PhotoReading(ok=True, confidence="low", quality=[quality_item(q) for q in quality])
        scene = _no_body_scene(lab, glare)
    else:
        quality += _quality(rgb8, lab, body, glare)

    if points is not None:
        details = [_detail(measure_at(scene, point), body_at=on_body(body, point)) for point in points]
    else:
        proposals = propose(scene)
        details = [_detail(p.measured, p.score) for p in proposals]
        if proposals and proposals[0].score < SURE_SCORE:
            quality.append("marks_uncertain")

    return PhotoReading(**summary([d.to_dict() for d in details], scene.skin_lab, quality))


def summary(details: list[dict], skin_lab, quality: list[str]) -> dict:
    """The reading's fields that follow from its marks and its body's skin, as PhotoReading's
    keyword arguments: the top-level fields of the most visible entry, ITA, the notes that hang
    on them (dark skin; little skin around the marks, when the median ``ring_skin_fraction`` of
    the visible entries is under ``LITTLE_SKIN_RING``: each entry's own says how much skin
    its mark was compared with), confidence and the quality items.

    ``details``: mark_details entries (dicts; an entry whose ``delta_e`` is None was not
    measured and is passed over); ``skin_lab``: the body's skin (3,) CIELAB; ``quality``: the
    codes found so far, without those two notes (they are worked out here).
    """
    quality = [q for q in quality if q not in ("dark_skin_low_confidence", "little_skin_around_marks")]
    measured = [d for d in details if d.get("delta_e") is not None]
    ita = colour.ita_degrees(skin_lab)
    # a skin dark only for want of light is not dark skin
    if ita < DARK_SKIN_ITA and UNDEREXPOSED not in quality:
        quality.append("dark_skin_low_confidence")
    visible = [d for d in measured if d["delta_e"] >= colour.RESOLVED_BELOW]
    # the reading is that of the most visible entry (proposals stay ranked by how mark-like they are)
    top = max(measured, key=lambda d: d["delta_e"], default=None)
    # judged over the marks, not by the top one alone: a back's mark cut by its outline has
    # little skin around it (its own ring_skin_fraction says so), its eight neighbours plenty
    if visible and float(np.median([d["ring_skin_fraction"] for d in visible])) < LITTLE_SKIN_RING:
        quality.append("little_skin_around_marks")
    confidence = "low" if LOW_CONFIDENCE_CODES.intersection(quality) else "high"
    common = dict(
        ok=True,
        body_skin_lab=_rounded(skin_lab),
        ita_deg=round(ita, 2),
        confidence=confidence,
        quality=[quality_item(q) for q in quality],
        mark_details=details,
        total_area_fraction=round(sum(d["area_fraction"] for d in visible), 6),
    )
    if top is None or top["delta_e"] < colour.RESOLVED_BELOW:
        return dict(
            mark_found=False,
            marks=0,
            stage="resolved",
            colour="none",
            delta_e=round(top["delta_e"], 3) if top is not None else 0.0,
            delta_lab=top["delta_lab"] if top is not None else [0.0, 0.0, 0.0],
            hue_deg=None,
            mark_lab=None,
            skin_lab=_rounded(skin_lab) if top is None else top["skin_lab"],
            skin_hex=colour.lab_to_hex(skin_lab if top is None else top["skin_lab"]),
            mark_hex=None,
            erythema_index=0.0,
            area_fraction=0.0,
            **common,
        )
    return dict(
        mark_found=True,
        marks=len(visible),
        stage=top["stage"],
        colour=top["colour"],
        delta_e=top["delta_e"],
        delta_lab=top["delta_lab"],
        hue_deg=top["hue_deg"],
        mark_lab=top["mark_lab"],
        skin_lab=top["skin_lab"],
        mark_hex=colour.lab_to_hex(top["mark_lab"]),
        skin_hex=colour.lab_to_hex(top["skin_lab"]),
        erythema_index=top["erythema_index"],
        area_fraction=top["area_fraction"],
        **common,
    )


# the light of two photos of the same skin is put right only within what ordinary days differ
# by: an exposure (the geometric mean of the cone gains) within the stops a photo may be darker
# than the last before it is refused (quality.UNDEREXPOSED_STOPS), brighter by as much, and a
# cast (a cone gain over the mean) within 1.4x: two ordinary ±15% white balances differ by
# 1.15/0.85 = 1.35 at most. Beyond that the skin's colour more likely changed in another way
# (a lamp's colour on one side, a tan, a different body part) than by a white balance
LIGHT_CAST_LIMIT = 1.4
# a mark's own skin (its ring) gives the light at the mark, shading and all: on the generated
# scenes (seeds 11-13, each marked scene again in another light, moved) it found the light
# ratio to a median 0.013-0.015 stop (p90 0.05-0.07), where the body's median skin, taken over
# a differently framed and shaded body, was off by 0.06-0.07 (p90 0.16-0.23). It is used when
# its gains agree with the photo's within this many stops in every cone, else the photo's: a
# ring that took in something other than the same skin on one day is not followed (the day-to-
# day ΔE00 figures were best at 0.5 of 0.1, 0.2 and 0.5 on all three seeds)
RING_AGREES_STOPS = 0.5


def in_light_of(reading: PhotoReading, skin_lab, mark_skins: Sequence | None = None) -> PhotoReading:
    """Put a later photo's reading into the light of an earlier photo of the same skin.

    The skin does not change from one day to the next, the light does. ``skin_lab``: the
    earlier photo's body skin ((3,) CIELAB, its reading's ``body_skin_lab``); ``mark_skins``: for
    each mark_details entry, the same mark's ring of skin in the earlier photo ((3,) or None).
    The photo's light is the median of the von Kries gains (colour.adaptation_gains) that take
    each mark's ring of skin to its earlier one, or without any, those that take the body's skin
    (``reading.body_skin_lab``) to ``skin_lab``; a mark takes its own ring's gains where they
    agree with the photo's (``RING_AGREES_STOPS``). They are applied to each mark's colour and
    its skin, whose ΔE00, hue, colour name and stage are worked out again, and so are the
    reading's top-level fields, ITA and the dark-skin note (they now follow the earlier photo's
    skin). Each changed entry keeps ``delta_e_as_taken`` and its ``light_gains``; the reading
    keeps its ``light_gains``, so the colours as taken can be recovered. A mixed mark keeps the
    name of its breakdown part (that part's pixels are not in the reading).

    Returned unchanged: a refused reading, one without skin, one already put into another light,
    one not matched to the earlier photo or too dark, beside it or at all (its quality codes). Light that
    differs beyond ``LIGHT_CAST_LIMIT`` or ``UNDEREXPOSED_STOPS`` leaves the colours as taken
    and adds ``light_unlike_last``.
    """
    codes = reading.quality_codes
    if (not reading.ok or reading.body_skin_lab is None or reading.light_gains is not None
            or codes & {"no_skin", NOT_MATCHED, DARKER_THAN_LAST, UNDEREXPOSED}):
        return reading
    mark_skins = list(mark_skins) if mark_skins is not None else [None] * len(reading.mark_details)
    if len(mark_skins) != len(reading.mark_details):
        raise ValueError("in_light_of needs one earlier skin (or None) per mark_details entry")
    own = [_gains(d["skin_lab"], earlier) if earlier is not None and d.get("delta_e") is not None else None
           for d, earlier in zip(reading.mark_details, mark_skins)]
    rings = [np.log2(g) for g in own if g is not None]
    # the marks' own skin, where there is any: the same places on the body from day to day,
    # where the body's median skin is taken over whatever the frame shows of it
    body = _gains(reading.body_skin_lab, skin_lab)
    if not rings and body is None:
        return reading
    stops = np.median(rings, axis=0) if rings else np.log2(body)
    exposure = float(stops.mean())
    if abs(exposure) > UNDEREXPOSED_STOPS or np.abs(stops - exposure).max() > np.log2(LIGHT_CAST_LIMIT):
        return replace(reading, quality=[*reading.quality, quality_item(LIGHT_UNLIKE_LAST)], confidence="low")
    gains = np.exp2(stops)
    details = [_relit(d, gains, g, skin_lab) for d, g in zip(reading.mark_details, own)]
    skin = colour.adapted(reading.body_skin_lab, gains)
    relit = summary(details, skin, [item["code"] for item in reading.quality])
    return replace(reading, **relit, light_gains=_rounded(gains, 4))


def _gains(source_lab, target_lab) -> np.ndarray | None:
    """colour.adaptation_gains, or None for a colour with no light in a cone response (black)."""
    try:
        return colour.adaptation_gains(source_lab, target_lab)
    except ValueError:
        return None


def _relit(detail: dict, gains: np.ndarray, own: np.ndarray | None, body_skin) -> dict:
    """One mark_details entry put into other light (:func:`in_light_of`): by the photo's
    ``gains``, or by the mark's ``own`` (from its ring of skin) where they agree; a ΔE00 judged
    on the body's lit skin (``on_body_skin``) is judged on ``body_skin``, the body's skin in
    that light, as measure._result judges it."""
    if detail.get("delta_e") is None:
        return detail
    if own is not None and np.abs(np.log2(own / gains)).max() <= RING_AGREES_STOPS:
        gains = own
    skin, mark = colour.adapted(detail["skin_lab"], gains), colour.adapted(detail["mark_lab"], gains)
    d_lab = mark - skin
    reference = np.asarray(body_skin, dtype=np.float64) if detail.get("on_body_skin") else skin
    delta_e = float(colour.ciede2000(reference, reference + d_lab))
    if detail.get("mixed") and detail["colour"] != "none":
        theta, name = detail["hue_deg"], detail["colour"]
    else:
        theta = colour.hue_angle(d_lab[1], d_lab[2])
        name = colour.colour_name(theta)
    erythema = colour.erythema_index(colour.lab_to_linear(mark)) - colour.erythema_index(colour.lab_to_linear(skin))
    return {
        **detail,
        "delta_e": round(delta_e, 3),
        "delta_lab": _rounded(d_lab),
        "hue_deg": round(theta, 1),
        "colour": name if delta_e >= colour.RESOLVED_BELOW else "none",
        "stage": colour.stage_for(delta_e, name),
        "mark_lab": _rounded(mark),
        "skin_lab": _rounded(skin),
        "erythema_index": round(float(erythema), 2),
        "delta_e_as_taken": detail["delta_e"],
        "light_gains": _rounded(gains, 4),
    }


def analyze_photo(source, at: Sequence[tuple[float, float]] | None = None) -> PhotoReading:
    """Open a photo (path, bytes or binary file) and analyse it; bad input gives ok=False.

    ``at`` as in :func:`analyze_image`; a point outside [0, 1]² or not a number gives
    ``ok=False`` with error ``bad_point``.
    """
    try:
        points = checked_points(at)
    except ValueError as error:
        return PhotoReading.refused("bad_point", str(error))
    try:
        image = open_photo(source, min_size=(DRAFT_MIN_SIDE, DRAFT_MIN_SIDE))
    except PhotoRefused as refusal:
        return PhotoReading.refused(refusal.code, refusal.message)
    # the points are checked above: an error from here on is a fault of the analysis, never
    # reported as the caller's bad point
    return analyze_image(image, points)
