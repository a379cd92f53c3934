"""Carry the followed marks from the last confirmed photo to a new photo of the same body.

The new photo is registered to the reference (the last confirmed photo) and each followed point
(x, y fractions of the upright photo) is mapped through the fitted transform; the client then
confirms with one tap (DESIGN.md, "Followed marks"). When registration fails the points keep
the same fractions, so a failure costs the client a tap or two, never a wrong curve::

    carried, registration = carry_points(reference, photo, [(0.42, 0.61), (0.55, 0.30)])
    registration.ok, registration.inliers, registration.homography

Method: both photos are reduced to a grey image with a long side of 640 px, contrast-enhanced
with CLAHE (skin has little texture; local equalisation brings out moles, hairs, mottling and
the body's outline, which, unlike the fading marks, stay from day to day), ORB features are
matched with Lowe's ratio test, and a similarity (rotation, uniform scale, shift:
``cv2.estimateAffinePartial2D``) is fitted with RANSAC. The result is accepted only when at
least ``MIN_INLIERS`` matches agree and the scale lies within 0.5-2; a similarity can neither
mirror nor shear, so those checks come free.

Why, measured on the test scenes (tests/scene_pairs.py: a back re-photographed shifted 10%,
rotated ±10°, scaled 1.15 or 0.87, re-lit ±10% per channel and ±0.5 EV, marks fainter; 40
pairs, 160 marks, a mark counts when carried within half its radius), on the ordinary scenes
and on sparse ones (2-4 moles, 0-7 hairs); times per call at 640 px on this 2-core box:

method (640 px, CLAHE clip 3 unless said)    carried within r/2   time/call  fewest inliers  chance
                                             ordinary / sparse               ord / sparse    inliers
OpenCV ORB + estimateAffinePartial2D (chosen)  100% / 100%        11-15 ms   139 / 51        max 10
OpenCV ORB + findHomography                    100% / 100%        13-14 ms   143 / 51        max 14
OpenCV ORB + partial affine, no CLAHE            -  / 95%          3 ms        -  / 0         max 10
OpenCV SIFT + partial affine                  97.5% / 90%         ~50 ms      19 / 9         max 13
scikit-image ORB + ransac(Similarity)          100% /  -         ~310 ms       -             -

The similarity carries points more precisely than the homography (error p95 0.013 against
0.021 of the mark's radius; sparse 0.016 against 0.026) and gathers fewer chance inliers on an
unrelated photo (median 5 against 7), because the homography's extra freedom fits noise. A
body photographed again moves mostly as a similarity at this scale; perspective beyond that is
left to the client's tap. CLAHE is what makes skin usable: without it the sparse scenes keep a
median of 10 inliers, with clip 2 the worst genuine pair had 13, with clip 3 it has 51 (clip 4
gains more here, but stronger equalisation also lifts sensor noise: untested on real photos).
AKAZE is not in OpenCV 5's main modules (it moved to contrib); scikit-image is 20-30x slower.
At 500 px (clip 2) the sparse scenes drop to 97.5%; 800 px costs ~50% more time for no gain in
the count. Reducing a 12 MP photo to 640 px costs ~10 ms per photo on top (the tests print
both times).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

WORKING_LONG_SIDE = 640  # px, module docstring: 500 loses marks on sparse skin, 800 only costs time
# the smallest number of agreeing matches we trust: unrelated photos reached at most 10 by
# chance on the test scenes (median 5), genuine pairs at least 51
MIN_INLIERS = 20
SCALE_RANGE = (0.5, 2.0)  # a photo taken again from 2x nearer or farther is not the same framing
RATIO_TEST = 0.8  # Lowe (2004), "Distinctive image features from scale-invariant keypoints", §7.1
RANSAC_THRESHOLD_PX = 3.0  # at the working size: a point within 3 px of the fit agrees
ORB_FEATURES = 1500
ORB_FAST_THRESHOLD = 10  # half the default: CLAHE-enhanced skin still has weak corners
CLAHE_CLIP = 3.0  # module docstring: clip 2 left the worst sparse pair 13 inliers, clip 3 left 51
CLAHE_TILES = (8, 8)
# a carried point this close to an edge (fraction of the photo's width or height) has left the
# photo or lies on its border: apply() clips a point that left onto the edge, where a window
# around it measures half a mark or none (the tester's zoomed photo read 11.9 at y = 1.0)
EDGE_MARGIN = 0.02


@dataclass(frozen=True)
class Registration:
    """How the new photo maps onto the reference, in fractions of each upright photo.

    ``homography`` is 3x3 row-major (three rows of three floats) mapping reference fraction
    coordinates (x, y, 1) to new-photo fraction coordinates; None when ``ok`` is False.
    ``matches`` counts the feature matches that passed the ratio test, ``inliers`` those that
    agree with the fitted transform.
    """

    ok: bool
    homography: tuple | None
    inliers: int
    matches: int

    def apply(self, points) -> list[tuple[float, float]]:
        """Carry points (a sequence of (x, y) fractions, shape (n, 2)) to the new photo.

        Returns n (x, y) fractions clipped to [0, 1]; the same fractions (clipped) when the
        registration is not ok. Raises ValueError for points that are not finite (x, y) pairs.
        """
        array = np.asarray(points, dtype=np.float64)
        array = array.reshape(0, 2) if array.size == 0 else array
        if array.ndim != 2 or array.shape[1] != 2 or not np.isfinite(array).all():
            raise ValueError("points must be finite (x, y) pairs")
        if self.ok:
            mapped = np.c_[array, np.ones(len(array))] @ np.asarray(self.homography).T
            array = mapped[:, :2] / mapped[:, 2:]
        return [(float(x), float(y)) for x, y in np.clip(array, 0.0, 1.0)]

    @property
    def area_ratio(self) -> float | None:
        """How many times larger a patch of the body is, as a fraction of the new photo's area,
        than as a fraction of the reference's; None when the registration is not ok.

        The determinant of the homography's linear part: the fitted similarity is affine, so one
        figure holds everywhere in the photo. A mark's ``area_fraction`` divided by it is on the
        reference's scale, which is how a followed mark's size is compared across days (a photo
        taken 1.3x closer makes every mark 1.69x larger as a share of the photo).
        """
        if not self.ok:
            return None
        return float(abs(np.linalg.det(np.asarray(self.homography)[:2, :2])))


def off_frame(points) -> list[bool]:
    """Tell, for each carried point ((x, y) fractions, shape (n, 2)), whether it lies within
    ``EDGE_MARGIN`` of the photo's edge or outside it: the mark is not in this photo."""
    return [not (EDGE_MARGIN <= x <= 1 - EDGE_MARGIN and EDGE_MARGIN <= y <= 1 - EDGE_MARGIN)
            for x, y in points]


