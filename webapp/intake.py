"""Photo intake: uploaded bytes in, a clean display JPEG, a thumbnail and a reading out.

Pure image work (no Flask, no database). The upload is decoded once, by the analysis engine's
safe opener (content-sniffed formats, byte and pixel caps, EXIF orientation applied, sRGB);
the display copy is made from that image, the analysis runs on the display copy (so what is
stored is what was measured), and the thumbnail is made from the display copy. The JPEGs are
written from bare pixels: no EXIF, GPS, XMP, comment or ICC profile can reach them, and the
original upload is never kept.
"""
from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

from PIL import Image

from webapp.analysis import PhotoReading, PhotoRefused, analyze_image, open_photo
from webapp.analysis.reading import QUALITY_MESSAGES

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


def upload_hash(data: bytes) -> str:
    """Return the hex sha256 of the uploaded bytes (what idempotency compares)."""
    return hashlib.sha256(data).hexdigest()


def fit(image: Image.Image, long_side: int) -> Image.Image:
    """Return the image scaled down so its long side is at most long_side (never up)."""
    scale = long_side / max(image.size)
    if scale >= 1:
        return image
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    # pillow's bilinear widens its support when shrinking, so it does not alias; it is several
    # times cheaper than lanczos and a phone screen cannot tell them apart at these sizes
    return image.resize(size, Image.Resampling.BILINEAR)


def encode_jpeg(image: Image.Image, quality: int) -> bytes:
    """Encode bare RGB pixels as a baseline JPEG that carries no metadata at all."""
    buffer = io.BytesIO()
    # a new image per save call: nothing from image.info (comment, exif, icc) is passed along
    image.save(buffer, "JPEG", quality=quality, exif=b"", icc_profile=None, comment=b"")
    return buffer.getvalue()


def process(data: bytes, *, max_pixels: int, max_bytes: int | None = None) -> IntakeResult:
    """Decode the upload once and return its display copy, thumbnail and reading.

    Raises :class:`PhotoRefused` for a file that is not an accepted photo (codes of
    ``open_photo``) and with code ``no_skin`` when the analysis finds no skin in it.
    """
    image = open_photo(data, max_pixels=max_pixels, max_bytes=max_bytes,
                       min_size=(DECODE_MIN_SIDE, DECODE_MIN_SIDE))
    display = fit(image, DISPLAY_LONG_SIDE)
    reading = analyze_image(display)
    if "no_skin" in reading.quality_codes:
        raise PhotoRefused("no_skin", QUALITY_MESSAGES["no_skin"])
    thumb = fit(display, THUMB_LONG_SIDE)
    return IntakeResult(photo=encode_jpeg(display, JPEG_QUALITY),
                        thumb=encode_jpeg(thumb, THUMB_QUALITY),
                        width=display.width, height=display.height,
                        reading=reading)
