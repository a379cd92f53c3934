"""Propose the marks in a photo, most mark-like first, for the client to confirm.

Candidates are the areas of the body that differ from a smooth fit of its skin colour. Each is
measured at its deepest point exactly as a client's tap would be (``measure.measure_at``), then
ranked by how much it looks like a cupping mark or bruise, not by how large its ΔE00 is: the
largest differences in a photo are usually the navel, a shadow, a mole or the body's outline.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy import ndimage

from . import colour, masks
from .measure import DETECT_DELTA_E, PEAK_FRACTION, SHADOW_CHROMA_RATIO, Measured, Scene, measure_at

MAX_PROPOSALS = 12
# candidates measured before ranking: the strongest few, by peak difference times size
MAX_CANDIDATES = 10
# a candidate area whose inner radius exceeds this share of the short side fills the first
# measuring window: it is measured in growing windows
WIDE_AREA = 0.12
# a mark-like score at least this makes a proposal (the product of the terms below, 0–1)
MIN_SCORE = 0.3
# a candidate that holds over half of a mark already kept is that mark's wider extent (its
# mottled surround with the core in it), not a second mark: two marks never hold one another
SAME_MARK_SHARE = 0.5
# size of a mark, equivalent-circle diameter as a share of the short side: cups are 3–7 cm
# across, photographed from 20–60 cm; moles, hair and pores are smaller
MIN_DIAMETER = 0.008
FULL_DIAMETER = 0.022
# a small area far darker than any small mark is a mole (moles: ΔE00 ~20–30, a few mm across)
MOLE_DIAMETER = 0.04
MOLE_DELTA_E = 15.0
# shape: minor/major axis ratio of a cup mark stays above ~0.5 even on a curved back; creases,
# the spine groove, hair and the outline's shadow are long and thin
ROUND_FULL = 0.5
ROUND_NONE = 0.2
# solidity (area / convex hull area): a round mark ~1; a ragged shadow or hair much lower
SOLID_FULL = 0.85
SOLID_NONE = 0.55
# contrast: ΔE00 at or above this counts in full
FULL_CONTRAST = 4.5
# along the body's outline: a component most of whose border is a sharp edge or lies off the body
# is the outline's shading or a cloth's edge (a mark cut by the outline keeps at least half its
# border on skin)
OUTLINE_SHARE = 0.5
# colour: a candidate within this ΔE00 of its skin in shade (colour.shaded) is a shadow, a
# fold, the navel or hair; one this far off it is a mark colour. The 50% perceptibility
# thresholds of a colour difference on light and on dark skin (ΔE00 0.59 and 1.75,
# colour-evidence.md "Perceptibility on skin")
SHADE_NONE = 0.59
SHADE_FULL = 1.75
# a mark is never lighter than its skin by more than this (glare, a scar, a towel fold)
MAX_LIGHTER = 2.0
# nor darker than this share of its skin's light (luminance Y): blood lies under the skin's
# surface, whose own reflection (4-5% of the light: Fresnel at n ≈ 1.55) a mark never takes
# away, and the lightest skin reflects about half the light, so a mark keeps at least ~8%. A
# darker spot is a pit or gap in shadow (the navel), black hair or cloth; below CIELAB's linear
# toe (L* < 8) its a* and b* are a few 8-bit codes of noise, so its "hue" says nothing
MIN_LIGHT_KEPT = 0.08


@dataclass
class Proposal:
    """One proposed mark: its measurement and how mark-like it looks (score 0–1, terms by name)."""

    measured: Measured
    score: float
    terms: dict


def _fit_baseline(lab_s: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """Fit a smooth quadratic skin colour field (3, H, W) over the photo, robust to marks.

    Least squares on a sparse grid of skin pixels; pixels far from the fit (marks, odd patches)
    drop out over four rounds.
    """
    height, width = skin.shape
    u_axis = np.linspace(-1, 1, width, dtype=np.float64)
    v_axis = np.linspace(-1, 1, height, dtype=np.float64)
    ys, xs = np.nonzero(skin[::4, ::4])
    ys, xs = ys * 4, xs * 4
    values = lab_s[:, ys, xs].astype(np.float64).T
    u, v = u_axis[xs], v_axis[ys]
    terms = np.stack([np.ones_like(u), u, v, u * u, u * v, v * v], axis=1)
    use = np.ones(len(values), dtype=bool)
    coef = None
    for _ in range(4):
        if use.sum() < 12:
            break
        coef = masks.least_squares(terms[use], values[use])
        residual = np.linalg.norm(values - terms @ coef, axis=1)
        use = residual < max(3.5, 2.5 * float(np.median(residual)))
    if coef is None:
        return np.broadcast_to(np.median(values, axis=0)[:, None, None], lab_s.shape)
    uu, vv = np.meshgrid(u_axis, v_axis)
    grid = np.stack([np.ones_like(uu), uu, vv, uu * uu, uu * vv, vv * vv])
    return np.einsum("thw,tc->chw", grid, coef).astype(np.float32)


def _candidate_points(scene: Scene) -> list[tuple[float, float, float]]:
    """Seed points of the areas that differ from the fitted skin, strongest first.

    Each is (x, y fractions, the area's inner radius as a share of the short side).
    """
    points = _widest_point(scene)
    baseline = _fit_baseline(scene.lab_s, scene.skin)
    weights = colour.approx_delta_e(scene.lab_s - baseline + np.asarray(scene.skin_lab, np.float32)[:, None, None], scene.skin_lab)
    weights[~scene.reach] = 0
    loose = masks.open_mask(weights > DETECT_DELTA_E, 1)
    labels, count = masks.components(loose)
    if count == 0:
        return points
    peaks = np.zeros(count + 1, dtype=np.float32)
    np.maximum.at(peaks, labels[loose], weights[loose])
    # cut each area at a share of its own peak, so a mark's neighbour and mottling fall away
    tight = masks.open_mask(loose & (weights >= PEAK_FRACTION * peaks[labels]), 1)
    labels, count = masks.components(tight)
    if count == 0:
        return points
    short = min(tight.shape)
    sizes = masks.counts(labels, count)
    strongest = np.zeros(count + 1, dtype=np.float32)
    np.maximum.at(strongest, labels[tight], weights[tight])
    min_area = np.pi * (MIN_DIAMETER * short / 2) ** 2
    order = [i for i in np.argsort(-(strongest * np.sqrt(sizes))) if i != 0 and sizes[i] >= min_area]
    height, width = tight.shape
    boxes = ndimage.find_objects(labels)
    for index in order[:MAX_CANDIDATES]:
        box_rows, box_cols = boxes[index - 1]
        # the deepest point, worked out on the area's own box with a one-pixel margin of
        # background (the frame's edge, where there is no margin, is no boundary)
        rows = slice(max(box_rows.start - 1, 0), min(box_rows.stop + 1, height))
        cols = slice(max(box_cols.start - 1, 0), min(box_cols.stop + 1, width))
        depth = masks.depth_inside(labels[rows, cols] == index)
        row, col = np.unravel_index(int(np.argmax(depth)), depth.shape)
        points.append(((col + cols.start + 0.5) / width, (row + rows.start + 0.5) / height, float(depth.max()) / short))
    return points


def _widest_point(scene: Scene) -> list[tuple[float, float, float]]:
    """The deepest point of the body's area that is not clear skin, when that area is wide.

    A close-up's mark fills most of the frame: the skin fit over the little skin around it
    says nothing about its middle, and its pieces there are ragged. Its deepest point, measured
    like a tap (the window grows to the skin), finds the whole mark. Returns [] or one point
    (x, y fractions, inner radius as a share of the short side).
    """
    # visibly off the skin's colour (the skin tolerance is wide enough to take in such a mark)
    off = colour.approx_delta_e(scene.lab_s, scene.skin_lab) >= colour.RESOLVED_BELOW
    rest = masks.open_mask(scene.reach & off, 1)
    depth = masks.depth_inside(rest)
    row, col = np.unravel_index(int(np.argmax(depth)), depth.shape)
    short = scene.short_side
    inner = float(depth[row, col]) / short
    if inner <= WIDE_AREA:
        return []
    height, width = depth.shape
    # a close-up's mark lies mostly on the body's region; a wide patch of floor taken into the
    # body's hull does not
    labels, _ = masks.components(rest)
    area = labels == labels[row, col]
    if scene.region[area].mean() < 0.5:
        return []
    return [((col + 0.5) / width, (row + 0.5) / height, inner)]


def _ramp(value: float, none: float, full: float) -> float:
    """0 at ``none``, 1 at ``full``, linear between (either order)."""
    if full == none:
        return float(value >= full)
    return float(np.clip((value - none) / (full - none), 0.0, 1.0))


def _shape_terms(component: np.ndarray) -> tuple[float, float]:
    """(minor/major axis ratio, solidity) of a component mask."""
    ys, xs = np.nonzero(component)
    if len(ys) < 5:
        return 0.0, 0.0
    cov = np.cov(np.stack([xs, ys]).astype(np.float64))
    eigen = np.linalg.eigvalsh(cov)
    ratio = float(np.sqrt(max(eigen[0], 1e-9) / max(eigen[1], 1e-9)))
    hull = cv2.convexHull(np.stack([xs, ys], axis=1).astype(np.int32))
    hull_area = max(float(cv2.contourArea(hull)), 1.0)
    return ratio, min(1.0, len(ys) / hull_area)


def _outline_share(scene: Scene, measured: Measured) -> float:
    """Share of the component's border band that is a sharp edge or off the body's reach, or
    share of the component itself off the body's reach (off its skin region, for a wide area
    away from the photo's centre), whichever is larger."""
    rows, cols, component = measured.component
    band = masks.dilate(component, 2) & ~component
    if not band.any():
        return 0.0
    off = scene.edges[rows, cols] | ~scene.reach[rows, cols]
    # a mark lies within the body's reach; a wide area away from where the photo was aimed
    # must lie on the skin region itself (a wide patch of floor beside the body is in its hull)
    height, width = scene.shape
    centre_row, centre_col = height // 2 - rows.start, width // 2 - cols.start
    aimed = 0 <= centre_row < component.shape[0] and 0 <= centre_col < component.shape[1] and component[centre_row, centre_col]
    body = scene.region if measured.radius > WIDE_AREA and not aimed else scene.reach
    return max(float(off[band].mean()), float((~body[rows, cols])[component].mean()))


def _light_kept(mark_lab, skin_lab) -> float:
    """Share of its skin's luminance Y a colour keeps (0–1 for a darker one): the ratio of the
    linear values of the greys of the same L*."""
    mark_y, skin_y = (float(colour.lab_to_linear(np.array([lab[0], 0.0, 0.0]))[0]) for lab in (mark_lab, skin_lab))
    return mark_y / max(skin_y, 1e-9)


def score(scene: Scene, measured: Measured) -> tuple[float, dict]:
    """How much a measured area looks like a mark: (score 0–1, the terms by name).

    The product of: contrast (ΔE00 up to ``FULL_CONTRAST``), size (equivalent diameter between
    moles and frame-filling close-ups), roundness and solidity (creases, the outline, hair and
    the spine groove are long or ragged), and colour (not lighter; darker with a change of
    chroma or hue, and off the colour shade alone would give the skin: ``colour.shaded``; never
    darker than ``MIN_LIGHT_KEPT`` of the skin's light).
    """
    delta = measured.mark_lab - measured.skin_lab
    chroma_change = float(np.hypot(delta[1], delta[2]))
    lighter = float(delta[0])
    off_shade = float(colour.ciede2000(colour.shaded(measured.skin_lab, measured.mark_lab[0]), measured.mark_lab))
    diameter = 2 * measured.radius
    # the shape before thin joins were cut: a strip of shading cut into pieces is still a strip
    ratio, solidity = _shape_terms(measured.extent if measured.extent is not None else measured.component[2])
    terms = {
        "contrast": _ramp(measured.delta_e, colour.RESOLVED_BELOW, FULL_CONTRAST),
        "size": _ramp(diameter, MIN_DIAMETER, FULL_DIAMETER),
        "not_mole": 0.2 if diameter < MOLE_DIAMETER and measured.delta_e > MOLE_DELTA_E else 1.0,
        "round": _ramp(ratio, ROUND_NONE, ROUND_FULL),
        "solid": _ramp(solidity, SOLID_NONE, SOLID_FULL),
        "inside": _ramp(_outline_share(scene, measured), 0.8, OUTLINE_SHARE),
        "colour": 0.0 if lighter > MAX_LIGHTER or _light_kept(measured.mark_lab, measured.skin_lab) < MIN_LIGHT_KEPT else min(
            _ramp(chroma_change / max(-lighter, 1e-6), 0.1, SHADOW_CHROMA_RATIO), _ramp(off_shade, SHADE_NONE, SHADE_FULL)
        ),
    }
    total = float(np.prod(list(terms.values())))
    return total, {k: round(v, 3) for k, v in terms.items()}


def propose(scene: Scene) -> list[Proposal]:
    """Return the marks in the photo, most mark-like first (at most ``MAX_PROPOSALS``).

    Candidates that turn out to be the same mark once measured are kept once (:func:`_distinct`).
    Only proposals scoring at least ``MIN_SCORE`` are returned.
    """
    measured_all: list[Proposal] = []
    for x, y, inner_radius in _candidate_points(scene):
        # a wide area (a close-up's mark) is looked at in wider windows until skin is in view
        measured = measure_at(scene, (x, y), search=inner_radius > WIDE_AREA)
        if measured.found:
            measured_all.append(Proposal(measured, *score(scene, measured)))
    return _distinct(measured_all, scene.shape)[:MAX_PROPOSALS]


def _distinct(measured_all: list[Proposal], shape: tuple[int, int]) -> list[Proposal]:
    """The candidates that are marks of their own, most mark-like first, scoring >= ``MIN_SCORE``.

    ``shape`` is the analysis grid's (rows, columns), on which each ``measured.component`` lies.
    Candidates whose segmented areas overlap are one mark, kept as the most mark-like of them:
    a ragged measurement of a mark (its whole mottled extent) must not hide a round one of its
    core (a candidate over 30% taken is dropped), nor stand beside it as a second mark (one
    holding ``SAME_MARK_SHARE`` of a kept mark is that mark's extent).
    """
    proposals: list[Proposal] = []
    # which kept candidate (1, 2, ...) each pixel belongs to, and the size of each
    taken = np.zeros(shape, dtype=np.int32)
    sizes = [0]
    # stable: among equal scores the stronger candidate, measured first, is kept
    for proposal in sorted(measured_all, key=lambda p: p.score, reverse=True):
        rows, cols, component = proposal.measured.component
        shared = np.bincount(taken[rows, cols][component], minlength=len(sizes))
        if (shared[1:].sum() > 0.3 * component.sum()
                or (shared[1:] > SAME_MARK_SHARE * np.asarray(sizes[1:])).any()):
            continue
        sizes.append(int(np.count_nonzero(component)))
        taken[rows, cols][component & (taken[rows, cols] == 0)] = len(sizes) - 1
        if proposal.score >= MIN_SCORE:
            proposals.append(proposal)
    return proposals
