"""Colour science: sRGB to CIELAB, CIEDE2000, hue angle, ITA, colour names and stages.

Everything here is vectorised NumPy (one OpenCV table lookup) and takes arrays of any shape ending in 3.
"""

from __future__ import annotations

import cv2
import numpy as np

# srgb primaries to xyz (iec 61966-2-1), rows sum to the d65 white so white maps to L*=100, a*=b*=0
SRGB_TO_XYZ = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
XYZ_TO_SRGB = np.linalg.inv(SRGB_TO_XYZ)
D65_WHITE = SRGB_TO_XYZ.sum(axis=1)

# resolved below this ΔE00: phone-to-phone noise is ΔE 2–4 while skin perceptibility is 1.5–2.6
# (colour-evidence.md, "Perceptibility on skin" and "Photos": Cugmas & Štruc 2020)
RESOLVED_BELOW = 3.0
# faint below this ΔE00, clearly visible above it (DESIGN.md stage rules)
FAINT_BELOW = 6.0

# colour names from θ = atan2(Δb*, Δa*) in degrees, as DESIGN.md lists them: (name, low, high)
# with low included and high excluded; green wraps around ±180 and is handled separately
HUE_NAMES = (
    ("red", -20.0, 35.0),
    ("violet-red", -50.0, -20.0),
    ("violet", -80.0, -50.0),
    ("violet-blue", -110.0, -80.0),
    ("blue", -160.0, -110.0),
    ("brown", 35.0, 65.0),
    ("yellow", 65.0, 120.0),
)
# hue boundaries, used by tests and the synthetic generator to stay clear of them
HUE_BOUNDARIES = (-160.0, -110.0, -80.0, -50.0, -20.0, 35.0, 65.0, 120.0, 180.0)
HAEMOGLOBIN_COLOURS = frozenset({"red", "violet-red", "violet", "violet-blue", "blue"})
BREAKDOWN_COLOURS = frozenset({"green", "yellow", "brown"})
# the haemoglobin colours' hues together, [low, high): blue's low to red's high
HAEMOGLOBIN_HUES = (min(low for name, low, _ in HUE_NAMES if name in HAEMOGLOBIN_COLOURS),
                    max(high for name, _, high in HUE_NAMES if name in HAEMOGLOBIN_COLOURS))
# a breakdown hue without brown (see breakdown_part): from yellow's low up through green to
# blue's low, across ±180
YELLOW_FROM = next(low for name, low, _ in HUE_NAMES if name == "yellow")

# the srgb 8-bit decode curve as a lookup table: one exact value per code
_SRGB_LUT = np.arange(256, dtype=np.float64) / 255.0
_SRGB_LUT = np.where(
    _SRGB_LUT <= 0.04045, _SRGB_LUT / 12.92, ((_SRGB_LUT + 0.055) / 1.055) ** 2.4
).astype(np.float32)


def srgb8_to_linear(rgb8: np.ndarray) -> np.ndarray:
    """Decode 8-bit sRGB codes to linear light in [0, 1] (float32)."""
    return _SRGB_LUT[np.asarray(rgb8, dtype=np.uint8)]


