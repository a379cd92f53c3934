"""Find the body in a photo: its skin, the region it covers and what lies around it.

The skin colour is anchored on the body, the largest skin-coloured region near the photo's
centre, never on the photo as a whole: a warm wooden floor, carpet, towel or shirt is
skin-coloured too, and once it pulls the estimate the real back falls outside "skin". Regions
are cut apart where the colour changes sharply (the body's outline against a floor), so a
floor that touches the body does not join it; where the skin, darkened toward the outline, meets
a floor of its own colour without a step, the floor's grain (planks, pile, terry) still tells
it from skin, which is smooth at the analysis grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from . import colour, masks

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
# colour clusters among the skin-coloured pixels, each a candidate skin colour: skin, a floor or
# wall, shade, a mark
SEED_CLUSTERS = 4
# a skin-coloured area off the body this large (share of the photo) is a surface, a floor or a
# wall; a mark cut by the body's outline (radius ≤ 0.12 of the short side) covers less
SURFACE_FRACTION = 0.04
# the lighter of two colours in the body's area is its skin (the darker a mark on it) only when
# it covers at least this share of the area: a close-up's skin is the 15-50% round the mark
LIGHTER_SHARE = 0.12
# ... and when at least this share of what borders the darker part is the body's area
LIGHTER_ENCLOSES = 0.6
# a large area off the body whose surrounding band has at most this share of sharp steps fades
# into the skin as a mark does (a close-up's mark); the outline against a floor is sharp
SOFT_EDGE_SHARE = 0.1
# a shadow keeps the skin's hue and lowers its lightness: skin's chromaticity under one light
# does not change with its intensity (Störring 2004, "Computer Vision and Human Skin Colour",
# PhD thesis, Aalborg University), and shadows are a known pitfall of skin detection by colour
# (Kakumanu et al. 2007, Pattern Recognition 40:1106-1122). In the photos we looked at the
# shadowed skin, lit by warmer light thrown back from around it, turns by up to ~12° of hue. A
# candidate at least this much lighter than the chosen one and within this hue of it is the lit
# skin the chosen one is the shadow of ...
SHADOW_LIGHTER_BY = 15.0
SHADOW_HUE_DEG = 20.0
# ... and no more than this much less chromatic (C*ab): a lower light lowers C*ab with L*, and a
# pale lit skin loses a few units more where the camera clips it (L* ~88, C*ab ~4 beside its
# shadow's ~11 in one photo); a colour far more chromatic than the lighter one is another
# surface (the deep folds of a red shirt), not its shadow
SHADOW_CHROMA_GAIN = 10.0
# ... when its area scores at least this share of the shadow's, before the skin prior: the prior
# favours the shadow, more chromatic than a pale lit skin whose highlights the camera clips
SHADOW_LIT_SHARE = 0.5
# ... and when it lies within this share of the short side of the shadow: a strap, a watch band
# or a sleeve's edge may lie between the lit skin and the shaded skin beside it
SHADOW_GAP = 0.03
# the band between a close-up's mark off the body's area and that area (the blend of a mixed
# mark's violet centre and its yellow part, outside both colours' tolerances) is this share of
# the short side wide at most
MARK_GAP = 0.04
# the body must cover at least this share of the photo
MIN_BODY_FRACTION = 0.03
# a photo of marks is aimed at the skin: a body covering less than this share of the photo's
# middle half (the central box) lies wholly beside what the photo shows, and is taken for skin
# only when its colour is unmistakably skin's (:func:`_off_aim_surface`). On the real photos
# (2026-12: 50 bruise photos, 10 clean crops, 23 cupping stock photos) the "body" of 3 of the 8
# photos without skin (dark wooden drawers above cups on a bamboo mat, a tiled floor, a sleeve)
# covered none of the central box, and of the 74 with skin one did (a back along the bottom
# edge, L* 76, C*ab 28)
OFF_AIM_COVER = 0.02
# ... unmistakably skin: at least this L* (dark wood reads L* 10-17: the drawer fronts in the
# tester's photo 10-15, generated dark wood 12-17 with its grain; the darkest real skin we have
# 34, and darker skin than that lies where the photo is aimed) and chromatic at least this C*ab,
# where _skin_prior counts a colour fully: walls, sheets and pale bamboo are paler (C* 8-18)
OFF_AIM_MIN_L = 20.0
OFF_AIM_MIN_CHROMA = 16.0
# grain: the mean |Laplacian| of smoothed L* on the half grid over a window this many of its
# pixels wide (10 px of the analysis grid, 2.5% of its long side: a plank's grain, a carpet's
# pile, a towel's terry loops)
GRAIN_WINDOW = 5
# skin at the analysis grid (a whole back in ~400 px) shows hardly more than the camera's noise;
# a wooden floor, a carpet or a towel has grain of its own, two to four times the skin's in the
# scenes and photos we looked at. A surface this much grainier than the body's skin is no skin,
# even where its colour is (a floor next to the darkened skin at the outline matches it)
ROUGH_GRAIN = 1.8
# a grain below this (L* per px²) is no surface's: well under the noise of one 8-bit code
# (about 0.4 L* a step at mid lightness), so a noise-free render is not rough where its JPEG rings
MIN_ROUGH_GRAIN = 0.1


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
    # the hue bounds as half-planes: hue ≥ h0 is "at or left of the h0 ray", hue ≤ h1 "at or
    # right of the h1 ray" (the wedge is under 180° wide), no arctan per pixel
    (c0, s0), (c1, s1) = ((np.float32(np.cos(np.radians(h))), np.float32(np.sin(np.radians(h))))
                          for h in WEDGE_HUE)
    # each test ANDed in place, through one scratch plane: on the whole grid every temporary
    # costs a pass over memory, and the same tests in the same float32 order give the same mask
    mask = lightness > 6
    mask &= lightness < 97
    scratch = a * a
    scratch += b * b
    mask &= scratch >= np.float32(WEDGE_MIN_CHROMA**2)
    np.multiply(c0, b, out=scratch)
    scratch -= s0 * a
    mask &= scratch >= 0
    np.multiply(c1, b, out=scratch)
    scratch -= s1 * a
    mask &= scratch <= 0
    return mask


def near_skin(lab_s: np.ndarray, skin_lab) -> np.ndarray:
    """Pixels (H, W) within the skin tolerance of one skin colour."""
    l0, a0, b0 = (float(v) for v in skin_lab)
    tolerance = max(SKIN_CHROMA_FLOOR, SKIN_CHROMA_TOLERANCE * float(np.hypot(a0, b0)))
    lightness = lab_s[0]
    mask = lightness <= l0 + SKIN_LIGHTER_BY
    mask &= lightness >= max(3.0, l0 - SKIN_DARKER_BY)
    # squared distances: a square root per pixel (np.hypot) costs more than the rest of the test;
    # squared and summed in place (as wedge_mask), the same values
    da, db = lab_s[1] - np.float32(a0), lab_s[2] - np.float32(b0)
    da *= da
    da += np.multiply(db, db, out=db)
    mask &= da <= np.float32(tolerance * tolerance)
    return mask


def _central_box(shape) -> tuple[slice, slice]:
    """The middle half of the photo in each direction, where the body usually is."""
    height, width = shape
    return slice(height // 4, height - height // 4), slice(width // 4, width - width // 4)


def _skin_prior(skin_lab) -> float:
    """How plausible a colour is as skin under ordinary light, 0.2–1.

    Skin is chromatic: C*ab of skin under ordinary light is about 12–55 (the lightest skins
    near 12); walls, sheets and towels in the same warm wedge are paler (C* 8–18 in the
    photos we tried), so a pale colour counts for less, never nothing (an overexposed arm is
    pale too).
    """
    chroma = float(np.hypot(skin_lab[1], skin_lab[2]))
    return float(np.clip((chroma - 6.0) / 10.0, 0.2, 1.0))


def _candidate(lab_s, usable, edges, box, seed_lab, detail=None, rounds=2):
    """The body a seed colour leads to: (score, region mask, skin Lab) on the given grid.

    ``box`` (row slice, column slice) is the central box on that grid: a region scores its
    pixels in the box plus 0.3 of all its pixels.

    ``detail`` (H, W), when given, is the fine detail of lightness (|Laplacian|): a region in
    focus is the subject, an out-of-focus wall behind it is not.
    """
    skin_lab = np.asarray(seed_lab, dtype=np.float64)
    body = None
    best = 0.0
    for _ in range(rounds):
        near = masks.open_mask(near_skin(lab_s, skin_lab) & usable & ~edges, 1)
        labels, count = masks.components(near)
        if count == 0:
            return 0.0, None, skin_lab
        sizes = masks.counts(labels, count)
        central = masks.counts(labels[box], count)
        score = central + 0.3 * sizes
        score[0] = -1
        index = int(np.argmax(score))
        body = labels == index
        best = float(score[index]) / labels.size
        skin_lab = masks.sample_median(lab_s, body)
    focus = 1.0
    if detail is not None and body is not None:
        focus = float(masks.sample_median(detail[None], body)[0]) / max(
            float(masks.sample_median(detail[None], usable)[0]), 1e-6)
        focus = float(np.clip(focus, 0.3, 1.0))
    return best * _skin_prior(skin_lab) * focus, body, skin_lab


def find_body(lab_s: np.ndarray, usable: np.ndarray) -> Body | None:
    """Find the body in smoothed Lab planes (3, H, W); ``usable`` (H, W) drops glare.

    Returns None when no skin-coloured region covers at least ``MIN_BODY_FRACTION`` of the
    photo. Candidate skin colours are the centres of the skin-coloured pixels' colour clusters
    (k-means, k = ``SEED_CLUSTERS``) and their median in the central box; each leads to the
    connected area near its colour, cut at sharp colour steps, with the most pixels in the
    central box (ties to the larger). The candidate whose area scores best, weighed by how
    plausible its colour is as skin (:func:`_skin_prior`), is the body. Candidates are judged
    on a half-size grid; the chosen one is redrawn at full size without the surfaces grainier
    than its skin (:func:`_rough`). When the best area is the shadow of a lit skin beside it,
    the lit skin is the skin and the shadow joins the body (:func:`_lit_skin`). Otherwise, when
    the body's area is mostly a mark on a lighter skin (a close-up), the lighter part is the
    skin (:func:`_lighter_part`);
    a large area off the body that fades into the skin as a mark does (:func:`_mark_within_skin`)
    and is no grainier than it (:func:`_rough`) is a close-up's mark cut by the frame: it joins
    the body's region, with the band of blended colour round it (``MARK_GAP``).
    """
    height, width = usable.shape
    step = masks.gradient_magnitude(lab_s)
    edges = step > EDGE_STEP
    wedge = wedge_mask(lab_s) & usable
    if masks.share(wedge) < MIN_BODY_FRACTION:
        return None
    box = _central_box(usable.shape)
    seeds = _seed_colours(lab_s, wedge, box)
    # the box's rows and columns on the half grid: index i there is 2i here
    half_box = tuple(slice((side.start + 1) // 2, (side.stop + 1) // 2) for side in box)
    # copies, not strided views: each candidate's tests and medians on a view cost twice as much
    half = (np.ascontiguousarray(lab_s[:, ::2, ::2]), np.ascontiguousarray(usable[::2, ::2]),
            np.ascontiguousarray(edges[::2, ::2]), half_box)
    detail = np.abs(masks.laplacian(np.ascontiguousarray(lab_s[0, ::2, ::2])))
    # one round per seed on the half grid: the chosen one is refined at full size
    candidates = sorted((_candidate(*half, seed, detail, rounds=1) for seed in seeds), key=lambda c: c[0], reverse=True)
    score, chosen, skin_lab = candidates[0]
    if score <= 0:
        return None
    # a shadow is the skin at a lower light, no mark: the lit skin beside it is the body's skin
    shadow_lab = None
    lit = _lit_skin(score, chosen, skin_lab, candidates[1:])
    if lit is not None:
        # the grain is judged on the lit skin: the shadow's, at a lower light, is finer
        shadow_lab, (chosen, skin_lab) = skin_lab, lit
    # marks only darken skin: when the best area is itself a mark on a lighter skin around it
    # (a close-up of a bruise), the lighter skin is the body
    for other_score, other, other_lab in candidates[1:] if lit is None else ():
        if other is None or other_score < 0.25 * score:
            continue
        if is_mark_on(skin_lab, other_lab) and masks.dilate(chosen, 2)[other].any():
            skin_lab = other_lab
            break
    # the floor, carpet or towel beside the body is grainier than its skin: leave it out
    rough = _rough(detail, half[1], chosen, half_box, usable.shape)
    _, body, skin_lab = _candidate(lab_s, usable & ~rough, edges, box, skin_lab)
    if body is None or masks.share(body) < MIN_BODY_FRACTION:
        return None
    if shadow_lab is None:
        skin_lab = _lighter_part(lab_s, body, skin_lab)
    near = near_skin(lab_s, skin_lab)
    if shadow_lab is not None:
        # the shadowed skin is the body too, and skin to measure a mark in it against
        _, shade, _ = _candidate(lab_s, usable & ~rough, edges, box, shadow_lab, rounds=1)
        if shade is not None and masks.dilate(body, 2)[shade].any():
            body |= shade
            near |= near_skin(lab_s, shadow_lab)
    short = min(height, width)
    region = masks.fill_holes(masks.close_mask(body, max(1, round(0.01 * short))))
    skin = near & usable & region
    hard = step > HARD_EDGE_STEP
    # other skin-coloured surfaces (floor, carpet, towel) are never where a mark lies
    # (a surface is large: a mark at the outline, skin-coloured too, is much smaller)
    # (cut apart at sharp steps: a mark at the outline touches the floor beyond it)
    surfaces = wedge & ~masks.dilate(region, 1) & ~near & ~hard
    labels, count = masks.components(surfaces)
    sizes = masks.counts(labels, count)
    hull = masks.convex_hull(body)
    # a floor lies beside the body; a close-up's mark, as large, lies within the skin around it
    # counted over the hull's pixels: a bincount weighted by the whole grid's mask costs three times as much
    within = masks.counts(labels[hull], count)
    large = (sizes >= SURFACE_FRACTION * labels.size) & (within < 0.5 * sizes)
    large[0] = False
    marks_off = np.zeros(count + 1, dtype=bool)
    for index in np.flatnonzero(large):
        area = labels == index
        if _mark_within_skin(lab_s, area, step, skin_lab):
            # a carpet's patch may fade into the skin too, but it is grainier than skin; and the
            # shadow along a limb's outline fades into it too, but keeps the skin's colour in shade
            large[index] = False
            marks_off[index] = rough[area].mean() < 0.5 and not _shadow_of(masks.sample_median(lab_s, area), skin_lab)
    # ... beside the body, outside its hull: a large surface's part within the hull is the bay a
    # mark cut by the outline leaves (such a mark joins the floor beyond it once the floor, told
    # apart by its grain, is no longer the body's)
    elsewhere = large[labels] & ~hull if large.any() else np.zeros_like(hull)
    # nor anything much lighter than the skin (a towel, a sheet): marks only ever darken skin
    elsewhere |= lab_s[0] > skin_lab[0] + SKIN_LIGHTER_BY
    # a close-up's mark that fills the frame's side lies off the body's area and beyond its hull:
    # it is the body's all the same, with the band of blended colour between it and the area
    if marks_off.any():
        region |= masks.dilate(marks_off[labels], max(1, round(MARK_GAP * short)))
    if _off_aim_surface(region | hull, box, skin_lab):
        return None
    # a mark cut by the outline leaves a bay in the skin: the body's convex hull takes it back
    reach = (region | hull) & ~elsewhere
    return Body(skin=skin, region=region, reach=reach, edges=hard, skin_lab=skin_lab)


def _off_aim_surface(region: np.ndarray, box, skin_lab) -> bool:
    """True when the body found is a surface beside what the photo is aimed at, not skin.

    ``region`` (H, W) bool is the body's area with its convex hull (a close-up's skin round a
    mark filling the middle of the frame surrounds it, or the mark joined the area), ``box``
    the central box (row slice, column slice), ``skin_lab`` its colour (3,). Wood, bamboo, a
    beige wall or a floor are warm and skin-coloured, and in a photo without a body the finder
    takes the largest of them. Such a region covers less than ``OFF_AIM_COVER`` of the central
    box (the photographer aims at the marks: the body's area is scored by its pixels there,
    :func:`_candidate`) and its colour is
    not unmistakably skin's: darker than ``OFF_AIM_MIN_L`` or paler than ``OFF_AIM_MIN_CHROMA``
    C*ab (skin under ordinary light: C*ab about 12-55, L* above the dark end, _skin_prior), or
    outside the skin wedge (``WEDGE_HUE``) once its median is taken. A body off the centre in a
    well-lit, chromatic skin colour is kept (a back along the frame's edge).
    """
    if masks.share(region[box]) >= OFF_AIM_COVER:
        return False
    lightness, a, b = (float(v) for v in skin_lab)
    hue = float(np.degrees(np.arctan2(b, a)))
    return (lightness < OFF_AIM_MIN_L or float(np.hypot(a, b)) < OFF_AIM_MIN_CHROMA
            or not WEDGE_HUE[0] <= hue <= WEDGE_HUE[1])


def _lit_skin(score, chosen, skin_lab, others):
    """The lit skin (region on the half grid, Lab) when the chosen candidate is its shadow, else None.

    ``score``, ``chosen`` and ``skin_lab`` are the best candidate's, ``others`` the rest as
    (score, region, Lab). A shadow is the same skin at a lower lightness: a candidate
    ``SHADOW_LIGHTER_BY`` lighter, within ``SHADOW_HUE_DEG`` of its hue, less chromatic by at most
    ``SHADOW_CHROMA_GAIN``, within ``SHADOW_GAP`` of the short side of it, whose area scores
    ``SHADOW_LIT_SHARE`` of the shadow's before the skin prior (:func:`_skin_prior`) is the skin
    under the light. The lightest such candidate wins.
    """
    area = score / _skin_prior(skin_lab)
    hue = np.degrees(np.arctan2(skin_lab[2], skin_lab[1]))
    chroma = np.hypot(skin_lab[1], skin_lab[2])
    best = None
    around = None
    for other_score, other, other_lab in others:
        if other is None or other_lab[0] < skin_lab[0] + SHADOW_LIGHTER_BY:
            continue
        if other_score / _skin_prior(other_lab) < SHADOW_LIT_SHARE * area:
            continue
        turn = abs((np.degrees(np.arctan2(other_lab[2], other_lab[1])) - hue + 180.0) % 360.0 - 180.0)
        if turn > SHADOW_HUE_DEG or chroma > np.hypot(other_lab[1], other_lab[2]) + SHADOW_CHROMA_GAIN:
            continue
        # beside it, or across a strap or a sleeve's edge
        around = masks.dilate(chosen, max(2, round(SHADOW_GAP * min(chosen.shape)))) if around is None else around
        if around[other].any() and (best is None or other_lab[0] > best[1][0]):
            best = (other, other_lab)
    return best


def _rough(detail: np.ndarray, usable: np.ndarray, chosen: np.ndarray, half_box, shape) -> np.ndarray:
    """Pixels (H, W) = ``shape`` grainier than the body's skin by ``ROUGH_GRAIN``: a floor,
    carpet or towel.

    ``detail`` (H/2, W/2 rounded up) is |Laplacian| of smoothed L* on the half grid, ``usable``
    the pixels there that are not glare, ``chosen`` the body found there and ``half_box`` the
    central box there. The grain is ``detail``'s mean over ``GRAIN_WINDOW``; the skin's is the
    median grain of the body's central part, where the body is (a warm floor taken into its
    area lies at its sides). A mark is as smooth as the skin it is on, petechiae aside: those
    lie within the body, whose holes are filled.
    """
    grain = cv2.blur(detail, (GRAIN_WINDOW, GRAIN_WINDOW))
    central = chosen[half_box]
    # grain tells a surface from skin only where the skin is smoother than what lies around
    # it; in a close-up of a limb before a plain wall the skin's pores and hairs are the finest
    # detail in view, and there grain would tell only what is in focus. The skin is the body's
    # central part: a carpet or floor taken into the body's area, often half of it, makes the
    # area as grainy as the rest of the photo
    around = usable & ~chosen
    if not central.any() or not around.any() or (
            masks.sample_median(detail[half_box][None], central)[0] > masks.sample_median(detail[None], around)[0]):
        return np.zeros(shape, dtype=bool)
    skin_grain = float(masks.sample_median(grain[half_box][None], central)[0])
    # a floor's grain comes and goes along its planks: close the gaps between its rough streaks
    rough = masks.close_mask(grain > max(ROUGH_GRAIN * skin_grain, MIN_ROUGH_GRAIN), 1)
    # half grid index i is full grid 2i and 2i + 1
    return np.repeat(np.repeat(rough, 2, axis=0), 2, axis=1)[: shape[0], : shape[1]]


def is_mark_on(mark_lab, skin_lab, min_delta_e: float = 6.0) -> bool:
    """True when a colour reads as a mark on a skin colour: darker, with a change of chroma or
    hue of at least a third of the darkening, and ΔE00 at least ``min_delta_e``."""
    delta = np.asarray(mark_lab, dtype=np.float64) - np.asarray(skin_lab, dtype=np.float64)
    darker = -delta[0]
    return bool(darker >= 2.0 and float(np.hypot(delta[1], delta[2])) >= 0.35 * darker and
                float(colour.ciede2000(skin_lab, mark_lab)) >= min_delta_e)


def _mark_within_skin(lab_s: np.ndarray, area: np.ndarray, step: np.ndarray, skin_lab) -> bool:
    """True when a large skin-coloured area off the body is a mark filling a close-up.

    Such an area reads as a mark on the skin (``is_mark_on``) and fades into it over a soft
    edge; a floor, carpet or towel beside the body meets it at the outline, a sharp step. The
    edge is judged on a band round the area: a mark's has few steps sharper than ``EDGE_STEP``.
    """
    band = masks.dilate(area, 3) & ~area
    if not band.any() or float((step[band] > EDGE_STEP).mean()) > SOFT_EDGE_SHARE:
        return False
    return is_mark_on(masks.sample_median(lab_s, area), skin_lab)


def _shadow_of(area_lab, skin_lab) -> bool:
    """True when an area's median colour (3,) is the skin's (3,) in shade: within a faint mark's
    ΔE00 (``colour.FAINT_BELOW``) of the skin at its lightness (``colour.shaded``).

    A close-up's mark off the body's area is off that line by its own colour (ΔE00 7-16 in the
    generated close-ups); the shadow along a limb's outline in a clean photo we looked at, its
    median blending a gradient into the dark background, by 3.
    """
    return float(colour.ciede2000(colour.shaded(skin_lab, float(area_lab[0])), area_lab)) < colour.FAINT_BELOW


def _lighter_part(lab_s: np.ndarray, body: np.ndarray, skin_lab: np.ndarray) -> np.ndarray:
    """The body's skin colour when part of the body's area is a mark on the rest of it.

    The skin tolerance is wide enough to take in a faint or a large mark too; in a close-up the
    mark is most of that area and its median is the mark's colour. Marks only darken skin, so
    the area's pixels are split into two colours (k-means) and, when the darker reads as a mark
    on the lighter (``is_mark_on``) and the lighter covers at least ``LIGHTER_SHARE`` of the
    area, the lighter is the skin. Shading alone darkens without the change of chroma or hue a
    mark has, so a shaded side never counts.
    """
    sample = masks.sample(lab_s, body, 3000)
    if len(sample) < 60:
        return skin_lab
    labels, centres = masks.colour_clusters(sample, 2)
    light, dark = (0, 1) if centres[0][0] >= centres[1][0] else (1, 0)
    share = float((labels == light).mean())
    if share < LIGHTER_SHARE or not is_mark_on(centres[dark], centres[light]):
        return skin_lab
    # a mark lies within the skin: what borders the darker part is mostly the lighter part (a
    # body beside a lighter floor that joined its area borders the floor only here and there)
    darker = body & (colour.approx_delta_e(lab_s, centres[dark]) < colour.approx_delta_e(lab_s, centres[light]))
    border = masks.dilate(darker, 2) & ~darker
    if not border.any() or float(masks.share(border & body) / masks.share(border)) < LIGHTER_ENCLOSES:
        return skin_lab
    lighter = sample[labels == light]
    return np.median(lighter, axis=0).astype(np.float64)


def _seed_colours(lab_s: np.ndarray, wedge: np.ndarray, box) -> list[np.ndarray]:
    """Candidate skin colours: k-means centres of the skin-coloured pixels and the central median."""
    seeds = []
    central = wedge[box]
    if masks.share(central) >= 0.05:
        seeds.append(masks.sample_median(lab_s[:, box[0], box[1]], central))
    sample = masks.sample(lab_s, wedge, 3000)
    if len(sample) >= SEED_CLUSTERS * 10:
        seeds += list(masks.colour_clusters(sample, SEED_CLUSTERS)[1])
    return seeds
