"""Synthetic phone photos of cupping marks with known colour truth.

Used by the tests, the benchmark and the app's demo data. A scene is painted in CIELAB (skin,
soft round marks, skin texture, an optional towel or sheet along one edge, optional glare),
then lit in linear RGB (red/blue gain, exposure, a shading ramp) and given sensor noise::

    skin = skin_lab_for_ita(35)
    marks = [MarkSpec(delta_lab=mark_delta(skin, 12, colour="violet"), centre=(0.4, 0.5), radius=0.1)]
    photo = render_scene(skin, marks, lighting=Lighting(red_gain=1.1), seed=1)
    photo.image, photo.marks[0].delta_e, photo.marks[0].stage
    jpeg_bytes = save_jpeg(photo.image, quality=90, orientation=6)

Ground truth (:func:`core_truth`, shared with scenes.py) is the CIEDE2000 between the skin and
the mean of what was painted over each mark's core under neutral light, with its colour name
and stage by the product's own rules.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np
from PIL import Image
from scipy import ndimage

from . import colour
from .course import expected_ceiling

# ita ranges of the six skin categories (colour-evidence.md, "Skin tone")
ITA_CATEGORIES = {
    "very light": (55.0, 90.0),
    "light": (41.0, 55.0),
    "intermediate": (28.0, 41.0),
    "tan": (10.0, 28.0),
    "brown": (-30.0, 10.0),
    "dark": (-90.0, -30.0),
}
# hue ranges (θ of the mark minus skin difference) a generated mark of each colour is drawn from
COLOUR_HUES = {
    "red": (-20.0, 35.0),
    "violet-red": (-50.0, -20.0),
    "violet": (-80.0, -50.0),
    "violet-blue": (-110.0, -80.0),
    "blue": (-160.0, -110.0),
    "green": (120.0, 200.0),
    "yellow": (65.0, 120.0),
    "brown": (35.0, 65.0),
}
# how much darker than its chroma change a mark of each colour is (ΔL* = −k·|Δa*b*|): fresh
# bruises lose lightness strongly (ΔL* is the most consistent measure, Thavarajah et al. 2012)
DARKENING = {
    "red": 0.5,
    "violet-red": 0.8,
    "violet": 1.0,
    "violet-blue": 1.1,
    "blue": 1.1,
    "green": 0.5,
    "yellow": 0.3,
    "brown": 0.8,
}
# a mark's core, over which its truth is the mean: the pixels painted with at least this share
# of its edge weight, i.e. inside its half-way outline. DESIGN.md measures a mark's mean colour,
# and measure.py draws a mark's outline half-way down its soft edge, so the truth is that mean
# (not the plateau's colour, which is ~7% stronger than it on a soft mark)
CORE_WEIGHT = 0.5
TOWEL_LAB = (93.0, 0.0, 3.0)
SHEET_LAB = (16.0, 1.0, -3.0)


@dataclass
class MarkSpec:
    """One round mark: its Lab difference to skin, centre (x, y fractions), radius (of short side)."""

    delta_lab: tuple[float, float, float]
    centre: tuple[float, float] = (0.5, 0.5)
    radius: float = 0.08
    softness: float = 0.3  # fraction of the radius over which the edge fades out


@dataclass
class Lighting:
    """How the scene is lit and captured: channel gains, exposure, shading ramp and noise."""

    red_gain: float = 1.0
    blue_gain: float = 1.0
    exposure: float = 1.0
    shading: float = 0.0  # ramp amplitude: light goes from 1 − shading to 1 + shading
    shading_angle: float = 0.0  # direction of the ramp in degrees
    noise: float = 2.0  # sensor noise, standard deviation in 8-bit codes


@dataclass
class MarkTruth:
    """The known colour of one painted mark."""

    delta_e: float
    delta_lab: list[float]
    hue_deg: float
    colour: str
    stage: str
    mark_lab: list[float]
    centre: tuple[float, float]
    radius: float


@dataclass
class SyntheticPhoto:
    """A rendered scene: the upright RGB image and its ground truth."""

    image: Image.Image
    skin_lab: tuple[float, float, float]
    marks: list[MarkTruth] = field(default_factory=list)

    @property
    def strongest(self) -> MarkTruth | None:
        """Return the truth of the most visible mark (largest ΔE00), or None."""
        return max(self.marks, key=lambda m: m.delta_e, default=None)


def skin_lab_for_ita(ita: float, a: float = 10.0, b: float = 16.0) -> tuple[float, float, float]:
    """Return a skin Lab colour with the given ITA angle, keeping L* within 22–78."""
    tangent = np.tan(np.radians(ita))
    lightness = 50.0 + b * tangent
    if lightness > 78.0:
        lightness, b = 78.0, 28.0 / tangent
    elif lightness < 22.0:
        lightness, b = 22.0, -28.0 / tangent
    return (float(lightness), float(a), float(b))


def random_skin(category: str, rng: np.random.Generator) -> tuple[float, float, float]:
    """Draw a skin colour from inside one ITA category (2° clear of its edges)."""
    low, high = ITA_CATEGORIES[category]
    low, high = max(low, -70.0) + 2.0, min(high, 72.0) - 2.0
    return skin_lab_for_ita(
        float(rng.uniform(low, high)), a=float(rng.uniform(7, 13)), b=float(rng.uniform(13, 19))
    )


def truth_for(skin_lab, delta_lab) -> tuple[float, float, str, str]:
    """Return (ΔE00, θ, colour name, stage) of a mark by the product's own rules."""
    skin = np.asarray(skin_lab, dtype=np.float64)
    delta = np.asarray(delta_lab, dtype=np.float64)
    delta_e = float(colour.ciede2000(skin, skin + delta))
    theta = colour.hue_angle(delta[1], delta[2])
    name = colour.colour_name(theta)
    return delta_e, theta, name, colour.stage_for(delta_e, name)


