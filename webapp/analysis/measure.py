"""Measure the mark at a point: segment it around the point, compare it with the skin near it.

This is the measurement every reading rests on, whether the point is a client's tap, a mark
carried over from yesterday, or an automatic proposal. Around the point a window of the photo
is taken; the local skin colour comes from the body's clear skin in that window (the skin next
to a mark, not the photo's average); the mark is the connected area around the point that
differs from that skin, cut where its difference falls below a share of its own peak (about
half-way down its soft edge). Its mean colour over all of that area, rim and any yellow part
included, is compared with a ring of clear skin around it. A point on clear skin finds
no such area and is measured as a small disc, which reads ΔE00 < 3: a faded mark.

No lighting correction is made, because none helped in the figures. White balance and exposure
are undone only if something in the photo gives the light away. On 100-scene suites (seeds
11-13) the scene's own content varies more than the light does. Grey-world (Buchsbaum 1980: the
scene averages to grey; Barata et al. 2015 use it for skin, colour-evidence.md "Photos") leaves a
log R/G spread of 0.14-0.18 on the whole photo and 0.43 on the surround, against 0.09 for the
casts themselves. Mean-grey metering leaves 0.49-0.52 in log Y, against 0.30 for the exposures.
Applied to the measured colours they worsen the |ΔE00 error| (median/p90 on seed 11: none
1.20/4.16, grey-world on the photo 2.22/6.39, on the surround 1.82/5.71, metering to 18% grey
1.41/4.51). Scaling to a population skin colour (von Kries) also did worse, 0.50/2.14 against
0.48/1.86 on perfect measurements. Even an exact correction would only lower the median (to
0.80). At the body's outline (a fifth of the marks, 60% of the worst tenth in 2.4.0) the error
was the skin reference, not the segmentation: with the same pixels measured against the painted
skin under them the outline marks' error fell from 1.69/4.91 to 1.11/3.48 (backs, seeds 11-13),
with the true pixels against the engine's skin it stayed 1.66/4.92. Their ring lies on the lit
side and read a median 2.2 L* too light; hence the plane fitted to a one-sided ring.

What the light alone costs (2.8.0, seeds 11-13, every mark at its true centre on the analysis
grid, the same scene painted without its marks for the skin under each): the true core pixels
against the true skin under them, both in the photo's light, err by a median/p90 of 0.86/2.56,
0.90/2.50 and 0.68/2.57, against the engine's 1.04/3.18, 0.91/2.84 and 0.91/2.59; with each
photo's exposure and gains undone exactly, 0.25/0.88, 0.30/0.95 and 0.23/0.95. ΔE00 is not
free of exposure (a mark's Lab difference and the weights of its reference both change with
it), so the light is most of the median and would hold the p90 at ~2.5 with perfect pixels.
Nothing in a photo of skin alone gives its exposure back: setting the body's skin to a
population lightness (L* 50-65, after which the reflectance ratios of mark and skin give the
mark) read 1.27/5.46 at best on seed 11, since a dark skin's own darkness is taken for
under-exposure. The engine's own tail is its pixels and skin: with the exact light undone it
still reads 0.75/2.95, 0.73/3.09, 0.68/2.39. A pale mark whose soft edge touches a darker
one's is measured itself (_weaker_neighbour), not lost to the other's peak.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import colour, masks
from .body import is_mark_on, wedge_mask

# a pixel can belong to a mark when its approximate ΔE00 to the local skin exceeds this; below
# the resolved threshold so a mark's extent reaches into its soft edge
DETECT_DELTA_E = 2.0
# the texture floor: a mark must differ from the local skin field by this many times the 80th
# percentile of clear skin's own difference far from the point (pores, mottling, JPEG noise)
NOISE_FACTOR = 1.5
# ... that percentile taken of about this many of those pixels, evenly spaced (masks.sample): a
# window's ten thousand cost a partition each round, and the floor is the same on seeds 11-13
NOISE_SAMPLE = 2000
# the smallest mark, an equivalent-circle diameter as a share of the short side (a texture
# blob of a few pixels is no mark)
MIN_DIAMETER = 0.015
# fraction of the mark's own peak difference where its outline is drawn (about half-way down
# its soft edge): the outline sits at the same place in the edge whatever the mark's strength
PEAK_FRACTION = 0.45
# a tap counts as on a mark when the mark lies within this share of the short side of it
TOUCH_RADIUS = 0.035
# the first window's half-size, a share of the short side: a large cup mark (radius ~0.12) and
# its ring fit; a mark that reaches the window's side makes the window grow
WINDOW_HALF = 0.22
WINDOW_GROWTH = 1.7
# a mark the first window found covering less than this share of it lies within it but for what
# leaves it at a side: a piece of a close-up's mark, cut by all its sides, covered 0.46-0.76 of it
# (generated close-ups, seeds 0-39), a bruise with the outline's shading leaving it 0.29
WITHIN_WINDOW_SHARE = 0.4
# with nothing found, the window grows to at least this half-size (share of the short side)
# before the point is taken for clear skin: past the largest marks (close-ups fill 85% of a frame)
LARGEST_MARK_HALF = 0.9
# a point on clear skin is measured over a disc of this radius (share of the short side)
CLEAR_DISC = 0.025
# local skin: pixels within this approximate ΔE00 of the running estimate (mottling, shading)
SKIN_SPREAD = 5.0
# pixels less deep than this inside a mark's outline (at most its outer half) are left out of its
# colour (see measure_at)
OUTLINE_BLUR_PX = 2.0
# bands narrower than this share of a mark's radius that join it to something else are cut
BRIDGE_SHARE = 0.2
# a pixel lighter than the skin field by more than this (L*) is never part of a mark
MAX_LIGHTER = 2.0
# a window where the body's skin covers less than this share is measured on its own
LOCAL_BODY_SHARE = 0.2
# shading lowers lightness with little change of chroma (|ΔC*ab| / |ΔL*| small); every bruise
# colour changes chroma or hue as much as a third of its darkening or more (colour-evidence.md)
SHADOW_CHROMA_RATIO = 0.35
# a pixel darker than the skin field by more than this (L*) whose colour is within SHADE_OFF
# (approximate ΔE00, a* and b* only) of the skin's in shade is shading, not a mark: about twice
# the smoothed planes' chroma noise, below the 50% perceptibility of a difference on dark skin
# (ΔE00 1.75, colour-evidence.md "Perceptibility on skin")
SHADE_DARKER = 2.0
SHADE_OFF = 1.0
# two clusters' centres blend a mark's soft edge into both: a split needs only this ΔE00
FAINT_SPLIT_DELTA_E = 4.0
# a second round of segmentation refits the skin field without the mark and its soft edge; when
# the first round's skin pixels already differ from those by less than this share of them, the
# refit would be the same plane from nearly the same pixels and the round is skipped (5 of the
# benchmark's 6 marks differ by 1-3%, a mark whose soft edge lay in the first skin by 20%)
SAME_SKIN_SHARE = 0.03
# fewest ring pixels for a ring median
MIN_RING = 15
# a ring that covers this share of a full ring (from, to) lies on one side of its mark (a mark at
# the body's outline, whose ring is cut where the body ends): the skin under the mark is then a
# plane fitted to the ring, evaluated at the mark (see _skin_under). A fuller ring keeps its
# median (robust to the mark's own soft edge in it); a scrap of ring cannot hold a plane
ONE_SIDED_RING = (0.3, 0.65)
# ... nor can a ring round a mark wider than this share of the short side (a close-up): the plane
# would reach across most of the frame from a thin band at its sides
PLANE_RADIUS = 0.2
# ring pixels farther from the fitted plane than this many times their median distance
# (another mark's edge, a mole, a hair) are left out of the second fit
PLANE_OUTLIER = 2.5


@dataclass
class Scene:
    """What every measurement in one photo shares, all on the measuring grid (H, W).

    ``lab`` and ``lab_s``: CIELAB planes (3, H, W), raw and smoothed; ``skin``: clear skin of the
    body; ``reach``: where a mark may lie; ``edges``: sharp colour steps; ``skin_lab``: the
    body's median skin (3,); ``region``: the body with its marks.
    """

    lab: np.ndarray
    lab_s: np.ndarray
    skin: np.ndarray
    reach: np.ndarray
    edges: np.ndarray
    skin_lab: np.ndarray
    region: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        """(H, W) of the measuring grid."""
        return self.skin.shape

    @property
    def short_side(self) -> int:
        """The measuring grid's short side in pixels."""
        return min(self.skin.shape)


