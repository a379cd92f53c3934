"""Find the body in a photo: its skin, the region it covers and what lies around it.

The skin colour is anchored on the body, the largest skin-coloured region near the photo's
centre, never on the photo as a whole: a warm wooden floor, carpet, towel or shirt is
skin-coloured too, and once it pulls the estimate the real back falls outside "skin". Regions
are cut apart where the colour changes sharply (the body's outline against a floor), so a
floor that touches the body does not join it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import masks

# every skin tone under ordinary light sits in this warm, chromatic wedge of CIELAB
WEDGE_MIN_CHROMA = 5.0
WEDGE_HUE = (0.0, 100.0)
# skin tolerance around the body's own colour: shading darkens skin toward the outline, towels
# and sheets are much lighter; chroma may differ by a share of the skin's own chroma
SKIN_LIGHTER_BY = 12.0
SKIN_DARKER_BY = 24.0
SKIN_CHROMA_TOLERANCE = 0.55
SKIN_CHROMA_FLOOR = 7.0
# a colour step sharper than this (ΔLab per pixel of the analysis grid, after smoothing) is an
# outline or a cloth's edge, not skin shading or a mark's soft edge (a ΔE 20 mark fades over ~8 px)
EDGE_STEP = 4.5
# a step this sharp is a cloth's or the outline's edge even next to a strong mark, whose own edge
# can step ~7 per pixel: a mark's outline is never drawn across it
HARD_EDGE_STEP = 10.0
# the body must cover at least this share of the photo
MIN_BODY_FRACTION = 0.03


@dataclass
class Body:
    """The body in a photo, on the analysis grid.

    ``skin``: pixels of clear skin (H, W) bool; ``region``: the body with its marks (skin and
    the holes in it filled); ``reach``: where a mark may lie (the region, a band past its
    outline within its convex hull for marks cut by it, never a separate skin-coloured surface such as a floor);
    ``edges``: hard colour steps (``HARD_EDGE_STEP``); ``skin_lab``: the body's median skin colour (3,).
    """

    skin: np.ndarray
    region: np.ndarray
    reach: np.ndarray
    edges: np.ndarray
    skin_lab: np.ndarray

    @property
    def fraction(self) -> float:
        """Share of the photo the body covers."""
        return float(self.region.mean())


def wedge_mask(lab_s: np.ndarray) -> np.ndarray:
    """Pixels (H, W) of smoothed Lab planes (3, H, W) whose colour could be skin under ordinary light."""
    lightness, a, b = lab_s
    hue = np.degrees(np.arctan2(b, a))
    return (
        (lightness > 6)
        & (lightness < 97)
        & (np.hypot(a, b) >= WEDGE_MIN_CHROMA)
        & (hue >= WEDGE_HUE[0])
        & (hue <= WEDGE_HUE[1])
    )


def near_skin(lab_s: np.ndarray, skin_lab) -> np.ndarray:
    """Pixels (H, W) within the skin tolerance of one skin colour."""
    l0, a0, b0 = (float(v) for v in skin_lab)
    tolerance = max(SKIN_CHROMA_FLOOR, SKIN_CHROMA_TOLERANCE * float(np.hypot(a0, b0)))
    lightness = lab_s[0]
    mask = (lightness <= l0 + SKIN_LIGHTER_BY) & (lightness >= max(3.0, l0 - SKIN_DARKER_BY))
    return mask & (np.hypot(lab_s[1] - np.float32(a0), lab_s[2] - np.float32(b0)) <= tolerance)


def _central_box(shape) -> tuple[slice, slice]:
    """The middle half of the photo in each direction, where the body usually is."""
    height, width = shape
    return slice(height // 4, height - height // 4), slice(width // 4, width - width // 4)


def find_body(lab_s: np.ndarray, usable: np.ndarray) -> Body | None:
    """Find the body in smoothed Lab planes (3, H, W); ``usable`` (H, W) drops glare.

    Returns None when no skin-coloured region covers at least ``MIN_BODY_FRACTION`` of the
    photo. The skin colour starts from the skin-coloured pixels of the central box and is
    refined on the chosen region three times; the region chosen is the connected skin area,
    cut at sharp colour steps, with the most pixels in the central box (ties go to the larger).
    """
    height, width = usable.shape
    step = masks.gradient_magnitude(lab_s)
    edges = step > EDGE_STEP
    wedge = wedge_mask(lab_s) & usable
    box = _central_box(usable.shape)
    seed = wedge[box]
    if seed.mean() >= 0.05:
        skin_lab = masks.sample_median(lab_s[:, box[0], box[1]], seed)
    elif wedge.mean() >= MIN_BODY_FRACTION:
        skin_lab = masks.sample_median(lab_s, wedge)
    else:
        return None
    centre_weight = np.zeros(usable.shape, dtype=np.float32)
    centre_weight[box] = 1.0
    body = None
    for _ in range(3):
        near = masks.open_mask(near_skin(lab_s, skin_lab) & usable & ~edges, 1)
        labels, count = masks.components(near)
        if count == 0:
            return None
        sizes = np.bincount(labels.ravel(), minlength=count + 1).astype(np.float64)
        central = np.bincount(labels.ravel(), weights=centre_weight.ravel(), minlength=count + 1)
        score = central + 0.3 * sizes
        score[0] = -1
        body = labels == int(np.argmax(score))
        if body.mean() < MIN_BODY_FRACTION:
            return None
        skin_lab = masks.sample_median(lab_s, body)
    short = min(height, width)
    region = masks.fill_holes(masks.close_mask(body, max(1, round(0.01 * short))))
    skin = near_skin(lab_s, skin_lab) & usable & region
    # other skin-coloured surfaces (floor, carpet, towel) are never where a mark lies
    elsewhere = wedge & ~masks.dilate(region, 1) & ~near_skin(lab_s, skin_lab)
    # nor anything much lighter than the skin (a towel, a sheet): marks only ever darken skin
    elsewhere |= lab_s[0] > skin_lab[0] + SKIN_LIGHTER_BY
    # a mark cut by the outline leaves a bay in the skin: the body's convex hull takes it back
    reach = (region | masks.convex_hull(body)) & ~elsewhere
    return Body(skin=skin, region=region, reach=reach, edges=step > HARD_EDGE_STEP, skin_lab=skin_lab)