def core_truth(skin_lab, painted) -> tuple[list[float], float, float, str, str]:
    """Truth of a mark from the Lab differences (N, 3) painted over its core.

    Returns (mean ΔLab [ΔL*, Δa*, Δb*], ΔE00, θ, colour name, stage): the mean over the core
    judged by :func:`truth_for`. The one definition both generators use (see ``CORE_WEIGHT``).
    """
    delta = np.asarray(painted, dtype=np.float64).reshape(-1, 3).mean(axis=0)
    return ([float(v) for v in delta], *truth_for(skin_lab, delta))


def mark_delta(
    skin_lab,
    delta_e: float,
    colour_name: str | None = None,
    hue: float | None = None,
    darkening: float | None = None,
    rng: np.random.Generator | None = None,
) -> tuple[float, float, float]:
    """Return the Lab difference of a mark with the given ΔE00 on this skin.

    The hue θ is ``hue`` if given, else drawn from inside ``colour_name``'s range (5° clear of
    its edges); ``darkening`` k sets ΔL* = −k·chroma change (default per colour).
    """
    rng = rng or np.random.default_rng(0)
    if hue is None:
        low, high = COLOUR_HUES[colour_name or "violet"]
        hue = float(rng.uniform(low + 5, high - 5))
        hue = hue - 360 if hue > 180 else hue
    if darkening is None:
        darkening = DARKENING[colour_name or colour.colour_name(hue)]
    skin = np.asarray(skin_lab, dtype=np.float64)
    unit = np.array([-darkening, np.cos(np.radians(hue)), np.sin(np.radians(hue))])
    # keep the mark inside what a photo can show: in the srgb gamut with a little headroom, so
    # the painted truth is what the camera records (a stronger target is capped)
    low, high = 0.0, 150.0
    for _ in range(40):
        mid = (low + high) / 2
        linear = colour.lab_to_linear(skin + mid * unit)
        if linear.min() >= 0.004 and linear.max() <= 0.8:
            low = mid
        else:
            high = mid
    low, high = 0.0, low
    for _ in range(60):
        mid = (low + high) / 2
        if colour.ciede2000(skin, skin + mid * unit) < delta_e:
            low = mid
        else:
            high = mid
    return tuple(float(v) for v in (low + high) / 2 * unit)


def random_marks(
    skin_lab,
    count: int,
    rng: np.random.Generator,
    delta_e_range: tuple[float, float] = (4.0, 22.0),
    colours: tuple[str, ...] = tuple(COLOUR_HUES),
    radius_range: tuple[float, float] = (0.05, 0.11),
    avoid_edge: str | None = None,
) -> list[MarkSpec]:
    """Place ``count`` non-overlapping round marks with random colours and strengths."""
    specs: list[MarkSpec] = []
    attempts = 0
    while len(specs) < count and attempts < 500:
        attempts += 1
        radius = float(rng.uniform(*radius_range))
        # centre in short-side units within a 4:3 frame, away from the edge object
        x = float(rng.uniform(0.12, 0.88))
        y = float(rng.uniform(0.15, 0.85))
        if avoid_edge == "bottom" and y > 0.62:
            continue
        if avoid_edge == "top" and y < 0.38:
            continue
        if avoid_edge == "left" and x < 0.35:
            continue
        if avoid_edge == "right" and x > 0.65:
            continue
        clash = False
        for other in specs:
            gap = np.hypot((x - other.centre[0]) * 4 / 3, y - other.centre[1])
            if gap < (radius + other.radius) * 1.9:
                clash = True
                break
        if clash:
            continue
        name = str(rng.choice(colours))
        delta = mark_delta(skin_lab, float(rng.uniform(*delta_e_range)), name, rng=rng)
        specs.append(MarkSpec(delta_lab=delta, centre=(x, y), radius=radius))
    return specs