def srgb_to_linear(rgb: np.ndarray) -> np.ndarray:
    """Decode sRGB values in [0, 1] to linear light (IEC 61966-2-1)."""
    rgb = np.asarray(rgb, dtype=np.float64)
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Encode linear light to sRGB values in [0, 1] (clipped)."""
    linear = np.clip(np.asarray(linear, dtype=np.float64), 0.0, 1.0)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055)


def linear_to_lab(linear: np.ndarray) -> np.ndarray:
    """Convert linear sRGB to CIELAB under D65 (dtype follows the input: float32 stays float32)."""
    linear = np.asarray(linear)
    dtype = linear.dtype if linear.dtype in (np.float32, np.float64) else np.float64
    matrix = (SRGB_TO_XYZ / D65_WHITE[:, None]).astype(dtype)
    xyz = linear.astype(dtype, copy=False) @ matrix.T
    eps, kappa = 216 / 24389, 24389 / 27
    f = np.where(xyz > eps, np.cbrt(xyz), (kappa * xyz + 16) / 116).astype(dtype, copy=False)
    lab = np.empty_like(f)
    lab[..., 0] = 116 * f[..., 1] - 16
    lab[..., 1] = 500 * (f[..., 0] - f[..., 1])
    lab[..., 2] = 200 * (f[..., 1] - f[..., 2])
    return lab


def lab_to_linear(lab: np.ndarray) -> np.ndarray:
    """Convert CIELAB (D65) to linear sRGB, unclipped."""
    lab = np.asarray(lab, dtype=np.float64)
    fy = (lab[..., 0] + 16) / 116
    fx = fy + lab[..., 1] / 500
    fz = fy - lab[..., 2] / 200
    eps, kappa = 216 / 24389, 24389 / 27
    f = np.stack([fx, fy, fz], axis=-1)
    xyz = np.where(f**3 > eps, f**3, (116 * f - 16) / kappa) * D65_WHITE
    return xyz @ XYZ_TO_SRGB.T


def srgb8_to_lab(rgb8: np.ndarray) -> np.ndarray:
    """Convert 8-bit sRGB pixels (..., 3) to CIELAB float32."""
    return linear_to_lab(srgb8_to_linear(rgb8))


def lab_to_srgb8(lab: np.ndarray) -> np.ndarray:
    """Convert CIELAB to 8-bit sRGB codes, clipping colours outside the gamut."""
    return np.round(linear_to_srgb(lab_to_linear(lab)) * 255).astype(np.uint8)


def lab_to_hex(lab) -> str:
    """Format one CIELAB colour as an sRGB "#rrggbb" string."""
    r, g, b = (int(v) for v in lab_to_srgb8(np.asarray(lab, dtype=np.float64)))
    return f"#{r:02x}{g:02x}{b:02x}"


def ciede2000(lab1: np.ndarray, lab2: np.ndarray) -> np.ndarray:
    """Return the CIEDE2000 colour difference (kL=kC=kH=1) between broadcastable Lab arrays."""
    lab1 = np.asarray(lab1)
    lab2 = np.asarray(lab2)
    dtype = np.result_type(lab1.dtype, lab2.dtype, np.float32)
    L1, a1, b1 = (lab1[..., i].astype(dtype, copy=False) for i in range(3))
    L2, a2, b2 = (lab2[..., i].astype(dtype, copy=False) for i in range(3))
    c_bar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    c7 = c_bar**7
    g = 0.5 * (1 - np.sqrt(c7 / (c7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    dLp = L2 - L1
    dCp = c2p - c1p
    chroma_zero = (c1p * c2p) == 0
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(chroma_zero, 0, dh)
    dHp = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh) / 2)
    Lbp = (L1 + L2) / 2
    Cbp = (c1p + c2p) / 2
    hsum = h1p + h2p
    hbp = np.where(
        np.abs(h1p - h2p) <= 180, hsum / 2, np.where(hsum < 360, (hsum + 360) / 2, (hsum - 360) / 2)
    )
    hbp = np.where(chroma_zero, hsum, hbp)
    t = (
        1
        - 0.17 * np.cos(np.radians(hbp - 30))
        + 0.24 * np.cos(np.radians(2 * hbp))
        + 0.32 * np.cos(np.radians(3 * hbp + 6))
        - 0.20 * np.cos(np.radians(4 * hbp - 63))
    )
    d_theta = 30 * np.exp(-(((hbp - 275) / 25) ** 2))
    cbp7 = Cbp**7
    rc = 2 * np.sqrt(cbp7 / (cbp7 + 25.0**7))
    sl = 1 + 0.015 * (Lbp - 50) ** 2 / np.sqrt(20 + (Lbp - 50) ** 2)
    sc = 1 + 0.045 * Cbp
    sh = 1 + 0.015 * Cbp * t
    rt = -np.sin(np.radians(2 * d_theta)) * rc
    return np.sqrt(
        (dLp / sl) ** 2 + (dCp / sc) ** 2 + (dHp / sh) ** 2 + rt * (dCp / sc) * (dHp / sh)
    )


def hue_angle(delta_a: float, delta_b: float) -> float:
    """Return θ = atan2(Δb*, Δa*) in degrees, in (−180, 180]."""
    theta = float(np.degrees(np.arctan2(delta_b, delta_a)))
    return 180.0 if theta == -180.0 else theta


def colour_name(theta: float) -> str:
    """Name the colour of a mark from its hue angle θ as DESIGN.md lists it."""
    for name, low, high in HUE_NAMES:
        if low <= theta < high:
            return name
    return "green"


def stage_for(delta_e: float, colour: str) -> str:
    """Return the fade stage (resolved, faint, fresh, turning) for a ΔE00 and colour name."""
    if delta_e < RESOLVED_BELOW:
        return "resolved"
    if delta_e < FAINT_BELOW:
        return "faint"
    return "turning" if colour in BREAKDOWN_COLOURS else "fresh"


def ita_degrees(lab) -> float:
    """Return the Individual Typology Angle atan((L* − 50)/b*) in degrees of a skin colour."""
    lightness, b = float(lab[0]), float(lab[2])
    # b* of skin is positive; guard near-neutral colours so the angle stays finite
    return float(np.degrees(np.arctan((lightness - 50.0) / max(b, 1e-6))))


def ita_category(ita: float) -> str:
    """Name the skin category for an ITA angle (very light > 55 … dark < −30)."""
    if ita > 55:
        return "very light"
    if ita > 41:
        return "light"
    if ita > 28:
        return "intermediate"
    if ita > 10:
        return "tan"
    if ita > -30:
        return "brown"
    return "dark"


def erythema_index(linear_rgb) -> float:
    """Return the erythema index 100·(log10 R − log10 G) of a linear-light RGB colour.

    Dawson et al. 1980 (Phys Med Biol 25:695) define EI = 100·[log10(1/G) − log10(1/R)] from
    green and red reflectances, which is the same expression; linear RGB stands in for
    reflectance, so a difference of two indices in one photo is free of exposure and red gain.
    """
    red, green = max(float(linear_rgb[0]), 1e-6), max(float(linear_rgb[1]), 1e-6)
    return 100.0 * (np.log10(red) - np.log10(green))


def srgb8_to_lab_planes(rgb8: np.ndarray) -> np.ndarray:
    """Convert an 8-bit sRGB image (H, W, 3) to CIELAB planes (3, H, W), float32.

    The same conversion as :func:`srgb8_to_lab`, laid out channel by channel so that every
    later per-channel step reads contiguous memory.
    """
    rgb8 = np.asarray(rgb8, dtype=np.uint8)
    height, width = rgb8.shape[:2]
    planes = np.ascontiguousarray(np.moveaxis(rgb8, -1, 0)).reshape(3, -1)
    # OpenCV's table lookup, the same values: numpy's gather by uint8 codes widens every code
    # to an index first and costs fifteen times as much (1.3 ms of a 400x300 grid)
    linear = cv2.LUT(planes, _SRGB_LUT)
    # the 3×3 matrix as nine multiply-adds: a matmul here would wake BLAS's thread pool, whose
    # start-up costs more than the product itself on a busy server
    xyz = np.empty_like(linear)
    for row in range(3):
        m0, m1, m2 = _LAB_MATRIX32[row]
        np.multiply(linear[0], m0, out=xyz[row])
        xyz[row] += m1 * linear[1]
        xyz[row] += m2 * linear[2]
    # f(t) = cbrt(t) above the cie epsilon, a straight line below it (only very dark pixels)
    f = np.cbrt(xyz)
    low = xyz <= _LAB_EPS
    if low.any():
        f[low] = (_LAB_KAPPA * xyz[low] + 16) / 116
    lab = np.empty_like(f)
    np.multiply(f[1], 116, out=lab[0])
    lab[0] -= 16
    np.subtract(f[0], f[1], out=lab[1])
    lab[1] *= 500
    np.subtract(f[1], f[2], out=lab[2])
    lab[2] *= 200
    return lab.reshape(3, height, width)


def srgb8_to_lightness(rgb8: np.ndarray) -> np.ndarray:
    """Return CIE L* (H, W) float32 of an 8-bit sRGB image (H, W, 3): L* alone, cheaply."""
    rgb8 = np.asarray(rgb8, dtype=np.uint8)
    m0, m1, m2 = _LAB_MATRIX32[1]
    y = np.take(_SRGB_LUT, rgb8[..., 0]) * m0
    y += np.take(_SRGB_LUT, rgb8[..., 1]) * m1
    y += np.take(_SRGB_LUT, rgb8[..., 2]) * m2
    f = np.cbrt(y)
    low = y <= _LAB_EPS
    if low.any():
        f[low] = (_LAB_KAPPA * y[low] + 16) / 116
    f *= 116
    f -= 16
    return f


_LAB_MATRIX32 = (SRGB_TO_XYZ / D65_WHITE[:, None]).astype(np.float32)
_LAB_EPS = np.float32(216 / 24389)
_LAB_KAPPA = np.float32(24389 / 27)


# a mark whose breakdown-coloured part (green or yellow) covers at least this share of its
# core is named by that part: yellow only appears in bruises older than 18 h (Langlois & Gresham
# 1991, colour-evidence.md "Timing"), so such a mark is in its breakdown phase even where a
# violet centre still has the larger ΔE00; 20% is a visible share of a cup-sized mark
MIXED_BREAKDOWN_FRACTION = 0.20
# a mixed mark's two parts are two colours: their mean hues (θ, degrees) lie at least this far
# apart. Violet's and yellow's or green's lay 82-179° apart on the scene suites (seeds 11-13, 218
# mixed marks found at their centres); the pixels of one blue mark, split at green's edge
# (-160°) by noise, 7-16° apart (7 marks, taken for mixed marks)
MIXED_HUES_APART = 45.0


def mark_colour(skin_lab, pixel_labs: np.ndarray, mean_delta) -> tuple[float, str, bool]:
    """Name a mark's colour from its core pixels: (θ degrees, colour name, mixed?).

    ``skin_lab`` is the skin's Lab (3,), ``pixel_labs`` the core's Lab pixels (N, 3),
    ``mean_delta`` the mean ΔLab of the core (3,). The mark is named by its mean difference,
    unless it is a mixed mark: its breakdown part makes up ≥ ``MIXED_BREAKDOWN_FRACTION`` of
    the core, its hue lies ``MIXED_HUES_APART`` or more from the haemoglobin pixels', and the
    mean difference over that part is of a breakdown colour, whose θ and name it then takes (see
    the constants for the evidence). The breakdown part is every visible pixel (ΔE00 ≥ 3) whose
    difference lies nearer the mean of the pixels with a breakdown hue than the mean of those
    with a haemoglobin hue: where the two colours blend, a pixel belongs to the colour it shows
    more of (a half-and-half blend of violet and yellow reads red or brown pixel by pixel, so
    counting hues alone would lose it).
    """
    theta = hue_angle(mean_delta[1], mean_delta[2])
    name = colour_name(theta)
    pixel_labs = np.asarray(pixel_labs, dtype=np.float32).reshape(-1, 3)
    if name in BREAKDOWN_COLOURS or len(pixel_labs) == 0:
        return theta, name, False
    late = breakdown_part(skin_lab, pixel_labs)
    if late.mean() < 0.5 * MIXED_BREAKDOWN_FRACTION:
        # too few pixels of a breakdown hue to be a part of the mark: a fresh mark's edge on
        # yellowish skin shows a few
        return theta, name, False
    deltas = pixel_labs - np.asarray(skin_lab, dtype=np.float32)
    pixel_theta = np.degrees(np.arctan2(deltas[:, 2], deltas[:, 1]))
    visible = ciede2000(np.asarray(skin_lab, dtype=np.float32), pixel_labs) >= RESOLVED_BELOW
    haem = visible & (pixel_theta >= HAEMOGLOBIN_HUES[0]) & (pixel_theta < HAEMOGLOBIN_HUES[1])
    if haem.any():
        late_centre, haem_centre = deltas[late].mean(axis=0), deltas[haem].mean(axis=0)
        apart = abs((hue_angle(late_centre[1], late_centre[2]) - hue_angle(haem_centre[1], haem_centre[2])
                     + 180) % 360 - 180)
        if apart < MIXED_HUES_APART:
            # one colour whose pixels straddle a name's edge (a blue mark's noise across
            # green's at -160°), not two parts
            return theta, name, False
        nearer = np.linalg.norm(deltas - late_centre, axis=1) < np.linalg.norm(deltas - haem_centre, axis=1)
        late = visible & nearer
    if late.mean() < MIXED_BREAKDOWN_FRACTION:
        return theta, name, False
    part = deltas[late].mean(axis=0)
    part_theta = hue_angle(part[1], part[2])
    if colour_name(part_theta) not in BREAKDOWN_COLOURS:
        # its blends pull the part's mean out of the breakdown hues: no breakdown part names
        # the mark (the rule scenes._mark_truth judges by)
        return theta, name, False
    return part_theta, colour_name(part_theta), True


def breakdown_part(skin_lab, pixel_labs: np.ndarray) -> np.ndarray:
    """Which pixels (N,) bool of Lab pixels (N, 3) show a breakdown colour visibly on the skin.

    Breakdown hues of θ (the pixel minus skin): yellow [65, 120) and green [120, 180] ∪
    (−180, −160); visibly means ΔE00 ≥ the resolved threshold. Brown [35, 65) is left out: it
    borders red, and the edge of a fresh red mark on yellowish skin reads brown pixel by pixel.
    """
    pixel_labs = np.asarray(pixel_labs, dtype=np.float32).reshape(-1, 3)
    skin = np.asarray(skin_lab, dtype=np.float32)
    deltas = pixel_labs - skin
    pixel_theta = np.degrees(np.arctan2(deltas[:, 2], deltas[:, 1]))
    breakdown = (pixel_theta >= YELLOW_FROM) | (pixel_theta < HAEMOGLOBIN_HUES[0])
    if not breakdown.any():
        return breakdown
    breakdown[breakdown] = ciede2000(skin, pixel_labs[breakdown]) >= RESOLVED_BELOW
    return breakdown


def approx_delta_e(lab_planes: np.ndarray, reference) -> np.ndarray:
    """Approximate ΔE00 (H, W) float32 of Lab planes (3, H, W) to one reference colour (3,).

    CIEDE2000's lightness weight, and a chroma/hue weight between its two, frozen at the
    reference: a few multiplications per pixel instead of CIEDE2000's trigonometry. Used to
    find and segment marks; every reported ΔE00 is the true CIEDE2000.
    """
    lightness, chroma = float(reference[0]), float(np.hypot(reference[1], reference[2]))
    s_l = 1 + 0.015 * (lightness - 50) ** 2 / np.sqrt(20 + (lightness - 50) ** 2)
    s_ab = 1 + 0.03 * chroma
    # each difference scaled and squared in place: the same values with a temporary less a step
    total = lab_planes[0] - np.float32(reference[0])
    total *= np.float32(1 / s_l)
    total *= total
    for channel in (1, 2):
        d = lab_planes[channel] - np.float32(reference[channel])
        d *= np.float32(1 / s_ab)
        total += np.multiply(d, d, out=d)
    return np.sqrt(total, out=total)


def shaded(skin_lab, lightness: float) -> np.ndarray:
    """The skin colour (3,) as less (or more) light would show it at L* = ``lightness``.

    Dimmer light scales linear RGB, hence XYZ, by one factor k; above CIELAB's linear toe
    (L* > 8) L* + 16, a* and b* then all scale by k^(1/3). So a shadow, a fold or the curve of
    a body away from the light moves skin along the line from (−16, 0, 0) through it, whatever
    the skin's tone; a mark (haemoglobin, bilirubin) changes the colour off that line.
    """
    skin = np.asarray(skin_lab, dtype=np.float64)
    factor = (float(lightness) + 16.0) / max(float(skin[0]) + 16.0, 1e-6)
    return np.array([float(lightness), skin[1] * factor, skin[2] * factor])


def delta_e_at_exposure(skin_lab, mark_lab, factor: float) -> float:
    """ΔE00 between a skin and a mark colour as they would read under ``factor`` times the light.

    Both CIELAB colours (3,) go to linear sRGB light, are scaled by ``factor`` and come back: an exposure change is a scaling of linear light, so this is what a
    photo taken in that light would have measured (unclipped).
    """
    skin = linear_to_lab(lab_to_linear(np.asarray(skin_lab, dtype=np.float64)) * factor)
    mark = linear_to_lab(lab_to_linear(np.asarray(mark_lab, dtype=np.float64)) * factor)
    return float(ciede2000(skin, mark))


# Bradford's cone-response matrix, XYZ to sharpened cone responses ρ γ β (Lam 1985, as ICC.1:2010
# Annex E.3 gives it): the space of the von Kries adaptation below. A phone's white balance is a
# diagonal on its camera's raw RGB. Such a change (±15% red and blue, −1.5 to +1 EV) made
# through the raw matrices of two cameras (dcraw's Canon EOS 5D Mark II and Nikon D700) on
# 1,008 skin and mark colours of the generated scenes, then undone from the skin alone, left a
# mark's ΔE00 off by a median 0.04, p90 0.13-0.15 and at most 0.49 with a diagonal on Bradford's
# responses; 0.04-0.05, 0.17-0.26 and up to 2.2 on linear sRGB; 0.05, 0.18-0.19 and 0.66 on
# CAT16's. On the generated scenes, whose casts are diagonal on linear sRGB itself, the day-to-
# day figures of the two differed by 0.02 in median
BRADFORD = np.array(
    [
        [0.8951, 0.2664, -0.1614],
        [-0.7502, 1.7135, 0.0367],
        [0.0389, -0.0685, 1.0296],
    ]
)
_SRGB_TO_CONES = BRADFORD @ SRGB_TO_XYZ
_CONES_TO_SRGB = np.linalg.inv(_SRGB_TO_CONES)


def adaptation_gains(source_lab, target_lab) -> np.ndarray:
    """The von Kries gains (3,) on Bradford's cone responses that take one colour to another.

    ``source_lab`` and ``target_lab`` are CIELAB (3,): the same surface (the person's skin) as
    two photos show it. A von Kries (1902) adaptation scales each cone response by its own gain;
    with the same skin as the white it is anchored on, the gains carry one photo's exposure and
    white balance into the other's (Fairchild, Color Appearance Models, 3rd ed., ch. 9; the
    Bradford space as in ICC.1:2010 Annex E.3). An exposure change alone gives three equal
    gains. Raises ValueError when either colour has a non-positive cone response (black).
    """
    source = _SRGB_TO_CONES @ lab_to_linear(np.asarray(source_lab, dtype=np.float64))
    target = _SRGB_TO_CONES @ lab_to_linear(np.asarray(target_lab, dtype=np.float64))
    if not (np.all(source > 0) and np.all(target > 0)):
        raise ValueError("an adaptation needs a colour with light in every cone response")
    return target / source


def adapted(lab, gains) -> np.ndarray:
    """CIELAB colours (..., 3) as they read once their cone responses are scaled by ``gains``
    (3,) from :func:`adaptation_gains` (float64, unclipped: the gains are undone exactly)."""
    linear = lab_to_linear(np.asarray(lab, dtype=np.float64))
    matrix = _CONES_TO_SRGB @ (np.asarray(gains, dtype=np.float64)[:, None] * _SRGB_TO_CONES)
    return linear_to_lab(linear @ matrix.T)
