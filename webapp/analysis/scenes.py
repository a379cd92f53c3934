"""Realistic synthetic phone photos of a back, an abdomen or one mark up close, with known truth.

synthetic.py paints flat skin with round marks; real photos also hold a body outline with
shading, a spine groove, shoulder blades, a navel, moles, hair, creases, a warm floor or carpet,
a towel, clothing, and marks that touch the frame or the outline, overlap, have a cup's rim,
petechiae or a yellow part. A scene is painted in CIELAB on a canvas a little larger than the
frame (so :func:`transformed` can photograph it again from elsewhere), then lit in linear RGB
(channel gains, exposure, a shading ramp) and given sensor noise::

    scene = make_scene(7, kind="back")
    scene.image, scene.marks[0].delta_e, scene.marks[0].core, scene.body
    again = transformed(scene, shift=(0.05, 0.0), rotate_deg=4, lighting=SceneLighting(red_gain=1.1))

Every mark's truth is the mean of what was painted over its core, judged by the product's rules
(``synthetic.core_truth``, the definition synthetic.py's marks share, and the mixed-mark rule
below).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage

from . import colour
from .synthetic import CORE_WEIGHT, ITA_CATEGORIES, core_truth, mark_delta, random_skin, skin_lab_for_ita, smooth_noise

KINDS = ("back", "torso", "closeup")
STYLES = ("round", "rim", "speckled", "mixed")
BACKGROUNDS = ("floor", "carpet", "towel")
CLOTHING = ("jeans", "shirt", "waistband")
# a mark with a breakdown-coloured part (yellow or green) covering at least this fraction of
# its core is named by that part: yellow only appears in bruises older than 18 h (Langlois &
# Gresham 1991), so the mark is in its breakdown phase: the rule is colour.mark_colour's
MIXED_BREAKDOWN_FRACTION = colour.MIXED_BREAKDOWN_FRACTION
# ΔE00 ranges the marks' truths are drawn from, per stage
FRESH_DELTA_E = (7.0, 22.0)
TURNING_DELTA_E = (7.0, 18.0)
FAINT_DELTA_E = (3.2, 5.5)
FRESH_COLOURS = ("red", "violet-red", "violet", "violet-blue", "blue")
LATE_COLOURS = ("yellow", "brown", "green")
# how often each skin category is drawn: most of our clients are light to tan
SKIN_WEIGHTS = {"very light": 0.10, "light": 0.25, "intermediate": 0.25, "tan": 0.20, "brown": 0.12, "dark": 0.08}
# skin texture amplitude per lab channel (synthetic.render_scene's)
SKIN_TEXTURE = ((0, 1.0), (1, 0.6), (2, 0.5))
# painted margin around the frame (fraction of the short side): what transformed() can bring in
MARGIN = 0.12
CLOTHING_LAB = {"jeans": (36.0, 1.0, -20.0), "shirt": (27.0, 27.0, 9.0), "waistband": (14.0, 0.5, -1.5)}
TOWEL_COLOURS = ((91.0, 0.0, 3.0), (90.0, 0.5, 5.0), (74.0, -5.0, -16.0), (64.0, 0.0, -1.0), (78.0, 12.0, 4.0))
# cups still on the skin: radius (fraction of the short side: a 4-6 cm cup on a back photographed
# whole), the clear plastic rim's width (fraction of the radius), how much the suction reddens
# (Δa*) and darkens (ΔL*) the skin drawn up inside, and the valve colours on top
CUP_RADIUS = (0.06, 0.1)
CUP_RIM_WIDTH = 0.08
CUP_REDDENING = (8.0, 16.0)
CUP_DARKENING = (3.0, 7.0)
VALVE_LAB = ((70.0, 30.0, 70.0), (85.0, -10.0, 80.0), (75.0, -50.0, 50.0), (45.0, 10.0, -50.0))
# a highlight on glass or on a wet surface: nearly white
HIGHLIGHT_LAB = (97.0, 0.0, 1.0)
# fresh blood (wet cupping): dark saturated red, hue about 30° (a sample of venous blood on
# skin reads near L* 30, a* 50, b* 30 in sRGB), drops and smears 1-3% of the short side across
BLOOD_LAB = ((26.0, 46.0, 26.0), (36.0, 56.0, 36.0))
BLOOD_DROP = (0.012, 0.03)
# photos without a body: cups standing on a cloth or tray in the middle, a wall above and a mat
# below, each warm and skin-coloured (body.find_body takes the largest such area for a body).
# Dark wood as the drawer fronts in a tester's photo read (L* 10-15, C*ab 18-27, hue 43-45°),
# a beige wall as a clinic room's (L* 66, C*ab 12, hue 77°), a bleached bamboo mat paler still;
# the bands' heights are shares of the frame's height
SURFACE_WALLS = {"dark_wood": ((8.0, 13.0), (16.0, 27.0), (40.0, 50.0)),
                 "beige_wall": ((62.0, 86.0), (8.0, 14.0), (65.0, 85.0))}
SURFACE_MAT = ((72.0, 84.0), (9.0, 15.0), (72.0, 84.0))
SURFACE_BANDS = ((0.12, 0.2), (0.14, 0.2))


@dataclass(frozen=True)
class SceneLighting:
    """How a scene is captured: red/blue channel gains, exposure in EV (factor 2**ev), a linear
    shading ramp of ±``shading`` towards ``shading_angle`` (degrees), sensor noise in 8-bit codes.

    ``shadow`` is the share of the light a cast shadow takes away (0: none, the default) beyond
    ``shadow_from`` along the ramp (-0.5 at the frame's near side, 0.5 at its far side), over a
    penumbra 4% of the frame wide: a shadow keeps the colour's chromaticity and lowers its
    luminance (a limb or a sleeve between the light and the skin).
    """

    red_gain: float = 1.0
    blue_gain: float = 1.0
    exposure_ev: float = 0.0
    shading: float = 0.1
    shading_angle: float = 0.0
    noise: float = 2.0
    shadow: float = 0.0
    shadow_from: float = 0.15


@dataclass
class SceneMark:
    """Truth of one painted mark.

    ``centre`` (x, y) fractions of width and height (inside the frame), ``radius`` fraction of
    the short side; ``delta_lab`` [ΔL*, Δa*, Δb*] the mean painted difference over ``core`` (bool
    (H, W): the mark's pixels with edge weight >= ``synthetic.CORE_WEIGHT``, in the frame and on
    the body);
    ``delta_e`` CIEDE2000(skin, skin + delta_lab) on the scene's base skin; ``hue_deg``, ``colour``
    and ``stage`` by the product's rules; ``style`` round, rim, speckled or mixed; ``touches``
    "frame", "outline" (the body's edge or clothing) or None.
    """

    centre: tuple[float, float]
    radius: float
    delta_e: float
    delta_lab: list[float]
    hue_deg: float
    colour: str
    stage: str
    style: str
    touches: str | None
    core: np.ndarray = field(repr=False)
    number: int = 0  # the mark's index as painted: transformed() keeps it, dropping marks that leave


@dataclass
class Scene:
    """A rendered scene: the upright 8-bit RGB ``image`` (W x H) and its truth.

    ``skin_lab`` is the body's base skin colour under neutral light; ``body`` bool (H, W) the
    body's pixels (skin and marks; not background, not clothing); ``distractors`` (name, (x, y)
    fractions) of moles, the navel, hair patches, creases and the spine groove; ``background``
    floor, carpet, towel or None; ``clothing`` jeans, shirt, waistband or None; ``cups`` (x, y,
    radius) of each cup still on the skin (x, y fractions of width and height, radius fraction
    of the short side); ``blood`` whether blood was painted on the skin.
    """

    image: Image.Image
    kind: str
    skin_lab: tuple[float, float, float]
    marks: list[SceneMark]
    body: np.ndarray = field(repr=False)
    distractors: list[tuple[str, tuple[float, float]]]
    lighting: SceneLighting
    seed: int
    background: str | None = None
    clothing: str | None = None
    # how to paint this scene again (make_scene's arguments and the camera's 2x3 placement)
    recipe: dict = field(default_factory=dict, repr=False)
    cups: list[tuple[float, float, float]] = field(default_factory=list)
    blood: bool = False

    def on_mark(self, x: float, y: float) -> int | None:
        """Return the index of the mark whose core contains the point (x, y) (fractions), else None."""
        height, width = self.body.shape
        col = min(max(int(x * width), 0), width - 1)
        row = min(max(int(y * height), 0), height - 1)
        for index, mark in enumerate(self.marks):
            if mark.core[row, col]:
                return index
        return None


@dataclass
class _Paint:
    """One mark as painted on the canvas: its box and, over the box, edge weight and Lab delta."""

    origin: tuple[int, int]  # canvas row, column of the box's corner
    alpha: np.ndarray  # (h, w) smooth edge weight, 0-1
    delta: np.ndarray  # (h, w, 3) painted Lab difference
    breakdown: np.ndarray | None  # (h, w) weight of a mixed mark's yellow part
    centre: tuple[float, float]  # frame pixels
    radius: float  # frame pixels (short side units times short)
    style: str


@dataclass
class _Content:
    """A scene's content under neutral light on the canvas (frame plus a margin of ``pad``)."""

    lab: np.ndarray  # (H + 2 pad, W + 2 pad, 3) float32
    cover: np.ndarray  # (H + 2 pad, W + 2 pad) float32, 1 on the body
    paints: list[_Paint]
    skin: tuple[float, float, float]
    kind: str
    background: str | None
    clothing: str | None
    distractors: list
    pad: int
    cups: list = field(default_factory=list)  # (x, y, radius) frame pixels
    blood: bool = False


def random_lighting(rng: np.random.Generator) -> SceneLighting:
    """Draw a capture: red and blue gains in [0.85, 1.15], exposure in [-1, +0.5] EV, a shading
    ramp up to ±0.2 in any direction and sensor noise of 1.5-2.5 codes."""
    return SceneLighting(
        red_gain=float(rng.uniform(0.85, 1.15)),
        blue_gain=float(rng.uniform(0.85, 1.15)),
        exposure_ev=float(rng.uniform(-1.0, 0.5)),
        shading=float(rng.uniform(0.0, 0.2)),
        shading_angle=float(rng.uniform(0.0, 360.0)),
        noise=float(rng.uniform(1.5, 2.5)),
    )


def make_scene(
    seed: int,
    *,
    kind: str | None = None,
    marks: int | None = None,
    lighting: SceneLighting | None = None,
    size: tuple[int, int] = (800, 600),
    faint: bool = False,
    mixed: bool | None = None,
    ita: float | None = None,
    bare: bool = False,
    cups: int = 0,
    blood: bool = False,
    bounce: bool = False,
) -> Scene:
    """Paint and photograph one scene of ``size`` (width, height) pixels.

    Everything about the scene's content is drawn from ``seed`` alone; ``lighting`` (default:
    drawn from the seed too) only changes how it is captured, so the same seed under several
    lightings is the same scene. ``kind`` back, torso or closeup; ``marks`` how many (0-12, a
    closeup has at most one); ``faint`` makes every mark a faint late one (ΔE00 3.2-5.5,
    yellow/brown/green), otherwise marks are fresh (ΔE00 7-22) or turning (7-18); ``mixed``
    True makes every mark a violet one with a yellow/green part, False none, None some;
    ``ita`` the skin's ITA angle in degrees (default: drawn, weighted to light-tan skin).
    ``bare`` paints the same scene without its marks (the skin under them), with no mark truths.
    ``cups`` paints that many cups still on the body (fewer if they do not fit; a close-up's one
    fills much of the frame) and ``blood`` drops and smears of blood on it, both drawn from a
    stream of their own: the rest of the scene is the same as without them.
    ``bounce`` darkens and reddens a band of skin along the body's outline (light the surface it
    lies against reflects onto it, and the contact's shadow): not the skin's colour in shade, so
    it differs from the skin as a mark does; the rest of the scene is the same as without it.
    """
    recipe = dict(seed=seed, kind=kind, marks=marks, size=tuple(size), faint=faint, mixed=mixed, ita=ita, bare=bare,
                  cups=cups, blood=blood, bounce=bounce)
    content = _paint_content(**recipe)
    if lighting is None:
        lighting = random_lighting(np.random.default_rng([seed, 1]))
    return _capture(content, recipe, None, lighting)


def surface_scene(seed: int, wall: str | None = None, cups: int = 0, size: tuple[int, int] = (800, 600),
                  lighting: SceneLighting | None = None) -> Scene:
    """Make a photo with no body in it: warm, skin-coloured surfaces and, optionally, cups.

    A wall (``wall``: dark_wood, with planks and grain, or beige_wall; default drawn) fills a
    band along the top, a bamboo mat of narrow slats one along the bottom (``SURFACE_BANDS``),
    and a blue or grey cloth lies between them with ``cups`` empty cups standing on it (fewer if
    they do not fit). Colours are drawn from ``SURFACE_WALLS`` and ``SURFACE_MAT`` (L*, C*ab,
    hue ranges). ``lighting`` defaults to a neutral one. The truth: no skin, no marks, no body
    (``body`` all False, ``skin_lab`` NaN), ``kind`` "surface", ``background`` the wall.
    """
    rng = np.random.default_rng([seed, 7])
    width, height = size
    short = min(width, height)
    pad = int(round(MARGIN * short))
    shape = (height + 2 * pad, width + 2 * pad)
    wall = wall or str(rng.choice(sorted(SURFACE_WALLS)))
    if wall not in SURFACE_WALLS:
        raise ValueError(f"wall must be one of {sorted(SURFACE_WALLS)}")
    ys = (np.arange(shape[0], dtype=np.float32) - pad + 0.5)[:, None]
    xs = (np.arange(shape[1], dtype=np.float32) - pad + 0.5)[None, :]
    # a blue or grey cloth (TOWEL_COLOURS' third and fourth): a white one reads as pale,
    # overexposed skin (C*ab 3-5), which the body finder does not tell from skin
    lab = _paint_surface(dict(name="towel", lab=TOWEL_COLOURS[int(rng.integers(2, 4))]), rng, xs, ys, short)
    top = float(rng.uniform(*SURFACE_BANDS[0])) * height
    bottom = height - float(rng.uniform(*SURFACE_BANDS[1])) * height
    for name, rows, ranges in ((wall, ys[:, 0] < top, SURFACE_WALLS[wall]), ("mat", ys[:, 0] >= bottom, SURFACE_MAT)):
        lightness, chroma, hue = (float(rng.uniform(*bounds)) for bounds in ranges)
        look = dict(name="towel" if name == "beige_wall" else "floor",
                    lab=(lightness, chroma * np.cos(np.radians(hue)), chroma * np.sin(np.radians(hue))))
        if name != "beige_wall":
            # drawer fronts and boards run along the wall; a mat's slats are narrow
            plank = short * (rng.uniform(0.02, 0.035) if name == "mat" else rng.uniform(0.12, 0.2))
            look.update(along_x=True, plank=plank, phase=rng.uniform(0, plank), shades=rng.normal(0, 3.0, 64).astype(np.float32))
        painted = _paint_surface(look, rng, xs, ys[rows], short)
        if name == "beige_wall":
            # a painted wall is smooth: only the light's slow fall-off, none of a towel's terry
            painted[...] = look["lab"]
            painted[..., 0] += _broad_noise(rng, painted.shape[:2], short / 6, 2.0)
        lab[rows] = painted
    lab[..., 0] = np.clip(lab[..., 0], 1.0, 100.0)
    stand = np.zeros(shape, dtype=np.float32)
    stand[(ys[:, 0] >= top + 0.1 * short) & (ys[:, 0] < bottom - 0.1 * short)] = 1.0
    placed = _paint_cups(rng, lab, stand, cups, "surface", pad, width, height, short, drawn_up=False) if cups else []
    content = _Content(lab, np.zeros(shape, dtype=np.float32), [], (np.nan,) * 3, "surface", wall, None, [], pad, placed)
    recipe = dict(seed=seed, kind="surface", wall=wall, cups=cups, size=tuple(size))
    return _capture(content, recipe, None, lighting or SceneLighting())


def transformed(
    scene: Scene,
    *,
    shift: tuple[float, float] = (0.0, 0.0),
    rotate_deg: float = 0.0,
    scale: float = 1.0,
    lighting: SceneLighting | None = None,
) -> Scene:
    """Photograph the same scene again, moved by a similarity transform about the image centre.

    A point p (pixels) goes to c + scale·R·(p − c) + shift·(W, H), R turning counter-clockwise
    on screen by ``rotate_deg``; ``shift`` is in fractions of width and height. The new view is
    lit by ``lighting`` (default: the scene's). Mark centres, cores, truths and the body follow;
    content beyond the painted margin (about 0.2 of the short side) is edge-extended.
    """
    recipe = dict(scene.recipe)
    placement = recipe.pop("placement", None)
    width, height = recipe["size"]
    theta = np.radians(rotate_deg)
    linear = scale * np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]])
    centre = np.array([width / 2, height / 2])
    move = np.hstack([linear, (centre - linear @ centre + np.array(shift) * (width, height))[:, None]])
    if placement is not None:
        earlier = np.asarray(placement)
        move = np.hstack([move[:, :2] @ earlier[:, :2], (move[:, :2] @ earlier[:, 2] + move[:, 2])[:, None]])
    content = _paint_content(**recipe)
    return _capture(content, recipe, move, lighting or scene.lighting)


