"""The one safe photo opener of the product: content-sniffed, capped, upright, sRGB."""

from __future__ import annotations

import functools
import io
import os
import struct
import warnings
import zlib

import numpy as np
from PIL import Image, ImageChops, ImageCms, JpegImagePlugin

try:
    import pillow_heif

    pillow_heif.register_heif_opener()
    _HEIF = ("HEIF",)
except ImportError:  # pragma: no cover - the dependency is declared, this keeps imports safe
    _HEIF = ()

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", *_HEIF)
DEFAULT_MAX_PIXELS = 50_000_000
_JPEG_END = b"\xff\xd9"

# magic numbers of image and document formats we recognise but refuse, so the message is exact
_REFUSED_SIGNATURES = (
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
    (b"%PDF", "PDF"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"8BPS", "PSD"),
    (b"\xff\x0a", "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL ", "JPEG XL"),
)

MESSAGES = {
    "empty": "The file is empty. Please choose the photo again.",
    "not_an_image": "This file is not a photo we can read. Please send a JPEG, PNG, WebP or HEIC photo.",
    "unsupported_format": "{kind} files are not accepted. Please send a JPEG, PNG, WebP or HEIC photo.",
    "too_large": "The file is too large. Please send a photo smaller than {limit}.",
    "too_many_pixels": "The picture is too big to process. Please send an ordinary phone photo.",
    "truncated": "The photo seems damaged or incomplete. Please take or send it again.",
}


class PhotoRefused(Exception):
    """A photo the product will not open, with a code and a plain-language message."""

    def __init__(self, code: str, message: str | None = None):
        """Keep the refusal code and its friendly message."""
        self.code = code
        self.message = message or MESSAGES.get(code, "This photo cannot be used.")
        super().__init__(self.message)


def _read_source(source, max_bytes: int | None) -> bytes:
    """Read a path, bytes or binary file into memory, refusing empty and oversized input."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
    elif isinstance(source, (str, os.PathLike)):
        try:
            size = os.path.getsize(source)
        except OSError as exc:
            raise PhotoRefused("not_an_image", "The photo file could not be read.") from exc
        if max_bytes is not None and size > max_bytes:
            raise _too_large(max_bytes)
        with open(source, "rb") as fh:
            data = fh.read(max_bytes + 1 if max_bytes is not None else -1)
    elif hasattr(source, "read"):
        data = source.read(max_bytes + 1 if max_bytes is not None else -1)
        if not isinstance(data, (bytes, bytearray)):
            raise PhotoRefused("not_an_image", "The upload was not a binary file.")
        data = bytes(data)
    else:
        raise TypeError("source must be a path, bytes or a binary file")
    if not data:
        raise PhotoRefused("empty")
    if max_bytes is not None and len(data) > max_bytes:
        raise _too_large(max_bytes)
    return data


def _too_large(max_bytes: int) -> PhotoRefused:
    """Build the too_large refusal with the limit in megabytes."""
    limit = f"{max_bytes / 1_000_000:.0f} MB" if max_bytes >= 1_000_000 else f"{max_bytes} bytes"
    return PhotoRefused("too_large", MESSAGES["too_large"].format(limit=limit))


def _sniff_refused(head: bytes) -> str | None:
    """Name a known but refused format from its first bytes, or None."""
    for magic, kind in _REFUSED_SIGNATURES:
        if head.startswith(magic):
            return kind
    if head[4:8] == b"ftyp" and head[8:12] in (b"avif", b"avis"):
        return "AVIF"
    return None


# a probe of colours across the cube: a profile that maps each of them where sRGB does is sRGB
_PROBE_LEVELS = (0, 32, 64, 96, 128, 160, 192, 224, 255)
# in 8-bit steps: what two builds of the same sRGB profile differ by after rounding
_SAME_AS_SRGB = 2


@functools.cache
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    """Return littlecms's own sRGB profile (built once)."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


