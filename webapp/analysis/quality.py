"""Things on the skin that spoil a reading: cups still on it, and blood.

Both hide or change the skin a mark is measured against, so a photo showing them is retaken
after the cups are off and the skin is cleaned. The cues are physical, not colour alone (a
bruise, a maroon sleeve or a red top are as red as blood, and a mark is as round as a cup):

- **A cup** is a transparent dome with a sharp circular rim, lit highlights along that rim, and
  skin seen through it, drawn up and reddened by the suction. A candidate rim is a circle of
  sharp edges (OpenCV's ``HOUGH_GRADIENT_ALT``, which only votes with strong gradients and
  scores how perfect the circle is: a mark's soft edge gives none); it is a cup when highlights
  lie on the rim in more than one direction, the inside is skin-coloured and redder than the
  skin just outside, and skin surrounds it.
- **Blood** is glossy: a dark, saturated red whose surface holds specular spots, on the skin or
  in a cup. A bruise is a diffuse violet-to-red under matte skin, and cloth is matte.

Highlights are found relative to their surroundings (a white top-hat of L*), not as clipped
pixels: a cup's highlights on a phone photo are rarely at 255.

Every function takes CIELAB planes (3, H, W) float32 on the analysis grid (analyze.py's).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from . import masks
from .body import wedge_mask

# a highlight: L* this far above the opening of L* by a 7-px square (a spot or line narrower
# than the square) and this far above the mean L* of the 15-px square around it (brighter than
# its surroundings at large, not only than a dark neighbour: a sliver of skin between a mark and
# the frame's edge rises above its opening too), nearly colourless and not in shadow
SPECULAR_KERNEL = 7
SPECULAR_RISE = 12.0
SPECULAR_AROUND = 15
SPECULAR_ABOVE_AROUND = 8.0
SPECULAR_MAX_CHROMA = 18.0
SPECULAR_MIN_L = 55.0
# cup rims: radius as a fraction of the grid's short side (a 4-6 cm cup on a back photographed
# whole, up to one filling a close-up), Hough accumulator step (2 grid pixels: half the time of
# 1.5 on the analysis grid, and one more photo with cups found below), Canny high threshold on the
# Scharr gradient of L*·2.55 (only sharp steps vote: a rim, not a mark's soft edge) and how
# perfect the circle must be (0-1, OpenCV's param2 for HOUGH_GRADIENT_ALT)
CUP_RADIUS = (0.03, 0.3)
CUP_HOUGH_DP = 2.0
CUP_EDGE_THRESHOLD = 300
CUP_CIRCLE_PERFECTNESS = 0.8
# a rim is a cup when: at least this many highlight pixels lie within 0.8-1.15 r of its centre,
# in at least this many of 8 directions (an arc, not one glint); this share of its inside
# (< 0.7 r) is skin-coloured and so is this share of the ring outside (1.3-1.8 r); the inside is
# at least this much redder (a*) than that ring: the suction draws the skin up and reddens it.
# On the real photos (2026-12, 23 cupping stock photos, 50 bruise photos, 10 clean crops) these
# found cups on 6 of 15 photos with cups on skin and on none of the others.
CUP_MIN_HIGHLIGHTS = 3
CUP_MIN_DIRECTIONS = 2
CUP_SKIN_SHARE = 0.5
CUP_REDDENED_A = 1.5
# blood: dark saturated red (hue -5-45°: red, not a bruise's violet), in components of at
# least this many pixels holding at least this many highlight pixels (within 2 px), covering at
# least this share of the grid. On the same photos glossy red covered 1.8-2.8% of the three
# with blood on the skin or filling cups, at most 0.06% elsewhere (red cup valves), and none of
# the bruise photos (a maroon sleeve or a red top is matte)
BLOOD_MIN_L, BLOOD_MAX_L = 8.0, 50.0
BLOOD_MIN_A = 30.0
BLOOD_MIN_CHROMA = 40.0
BLOOD_HUE = (-5.0, 45.0)
BLOOD_MIN_PIXELS = 6
BLOOD_MIN_HIGHLIGHTS = 2
BLOOD_MIN_SHARE = 0.003
# a later photo whose skin (the same person's) has less than this share of the luminance Y it
# had on the last photo was taken over 1.5 stops darker: on the test scenes (light skin, ITA 40)
# 1 stop under still read within the course's exposure correction, 2 stops under read as dark
# skin (ITA -53 to -69) and were counted; ±0.5 EV is ordinary from day to day (registration.py)
UNDEREXPOSED_STOPS = 1.5
# a photo too dark to read from itself alone (a first photo has no last one to compare with):
# the body's skin darker than an L* and greyer than a chroma C*ab of one of these pairs (see
# underexposed): dim and greyish, or dimmer still and nearly grey
UNDEREXPOSED_SKIN = ((30.0, 11.0), (40.0, 7.0))


def highlights(lab: np.ndarray) -> np.ndarray:
    """Specular highlights (H, W) bool of Lab planes (3, H, W): small, bright, colourless spots."""
    lightness, a, b = lab
    plane = np.ascontiguousarray(lightness, dtype=np.float32)
    kernel = np.ones((SPECULAR_KERNEL, SPECULAR_KERNEL), dtype=np.uint8)
    rise = cv2.morphologyEx(plane, cv2.MORPH_TOPHAT, kernel)
    around = cv2.blur(plane, (SPECULAR_AROUND, SPECULAR_AROUND), borderType=cv2.BORDER_REFLECT)
    return ((rise >= SPECULAR_RISE) & (plane >= around + SPECULAR_ABOVE_AROUND) & (lightness >= SPECULAR_MIN_L)
            & (a * a + b * b <= SPECULAR_MAX_CHROMA**2))


def cup_rims(lab: np.ndarray, shine: np.ndarray | None = None) -> list[tuple[float, float, float]]:
    """Cups on the skin in Lab planes (3, H, W): their rims as (x, y, radius) in grid pixels.

    ``shine``: :func:`highlights` of the same planes, if already found.
    """
    shine = highlights(lab) if shine is None else shine
    # no rim without its highlights: most photos have none, and the circle search is most of the time
    if np.count_nonzero(shine) < CUP_MIN_HIGHLIGHTS:
        return []
    lightness = lab[0]
    height, width = lightness.shape
    short = min(height, width)
    grey = np.clip(lightness * 2.55, 0, 255).astype(np.uint8)
    found = cv2.HoughCircles(
        grey,
        cv2.HOUGH_GRADIENT_ALT,
        dp=CUP_HOUGH_DP,
        minDist=0.05 * short,
        param1=CUP_EDGE_THRESHOLD,
        param2=CUP_CIRCLE_PERFECTNESS,
        minRadius=max(3, int(CUP_RADIUS[0] * short)),
        maxRadius=int(CUP_RADIUS[1] * short),
    )
    if found is None:
        return []
    rims = []
    for x, y, r in found[0]:
        # the circle's box out to 1.8 r (the ring of skin outside), clipped to the grid
        reach = 1.8 * r
        r0, r1 = max(int(y - reach), 0), min(int(y + reach) + 1, height)
        c0, c1 = max(int(x - reach), 0), min(int(x + reach) + 1, width)
        rows, cols = np.mgrid[r0:r1, c0:c1]
        dx, dy = cols - x, rows - y
        distance = np.hypot(dx, dy) / r
        patch = lab[:, r0:r1, c0:c1]
        skin = wedge_mask(patch)
        inside, rim, ring = distance <= 0.7, (distance >= 0.8) & (distance <= 1.15), (distance >= 1.3) & (distance <= 1.8)
        lit = rim & shine[r0:r1, c0:c1]
        directions = np.unique(((np.arctan2(dy[lit], dx[lit]) + np.pi) // (np.pi / 4)).astype(int))
        if lit.sum() < CUP_MIN_HIGHLIGHTS or directions.size < CUP_MIN_DIRECTIONS:
            continue
        if not ring.any() or skin[inside].mean() < CUP_SKIN_SHARE or skin[ring].mean() < CUP_SKIN_SHARE:
            continue
        redder = np.median(patch[1][inside & skin]) - np.median(patch[1][ring & skin])
        if redder >= CUP_REDDENED_A:
            rims.append((float(x), float(y), float(r)))
    return rims


def blood_share(lab: np.ndarray, shine: np.ndarray | None = None) -> float:
    """Share (0-1) of the grid of Lab planes (3, H, W) covered by glossy dark red: blood.

    ``shine``: :func:`highlights` of the same planes, if already found.
    """
    lightness, a, b = lab
    red = (lightness >= BLOOD_MIN_L) & (lightness <= BLOOD_MAX_L) & (a >= BLOOD_MIN_A)
    # the hue only where the rest holds: an arctangent per pixel costs more than the whole test
    where = np.flatnonzero(red)
    a_red, b_red = a.ravel()[where], b.ravel()[where]
    hue = np.degrees(np.arctan2(b_red, a_red))
    red.ravel()[where] = (a_red * a_red + b_red * b_red >= BLOOD_MIN_CHROMA**2) & (hue >= BLOOD_HUE[0]) & (hue <= BLOOD_HUE[1])
    red = masks.open_mask(red, 1)
    if not red.any():
        return 0.0
    shine = highlights(lab) if shine is None else shine
    labels, count = masks.components(red)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    # highlights on or next to a component: a glossy surface's spots sit inside it or at its edge
    lit = np.bincount(labels.ravel(), weights=masks.dilate(shine, 2).ravel(), minlength=count + 1)
    glossy = (sizes >= BLOOD_MIN_PIXELS) & (lit >= BLOOD_MIN_HIGHLIGHTS)
    glossy[0] = False
    return float(sizes[glossy].sum() / red.size)


def problems(lab: np.ndarray) -> list[str]:
    """Quality codes ``cups_on_skin`` and ``blood`` that Lab planes (3, H, W) call for, in that order."""
    shine = highlights(lab)
    codes = []
    if cup_rims(lab, shine):
        codes.append("cups_on_skin")
    if blood_share(lab, shine) >= BLOOD_MIN_SHARE:
        codes.append("blood")
    return codes


def darker_than(skin_lab, reference_skin_lab) -> bool:
    """Tell whether a photo's skin ([L*, a*, b*]) is over ``UNDEREXPOSED_STOPS`` darker than
    the same skin in a reference photo, by luminance (CIE 15:2004: Y/Yn = ((L* + 16)/116)^3
    above the dark end): the photo, not the skin, is dark."""
    ratio = ((float(skin_lab[0]) + 16.0) / max(float(reference_skin_lab[0]) + 16.0, 1.0)) ** 3
    return ratio < 2.0 ** -UNDEREXPOSED_STOPS


def underexposed(skin_lab) -> bool:
    """Tell whether a photo is too dark to read, from its body's skin ([L*, a*, b*]) alone:
    darker and greyer than one of the ``UNDEREXPOSED_SKIN`` (L*, C*ab) pairs.

    Lightness alone cannot tell: light skin three stops under reads L* 15-29, as dark as dark
    skin well lit (L* 14-47 on the scenes below, 34-45 on real photos). But less light takes
    the colour with it: L* + 16, a* and b* all scale by the cube root of the luminance (CIE
    15:2004, above the dark end), so three stops under halve the skin's chroma, while skin in a
    lit photo keeps its colour however dark it is (melanin darkens skin and keeps it brown).
    Measured (2026-12, by a script not kept) on the generated scenes (scenes.make_scene with a
    drawn ITA, back, torso and close-up, each with its drawn white balance, shading and noise;
    seeds 12-23 and, held out, 24-35, alike: 24 and 23 of 36 caught three stops under) and on
    82 real photos (bruises, cupping stock photos, clean skin) darkened in linear light:

    - dark skin (ITA -32 to -60) at -0.5, 0 and +0.5 EV: flagged on 0 of 216 scenes (the
      nearest read C* 12.3 at L* 14, and C* 10.8 at L* 33); real photos at 0, -0.5 and -1 EV:
      0 of 241 (the darkest real skin reads L* 34 at C* 18.5; the L* 12 at C* 19 counted then
      was the dark wooden drawers of a photo without skin, no body since analyzer 2.15.0);
    - light to tan skin (ITA 15-60) 1 stop under, or as taken: 0 of 144 (the course corrects
      one stop, course._on_exposure_of); 2 stops under: 8 of 72; 3 stops under: 47 of 72 (the
      rest keep C* 11-16 under a warm cast or a ruddy skin, as dark skin would); dark skin
      1 stop under: 3 of 72;
    - real photos 3 stops under: 34 of 81 (very light skin, L* 80-90 as taken, still reads
      L* 35-45 three stops under: too light to tell from a dim photo of darker skin).
    """
    lightness, a, b = (float(v) for v in skin_lab)
    chroma = math.hypot(a, b)
    return any(lightness < dim and chroma < grey for dim, grey in UNDEREXPOSED_SKIN)