def scene_suite(
    count: int, seed: int = 0, clean_fraction: float = 0.0, size: tuple[int, int] = (800, 600)
) -> list[Scene]:
    """Return ``count`` reproducible scenes of ``size`` (width, height): a mix of kinds (half
    backs), mark counts, styles (some all-mixed, some all-faint), skin tones (every ITA category
    once when count >= 6, then weighted toward light/intermediate/tan) and lightings;
    ``clean_fraction`` of them have no marks."""
    rng = np.random.default_rng([seed, 7])
    names = list(SKIN_WEIGHTS)
    weights = np.array(list(SKIN_WEIGHTS.values()))
    categories = names[: min(count, 6)] + list(rng.choice(names, size=max(count - 6, 0), p=weights / weights.sum()))
    kinds = list(KINDS[: min(count, 3)]) + list(rng.choice(KINDS, size=max(count - 3, 0), p=[0.5, 0.3, 0.2]))
    clean = np.zeros(count, dtype=bool)
    clean[: int(round(clean_fraction * count))] = True
    rng.shuffle(categories)
    rng.shuffle(kinds)
    rng.shuffle(clean)
    scenes = []
    for index in range(count):
        low, high = ITA_CATEGORIES[categories[index]]
        ita = float(rng.uniform(max(low, -70.0) + 2.0, min(high, 72.0) - 2.0))
        variant = rng.choice(["usual", "mixed", "faint"], p=[0.7, 0.2, 0.1])
        scenes.append(
            make_scene(
                int(rng.integers(2**31)),
                kind=str(kinds[index]),
                marks=0 if clean[index] else None,
                lighting=random_lighting(rng),
                size=size,
                faint=variant == "faint",
                mixed=True if variant == "mixed" else None,
                ita=ita,
            )
        )
    return scenes