@dataclass
class Measured:
    """One mark measured at a point (all lengths as fractions, colours CIELAB).

    ``found`` is False when the point lay on clear skin (a disc around it was measured).
    ``component`` is the segmented mark as (row slice, column slice, bool mask) on the grid;
    ``extent`` (same window) is the area before thin bands joining it to something were cut.
    """

    point: tuple[float, float]
    found: bool
    mark_lab: np.ndarray
    skin_lab: np.ndarray
    delta_e: float
    hue_deg: float
    colour: str
    mixed: bool
    centre: tuple[float, float]
    radius: float
    area_fraction: float
    ring_fraction: float
    component: tuple
    extent: np.ndarray | None = None
    # delta_e was judged on the body's lit skin (the ring is that skin in shade: see _result)
    on_body_skin: bool = False


def _window(shape, centre, half: float) -> tuple[slice, slice]:
    """Rows and columns of a square window of half-size ``half`` px about (x, y) px, clipped."""
    height, width = shape
    x, y = centre
    return (
        slice(max(0, int(y - half)), min(height, int(np.ceil(y + half)) + 1)),
        slice(max(0, int(x - half)), min(width, int(np.ceil(x + half)) + 1)),
    )


def _local_skin(lab_s, skin, distance_sq, half, fallback) -> np.ndarray:
    """First estimate of the skin near the point: clear skin in the window's outer part.

    The outer part (beyond 0.55 of the half-size) is mostly skin even when the point is on a
    large mark; a trimmed median keeps mottling and a neighbouring mark from pulling it.
    """
    outer = skin & (distance_sq >= (0.55 * half) ** 2)
    use = outer if np.count_nonzero(outer) >= 30 else skin
    if np.count_nonzero(use) < 30:
        return np.asarray(fallback, dtype=np.float64)
    estimate = masks.sample_median(lab_s, use)
    close = use & (colour.approx_delta_e(lab_s, estimate) < SKIN_SPREAD)
    return masks.sample_median(lab_s, close) if np.count_nonzero(close) >= 30 else estimate