def reduce_whole(image: Image.Image) -> Image.Image:
    """Average an image over whole blocks (``Image.reduce``) down to a long side of at least
    ``WORKING_LONG_SIDE`` px; an image no larger than twice that is returned as it is."""
    whole = max(1, max(image.size) // WORKING_LONG_SIDE)
    return image.reduce(whole) if whole > 1 else image


def _working_grey(image: Image.Image) -> np.ndarray:
    """Reduce an upright photo to a CLAHE-enhanced grey array, long side WORKING_LONG_SIDE px."""
    width, height = image.size
    factor = min(1.0, WORKING_LONG_SIDE / max(width, height))
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    # a whole-factor box average first (reduce), then grey, then the last step: 3 ms where
    # converting the whole photo to grey and resizing it took 17 ms (a 1512x2016 photo)
    grey = np.asarray(reduce_whole(image).convert("L").resize(size, Image.Resampling.BILINEAR))
    return cv2.createCLAHE(clipLimit=CLAHE_CLIP, tileGridSize=CLAHE_TILES).apply(grey)


def _to_fractions(size: tuple[int, int]) -> np.ndarray:
    """3x3 matrix taking working-size pixel coordinates (pixel centres at integers) to fractions."""
    width, height = size
    return np.array([[1 / width, 0, 0.5 / width], [0, 1 / height, 0.5 / height], [0, 0, 1]])


def register(reference: Image.Image, photo: Image.Image) -> Registration:
    """Register ``photo`` to ``reference`` (both upright PIL images of any size and mode).

    Returns a Registration whose homography maps reference fractions to photo fractions, or
    ok=False (homography None) when fewer than MIN_INLIERS matches agree or the fitted scale is
    outside SCALE_RANGE: a flat, unrelated or badly blurred photo. Never raises for image
    content; method and figures in the module docstring.
    """
    grey_ref, grey_new = _working_grey(reference), _working_grey(photo)
    orb = cv2.ORB_create(nfeatures=ORB_FEATURES, fastThreshold=ORB_FAST_THRESHOLD)
    keys_ref, desc_ref = orb.detectAndCompute(grey_ref, None)
    keys_new, desc_new = orb.detectAndCompute(grey_new, None)
    if desc_ref is None or desc_new is None or len(keys_ref) < 2 or len(keys_new) < 2:
        return Registration(ok=False, homography=None, inliers=0, matches=0)
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(desc_ref, desc_new, k=2)
    good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < RATIO_TEST * p[1].distance]
    if len(good) < MIN_INLIERS:
        return Registration(ok=False, homography=None, inliers=0, matches=len(good))
    source = np.float32([keys_ref[m.queryIdx].pt for m in good])
    target = np.float32([keys_new[m.trainIdx].pt for m in good])
    affine, agree = cv2.estimateAffinePartial2D(
        source, target, method=cv2.RANSAC, ransacReprojThreshold=RANSAC_THRESHOLD_PX,
        maxIters=2000, confidence=0.995,
    )
    inliers = int(agree.sum()) if agree is not None else 0
    if affine is None or inliers < MIN_INLIERS:
        return Registration(ok=False, homography=None, inliers=inliers, matches=len(good))
    scale = float(np.sqrt(abs(np.linalg.det(affine[:, :2]))))
    if not SCALE_RANGE[0] <= scale <= SCALE_RANGE[1]:
        return Registration(ok=False, homography=None, inliers=inliers, matches=len(good))
    pixels = np.vstack([affine, [0.0, 0.0, 1.0]])
    fractions = _to_fractions(grey_new.shape[::-1]) @ pixels @ np.linalg.inv(_to_fractions(grey_ref.shape[::-1]))
    homography = tuple(tuple(float(v) for v in row) for row in fractions)
    return Registration(ok=True, homography=homography, inliers=inliers, matches=len(good))


def carry_points(reference: Image.Image, photo: Image.Image, points) -> tuple[list[tuple[float, float]], Registration]:
    """Carry followed points ((x, y) fractions of the reference) onto ``photo``.

    Returns (carried points as fractions in [0, 1], the Registration); when registration fails
    the points keep the same fractions (DESIGN.md, "Followed marks"). Raises ValueError for
    points that are not finite (x, y) pairs.
    """
    registration = register(reference, photo)
    return registration.apply(points), registration