# --- content -----------------------------------------------------------------------------------


def _smoothstep(t):
    """Return the smooth 0-1 step 3t² − 2t³ of t clipped to [0, 1]."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def _paint_content(seed, kind, marks, size, faint, mixed, ita, bare, cups=0, blood=False, bounce=False) -> _Content:
    """Paint a scene's skin, body, background, distractors and marks in Lab under neutral light."""
    rng = np.random.default_rng(seed)
    width, height = size
    short = min(width, height)
    pad = int(round(MARGIN * short))
    shape = (height + 2 * pad, width + 2 * pad)
    kind = kind or str(rng.choice(KINDS, p=[0.5, 0.3, 0.2]))
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}")
    if ita is None:
        names = list(SKIN_WEIGHTS)
        weights = np.array(list(SKIN_WEIGHTS.values()))
        skin = random_skin(str(rng.choice(names, p=weights / weights.sum())), rng)
    else:
        skin = skin_lab_for_ita(ita, a=float(rng.uniform(7, 13)), b=float(rng.uniform(13, 19)))
    # canvas pixel centres in frame pixel units (frame pixel (0, 0) has its centre at 0.5, 0.5)
    ys = (np.arange(shape[0], dtype=np.float32) - pad + 0.5)[:, None]
    xs = (np.arange(shape[1], dtype=np.float32) - pad + 0.5)[None, :]

    lab = np.empty(shape + (3,), dtype=np.float32)
    lab[...] = skin
    # skin mottling, mostly in lightness (as synthetic.py; its fine grain is added at capture)
    for channel, amp in SKIN_TEXTURE:
        lab[..., channel] += _broad_noise(rng, shape, short / 12, amp)

    distractors: list = []
    body = _Body(kind, rng, width, height, xs, ys)
    background = clothing = None
    band = np.zeros(shape, dtype=np.float32)
    if kind == "back":
        distractors.append(("spine", (body.spine_x / width, 0.5)))
    elif kind == "torso":
        distractors.append(("navel", (body.navel[0] / width, body.navel[1] / height)))
    if kind != "closeup":
        if rng.random() < 0.4:
            distractors.append(("crease", body.add_crease(rng)))
        if rng.random() < 0.6:
            clothing = str(rng.choice(CLOTHING, p=[0.5, 0.25, 0.25]))
            band, top = _clothing_band(rng, width, height, xs, ys)
            # the band's edge shades the skin just above it
            body.light *= 1 - 0.15 * np.exp(-np.maximum(top - ys, 0) / (0.012 * short))
        background = str(rng.choice(BACKGROUNDS, p=[0.45, 0.25, 0.30]))
    # shading as dimmer light: lightness (+16) and chroma scale together, as they do in lab
    lab[..., 0] = (lab[..., 0] + 16) * body.light - 16
    lab[..., 1:] *= body.light[..., None]
    if bounce and kind != "closeup":
        # a band about 6% of the short side wide, fading inward from the outline: L* down by up
        # to 12, a* up by up to 8 (reflected off a warm surface; no random draw, so the scene's
        # content is otherwise the same as without it)
        near = np.exp(-np.maximum(body.gap, 0) / (0.06 * short))
        lab[..., 0] -= 12.0 * near
        lab[..., 1] += 8.0 * near

    cover = body.cover * (1 - band)
    paints = _place_marks(rng, kind, marks, faint, mixed, skin, lab, body, cover, pad, width, height, short)
    if not bare:
        for paint in paints:
            row, col = paint.origin
            h, w = paint.alpha.shape
            lab[row : row + h, col : col + w] += paint.delta
    _paint_moles(rng, lab, skin, cover, paints, body, pad, width, height, short, distractors)
    if kind != "closeup" and rng.random() < 0.5:
        _paint_hair(rng, lab, body, cover, paints, pad, width, height, short, distractors)

    if background is not None:
        lab *= cover[..., None]
        open_floor = (1 - body.cover) * (1 - band)
        surface = _surface(background, rng, skin, short)
        # painted only where it shows: the strips of columns beside the body
        for rows, cols in _bounding_boxes(open_floor > 0):
            ground = _paint_surface(surface, rng, xs[:, cols], ys[rows], short)
            lab[rows, cols] += ground * open_floor[rows, cols, None]
    if clothing is not None:
        rows = slice(int(np.argmax(band.any(axis=1))), shape[0])
        lab[rows] += _cloth(clothing, rng, xs, ys[rows], short) * band[rows, :, None]
    # their own stream, drawn last: a scene without cups or blood is painted exactly as before
    extra = np.random.default_rng([seed, 5])
    placed = _paint_cups(extra, lab, cover, cups, kind, pad, width, height, short) if cups else []
    bled = blood and _paint_blood(extra, lab, cover, paints, pad, width, height, short)
    return _Content(lab, cover, [] if bare else paints, skin, kind, background, clothing, distractors, pad, placed, bled)