def _split_mark_from_skin(lab_s, skin, skin_lab, distance_sq, short_side):
    """When the point's own colour is within a faint mark's difference (ΔE00 < 6) of the skin
    estimate, split the window's skin into two colours.

    In a close-up the mark fills most of the window and lies within the skin tolerance, so the
    skin estimate is the mark itself, or a blend of it and the skin. Two colour clusters (k-means) of the window's skin-coloured
    pixels are formed; when the point's cluster reads as a mark on the other (darker, with a change
    of chroma or hue: ``body.is_mark_on``) and the other covers a tenth of the window, the other
    is the skin. Returns the (skin mask, skin Lab) to use.
    """
    near_point = distance_sq <= (CLEAR_DISC * short_side) ** 2
    point_lab = masks.sample_median(lab_s, near_point)
    if float(colour.ciede2000(skin_lab, point_lab)) >= colour.FAINT_BELOW or np.count_nonzero(skin) < 60:
        return skin, skin_lab
    centres, shares = _two_colours(lab_s, skin)
    mine = int(np.argmin(np.linalg.norm(centres - point_lab, axis=1)))
    other = 1 - mine
    if shares[other] < 0.1 or not is_mark_on(centres[mine], centres[other], FAINT_SPLIT_DELTA_E):
        return skin, skin_lab
    closer = colour.approx_delta_e(lab_s, centres[other]) < colour.approx_delta_e(lab_s, centres[mine])
    return skin & closer, centres[other]


