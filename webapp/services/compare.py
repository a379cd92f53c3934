"""The before/after comparison: how to lay one day's photo exactly over another day's.

The two stored display copies are registered with ``webapp.analysis.registration`` (ORB
features, a RANSAC similarity); the fitted transform becomes an SVG ``matrix()`` that draws the
earlier photo in the later photo's pixels, so the divider of the comparison slider shows the
same patch of skin on both sides. Photos that do not register are shown as they are.
"""
import functools
import io

import numpy as np
from PIL import Image, UnidentifiedImageError

from webapp.analysis.registration import register
from webapp.services.recovery import CheckInRow
from webapp.services.storage import PhotoMissing, get_store

Matrix = tuple[float, float, float, float, float, float]


def overlay(before: CheckInRow, after: CheckInRow) -> Matrix | None:
    """Return the SVG matrix laying the before photo over the after photo, or None."""
    if before.id == after.id:
        return None
    return aligned(before.photo_key, (before.photo_width, before.photo_height),
                   after.photo_key, (after.photo_width, after.photo_height))


@functools.lru_cache(maxsize=512)
def aligned(before_key: str, before_size: tuple[int, int], after_key: str,
            after_size: tuple[int, int]) -> Matrix | None:
    """Register two stored photos and return the before photo's SVG matrix, or None."""
    # kept per pair of keys (stored bytes never change under a key): registering the demo's two
    # 800x600 display copies took 36 ms, about three times the rest of the timeline page, which
    # every view showing the comparison would pay again
    try:
        before, after = (open_photo(key) for key in (before_key, after_key))
    except (PhotoMissing, UnidentifiedImageError, OSError):
        return None
    registration = register(before, after)
    if not registration.ok:
        return None
    return svg_matrix(registration.homography, before_size, after_size)


def open_photo(key: str) -> Image.Image:
    """Open a stored display copy as RGB."""
    with Image.open(io.BytesIO(get_store().get(key))) as image:
        return image.convert("RGB")


def svg_matrix(homography, before_size: tuple[int, int], after_size: tuple[int, int]) -> Matrix:
    """Turn a map between photo fractions into SVG's matrix(a b c d e f) between photo pixels."""
    (bw, bh), (aw, ah) = before_size, after_size
    pixels = np.diag([aw, ah, 1.0]) @ np.asarray(homography) @ np.diag([1 / bw, 1 / bh, 1.0])
    a, c, e = pixels[0]
    b, d, f = pixels[1]
    return tuple(round(float(v), 4) for v in (a, b, c, d, e, f))