class _Body:
    """The body's outline (``cover``, 1 on the body) and the light its shape lets fall on the
    skin (``light``, a factor near 1: outline shading, spine groove, shoulder blades, navel),
    both (canvas rows, canvas columns), with the landmarks marks and distractors keep clear of."""

    def __init__(self, kind, rng, width, height, xs, ys):
        short = min(width, height)
        shape = (ys.shape[0], xs.shape[1])
        self.navel = None
        self.spine_x = None
        if kind == "closeup":
            self.cover = np.ones(shape, dtype=np.float32)
            self.gap = np.full(shape, np.inf, dtype=np.float32)
            self.light = 1 + _broad_noise(rng, shape, short / 3, 0.03)
            return
        self.centre_x = float(rng.uniform(0.42, 0.58) * width)
        self.tilt = float(np.tan(np.radians(rng.uniform(-6, 6))))
        self.half = float(rng.uniform(0.3, 0.5) * width)
        waist, waist_y = rng.uniform(0.0, 0.1), rng.uniform(0.4, 0.8)
        half = self.half * (1 - waist * np.exp(-(((ys / height) - waist_y) / 0.35) ** 2))
        u = xs - (self.centre_x + self.tilt * (ys - height / 2))
        # horizontal distance inside the outline, pixels (negative outside)
        self.gap = (half - np.abs(u)).astype(np.float32)
        cover = np.clip(self.gap / 1.5 + 0.5, 0, 1)  # a 1.5-pixel soft edge, as a lens draws it
        # a cylinder seen from the front: the surface turns away from the camera toward the outline
        turn = 1 - np.sqrt(1 - np.clip(np.abs(u) / half, 0, 1) ** 2)
        side = 1 + rng.uniform(-0.3, 0.3) * np.sign(u)
        light = 1 - rng.uniform(0.25, 0.4) * turn**1.5 * side
        if kind == "back" and rng.random() < 0.45:
            # the shoulders' rounded line, the neck above the frame
            line = height * rng.uniform(-0.25, -0.05) + rng.uniform(0.35, 0.6) * self.half * (u / self.half) ** 2
            cover = np.minimum(cover, np.clip(ys - line + 0.5, 0, 1))
            light = light - 0.2 * np.exp(-np.maximum(ys - line, 0) / (0.05 * short))
            self.gap = np.minimum(self.gap, ys - line).astype(np.float32)
        if kind == "back":
            # the spine groove: a soft darker valley between two lighter muscle ridges
            self.spine_x = self.centre_x
            u_spine = u - 0.01 * width * np.sin(ys / height * np.pi * rng.uniform(0.5, 1.5) + rng.uniform(0, 6))
            # deeper at the waist than between the shoulders
            depth = rng.uniform(0.03, 0.06) * (0.6 + 0.8 * ys / height)
            groove = rng.uniform(0.02, 0.035) * width
            light *= 1 - depth * np.exp(-((u_spine / groove) ** 2))
            light *= 1 + 0.35 * depth * np.exp(-(((np.abs(u_spine) - 2.4 * groove) / (1.3 * groove)) ** 2))
            # shoulder blades: bumps lit from above, lighter on top and shadowed below
            blade_y = height * rng.uniform(0.15, 0.4)
            strength = rng.uniform(0.05, 0.1)
            for sign in (-1, 1):
                bx = self.centre_x + sign * 0.48 * self.half
                sx, sy = 0.22 * self.half, 0.16 * height
                bump = np.exp(-(((xs - bx) / sx) ** 2) - ((ys - blade_y) / sy) ** 2)
                light *= 1 - strength * (ys - blade_y) / sy * bump
        else:
            self._navel(rng, light, width, height, short)
        self.cover = cover.astype(np.float32)
        self.light = (light * (1 + _broad_noise(rng, shape, short / 4, 0.015))).astype(np.float32)
        self.width, self.height, self.short = width, height, short
        self.xs, self.ys = xs, ys

    def _navel(self, rng, light, width, height, short):
        """Darken a small elongated pit with a shadowed upper rim and a lit lower one."""
        ny = height * rng.uniform(0.4, 0.65)
        nx = self.centre_x + self.tilt * (ny - height / 2) + rng.uniform(-0.01, 0.01) * width
        half_w = short * rng.uniform(0.010, 0.016)
        half_h = half_w * rng.uniform(1.3, 2.0)
        self.navel = (float(nx), float(ny), float(2.2 * half_h))
        pad = (light.shape[0] - height) // 2
        r0, r1 = int(ny - 3 * half_h) + pad, int(ny + 3 * half_h) + pad
        c0, c1 = int(nx - 3 * half_h) + pad, int(nx + 3 * half_h) + pad
        yy = np.arange(r0, r1, dtype=np.float32)[:, None] - pad + 0.5
        xx = np.arange(c0, c1, dtype=np.float32)[None, :] - pad + 0.5
        rho = np.hypot((xx - nx) / half_w, (yy - ny) / half_h)
        pit = _smoothstep((1 - rho) / 0.35)
        ring = np.exp(-(((rho - 1.15) / 0.3) ** 2))
        upper = yy < ny
        light[r0:r1, c0:c1] *= (1 - 0.6 * pit) * np.where(upper, 1 - 0.2 * ring, 1 + 0.06 * ring)

    def add_crease(self, rng) -> tuple[float, float]:
        """Darken a thin curved skin fold across the body; return its centre (x, y fractions)."""
        width, height, short = self.width, self.height, self.short
        y0 = height * rng.uniform(0.55, 0.88)
        u = self.xs - self.centre_x
        line = y0 + rng.uniform(-0.05, 0.05) * height * (u / self.half) ** 2
        across = (self.ys - line) / (short * rng.uniform(0.005, 0.01))
        # a fold fades out toward the body's sides
        fade = np.exp(-((u / (rng.uniform(0.3, 0.7) * self.half)) ** 2))
        self.light *= 1 - fade * (rng.uniform(0.06, 0.12) * np.exp(-(across**2)) - 0.03 * np.exp(-((across - 2) ** 2)))
        self.crease_y = y0
        return (self.centre_x / width, y0 / height)


def _clothing_band(rng, width, height, xs, ys):
    """Return the cover (canvas rows, columns) of a clothing band along the bottom, and its top
    edge (1, canvas columns) in frame pixels."""
    short = min(width, height)
    top = (
        height * rng.uniform(0.8, 0.93)
        + np.tan(np.radians(rng.uniform(-4, 4))) * (xs - width / 2)
        + 0.008 * short * np.sin(xs / width * 2 * np.pi * rng.uniform(1, 3) + rng.uniform(0, 6))
    )
    return np.clip(ys - top + 0.5, 0, 1).astype(np.float32), top


def _lightness_apart(skin_l, rng):
    """Return a lightness 14-26 L* away from the skin's, so a warm surface is no skin twin."""
    if skin_l >= 48:
        return max(skin_l - rng.uniform(14, 26), 18.0)
    return min(skin_l + rng.uniform(14, 26), 75.0)


def _bounding_boxes(mask):
    """Yield (row slice, column slice) boxes around each run of columns where ``mask`` has pixels."""
    columns = np.flatnonzero(mask.any(axis=0))
    if columns.size == 0:
        return
    breaks = np.flatnonzero(np.diff(columns) > 1)
    for start, stop in zip(np.r_[columns[0], columns[breaks + 1]], np.r_[columns[breaks], columns[-1]] + 1):
        rows = np.flatnonzero(mask[:, start:stop].any(axis=1))
        yield slice(rows[0], rows[-1] + 1), slice(start, stop)


def _surface(name, rng, skin, short) -> dict:
    """Draw the look of the surface around the body: a wooden floor, a warm carpet or a towel."""
    if name == "towel":
        return dict(name=name, lab=TOWEL_COLOURS[int(rng.integers(len(TOWEL_COLOURS)))])
    # warm surfaces: hue and chroma inside skin's wedge, lightness well apart from it
    hue = np.radians(rng.uniform(55, 72) if name == "floor" else rng.uniform(32, 50))
    chroma = rng.uniform(16, 28) if name == "floor" else rng.uniform(24, 34)
    look = dict(name=name, lab=(_lightness_apart(skin[0], rng), chroma * np.cos(hue), chroma * np.sin(hue)))
    if name == "floor":
        plank = short * rng.uniform(0.12, 0.2)
        look.update(along_x=rng.random() < 0.5, plank=plank, phase=rng.uniform(0, plank),
                    shades=rng.normal(0, 3.0, 64).astype(np.float32))
    return look