@functools.lru_cache(maxsize=64)
def _acts_as_srgb(icc: bytes) -> bool:
    """Tell whether an RGB profile maps colours as sRGB does, from what it does, not its name.

    A Display P3 profile may be named "sRGB"; its primaries would still move every probe
    colour by several steps. Kept per profile: phones send the same few again and again.
    """
    profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
    probe = Image.new("RGB", (len(_PROBE_LEVELS) ** 3, 1))
    probe.putdata([(r, g, b) for r in _PROBE_LEVELS for g in _PROBE_LEVELS for b in _PROBE_LEVELS])
    converted = ImageCms.profileToProfile(probe, profile, _srgb_profile(), outputMode="RGB",
                                          renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC)
    moved = ImageChops.difference(probe, converted).getextrema()
    return all(high <= _SAME_AS_SRGB for _low, high in moved)


def _to_eight_bits(image: Image.Image) -> Image.Image:
    """Return a 16- or 32-bit grayscale image (a 16-bit grey PNG) as 8-bit grey, not clipped."""
    # convert("L") clips every value above 255 to white: the top byte is the 8-bit value
    values = np.asarray(image, dtype=np.uint32) >> 8
    return Image.fromarray(np.clip(values, 0, 255).astype(np.uint8), "L")


def _to_srgb(image: Image.Image) -> Image.Image:
    """Convert any decoded mode to RGB, through the embedded ICC profile unless it acts as sRGB."""
    icc = image.info.get("icc_profile")
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N"):
        image = _to_eight_bits(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # transparent areas become white, as a viewer would show them, not black
        rgba = image.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        base.alpha_composite(rgba)
        image = base
    if icc:
        try:
            mode_in = image.mode if image.mode in ("RGB", "CMYK", "L") else "RGB"
            if image.mode != mode_in:
                image = image.convert(mode_in)
            if mode_in != "RGB" or not _acts_as_srgb(icc):
                return ImageCms.profileToProfile(
                    image, ImageCms.ImageCmsProfile(io.BytesIO(icc)), _srgb_profile(),
                    outputMode="RGB")
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            # a broken profile, or one of another colour space than the pixels, is not worth
            # refusing the photo for: fall back to plain rgb
            pass
    return image if image.mode == "RGB" else image.convert("RGB")


def _missing_end_marker(data: bytes) -> bool:
    """Tell whether the bytes are a JPEG that ends without its 2-byte end marker (EOI)."""
    return data.startswith(b"\xff\xd8\xff") and not data.endswith(_JPEG_END)


def _bottom_row_missing(image: Image.Image) -> bool:
    """Tell whether a JPEG decoded past the end of its data: its last row is the decoder's fill.

    libjpeg fills the blocks it has no data for with zero coefficients, a flat 128 in every
    channel; a photo's own last row is never exactly that.
    """
    bottom = image.crop((0, image.height - 1, image.width, image.height)).getextrema()
    bands = bottom if isinstance(bottom[0], tuple) else (bottom,)
    return all(band == (128, 128) for band in bands)


# the transpose that turns a photo's stored pixels upright, for each EXIF orientation (tag 0x0112,
# values 1-8 of the EXIF 2.32 standard; the same table as ImageOps.exif_transpose)
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def upright(image: Image.Image, orientation: int) -> Image.Image:
    """Return stored pixels turned upright for their EXIF orientation (1-8; others: as they are).

    Upright sizes swap width and height for orientations 5-8. Turning a reduced copy gives
    the same pixels as reducing the turned photo, for a fraction of the cost.
    """
    method = _UPRIGHT.get(orientation)
    return image if method is None else image.transpose(method)


def open_photo(
    source,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int | None = None,
    min_size: tuple[int, int] | None = None,
) -> Image.Image:
    """Open a photo safely and return it upright, in sRGB, fully loaded, with no metadata.

    ``source`` is a path, bytes or a binary file. Only JPEG, PNG, WebP and HEIC/HEIF are
    accepted, decided by content. ``max_bytes`` refuses big files before parsing; Pillow's
    decompression-bomb warning is an error (the bomb limit, from the header); ``max_pixels``
    caps the pixels actually decoded. ``min_size=(w, h)`` (upright) lets a JPEG decode at a
    reduced DCT scale that is still at least that size, so a phone's full-resolution mode
    (50 MP) decodes at a quarter of its sides. A JPEG whose only fault is a missing end marker
    is read. Raises :class:`PhotoRefused` with a code and a friendly message.
    """
    return upright(*open_stored(source, max_pixels=max_pixels, max_bytes=max_bytes,
                                min_size=min_size))


def open_stored(
    source,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int | None = None,
    min_size: tuple[int, int] | None = None,
) -> tuple[Image.Image, int]:
    """Open a photo as :func:`open_photo` does, but return its pixels as stored, not yet
    upright, with the EXIF orientation (1-8) that :func:`upright` turns them by.

    For a caller that reduces the photo before it needs it upright: turning a whole 12 MP
    photo costs more than turning its reduced copies. Raises :class:`PhotoRefused`.
    """
    data = _read_source(source, max_bytes)
    kind = _sniff_refused(data[:16])
    if kind:
        raise PhotoRefused("unsupported_format", MESSAGES["unsupported_format"].format(kind=kind))
    try:
        image, orientation = _decode(data, max_pixels, min_size)
    except PhotoRefused as refused:
        if refused.code != "truncated" or not _missing_end_marker(data):
            raise
        # phones' and editors' writers sometimes leave out the end marker: with it put back,
        # a file whose every row is there decodes whole, and a cut-off one shows the fill
        image, orientation = _decode(data + _JPEG_END, max_pixels, min_size, whole_rows=True)
    image.info.clear()
    return image, orientation


def _decode(data: bytes, max_pixels: int, min_size: tuple[int, int] | None,
            whole_rows: bool = False) -> tuple[Image.Image, int]:
    """Decode accepted bytes in sRGB, as stored, with their EXIF orientation (see open_stored);
    with ``whole_rows``, refuse a JPEG whose data ends before its last row."""
    with warnings.catch_warnings():
        # a decompression bomb must stop here, not just print a warning
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=list(ACCEPTED_FORMATS))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise PhotoRefused("too_many_pixels") from exc
        except Image.UnidentifiedImageError as exc:
            raise PhotoRefused("not_an_image") from exc
        except (OSError, SyntaxError, ValueError, EOFError, struct.error, RuntimeError) as exc:
            raise PhotoRefused("truncated") from exc
        width, height = image.size
        if width <= 0 or height <= 0:
            raise PhotoRefused("truncated")
        try:
            orientation = image.getexif().get(0x0112, 1)
        except (OSError, SyntaxError, ValueError, struct.error):
            orientation = 1
        # an MPO (a phone's JPEG with a second picture, e.g. an Ultra HDR gain map) is a JPEG
        if min_size is not None and isinstance(image, JpegImagePlugin.JpegImageFile):
            want_w, want_h = min_size
            if orientation in (5, 6, 7, 8):
                # the stored pixels are transposed relative to the upright photo
                want_w, want_h = want_h, want_w
            image.draft("RGB", (int(want_w), int(want_h)))
        if isinstance(image, JpegImagePlugin.JpegImageFile):
            # the whole file in one piece, as it is already in memory: fed in Pillow's 64 KB
            # blocks, the decoder stops at each block's end and the rest is copied on, ~1 ms of
            # a 12 MP photo's 26 ms draft decode
            image.decodermaxblock = len(data)
        # measured after draft(): the pixels that will be decoded, not those of the header
        if image.width * image.height > max_pixels:
            raise PhotoRefused("too_many_pixels")
        try:
            image.load()
            if whole_rows and _bottom_row_missing(image):
                raise PhotoRefused("truncated")
            image = _to_srgb(image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise PhotoRefused("too_many_pixels") from exc
        except (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, RuntimeError) as exc:
            raise PhotoRefused("truncated") from exc
    return image, orientation if isinstance(orientation, int) and orientation in _UPRIGHT else 1
