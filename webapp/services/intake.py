"""Photo intake: uploaded bytes in, a clean display JPEG, a thumbnail and a reading out.

Pure image work (no Flask, no database). The upload is decoded once, by the analysis engine's
safe opener (content-sniffed formats, byte and pixel caps, sRGB), and turned upright only once
reduced. The analysis runs on a reduced copy while a second thread makes the display copy and
the thumbnail from the same decoded image and encodes them. A treatment's later photos carry
its followed marks over from the last confirmed photo (registration, on a worker thread while
the analysis surveys the photo) and are measured at those points. The
JPEGs are written from bare pixels: no EXIF, GPS, XMP, comment or ICC profile can reach them,
and the original upload is never kept.
"""
from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, replace

from PIL import Image

from webapp.analysis import PhotoReading, PhotoRefused, analyze_image
from webapp.analysis.analyze import survey
from webapp.analysis.photo import open_stored, upright
from webapp.analysis.reading import QUALITY_MESSAGES
from webapp.analysis.registration import carry_points, off_frame, reduce_whole

DISPLAY_LONG_SIDE = 1600
THUMB_LONG_SIDE = 320
# a 4:3 phone photo with a 1600 px long side is 1200 px on its short side: the jpeg decoder may
# scale down (dct scaling, far cheaper than a full decode) as long as both sides stay this big
DECODE_MIN_SIDE = DISPLAY_LONG_SIDE * 3 // 4
JPEG_QUALITY = 85
THUMB_QUALITY = 80


@dataclass
class IntakeResult:
    """What is kept of one upload: two JPEGs, the display size and the reading."""

    photo: bytes
    thumb: bytes
    width: int
    height: int
    reading: PhotoReading
    # the followed marks' points carried onto this photo (None: the marks were proposed)
    carried: list[tuple[float, float]] | None = None
    registered: bool = False
    # the registration's Registration.area_ratio (None: not registered)
    area_ratio: float | None = None


def measure_carried(image, points: Sequence[tuple[float, float]],
                    skipped: Sequence[bool]) -> PhotoReading:
    """Measure a photo (an upright PIL image or a Survey) at the points not ``skipped``.

    ``mark_details`` keeps one entry per point, in order; a skipped point's entry (a mark that
    has left the photo, registration.off_frame) has no measurement (``delta_e`` None,
    ``in_photo`` false), so it stands on no course, and the reading's top-level fields come
    from the points measured only.
    """
    reading = analyze_image(image, at=[p for p, skip in zip(points, skipped) if not skip])
    measured = iter(reading.mark_details)
    details = []
    for (x, y), skip in zip(points, skipped, strict=True):
        details.append({"point": [x, y], "centre": [x, y], "radius": None, "delta_e": None,
                        "stage": None, "colour": None, "area_fraction": 0.0, "in_photo": False}
                       if skip else next(measured))
    return replace(reading, mark_details=details)


def upload_hash(data: bytes) -> str:
    """Return the hex sha256 of the uploaded bytes (what idempotency compares)."""
    return hashlib.sha256(data).hexdigest()


def fit(image: Image.Image, long_side: int) -> Image.Image:
    """Return the image scaled down so its long side is at most long_side (never up)."""
    scale = long_side / max(image.size)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    # box averages each output pixel's whole footprint, so shrinking does not alias, at a third
    # less time than bilinear; whole factors go through reduce() first (reducing_gap=1), which
    # makes a 1600 -> 320 thumbnail a plain 5x5 average
    return image.resize(size, Image.Resampling.BOX, reducing_gap=1.0)


def encode_jpeg(image: Image.Image, quality: int) -> bytes:
    """Encode bare RGB pixels as a baseline JPEG that carries no metadata at all."""
    buffer = io.BytesIO()
    # a new image per save call: nothing from image.info (comment, exif, icc) is passed along
    image.save(buffer, "JPEG", quality=quality, exif=b"", icc_profile=None, comment=b"")
    return buffer.getvalue()


def copies(stored: Image.Image, orientation: int) -> tuple[bytes, bytes, tuple[int, int]]:
    """Return the display JPEG, the thumbnail JPEG and the display size of a decoded photo
    (its pixels as stored, turned upright by ``orientation`` once reduced)."""
    display = upright(fit(stored, DISPLAY_LONG_SIDE), orientation)
    thumb = fit(display, THUMB_LONG_SIDE)
    return encode_jpeg(display, JPEG_QUALITY), encode_jpeg(thumb, THUMB_QUALITY), display.size


def working_copy(stored: Image.Image, orientation: int) -> Image.Image:
    """Return the upright copy that registration and the analysis read: the stored pixels
    reduced as registration reduces them (``reduce_whole``), then turned upright."""
    return upright(reduce_whole(stored), orientation)


# pillow and opencv release the GIL while they resize, encode and match, so the copies and the
# registration run on the second core while the analysis surveys the photo: a check-in answers
# sooner by about the time they take
_workers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="intake")


def process(data: bytes, *, max_pixels: int, max_bytes: int | None = None,
            reference: Image.Image | None = None,
            points: Sequence[tuple[float, float]] | None = None) -> IntakeResult:
    """Decode the upload once and return its display copy, thumbnail and reading.

    With ``points`` (the followed marks in the ``reference`` photo, fractions of it) the marks
    are carried onto this photo by registration (the same fractions when it fails, or without
    a reference) and measured there; otherwise marks are proposed. Raises
    :class:`PhotoRefused` for a file that is not an accepted photo (codes of ``open_photo``)
    and with code ``no_skin`` when the analysis finds no skin in it.
    """
    stored, orientation = open_stored(data, max_pixels=max_pixels, max_bytes=max_bytes,
                                      min_size=(DECODE_MIN_SIDE, DECODE_MIN_SIDE))
    made = _workers.submit(copies, stored, orientation)
    carried, registered, registration, area_ratio = None, False, None, None
    try:
        work = working_copy(stored, orientation)
        if points:
            carried = [(float(x), float(y)) for x, y in points]
            if reference is not None:
                registration = _workers.submit(carry_points, reference, work, carried)
        surveyed = survey(work)
        if registration is not None:
            carried, found = registration.result()
            registered, area_ratio = found.ok, found.area_ratio
        reading = (measure_carried(surveyed, carried, off_frame(carried)) if carried
                   else analyze_image(surveyed, at=carried))
    finally:
        # waited for even when the photo is refused or the survey fails: no thread outlives
        # the request's image
        if registration is not None:
            wait([registration])
        photo, thumb, (width, height) = made.result()
    if "no_skin" in reading.quality_codes:
        raise PhotoRefused("no_skin", QUALITY_MESSAGES["no_skin"])
    return IntakeResult(photo=photo, thumb=thumb, width=width, height=height, reading=reading,
                        carried=carried, registered=registered, area_ratio=area_ratio)