def _paint_surface(look, rng, xs, ys, short):
    """Paint the surface in Lab over the grid of frame-pixel coordinates ``xs`` (1, w) and ``ys``
    (h, 1): returns (h, w, 3) float32. Towels have terry grain and folds, carpets a coarse pile,
    floors planks with their own shade, grain streaks along them and dark seams."""
    shape = (ys.shape[0], xs.shape[1])
    lab = np.empty(shape + (3,), dtype=np.float32)
    lab[...] = look["lab"]
    if look["name"] == "towel":
        lab[..., 0] += smooth_noise(rng, shape, 1.3, 3.0) + _broad_noise(rng, shape, short / 10, 3.0)
        lab[..., 1:] += smooth_noise(rng, shape, 1.0, 0.6)[..., None]
    elif look["name"] == "carpet":
        lab[..., 0] += smooth_noise(rng, shape, 1.0, 4.0) + _broad_noise(rng, shape, short / 30, 2.5)
        lab[..., 1:] += smooth_noise(rng, shape, 1.0, 2.0)[..., None] * np.float32([1.0, 0.8])
    else:
        plank = look["plank"]
        across = np.broadcast_to(ys if look["along_x"] else xs, shape) + look["phase"]
        lab[..., 0] += look["shades"][(across // plank).astype(int) % 64]
        grain = _broad_noise(rng, shape, 2.0, 2.5, stretch=(1, 24) if look["along_x"] else (24, 1))
        lab[..., 0] += grain
        lab[..., 2] += 0.6 * grain
        seam = np.minimum(across % plank, plank - across % plank)
        lab[..., 0] -= 10 * np.exp(-((seam / 1.2) ** 2))
        lab[..., 0] += smooth_noise(rng, shape, 0.8, 1.0)
    return lab


def _cloth(name, rng, xs, ys, short):
    """Paint clothing in Lab over the grid ``xs`` (1, w), ``ys`` (h, 1) frame pixels: returns
    (h, w, 3) float32 jeans twill, a maroon shirt or a black ribbed waistband."""
    shape = (ys.shape[0], xs.shape[1])
    lab = np.empty(shape + (3,), dtype=np.float32)
    lab[...] = CLOTHING_LAB[name]
    lab[..., 0] += smooth_noise(rng, shape, 0.8, 1.5) + _broad_noise(rng, shape, short / 15, 2.5)
    if name == "jeans":
        lab[..., 0] += 2.0 * np.sin((xs + ys) * 2 * np.pi / 3.5)
    elif name == "waistband":
        lab[..., 0] += 1.5 * np.sin(xs * 2 * np.pi / 4.0)
    return lab


def _broad_noise(rng, shape, sigma, amplitude, stretch=(1, 1)):
    """Return smooth noise (float32, ``shape``) of width ``sigma`` pixels and std ``amplitude``,
    ``stretch`` times longer along (rows, columns).

    Drawn small by synthetic.smooth_noise and enlarged by Pillow, which does it several times
    faster than scipy's zoom on a whole frame.
    """
    step = max(sigma / 2, 1.0)
    small_shape = tuple(int(np.ceil(n / (step * k))) + 2 for n, k in zip(shape, stretch))
    small = smooth_noise(rng, small_shape, 2.0, amplitude)
    size = (int(round(small_shape[1] * step * stretch[1])), int(round(small_shape[0] * step * stretch[0])))
    big = np.asarray(Image.fromarray(small, "F").resize(size, Image.Resampling.BILINEAR))
    return big[: shape[0], : shape[1]]


def _place_marks(rng, kind, count, faint, mixed, skin, lab, body, cover, pad, width, height, short):
    """Place and paint the scene's marks on the canvas; return them as painted."""
    if kind == "closeup":
        count = 1 if count is None else min(count, 1)
    elif count is None:
        count = 0 if rng.random() < 0.08 else int(rng.integers(1, 13))
    paints: list[_Paint] = []
    for _ in range(count):
        for _attempt in range(80):
            if kind == "closeup":
                spot = _closeup_spot(rng, width, height, short)
            else:
                spot = _body_spot(rng, body, cover, pad, paints, width, height, short)
            if spot is None:
                continue
            paint = _paint_mark(rng, spot, _style(rng, mixed), faint, skin, lab, cover, pad, width, height, short)
            if paint is not None:
                paints.append(paint)
                break
    return paints


def _style(rng, mixed):
    """Draw a mark's style; ``mixed`` True or False forces or forbids mixed marks."""
    if mixed:
        return "mixed"
    if mixed is None:
        return str(rng.choice(STYLES, p=[0.4, 0.2, 0.2, 0.2]))
    return str(rng.choice(STYLES[:3], p=[0.5, 0.25, 0.25]))


def _closeup_spot(rng, width, height, short):
    """Draw a centre and radius (frame pixels) for a mark whose core fills 50-85% of the frame and
    crosses 1-4 of its edges, or None."""
    radius = short * rng.uniform(0.4, 0.8)
    cx, cy = rng.uniform(0.1, 0.9) * width, rng.uniform(0.1, 0.9) * height
    core = 0.85 * radius
    edges = (cx < core) + (width - cx < core) + (cy < core) + (height - cy < core)
    gx, gy = np.meshgrid(np.linspace(0, width, 40), np.linspace(0, height, 30))
    filled = float(np.mean(np.hypot(gx - cx, gy - cy) < core))
    if not (1 <= edges <= 4 and 0.52 <= filled <= 0.83):
        return None
    return cx, cy, radius, "frame"


def _body_spot(rng, body, cover, pad, paints, width, height, short):
    """Draw a centre and radius (frame pixels) for a mark on the body: free, touching the frame or
    touching the outline, clear of other marks (or overlapping one a little) and the navel."""
    radius = short * rng.uniform(0.04, 0.10)
    where = rng.choice(["free", "frame", "outline"], p=[0.7, 0.15, 0.15])
    if where == "frame":
        edge = int(rng.integers(4))
        inset = radius * rng.uniform(0.3, 0.85)
        along = rng.uniform(0.05, 0.95)
        cx, cy = [(inset, along * height), (width - inset, along * height),
                  (along * width, inset), (along * width, height - inset)][edge]
    elif where == "outline":
        cy = rng.uniform(0.08, 0.92) * height
        row = min(max(int(cy) + pad, 0), cover.shape[0] - 1)
        inside = np.flatnonzero(np.abs(body.gap[row] - radius * rng.uniform(0.3, 0.85)) < 1.0)
        if inside.size == 0:
            return None
        cx = float(rng.choice(inside) - pad + 0.5)
    else:
        cx, cy = rng.uniform(radius, width - radius), rng.uniform(radius, height - radius)
    if not (0 < cx < width and 0 < cy < height):
        return None
    row, col = int(cy) + pad, int(cx) + pad
    if cover[row, col] < 0.5:
        return None
    if where == "free" and body.gap[row, col] < 1.1 * radius:
        return None
    if body.navel is not None and np.hypot(cx - body.navel[0], cy - body.navel[1]) < radius + body.navel[2]:
        return None
    # a quarter of the marks may overlap a neighbour a little (soft edges mixing, cores touching)
    spacing = rng.uniform(0.8, 0.95) if rng.random() < 0.25 else 1.15
    for other in paints:
        if np.hypot(cx - other.centre[0], cy - other.centre[1]) < spacing * (radius + other.radius):
            return None
    return cx, cy, radius, where


def _segment_offset(fraction):
    """Return p0 such that the part of the unit disc with x > p0 covers ``fraction`` of its area."""
    low, high = -1.0, 1.0
    for _ in range(40):
        mid = (low + high) / 2
        area = (np.arccos(mid) - mid * np.sqrt(1 - mid * mid)) / np.pi
        low, high = (mid, high) if area > fraction else (low, mid)
    return (low + high) / 2


def _paint_mark(rng, spot, style, faint, skin, lab, cover, pad, width, height, short):
    """Paint one mark at ``spot`` (centre x, y and radius in frame pixels) in a box of the canvas.

    The edge weight is a smoothstep over the outer ``softness`` of a slightly elliptical, slightly
    irregular disc; rim, speckle and mottle modulate it. The painted delta is scaled so that its
    mean over the core has the drawn ΔE00. Returns None if too little of the core is visible.
    """
    cx, cy, radius, _where = spot
    aspect = float(rng.uniform(0.85, 1.15))
    turn = float(rng.uniform(0, np.pi))
    softness = float(rng.uniform(0.2, 0.4))
    wobble = [float(v) for v in rng.uniform(0, 0.04, 2)] + [float(v) for v in rng.uniform(0, 2 * np.pi, 2)]
    reach = radius * max(aspect, 1 / aspect) * 1.1 + 2
    r0 = max(int(cy - reach) + pad, 0)
    r1 = min(int(cy + reach) + pad + 1, cover.shape[0])
    c0 = max(int(cx - reach) + pad, 0)
    c1 = min(int(cx + reach) + pad + 1, cover.shape[1])
    dy = np.arange(r0, r1, dtype=np.float32)[:, None] - pad + 0.5 - cy
    dx = np.arange(c0, c1, dtype=np.float32)[None, :] - pad + 0.5 - cx
    ex = dx * np.cos(turn) + dy * np.sin(turn)
    ey = -dx * np.sin(turn) + dy * np.cos(turn)
    nx, ny = ex / (radius * aspect), ey * aspect / radius
    angle = np.arctan2(ny, nx)
    # a disc with a slightly irregular edge (2nd and 3rd harmonics of a few percent)
    rho = np.hypot(nx, ny) / (1 + wobble[0] * np.sin(2 * angle + wobble[2]) + wobble[1] * np.sin(3 * angle + wobble[3]))
    alpha = _smoothstep((1 - rho) / softness)
    # blood under the skin is uneven: blotches a few percent of the short side across
    weight = alpha * (1 + _broad_noise(rng, alpha.shape, short / 60, 0.08))
    if style == "rim":
        # a cup's rim presses a darker ring just inside the mark's edge
        ring = np.exp(-(((rho - (1 - 0.75 * softness)) / (0.08 + 0.1 * softness)) ** 2))
        weight *= float(rng.uniform(0.65, 0.8)) + float(rng.uniform(0.5, 0.8)) * ring
    elif style == "speckled":
        # petechiae: small darker dots inside the mark
        speck = np.zeros_like(alpha)
        for _ in range(int(rng.integers(10, 45))):
            r, a = 0.85 * np.sqrt(rng.random()), rng.uniform(0, 2 * np.pi)
            sx, sy = r * np.cos(a) * radius * aspect, r * np.sin(a) * radius / aspect
            row = int(cy + sx * np.sin(turn) + sy * np.cos(turn)) + pad - r0
            col = int(cx + sx * np.cos(turn) - sy * np.sin(turn)) + pad - c0
            size = short * rng.uniform(0.002, 0.005)
            span = int(3 * size) + 1
            top, left = max(row - span, 0), max(col - span, 0)
            yy = np.arange(top, min(row + span + 1, speck.shape[0]))[:, None] - row
            xx = np.arange(left, min(col + span + 1, speck.shape[1]))[None, :] - col
            speck[top : top + yy.shape[0], left : left + xx.shape[1]] += float(rng.uniform(0.6, 1.2)) * np.exp(
                -(yy**2 + xx**2) / (2 * size**2)
            )
        weight *= 1 + speck
    breakdown = None
    if style == "mixed":
        # a yellow/green part covering 25-50% of the core, blending into the violet: a crescent
        # on one side, or a halo round the rim
        fraction = float(rng.uniform(0.25, 0.5))
        if rng.random() < 0.5:
            side = float(rng.uniform(0, 2 * np.pi))
            across = (nx * np.cos(side) + ny * np.sin(side)) / (1 - softness / 2)
            breakdown = _smoothstep((across - _segment_offset(fraction)) / 0.45 + 0.5)
        else:
            inner = rho / (1 - softness / 2)
            breakdown = _smoothstep((inner - np.sqrt(1 - fraction)) / 0.25 + 0.5)
        breakdown = breakdown.astype(np.float32)

    frame = np.zeros(alpha.shape, dtype=bool)
    frame[max(pad - r0, 0) : max(pad + height - r0, 0), max(pad - c0, 0) : max(pad + width - c0, 0)] = True
    core = (alpha >= CORE_WEIGHT) & (cover[r0:r1, c0:c1] >= 0.5) & frame
    full = np.pi * (radius * (1 - softness / 2)) ** 2
    if core.sum() < max(0.3 * full, 30):
        return None
    mean_weight = float(weight[core].mean())
    peak = float(weight.max())
    # the mark is painted on shaded skin: its darkest and lightest spots must hold it too
    under = lab[r0:r1, c0:c1][(alpha > 0) & (cover[r0:r1, c0:c1] > 0)]
    local = np.vstack([skin, under[np.argmin(under[:, 0])], under[np.argmax(under[:, 0])]])
    if style == "mixed":
        haem = _truth_delta(rng, skin, local, "violet", faint, mean_weight, peak)
        late = _truth_delta(rng, skin, local, str(rng.choice(["yellow", "green"])), faint, mean_weight, peak)
        if haem is None or late is None:
            return None
        delta = weight[..., None] * ((1 - breakdown)[..., None] * haem + breakdown[..., None] * late)
    else:
        if faint:
            name = str(rng.choice(LATE_COLOURS))
        elif rng.random() < 0.7:
            name = str(rng.choice(FRESH_COLOURS))
        else:
            name = str(rng.choice(LATE_COLOURS))
        plateau = _truth_delta(rng, skin, local, name, faint, mean_weight, peak)
        if plateau is None:
            return None
        delta = weight[..., None] * plateau
    return _Paint((r0, c0), alpha.astype(np.float32), delta.astype(np.float32), breakdown, (cx, cy), radius, style)


def _truth_delta(rng, skin, local, name, faint, mean_weight, peak):
    """Return the plateau Lab delta (3,) of a mark of colour ``name`` whose mean over the core (mean
    weight ``mean_weight``) has a ΔE00 drawn from its stage's range, kept in gamut at ``peak`` on
    every skin colour in ``local`` (n, 3); None if that gamut leaves it below the range."""
    if faint:
        low, high = FAINT_DELTA_E
    else:
        low, high = FRESH_DELTA_E if name in colour.HAEMOGLOBIN_COLOURS else TURNING_DELTA_E
    plateau = np.asarray(mark_delta(skin, float(rng.uniform(low, high)), name, rng=rng)) / mean_weight
    # mark_delta keeps skin + delta in gamut; the strongest painted pixel on the darkest and the
    # lightest skin under the mark must stay there too (with a code or two of headroom)
    for _ in range(40):
        linear = colour.lab_to_linear(local + peak * plateau)
        if linear.min() >= 0.004 and linear.max() <= 0.9:
            break
        plateau = plateau * 0.95
    if colour.ciede2000(np.asarray(skin), np.asarray(skin) + mean_weight * plateau) < low - 0.01:
        return None
    return plateau.astype(np.float32)


def _clear_of(x, y, margin, paints, body):
    """Tell whether the point (frame pixels) is ``margin`` pixels clear of every mark and the navel."""
    for paint in paints:
        if np.hypot(x - paint.centre[0], y - paint.centre[1]) < 1.15 * paint.radius + margin:
            return False
    return body.navel is None or np.hypot(x - body.navel[0], y - body.navel[1]) > body.navel[2] + margin


def _paint_moles(rng, lab, skin, cover, paints, body, pad, width, height, short, distractors):
    """Paint 0-6 small dark brown moles (0.5-1.2% of the short side across) clear of the marks."""
    for _ in range(int(rng.integers(0, 7))):
        size = short * rng.uniform(0.0025, 0.006)
        for _attempt in range(30):
            x, y = rng.uniform(0.03, 0.97) * width, rng.uniform(0.03, 0.97) * height
            row, col = int(y) + pad, int(x) + pad
            if cover[row, col] > 0.99 and _clear_of(x, y, 4 * size, paints, body):
                break
        else:
            continue
        reach = int(3 * size) + 2
        yy = np.arange(row - reach, row + reach + 1, dtype=np.float32)[:, None] - pad + 0.5
        xx = np.arange(col - reach, col + reach + 1, dtype=np.float32)[None, :] - pad + 0.5
        dot = _smoothstep((size - np.hypot(xx - x, yy - y)) / (0.6 * size) + 0.5)
        delta = np.array([-(rng.uniform(0.3, 0.45) * skin[0] + 4), rng.uniform(1, 4), rng.uniform(0, 4)])
        lab[row - reach : row + reach + 1, col - reach : col + reach + 1] += dot[..., None] * delta.astype(np.float32)
        distractors.append(("mole", (x / width, y / height)))


def _paint_hair(rng, lab, body, cover, paints, pad, width, height, short, distractors):
    """Paint a patch of 8-40 thin dark curved hairs on the body, clear of the marks."""
    for _attempt in range(30):
        x, y = rng.uniform(0.1, 0.9) * width, rng.uniform(0.1, 0.9) * height
        if cover[int(y) + pad, int(x) + pad] > 0.99:
            break
    else:
        return
    reach = int(0.16 * short)
    r0, c0 = max(int(y) + pad - reach, 0), max(int(x) + pad - reach, 0)
    mask = Image.new("L", (2 * reach, 2 * reach))
    draw = ImageDraw.Draw(mask)
    heading = rng.uniform(0, np.pi)
    hair = np.array([rng.uniform(12, 28), rng.uniform(1, 4), rng.uniform(2, 7)], dtype=np.float32)
    steps = np.linspace(0, 1, 12)[:, None]
    for _ in range(int(rng.integers(8, 41))):
        start = np.array([x, y]) + rng.normal(0, 0.05 * short, 2)
        turn = heading + rng.normal(0, 0.4)
        length = short * rng.uniform(0.02, 0.06)
        end = start + length * np.array([np.cos(turn), np.sin(turn)])
        bend = (start + end) / 2 + rng.normal(0, 0.25 * length, 2)
        points = (1 - steps) ** 2 * start + 2 * (1 - steps) * steps * bend + steps**2 * end
        rows, cols = (points[:, 1] + pad).astype(int), (points[:, 0] + pad).astype(int)
        inside = (rows >= 0) & (rows < cover.shape[0]) & (cols >= 0) & (cols < cover.shape[1])
        if not inside.all() or (cover[rows, cols] < 0.99).any():
            continue
        if not all(_clear_of(px, py, 3, paints, body) for px, py in points):
            continue
        local = points + pad - (c0, r0)
        draw.line([tuple(p) for p in local], fill=int(255 * rng.uniform(0.35, 0.7)), width=1)
    weight = ndimage.gaussian_filter(np.asarray(mask, dtype=np.float32) / 255, 0.5)
    region = lab[r0 : r0 + 2 * reach, c0 : c0 + 2 * reach]
    weight = weight[: region.shape[0], : region.shape[1], None]
    region += weight * (hair - region)
    distractors.append(("hair", (x / width, y / height)))


def _canvas_box(x, y, reach, pad, shape):
    """Canvas slices of the box ``reach`` frame pixels around the frame point (x, y), clipped to
    the canvas, and the frame coordinates (columns (1, w), rows (h, 1)) of its pixel centres."""
    r0, r1 = max(int(y - reach) + pad, 0), min(int(y + reach) + pad + 2, shape[0])
    c0, c1 = max(int(x - reach) + pad, 0), min(int(x + reach) + pad + 2, shape[1])
    yy = np.arange(r0, r1, dtype=np.float32)[:, None] - pad + 0.5
    xx = np.arange(c0, c1, dtype=np.float32)[None, :] - pad + 0.5
    return (slice(r0, r1), slice(c0, c1)), xx, yy


def _blend(region, weight, lab_value):
    """Blend a Lab colour (3,) into a canvas region (h, w, 3) in place with weight (h, w) 0-1."""
    region += weight[..., None] * (np.asarray(lab_value, dtype=np.float32) - region)


def _paint_cups(rng, lab, cover, count, kind, pad, width, height, short, drawn_up=True) -> list:
    """Paint up to ``count`` cups seen from above on the body (a close-up: one, larger): the skin
    drawn up and reddened inside, a sharp clear rim, highlights along an arc of it and on the
    dome, a coloured valve on top. Returns the cups placed as (x, y, radius) frame pixels.
    ``drawn_up`` False paints empty cups standing where ``cover`` is 1 (nothing drawn up inside)."""
    placed: list = []
    scale = 2.0 if kind == "closeup" else 1.0
    for _ in range(count if kind != "closeup" else 1):
        radius = float(rng.uniform(*CUP_RADIUS)) * short * scale
        for _attempt in range(40):
            x, y = rng.uniform(radius, width - radius), rng.uniform(radius, height - radius)
            if cover[int(y) + pad, int(x) + pad] > 0.99 and all(
                np.hypot(x - px, y - py) > radius + pr + 4 for px, py, pr in placed
            ):
                break
        else:
            continue
        rim = max(2.0, CUP_RIM_WIDTH * radius)
        where, xx, yy = _canvas_box(x, y, radius + rim + 3, pad, lab.shape)
        region = lab[where]
        distance = np.hypot(xx - x, yy - y)
        angle = np.arctan2(yy - y, xx - x)
        if drawn_up:
            # the skin drawn up: most at the centre, fading towards the rim
            dome = _smoothstep(1.2 * (1 - distance / radius))
            region[..., 1] += dome * float(rng.uniform(*CUP_REDDENING))
            region[..., 0] -= dome * float(rng.uniform(*CUP_DARKENING))
        # the plastic's faint haze over the skin it covers, then its rim: lighter and greyer,
        # a dark line at its outer edge (half-pixel edges: the rim is sharp)
        region[..., 0] += 3.0 * _smoothstep(radius + 0.5 - distance)
        ring = _smoothstep(distance - radius + 0.5) * _smoothstep(radius + rim + 0.5 - distance)
        _blend(region, 0.6 * ring, (min(float(np.median(region[..., 0])) + 18.0, 92.0), 2.0, 4.0))
        outline = _smoothstep(distance - radius - rim + 0.5) * _smoothstep(radius + rim + 2.0 - distance)
        region[..., 0] -= 14.0 * outline
        # highlights: along an arc of the rim towards the light, a shorter one opposite, a spot on the dome
        light = float(rng.uniform(-np.pi, np.pi))
        span = float(rng.uniform(0.5, 0.9))
        for towards, half_width in ((light, span), (light + np.pi, 0.4 * span)):
            off = np.abs(np.angle(np.exp(1j * (angle - towards))))
            arc = _smoothstep((half_width - off) / 0.15) * _smoothstep(1.2 - np.abs(distance - radius - rim / 2))
            _blend(region, arc, HIGHLIGHT_LAB)
        sx, sy = x + 0.45 * radius * np.cos(light), y + 0.45 * radius * np.sin(light)
        _blend(region, _smoothstep(0.06 * radius + 0.5 - np.hypot(xx - sx, yy - sy)), HIGHLIGHT_LAB)
        _blend(region, _smoothstep(0.14 * radius + 0.5 - distance), VALVE_LAB[int(rng.integers(len(VALVE_LAB)))])
        placed.append((float(x), float(y), radius))
    return placed


def _paint_blood(rng, lab, cover, paints, pad, width, height, short) -> bool:
    """Paint 3-8 drops and smears of fresh blood with sharp edges and a glossy highlight each,
    around a mark (wet cupping bleeds from the marks) or anywhere on the body; True if any."""
    centre = paints[int(rng.integers(len(paints)))].centre if paints else None
    painted = False
    for _ in range(int(rng.integers(3, 9))):
        size = float(rng.uniform(*BLOOD_DROP)) * short
        stretch = float(rng.uniform(1.0, 3.0))  # a smear runs longer than a drop
        for _attempt in range(30):
            if centre is not None:
                x, y = np.asarray(centre) + rng.normal(0.0, 0.05 * short, 2)
            else:
                x, y = rng.uniform(0.05, 0.95) * width, rng.uniform(0.05, 0.95) * height
            if 0 <= x < width and 0 <= y < height and cover[int(y) + pad, int(x) + pad] > 0.99:
                break
        else:
            continue
        where, xx, yy = _canvas_box(x, y, size * stretch + 3, pad, lab.shape)
        turn = float(rng.uniform(0, np.pi))
        along = (xx - x) * np.cos(turn) + (yy - y) * np.sin(turn)
        across = -(xx - x) * np.sin(turn) + (yy - y) * np.cos(turn)
        low, high = BLOOD_LAB
        _blend(lab[where], _smoothstep(size + 0.5 - np.hypot(along / stretch, across)), rng.uniform(low, high))
        # the wet surface's highlight: a small spot off its centre, towards the light
        hx, hy = x - 0.4 * size * np.cos(turn), y - 0.4 * size * np.sin(turn)
        glint = max(1.5, 0.2 * size)
        _blend(lab[where], _smoothstep(glint + 0.5 - np.hypot(xx - hx, yy - hy)), HIGHLIGHT_LAB)
        painted = True
    return painted


# --- capture -----------------------------------------------------------------------------------


def _to_frame(array, origin, move, pad, fill=0.0):
    """Place a canvas array (h, w[, 3]) whose corner is at canvas ``origin`` (row, column) in the
    frame moved by ``move`` (2x3, frame pixels to frame pixels, or None for no move).

    Returns the array over the moved box's bounding box and that box's frame (row, column) corner;
    the box may reach beyond the frame.
    """
    if move is None:
        return array, (origin[0] - pad, origin[1] - pad)
    h, w = array.shape[:2]
    corners = np.array([[0, 0], [w, 0], [0, h], [w, h]], dtype=np.float64) + (origin[1] - pad, origin[0] - pad)
    moved = corners @ move[:, :2].T + move[:, 2]
    c0, r0 = np.floor(moved.min(axis=0)).astype(int)
    c1, r1 = np.ceil(moved.max(axis=0)).astype(int)
    inverse = np.linalg.inv(move[:, :2])
    # output index o (x, y) -> frame point o + corner + 0.5 -> earlier point -> array index
    offset_xy = inverse @ (np.array([c0, r0]) + 0.5 - move[:, 2]) - 0.5 + pad - (origin[1], origin[0])
    matrix_rc = inverse[::-1, ::-1]
    offset_rc = offset_xy[::-1]
    out_shape = (r1 - r0, c1 - c0)
    planes = array[..., None] if array.ndim == 2 else array
    out = np.stack(
        [
            ndimage.affine_transform(planes[..., k], matrix_rc, offset_rc, out_shape, order=1, mode="constant", cval=fill)
            for k in range(planes.shape[2])
        ],
        axis=-1,
    )
    return (out[..., 0] if array.ndim == 2 else out), (r0, c0)


def _frame_view(array, corner, width, height):
    """Return the part of a placed array inside the frame, its frame slices and an in-frame mask."""
    r0, c0 = corner
    h, w = array.shape[:2]
    top, left = max(r0, 0), max(c0, 0)
    bottom, right = min(r0 + h, height), min(c0 + w, width)
    inside = np.zeros((h, w), dtype=bool)
    if bottom <= top or right <= left:
        return None, None, inside
    inside[top - r0 : bottom - r0, left - c0 : right - c0] = True
    return array[top - r0 : bottom - r0, left - c0 : right - c0], (slice(top, bottom), slice(left, right)), inside


def _mark_truth(paint, number, move, pad, body, skin, width, height, short) -> SceneMark | None:
    """Measure what was painted for one mark over its core in the (moved) frame, by the product's
    rules; None if its centre left the frame or its core is empty."""
    cx, cy = paint.centre
    scale = 1.0
    if move is not None:
        cx, cy = move[:, :2] @ (cx, cy) + move[:, 2]
        scale = float(np.sqrt(abs(np.linalg.det(move[:, :2]))))
    if not (0 <= cx < width and 0 <= cy < height):
        return None
    alpha, corner = _to_frame(paint.alpha, paint.origin, move, pad)
    delta, _ = _to_frame(paint.delta, paint.origin, move, pad)
    visible_alpha, where, inside = _frame_view(alpha, corner, width, height)
    if where is None:
        return None
    full = alpha >= CORE_WEIGHT
    core_local = (visible_alpha >= CORE_WEIGHT) & body[where]
    if not core_local.any():
        return None
    core = np.zeros((height, width), dtype=bool)
    core[where] = core_local
    visible_delta = _frame_view(delta, corner, width, height)[0]
    delta_lab, delta_e, hue, name, stage = core_truth(skin, visible_delta[core_local])
    if paint.breakdown is not None:
        part = _frame_view(_to_frame(paint.breakdown, paint.origin, move, pad)[0], corner, width, height)[0]
        late = core_local & (part >= 0.5)
        if late.sum() >= MIXED_BREAKDOWN_FRACTION * core_local.sum():
            late_delta = visible_delta[late].mean(axis=0)
            late_hue = colour.hue_angle(late_delta[1], late_delta[2])
            if colour.colour_name(late_hue) in colour.BREAKDOWN_COLOURS:
                hue, name = late_hue, colour.colour_name(late_hue)
                stage = colour.stage_for(delta_e, name)
    if (full & ~inside).any():
        touches = "frame"
    elif (full[inside].reshape(visible_alpha.shape) & ~body[where]).any():
        touches = "outline"
    else:
        touches = None
    return SceneMark(
        centre=(float(cx / width), float(cy / height)),
        radius=float(paint.radius * scale / short),
        delta_e=delta_e,
        delta_lab=[float(v) for v in delta_lab],
        hue_deg=hue,
        colour=name,
        stage=stage,
        style=paint.style,
        touches=touches,
        core=core,
        number=number,
    )


def _capture(content: _Content, recipe: dict, move, lighting: SceneLighting) -> Scene:
    """Photograph painted content: frame it (moved by ``move`` if given), light it in linear RGB,
    add sensor noise, and measure every mark's truth in the frame."""
    width, height = recipe["size"]
    short = min(width, height)
    pad = content.pad
    if move is None:
        lab = content.lab[pad : pad + height, pad : pad + width]
        cover = content.cover[pad : pad + height, pad : pad + width]
    else:
        frame_shape = (height, width)
        lab = _place_whole(content.lab, move, pad, frame_shape)
        cover = _place_whole(content.cover, move, pad, frame_shape)
    body = cover >= 0.5
    marks = []
    for number, paint in enumerate(content.paints):
        truth = _mark_truth(paint, number, move, pad, body, content.skin, width, height, short)
        if truth is not None:
            marks.append(truth)
    distractors = []
    for name, (x, y) in content.distractors:
        if move is not None:
            x, y = (move[:, :2] @ (x * width, y * height) + move[:, 2]) / (width, height)
        if 0 <= x < 1 and 0 <= y < 1:
            distractors.append((name, (float(x), float(y))))

    # the skin's fine grain, drawn for the frame: at a pixel's scale, like the sensor's noise
    grain_rng = np.random.default_rng([recipe["seed"], 3])
    lab = lab.copy() if move is None else lab
    for channel, amp in SKIN_TEXTURE:
        lab[..., channel] += smooth_noise(grain_rng, (height, width), 0.8, 0.9 * amp) * cover
    linear = colour.lab_to_linear(lab)
    angle = np.radians(lighting.shading_angle)
    ramp = (np.arange(width) / width - 0.5)[None, :] * np.cos(angle) + (np.arange(height) / height - 0.5)[:, None] * np.sin(angle)
    light = 2.0**lighting.exposure_ev * (1 + lighting.shading * np.clip(2 * ramp, -1, 1))
    if lighting.shadow:
        light *= 1 - lighting.shadow * _smoothstep((ramp - lighting.shadow_from) / 0.04 + 0.5)
    linear *= light[..., None]
    linear *= np.array([lighting.red_gain, 1.0, lighting.blue_gain])
    srgb = colour.linear_to_srgb(linear) * 255
    if lighting.noise:
        noise = np.random.default_rng([recipe["seed"], 2]).standard_normal(srgb.shape, dtype=np.float32)
        srgb += noise * lighting.noise
    image = Image.fromarray(np.clip(np.round(srgb), 0, 255).astype(np.uint8), "RGB")
    return Scene(
        image=image,
        kind=content.kind,
        skin_lab=tuple(float(v) for v in content.skin),
        marks=marks,
        body=body,
        distractors=distractors,
        lighting=lighting,
        seed=recipe["seed"],
        background=content.background,
        clothing=content.clothing,
        recipe=dict(recipe, placement=None if move is None else move.tolist()),
        cups=[_framed_cup(cup, move, width, height, short) for cup in content.cups],
        blood=content.blood,
    )


def _framed_cup(cup, move, width, height, short) -> tuple[float, float, float]:
    """A painted cup's (x, y, radius) frame pixels as the scene's truth: (x, y) fractions of the
    (moved) frame, radius a fraction of the short side."""
    x, y, radius = cup
    if move is not None:
        x, y = move[:, :2] @ (x, y) + move[:, 2]
        radius *= float(np.sqrt(abs(np.linalg.det(move[:, :2]))))
    return (float(x / width), float(y / height), float(radius / short))


def _place_whole(array, move, pad, frame_shape):
    """Return a whole canvas array moved into the frame (frame rows, columns[, 3]), edges extended."""
    inverse = np.linalg.inv(move[:, :2])
    offset_xy = inverse @ (0.5 - move[:, 2]) - 0.5 + pad
    matrix_rc, offset_rc = inverse[::-1, ::-1], offset_xy[::-1]
    planes = array[..., None] if array.ndim == 2 else array
    out = np.stack(
        [
            ndimage.affine_transform(planes[..., k], matrix_rc, offset_rc, frame_shape, order=1, mode="nearest")
            for k in range(planes.shape[2])
        ],
        axis=-1,
    )
    return out[..., 0] if array.ndim == 2 else out
