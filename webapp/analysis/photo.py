"""The one safe photo opener of the product: content-sniffed, capped, upright, sRGB."""

from __future__ import annotations

import io
import os
import struct
import warnings
import zlib

from PIL import Image, ImageCms, ImageOps

try:
    import pillow_heif

    pillow_heif.register_heif_opener()
    _HEIF = ("HEIF",)
except ImportError:  # pragma: no cover - the dependency is declared, this keeps imports safe
    _HEIF = ()

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP", *_HEIF)
DEFAULT_MAX_PIXELS = 50_000_000

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


def _to_srgb(image: Image.Image) -> Image.Image:
    """Convert any decoded mode to RGB, through the embedded ICC profile when it is not sRGB."""
    icc = image.info.get("icc_profile")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        # transparent areas become white, as a viewer would show them, not black
        rgba = image.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        base.alpha_composite(rgba)
        image = base
    if icc:
        try:
            source_profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            description = ImageCms.getProfileDescription(source_profile) or ""
            if "srgb" not in description.lower():
                mode_in = image.mode if image.mode in ("RGB", "CMYK", "L") else "RGB"
                if image.mode != mode_in:
                    image = image.convert(mode_in)
                return ImageCms.profileToProfile(
                    image, source_profile, ImageCms.createProfile("sRGB"), outputMode="RGB"
                )
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            # a broken profile is not worth refusing the photo for: fall back to plain rgb
            pass
    return image if image.mode == "RGB" else image.convert("RGB")


def open_photo(
    source,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int | None = None,
    min_size: tuple[int, int] | None = None,
) -> Image.Image:
    """Open a photo safely and return it upright, in sRGB, fully loaded, with no metadata.

    ``source`` is a path, bytes or a binary file. Only JPEG, PNG, WebP and HEIC/HEIF are
    accepted, decided by content. ``max_bytes`` refuses big files before parsing; ``max_pixels``
    is checked from the header before decoding, and Pillow's decompression-bomb warning is an
    error. ``min_size=(w, h)`` (upright) lets a JPEG decode at a reduced DCT scale that is still
    at least that size. Raises :class:`PhotoRefused` with a code and a friendly message.
    """
    data = _read_source(source, max_bytes)
    kind = _sniff_refused(data[:16])
    if kind:
        raise PhotoRefused("unsupported_format", MESSAGES["unsupported_format"].format(kind=kind))
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
        if width * height > max_pixels:
            raise PhotoRefused("too_many_pixels")
        try:
            orientation = image.getexif().get(0x0112, 1)
        except (OSError, SyntaxError, ValueError, struct.error):
            orientation = 1
        if min_size is not None and image.format == "JPEG":
            want_w, want_h = min_size
            if orientation in (5, 6, 7, 8):
                # the stored pixels are transposed relative to the upright photo
                want_w, want_h = want_h, want_w
            image.draft("RGB", (int(want_w), int(want_h)))
        try:
            image.load()
            ImageOps.exif_transpose(image, in_place=True)
            image = _to_srgb(image)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise PhotoRefused("too_many_pixels") from exc
        except (OSError, SyntaxError, ValueError, EOFError, struct.error, zlib.error, RuntimeError) as exc:
            raise PhotoRefused("truncated") from exc
    image.info.clear()
    return image