def _lighter_of_two(lab_s: np.ndarray, clear: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The skin beside a close-up's mark when the mark's fainter outer part was taken for it.

    ``clear`` (H, W) are the pixels taken as skin. A mark filling most of a close-up leaves a
    thin band of skin in view, and the mark's own fainter part (a mixed mark's yellow or green
    part round its violet centre) lies within the skin's tolerance: the skin's median is then a
    blend, or that part itself, and the mark reads violet and too strong. Of the two colours of
    ``clear`` (k-means), one is that part when it reads as a mark on the other
    (``body.is_mark_on`` at ``FAINT_SPLIT_DELTA_E``), or shows a breakdown colour on it
    (``colour.breakdown_part``) by that much while no lighter than ``MAX_LIGHTER``: a yellow
    part adds yellow more than it darkens. The other, covering at least a tenth of ``clear``,
    is then the skin. Returns (the clear pixels nearer the skin, the skin's Lab), or
    (``clear``, None) when the two colours are skin and skin.
    """
    if np.count_nonzero(clear) < 60:
        return clear, None
    centres, shares = _two_colours(lab_s, clear)
    for part in (0, 1):
        skin = 1 - part
        if shares[skin] < 0.1 or centres[part][0] > centres[skin][0] + MAX_LIGHTER:
            continue
        if is_mark_on(centres[part], centres[skin], FAINT_SPLIT_DELTA_E) or (
                colour.breakdown_part(centres[skin], centres[part])[0]
                and float(colour.ciede2000(centres[skin], centres[part])) >= FAINT_SPLIT_DELTA_E):
            closer = clear & (colour.approx_delta_e(lab_s, centres[skin]) < colour.approx_delta_e(lab_s, centres[part]))
            return closer, masks.sample_median(lab_s, closer)
    return clear, None


def _two_colours(lab_s: np.ndarray, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Split the pixels (H, W bool) of Lab planes into two colour clusters (OpenCV k-means on
    up to ~2000 of them): returns their centres (2, 3) and the share of pixels in each (2,)."""
    labels, centres = masks.colour_clusters(masks.sample(lab_s, pixels, 2000), 2)
    return centres, np.bincount(labels, minlength=2) / len(labels)


def _component_at(candidates: np.ndarray, point, reach_px: float) -> np.ndarray | None:
    """The connected part of ``candidates`` under the point, or the nearest one within ``reach_px``.

    A part beside the point counts only when the point lies on its soft edge: it must be at
    least half as wide as its distance from the point (a mole or a hair next to a faded mark is not
    what the tap meant). Such a speck nearer the point than a mark's edge is passed over for the
    mark: a tap in a bruise's pale middle, with a pore or a freckle between it and the bruise,
    read clear skin.
    """
    labels, count = masks.components(candidates)
    if count == 0:
        return None
    height, width = candidates.shape
    x, y = point
    row, col = min(max(int(y), 0), height - 1), min(max(int(x), 0), width - 1)
    label = labels[row, col]
    if label == 0:
        rows = slice(max(0, int(y - reach_px)), min(height, int(y + reach_px) + 1))
        cols = slice(max(0, int(x - reach_px)), min(width, int(x + reach_px) + 1))
        ys, xs = np.nonzero(labels[rows, cols])
        d2 = (ys + rows.start - y) ** 2 + (xs + cols.start - x) ** 2
        within = d2 <= reach_px**2
        if not within.any():
            return None
        order = np.argsort(d2[within])
        near, d2 = labels[rows, cols][ys[within], xs[within]][order], d2[within][order]
        # each part's nearest pixel (np.unique keeps the first), nearest parts first
        parts, first = np.unique(near, return_index=True)
        wide = np.bincount(labels.ravel(), minlength=count + 1)[parts] >= np.pi * d2[first] / 4
        if not wide.any():
            return None
        label = parts[wide][np.argmin(first[wide])]
    return labels == label


def _skin_field(lab_s: np.ndarray, clear: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    """The skin colour across a window (3, h, w): a plane fitted to its clear skin.

    Shading (a side light, the curve of a back) changes skin colour steadily across a window; a
    plane takes that out, so a shaded side is not read as a faint mark. With clear skin on less
    than a third of the window (a close-up) the plane is not trusted and the median is used.
    """
    height, width = clear.shape
    if masks.share(clear) < 0.33 or np.count_nonzero(clear) < 60:
        return np.broadcast_to(np.asarray(fallback, np.float32)[:, None, None], lab_s.shape)
    # flat indices of a few thousand clear pixels (as masks.sample): their values taken from the
    # planes laid out flat, their columns' and rows' coordinates looked up
    flat = np.flatnonzero(clear)
    chosen = flat[:: max(1, len(flat) // 4000)]
    ys, xs = np.divmod(chosen, width)
    u, v = np.arange(width) / width - 0.5, np.arange(height) / height - 0.5
    # the terms (1, u, v) as rows filled in place, passed transposed: np.stack of three
    # columns writes them strided, at twice the cost of the fit
    terms = np.empty((3, len(chosen)))
    terms[0] = 1.0
    np.take(u, xs, out=terms[1])
    np.take(v, ys, out=terms[2])
    values = np.take(np.ascontiguousarray(lab_s).reshape(len(lab_s), -1), chosen, axis=1)
    coef = masks.least_squares(terms.T, values.T.astype(np.float64))
    c = coef.astype(np.float32)
    # c0 + c1·u along a row plus c2·v down a column, the same sum in the same order as on the
    # whole (3, h, w) stack: one broadcast addition instead of three
    along = c[0][:, None] + c[1][:, None] * u.astype(np.float32)
    down = c[2][:, None] * v.astype(np.float32)
    return along[:, None, :] + down[:, :, None]


def _segment(scene: Scene, point_px, half: float, search: bool = True):
    """Segment the mark at a point within one window: (window, component or None, skin Lab, strength).

    ``search`` as in :func:`measure_at`: only then may a window with little of the body's skin
    be found to lie inside a larger mark (an automatic candidate on a floor beside the body
    would otherwise read as a mark on its skin).
    """
    window = _window(scene.shape, point_px, half)
    # a copy: the forty-odd steps below run a fifth faster on contiguous planes than on the view
    lab_s = np.ascontiguousarray(scene.lab_s[:, window[0], window[1]])
    skin = scene.skin[window]
    reach = scene.reach[window] & ~scene.edges[window]
    x = point_px[0] - window[1].start
    y = point_px[1] - window[0].start
    # the rows and columns as np.ogrid gives them, without its indexing machinery
    ys, xs = np.arange(skin.shape[0])[:, None], np.arange(skin.shape[1])
    distance_sq = (ys - y) ** 2 + (xs - x) ** 2
    if masks.share(skin) < LOCAL_BODY_SHARE:
        point_lab = masks.sample_median(lab_s, distance_sq <= (CLEAR_DISC * scene.short_side) ** 2)
        if not (search and scene.skin.any() and is_mark_on(point_lab, scene.skin_lab)):
            # the body found elsewhere in the photo hardly reaches this tap (a second limb, or
            # the wrong region taken for the body): the tap says a mark is here, so the window's
            # own skin-coloured pixels are its skin and nothing in it is ruled out
            skin = wedge_mask(lab_s)
            reach = ~scene.edges[window]
        elif (window[0].stop - window[0].start, window[1].stop - window[1].start) != scene.shape:
            # the tap is inside a mark larger than the window, on the body's skin (a close-up):
            # the whole window is mark, and the window grows until the skin is in view
            whole = np.ones(skin.shape, dtype=bool)
            return window, whole, scene.skin_lab, None, None, whole, whole
    skin_lab = _local_skin(lab_s, skin, distance_sq, half, scene.skin_lab)
    if search and is_mark_on(skin_lab, scene.skin_lab, FAINT_SPLIT_DELTA_E):
        # the skin around the tap reads as a mark on the body's own skin: the tap lies inside a
        # mark that fills this window (a close-up), and a blotch within it is no mark of its own
        whole = np.ones(skin.shape, dtype=bool)
        if (window[0].stop - window[0].start, window[1].stop - window[1].start) != scene.shape:
            return window, whole, scene.skin_lab, None, None, whole, whole
        # the whole photo is in view: of its skin-coloured pixels' two colours (the mark and
        # the skin it lies on), the skin is the one nearer the body's skin colour
        if np.count_nonzero(skin) >= 60:
            centres, _ = _two_colours(lab_s, skin)
            near = np.argsort(np.linalg.norm(centres - scene.skin_lab, axis=1))
            # not &=: with the whole photo in view, skin is the scene's own mask, not a copy
            skin = skin & (colour.approx_delta_e(lab_s, centres[near[0]]) < colour.approx_delta_e(lab_s, centres[near[1]]))
            skin_lab = centres[near[0]]
    skin, skin_lab = _split_mark_from_skin(lab_s, skin, skin_lab, distance_sq, scene.short_side)

    clear = skin & (colour.approx_delta_e(lab_s, skin_lab) < SKIN_SPREAD)
    touch = TOUCH_RADIUS * scene.short_side
    if not reach[min(int(y), reach.shape[0] - 1), min(int(x), reach.shape[1] - 1)] and reach.any():
        # a tap just past the body's outline (a mark cut by it): reach in to the body first
        outside = masks.distance_outside(reach)
        touch += float(outside[min(int(y), reach.shape[0] - 1), min(int(x), reach.shape[1] - 1)])
    component = extent = loose = None
    strength = None
    min_area = np.pi * (MIN_DIAMETER * scene.short_side / 2) ** 2
    rounds = 2
    split = False
    while rounds:
        rounds -= 1
        # the difference to the skin field, weighed at the skin's own colour
        field = _skin_field(lab_s, clear, skin_lab)
        # (lab_s - field) + skin_lab, the field's difference moved onto the skin's colour, in place
        shifted = lab_s - field
        shifted += np.asarray(skin_lab, np.float32)[:, None, None]
        strength = colour.approx_delta_e(shifted, skin_lab)
        # marks only darken skin: a patch lighter than the skin around it (sheen, a highlight,
        # skin next to a shadow) is never part of one
        strength[lab_s[0] - field[0] > MAX_LIGHTER] = 0.0
        # nor is a darker patch whose colour is the skin's in shade (colour.shaded): the body's
        # outline turning from the light, a fold
        strength[_shade_like(lab_s, field, skin_lab)] = 0.0
        # skin's own texture sets the floor: what differs no more than the clear skin far from
        # the point does is texture, not a mark
        far = clear & (distance_sq >= (0.55 * half) ** 2)
        noise = masks.percentile(masks.sample(strength[None], far, NOISE_SAMPLE)[:, 0], 80) if np.count_nonzero(far) >= 30 else 0.0
        detect = max(DETECT_DELTA_E, NOISE_FACTOR * noise)
        loose = _component_at((strength >= detect) & reach, (x, y), touch)
        if loose is not None and np.count_nonzero(loose) < min_area:
            loose = None
        if loose is None:
            component = None
        else:
            peak = masks.percentile(strength[loose], 90)
            threshold = max(detect, PEAK_FRACTION * peak)
            tight = (strength >= threshold) & loose
            # a cup's darker rim leaves its paler middle out: the middle is part of the mark
            tight = masks.fill_holes(tight) & reach
            tight = _weaker_neighbour(lab_s, skin_lab, strength, loose, tight, (x, y), threshold, min_area) | tight
            # a thin band that joins the mark to the outline's shading or a neighbour is cut
            extent = _component_at(tight, (x, y), touch * 2)
            radius = int(BRIDGE_SHARE * np.sqrt(np.count_nonzero(tight) / np.pi))
            if radius >= 1:
                opened = masks.open_mask(tight, radius)
                tight = opened if opened.any() else tight
            component = _component_at(tight, (x, y), touch * 2)
        if component is None:
            break
        # the skin next to this mark, other marks and shading left out
        previous = clear
        clear = skin & ~masks.dilate(component, 2) & (strength < SKIN_SPREAD)
        if np.count_nonzero(clear) < 30:
            break
        skin_lab = masks.sample_median(lab_s, clear)
        if np.count_nonzero(clear ^ previous) < SAME_SKIN_SHARE * np.count_nonzero(clear):
            # the skin the next round would fit is the skin this one fitted (SAME_SKIN_SHARE)
            rounds = 0
        if not split and np.count_nonzero(component) >= np.pi * (PLANE_RADIUS * scene.short_side) ** 2:
            clear, lighter = _lighter_of_two(lab_s, clear)
            if lighter is not None:
                # the mark is cut again against the skin found: its fainter part joins it
                split, skin_lab, rounds = True, lighter, max(rounds, 1)
    return window, component, skin_lab, strength, field, extent, loose


def _weaker_neighbour(lab_s, skin_lab, strength, loose, tight, point, threshold, min_area) -> np.ndarray:
    """The weaker mark under the point that a stronger neighbour's peak cut away (h, w bool,
    empty when there is none).

    ``lab_s`` (3, h, w) Lab planes, ``skin_lab`` (3,) the skin's;
    ``strength`` (h, w) is the difference to the skin field, ``loose`` the area above the
    detection floor at the point, ``tight`` that area cut at ``threshold`` (a share of its
    peak), ``point`` (x, y) px in the window. Two marks whose soft edges touch form one loose
    area, and its peak is the stronger one's: cut there, a pale mark beside a dark one is lost
    and the point measures its neighbour (a pink mark of ΔE00 9 beside a violet one of 21 read
    21). When the point itself lies in the loose area below that cut, clear of the cut part,
    the rest of the area (the cut part and a band round it left out, which is its soft edge) is
    cut again at ``PEAK_FRACTION`` of its own peak; what of it lies at the point, at least
    ``min_area`` px, is the mark there. A point on a mark's own soft edge finds only a thin band
    of that edge there, which the band left out round the cut part removes. A weaker part that
    shows a haemoglobin colour beside a cut part of a breakdown colour, or the reverse, is a
    mixed mark's other part: it is returned with the band that joins the two, one mark.
    """
    height, width = strength.shape
    col, row = min(int(point[0]), width - 1), min(int(point[1]), height - 1)
    none = np.zeros_like(tight)
    if not loose[row, col] or strength[row, col] >= threshold or not tight.any():
        return none
    # the stronger mark's soft edge: as wide as a fifth of its radius (its outer quarter to a
    # third, scenes' softness 0.2-0.4), and at least two pixels
    band = max(2, int(BRIDGE_SHARE * np.sqrt(tight.sum() / np.pi)))
    rest = loose & ~masks.dilate(tight, band)
    if not rest[row, col]:
        return none
    labels, _ = masks.components(rest)
    own = labels == labels[row, col]
    peak = masks.percentile(strength[own], 90)
    part = masks.fill_holes(own & (strength >= PEAK_FRACTION * peak))
    if not part[row, col] or part.sum() < min_area:
        return none
    beside = tight & masks.dilate(part, 2 * band + 2)
    if beside.any():
        names = [colour.colour_name(colour.hue_angle(*(masks.sample_median(lab_s, area) - skin_lab)[1:]))
                 for area in (part, beside)]
        if (names[0] in colour.BREAKDOWN_COLOURS) != (names[1] in colour.BREAKDOWN_COLOURS):
            return part | (loose & masks.dilate(tight, band) & masks.dilate(part, 2 * band + 2))
    return part


def _shade_like(lab_s: np.ndarray, field: np.ndarray, skin_lab) -> np.ndarray:
    """Pixels (H, W) of Lab planes darker than the skin field (3, H, W) by more than
    ``SHADE_DARKER`` whose a*, b* are within ``SHADE_OFF`` (approximate ΔE00) of the field's in
    shade at their own lightness (``colour.shaded``): L* + 16, a* and b* scale together there."""
    shade = field[0] - lab_s[0] > SHADE_DARKER
    # the colour test only where the lightness one holds: mostly a mark's pixels, a few of the window
    pixels, skin_field = masks.pixels(lab_s, shade), masks.pixels(field, shade)
    scale = (pixels[0] + 16.0) / np.maximum(skin_field[0] + 16.0, 1e-3)
    s_ab = 1 + 0.03 * float(np.hypot(skin_lab[1], skin_lab[2]))
    off = np.hypot(pixels[1] - skin_field[1] * scale, pixels[2] - skin_field[2] * scale) / s_ab
    shade[shade] = off < SHADE_OFF
    return shade


def _with_breakdown_part(lab_s, component, loose, skin_lab, strength) -> np.ndarray:
    """The mark with the yellow or green part beside its core that the peak cut left out.

    A mixed mark's yellow part differs less from skin than its violet centre, so cutting at a
    share of the peak keeps only the centre. When the pixels next to it (within half its radius,
    in the same loosely cut area) show a breakdown colour visibly (``colour.breakdown_part``),
    that part is cut as the mark itself is, at ``PEAK_FRACTION`` of its own peak difference: so
    the outline lies half-way down the yellow part's soft edge too, and the blend between the
    two colours (which reads brown or red pixel by pixel) is part of the mark.
    """
    if loose is None:
        return component
    radius = max(2, int(0.5 * np.sqrt(np.count_nonzero(component) / np.pi)))
    halo = loose & masks.dilate(component, radius) & ~component
    # only what changes colour as a mark does: the darker band of shading along the body's
    # outline changes hue by chance (its a*, b* hardly move) and would read as a yellow part
    values = masks.pixels(lab_s, halo)
    marked = _marks_colour(values, skin_lab)
    halo[halo] = marked
    if not halo.any():
        return component
    late = colour.breakdown_part(skin_lab, values[:, marked].T)
    if np.count_nonzero(late) < 0.5 * colour.MIXED_BREAKDOWN_FRACTION * np.count_nonzero(component):
        # a few yellowish pixels at a fresh mark's edge are no breakdown part
        return component
    peak = masks.percentile(strength[halo][late], 90)
    extended = component | (halo & (strength >= PEAK_FRACTION * peak))
    return masks.fill_holes(extended) & (loose | component)


def _marks_colour(pixels: np.ndarray, skin_lab) -> np.ndarray:
    """Which Lab pixels (3, N) differ from the skin as marks do (N,) bool: a change of chroma or
    hue at least ``SHADOW_CHROMA_RATIO`` of their darkening (shading darkens with little change)."""
    delta = pixels - np.asarray(skin_lab, dtype=np.float32)[:, None]
    return np.hypot(delta[1], delta[2]) >= SHADOW_CHROMA_RATIO * np.maximum(-delta[0], 0.0)


def _mark_like(lab_s: np.ndarray, component: np.ndarray, skin_lab) -> bool:
    """True when an area's median colour differs from skin as marks do (:func:`_marks_colour`)."""
    return bool(_marks_colour(masks.sample_median(lab_s, component)[:, None], skin_lab)[0])


def _touches_side(component: np.ndarray, window, shape) -> bool:
    """True when the component reaches a side of the window that is not the photo's edge."""
    height, width = shape
    return bool(
        (window[0].start > 0 and component[0].any())
        or (window[0].stop < height and component[-1].any())
        or (window[1].start > 0 and component[:, 0].any())
        or (window[1].stop < width and component[:, -1].any())
    )


def _wandered(scene: Scene, first, window, component: np.ndarray) -> bool:
    """True when a wider window's component (on ``window``) has its centroid off the mark the
    first window (``first``, a :func:`_segment` result) found at the tap on the body's skin.

    A mark cut by the first window's side grows with the window; what the wider window adds
    beyond the mark itself (the shading along the body's outline, another surface taken for
    the skin) moves its centre off the mark at the tap.
    """
    first_window, first_component = first[0], first[1]
    if first_component is None or masks.share(scene.skin[first_window]) < LOCAL_BODY_SHARE:
        # in a window off the body, nothing bounded the first mark (see _segment)
        return False
    if masks.share(first_component) >= WITHIN_WINDOW_SHARE:
        # a mark larger than the window (a close-up's) fills most of it: the first window saw
        # only a piece of it, whose own centre the whole mark's need not share
        return False
    ys, xs = np.nonzero(component)
    row = int(ys.mean()) + window[0].start - first_window[0].start
    col = int(xs.mean()) + window[1].start - first_window[1].start
    inside = 0 <= row < first_component.shape[0] and 0 <= col < first_component.shape[1]
    return not (inside and first_component[row, col])


def measure_at(scene: Scene, point: tuple[float, float], *, search: bool = True) -> Measured:
    """Measure the mark at ``point`` (x, y fractions of the photo) against the skin near it.

    Raises ValueError for a point outside [0, 1]². The window grows (up to the whole photo)
    while the mark reaches its side, so a mark that fills the frame is still measured whole;
    it also grows while nothing is found, since a tap inside a large mark sees no skin in a
    small window (``search=False`` skips that, for points where something was already seen).
    A wider window whose mark has its centre off the mark the first one found (:func:`_wandered`)
    keeps only its part inside the first window.
    """
    x, y = float(point[0]), float(point[1])
    if not (0.0 <= x <= 1.0 and 0.0 <= y <= 1.0):
        raise ValueError("a point must lie within the photo: x and y between 0 and 1")
    height, width = scene.shape
    short = scene.short_side
    point_px = (min(x * width, width - 0.5), min(y * height, height - 0.5))
    half = WINDOW_HALF * short
    first = None
    while True:
        found = _segment(scene, point_px, half, search)
        window, component, skin_lab, strength, field, extent, loose = found
        if strength is not None:
            # the first window that was measured (not one found to lie inside a larger mark)
            first = first or found
        if component is not None and first is not None and first[1] is None and not _mark_like(scene.lab_s[:, window[0], window[1]], component, skin_lab):
            # only a wider view found something, and it is shading, not a mark
            component = None
        if component is not None and first is not None and first is not found and _wandered(scene, first, window, component):
            if strength is None:
                # a wider view that lies inside a larger mark, off the one the first window
                # found, has no skin to measure against: the first window's mark stands
                window, component, skin_lab, strength, field, extent, loose = first
                break
            # the wider view took more than the mark at the tap: only its part in the tap's own
            # window is kept (measured against the wider window's skin)
            box = np.zeros(component.shape, dtype=bool)
            first_window = first[0]
            box[first_window[0].start - window[0].start : first_window[0].stop - window[0].start,
                first_window[1].start - window[1].start : first_window[1].stop - window[1].start] = True
            component &= box
            loose = loose & box
            extent = extent & box if extent is not None else None
            break
        whole = window[0].start == 0 and window[1].start == 0 and window[0].stop == height and window[1].stop == width
        if component is None and (whole or not search or half >= LARGEST_MARK_HALF * short):
            # nothing here even in a window wider than any mark, or in the whole photo: what the
            # first window found is the mark (the wider views lost it to another skin), or none
            # is and the point is clear skin, judged in the first window
            window, component, skin_lab, strength, field, extent, loose = first or found
            break
        if whole or (component is not None and not _touches_side(component, window, scene.shape)):
            break
        half *= WINDOW_GROWTH
    # a copy: the gathers and medians below run faster on contiguous planes than on the view
    lab = np.ascontiguousarray(scene.lab[:, window[0], window[1]])
    wx, wy = point_px[0] - window[1].start, point_px[1] - window[0].start
    if component is None:
        ys, xs = np.ogrid[: lab.shape[1], : lab.shape[2]]
        disc = (ys - wy) ** 2 + (xs - wx) ** 2 <= (CLEAR_DISC * short) ** 2
        # only the body's skin in the disc: at the outline, the floor beside it is no faded mark
        on_skin = disc & scene.skin[window]
        disc = on_skin if np.count_nonzero(on_skin) >= 10 else disc
        # nothing stands out at the point: it is compared with the skin right around it, so a
        # faded mark reads as faded whatever the skin field farther off does
        around = ((ys - wy) ** 2 + (xs - wx) ** 2 <= (2.5 * CLEAR_DISC * short) ** 2) & ~disc
        if np.count_nonzero(around & scene.reach[window]) >= MIN_RING:
            around &= scene.reach[window]
        if np.count_nonzero(around) >= MIN_RING:
            skin_lab = masks.sample_median(lab, around)
        return _result(scene, (x, y), False, lab, disc, disc, skin_lab, window, 1.0, None)
    component = _with_breakdown_part(scene.lab_s[:, window[0], window[1]], component, loose, skin_lab, strength)
    area = np.count_nonzero(component)
    r_eq = float(np.sqrt(area / np.pi))
    # the ring of skin: clear skin a little way out from the mark, other marks left out
    inner, outer = max(2.0, 0.3 * r_eq), max(2.0, 0.3 * r_eq) + max(4.0, 0.6 * r_eq)
    distance = masks.distance_outside(component, up_to=outer)
    ring = (distance > inner) & (distance <= outer) & scene.skin[window] & (strength < SKIN_SPREAD)
    if r_eq >= PLANE_RADIUS * short:
        # a close-up's ring may hold the mark's fainter part beside the skin (_lighter_of_two)
        ring = _lighter_of_two(scene.lab_s[:, window[0], window[1]], ring)[0]
    nominal = np.pi * ((r_eq + outer) ** 2 - (r_eq + inner) ** 2)
    ring_fraction = min(1.0, np.count_nonzero(ring) / nominal)
    # the mark's colour is its mean out to the outline half-way down its soft edge: the mean
    # colour DESIGN.md measures (and the generators' truth, synthetic.core_truth). Only the
    # outline's own pixels are left out: the reduction to the analysis grid and the smoothing
    # blur the edge by about a pixel, so they are part skin (on a mark a few pixels across, a
    # large part of it); a wider band read ~5% strong on soft marks
    depth = masks.depth_inside(component)
    measured = component & (depth >= min(OUTLINE_BLUR_PX, 0.5 * float(depth.max())))
    one_sided = ONE_SIDED_RING[0] <= ring_fraction < ONE_SIDED_RING[1] and r_eq <= PLANE_RADIUS * short
    if np.count_nonzero(ring) >= MIN_RING and one_sided:
        skin_lab = _skin_under(lab, ring, measured)
    elif np.count_nonzero(ring) >= MIN_RING:
        # the ring's own median, moved by the skin field's slope from the ring to the mark: on
        # a shaded side (a back's outline) the skin under the mark is darker than its ring
        ring_field = masks.pixels(field, ring).mean(axis=1, dtype=np.float64)
        under = masks.pixels(field, measured).mean(axis=1, dtype=np.float64)
        skin_lab = masks.sample_median(lab, ring) + (under - ring_field)
    return _result(scene, (x, y), True, lab, component, measured, skin_lab, window, ring_fraction, extent)


def _skin_under(lab: np.ndarray, ring: np.ndarray, measured: np.ndarray) -> np.ndarray:
    """The mean skin colour (3,) under a mark's measured pixels, from a plane fitted to its ring.

    ``lab``: Lab planes (3, h, w); ``ring`` and ``measured``: (h, w) bool. A mark at the body's
    outline has skin on one side only, lighter than the skin under it: the outline's shading
    darkens toward the edge (a cylinder turning from the light) and the ring keeps only the
    lit side. L*, a* and b* each get a plane fitted (least squares) to the ring's pixels, once
    again without the ring's outliers; the plane's mean over the mark is its value at the mark's
    centroid. This is flat-field shading compensation (a low-order fit of the background,
    measured against at each pixel) on the one ring that is sure to be the same skin.
    """
    ys, xs = np.nonzero(ring)
    my, mx = (float(c.mean()) for c in np.nonzero(measured))
    scale = max(float(np.ptp(xs)), float(np.ptp(ys)), 1.0)
    terms = np.stack([np.ones(len(ys)), (xs - mx) / scale, (ys - my) / scale], axis=1)
    values = lab[:, ys, xs].T.astype(np.float64)
    coef = masks.least_squares(terms, values)
    off = np.linalg.norm(values - terms @ coef, axis=1)
    keep = off <= PLANE_OUTLIER * np.median(off)
    if np.count_nonzero(keep) >= MIN_RING:
        coef = masks.least_squares(terms[keep], values[keep])
    return coef[0]


def _result(scene, point, found, lab, component, measured, skin_lab, window, ring_fraction, extent) -> Measured:
    """Build a Measured from a component and the pixels measured in it, on a window's Lab planes."""
    height, width = scene.shape
    mark_lab = masks.pixels(lab, measured).T.mean(axis=0, dtype=np.float64)
    delta = mark_lab - skin_lab
    # a mark on the body's skin in shade (the outline turning from the light, colour.shaded) is
    # judged on the body's lit skin: CIEDE2000 weighs a difference by its reference's lightness
    # and chroma, so the same mark would otherwise read weaker or stronger by where the body
    # curves, as the detection's strength is weighed at the skin's own colour too. Not a mark
    # as wide as a close-up's (PLANE_RADIUS): there the body's skin may be the mark itself
    body = np.asarray(scene.skin_lab, dtype=np.float64)
    small = np.count_nonzero(measured) <= np.pi * (PLANE_RADIUS * scene.short_side) ** 2
    shaded = found and small and bool(_shade_like(np.asarray(skin_lab)[:, None, None], body[:, None, None], body)[0, 0])
    reference = body if shaded else np.asarray(skin_lab, dtype=np.float64)
    # a yellow part often lies at the edge: the whole mark is looked at for it
    # only pixels that differ as marks do name it: the shading along an outline it touches
    # changes hue by chance, and read as a yellow part
    pixels = masks.pixels(lab, component)
    named = _marks_colour(pixels, skin_lab)
    theta, name, mixed = colour.mark_colour(skin_lab, (pixels[:, named] if named.any() else pixels).T, delta)
    ys, xs = np.nonzero(component)
    area = len(ys)
    return Measured(
        point=point,
        found=found,
        mark_lab=mark_lab,
        skin_lab=np.asarray(skin_lab, dtype=np.float64),
        delta_e=float(colour.ciede2000(reference, reference + delta)),
        hue_deg=theta,
        colour=name,
        mixed=mixed,
        centre=((xs.mean() + window[1].start + 0.5) / width, (ys.mean() + window[0].start + 0.5) / height),
        radius=float(np.sqrt(area / np.pi)) / scene.short_side,
        area_fraction=area / float(height * width),
        ring_fraction=ring_fraction,
        component=(window[0], window[1], component),
        extent=extent,
        on_body_skin=shaded,
    )