def smooth_noise(rng, shape, sigma, amplitude):
    """Return gaussian-filtered noise (float32, ``shape``) with standard deviation ``amplitude``.

    ``sigma`` is the filter's width in pixels; also used by the scene generator (scenes.py).
    """
    if sigma >= 4:
        # broad noise is made small and enlarged: the same look for a fraction of the work
        step = int(sigma // 2)
        small_shape = (shape[0] // step + 2, shape[1] // step + 2)
        small = ndimage.gaussian_filter(rng.standard_normal(small_shape).astype(np.float32), sigma / step)
        noise = ndimage.zoom(small, step, order=1)[: shape[0], : shape[1]]
    else:
        noise = ndimage.gaussian_filter(rng.standard_normal(shape).astype(np.float32), sigma)
    return noise / max(float(noise.std()), 1e-9) * amplitude


def render_scene(
    skin_lab,
    marks: list[MarkSpec] = (),
    *,
    size: tuple[int, int] = (640, 480),
    edge: str | None = None,
    edge_side: str = "bottom",
    glare_spots: int = 0,
    lighting: Lighting | None = None,
    texture: float = 1.0,
    seed: int = 0,
) -> SyntheticPhoto:
    """Paint skin and marks in CIELAB, light and capture them, return image and truth.

    ``edge`` is None, "towel" (white) or "sheet" (dark) along ``edge_side``; ``texture``
    scales skin mottling and grain; ``glare_spots`` adds specular highlights.
    """
    lighting = lighting or Lighting()
    rng = np.random.default_rng(seed)
    width, height = size
    short = min(width, height)
    skin = np.asarray(skin_lab, dtype=np.float64)
    lab = np.empty((height, width, 3), dtype=np.float32)
    lab[...] = skin
    # skin texture: broad mottling plus fine grain, mostly in lightness
    for channel, amp in ((0, 1.0), (1, 0.6), (2, 0.5)):
        lab[..., channel] += smooth_noise(rng, (height, width), short / 12, amp * texture)
        lab[..., channel] += smooth_noise(rng, (height, width), 0.8, 0.9 * amp * texture)

    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    # one field of slight unevenness inside marks, shared by all of them
    mottle = 1 + smooth_noise(rng, (height, width), short / 40, 0.04)
    truths = []
    for spec in marks:
        # centres are fractions of width and height, radii fractions of the short side
        cx = spec.centre[0] * width
        cy = spec.centre[1] * height
        radius = spec.radius * short
        r = np.hypot(xs - cx, ys - cy)
        plateau = radius * (1 - spec.softness)
        t = np.clip((radius - r) / max(radius - plateau, 1e-6), 0, 1)
        alpha = t * t * (3 - 2 * t)
        box = alpha > 0
        painted = (alpha[box] * mottle[box])[:, None] * np.asarray(spec.delta_lab, dtype=np.float32)
        lab[box] += painted
        mean_delta, delta_e, theta, name, stage = core_truth(skin, painted[alpha[box] >= CORE_WEIGHT])
        truths.append(
            MarkTruth(
                delta_e=delta_e,
                delta_lab=mean_delta,
                hue_deg=theta,
                colour=name,
                stage=stage,
                mark_lab=[float(v) for v in skin + np.asarray(mean_delta)],
                centre=(float(spec.centre[0]), float(spec.centre[1])),
                radius=float(spec.radius),
            )
        )

    if edge:
        base = np.asarray(TOWEL_LAB if edge == "towel" else SHEET_LAB)
        along = {"bottom": xs, "top": xs, "left": ys, "right": ys}[edge_side]
        across = {"bottom": height - ys, "top": ys, "left": xs, "right": width - xs}[edge_side]
        span = {"bottom": height, "top": height, "left": width, "right": width}[edge_side]
        boundary = span * (0.18 + 0.03 * np.sin(along / span * 7 + rng.uniform(0, 6)))
        cover = np.clip((boundary - across) / 2.0 + 0.5, 0, 1)[..., None]
        cloth = np.empty_like(lab)
        cloth[...] = base
        cloth[..., 0] += smooth_noise(rng, (height, width), 2.0, 2.5)
        cloth[..., 0] += 2.0 * np.sin(along / 6.0)  # woven ribs
        lab = lab * (1 - cover) + cloth * cover

    linear = colour.lab_to_linear(lab)
    if glare_spots:
        for _ in range(glare_spots):
            gx, gy = rng.uniform(0.2, 0.8) * width, rng.uniform(0.2, 0.8) * height
            spot = np.exp(-(((xs - gx) / (0.02 * short)) ** 2 + ((ys - gy) / (0.012 * short)) ** 2))
            linear += 1.5 * spot[..., None]
    ramp_dir = np.radians(lighting.shading_angle)
    ramp = ((xs / width - 0.5) * np.cos(ramp_dir) + (ys / height - 0.5) * np.sin(ramp_dir)) * 2
    light = lighting.exposure * (1 + lighting.shading * np.clip(ramp, -1, 1))
    linear = linear * light[..., None] * np.array([lighting.red_gain, 1.0, lighting.blue_gain])
    srgb = colour.linear_to_srgb(linear) * 255
    srgb += rng.standard_normal(srgb.shape) * lighting.noise
    image = Image.fromarray(np.clip(np.round(srgb), 0, 255).astype(np.uint8), "RGB")
    return SyntheticPhoto(image=image, skin_lab=tuple(float(v) for v in skin), marks=truths)


# what exif_transpose applies for each orientation, inverted: the pixels a camera would store
_STORE_FOR_ORIENTATION = {
    1: None,
    3: Image.Transpose.ROTATE_180,
    6: Image.Transpose.ROTATE_90,
    8: Image.Transpose.ROTATE_270,
}


def save_jpeg(image: Image.Image, dest=None, quality: int = 90, orientation: int = 1):
    """Save an upright image as JPEG with an EXIF orientation tag, pixels stored rotated.

    ``dest`` is a path or binary file; with None the JPEG bytes are returned. Opening the file
    and applying ``ImageOps.exif_transpose`` gives back the upright image.
    """
    method = _STORE_FOR_ORIENTATION[orientation]
    stored = image.transpose(method) if method is not None else image
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO() if dest is None else dest
    stored.save(buffer, "JPEG", quality=quality, exif=exif.tobytes())
    return buffer.getvalue() if dest is None else None


@dataclass
class SeriesDay:
    """One day of a recovery course: when, the mark's Lab difference, and its size scale."""

    t_days: float
    delta_lab: tuple[float, float, float]
    radius_scale: float = 1.0


# peak strength of a mark on the recovery curve, ΔE00
SERIES_PEAK = 16.0
SERIES_KINDS = ("normal", "slow", "worsening", "resolved", "pigmentation")


def recovery_series(
    kind: str,
    skin_lab=(62.0, 10.0, 16.0),
    days: tuple[float, ...] = (0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5, 8.5, 9.5),
    expected_days: float = 7.0,
    peak: float = SERIES_PEAK,
) -> list[SeriesDay]:
    """Return day-by-day mark parameters for a normal, slow, worsening, resolved or pigmentation course.

    Strength follows the expected curve (peak at ~1.6 days, then falling to the resolved level
    by ``expected_days``) scaled per kind; hue moves from violet through violet-red to green,
    yellow and brown as the haemoglobin breaks down (colour-evidence.md, "Timing").
    """
    if kind not in SERIES_KINDS:
        raise ValueError(f"kind must be one of {SERIES_KINDS}")
    out = []
    for t in days:
        rising = min(1.0, 0.7 + 0.3 * t / 1.6)
        if kind == "normal":
            # 0.8 of the ceiling: a typical mark a little ahead of the curve
            strength = min(peak * rising, 0.8 * expected_ceiling(t, peak, expected_days))
            strength = max(strength, 1.2) if t < expected_days else 1.2
        elif kind == "slow":
            # fades at a third of the expected rate
            strength = peak * rising if t <= 2 else peak * (3 / peak) ** ((t - 2) / (3 * (expected_days - 2)))
        elif kind == "resolved":
            strength = peak * rising if t <= 2 else max(1.0, peak * (1.5 / peak) ** ((t - 2) / 2.0))
        elif kind == "worsening":
            # fades to day 3, then a new bleed darkens it again
            strength = peak * rising if t <= 2 else peak * 0.75 if t <= 3 else peak * 1.35
        else:
            strength = min(peak * rising, 0.8 * expected_ceiling(t, peak, expected_days))
        hue = _series_hue(t)
        if kind == "pigmentation" and t > expected_days - 2:
            # red gone (Δa* ≈ 0), a darker brown-yellow patch stays: ΔL* −7, Δb* +3
            out.append(SeriesDay(t, (-7.0, 0.3, 3.0)))
            continue
        if strength < 1.5:
            out.append(SeriesDay(t, (0.0, 0.0, 0.0)))
            continue
        delta = mark_delta(skin_lab, strength, hue=hue)
        radius_scale = 1.0 if kind != "worsening" or t <= 3 else 1.15
        out.append(SeriesDay(t, delta, radius_scale))
    return out


def _series_hue(t: float) -> float:
    """Hue θ of a healing mark at day t: violet, then violet-red, then green/yellow/brown."""
    if t < 2.0:
        return -60.0
    if t < 3.0:
        return -35.0
    if t < 4.5:
        return 150.0
    if t < 6.0:
        return 95.0
    return 50.0
