"""Every ordinary phone file: full-resolution modes, a missing end marker, colour profiles
judged by what they do, orientation in every container, 16-bit, CMYK, grey, MPO and HEIC.

Each file is made here, in the test.
"""
import io
import struct

import numpy as np
import pytest
from PIL import Image, ImageCms

from webapp.analysis import PhotoRefused, open_photo, synthetic
from webapp.services import intake

PHONE_MAX_PIXELS = 50_000_000  # the app's PHOTO_MAX_PIXELS
# a colour off the grey axis, where a change of primaries shows
SKIN = (196, 140, 112)


def skin_photo(size=(640, 480)) -> Image.Image:
    """Return a synthetic photo of skin with one violet mark."""
    skin = synthetic.skin_lab_for_ita(35)
    marks = [synthetic.MarkSpec(delta_lab=synthetic.mark_delta(skin, 12, "violet"),
                                centre=(0.4, 0.45), radius=0.12)]
    return synthetic.render_scene(skin, marks, size=size, seed=3).image


def encoded(image: Image.Image, fmt: str, **options) -> bytes:
    """Return the image saved in a format."""
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def halves(height=300, width=400) -> Image.Image:
    """Return a picture whose top half is orange and bottom half blue (orientation shows)."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[: height // 2] = (200, 100, 50)
    pixels[height // 2:] = (50, 100, 200)
    return Image.fromarray(pixels)


# --- full-resolution modes --------------------------------------------------------------------

def test_a_50_mp_pixel_photo_is_accepted_at_a_reduced_scale():
    """8160×6144 (50.1 MP) is over the 50 MP cap as stored, but decodes at a quarter's sides."""
    big = skin_photo((1020, 768)).resize((8160, 6144), Image.Resampling.NEAREST)
    data = encoded(big, "JPEG", quality=80)
    del big
    result = intake.process(data, max_pixels=PHONE_MAX_PIXELS)
    assert (result.width, result.height) == (1600, 1205)
    assert result.reading.ok and result.reading.delta_e > 6


def header_claiming(width: int, height: int) -> bytes:
    """Return a small JPEG whose frame header claims another size."""
    data = bytearray(encoded(Image.new("RGB", (16, 16), SKIN), "JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.mark.parametrize(("width", "height"), [(16320, 12240), (20000, 15000)])
def test_a_200_mp_file_is_still_refused(width, height):
    """The bomb limit holds whatever the decoder could reduce: 200 MP is refused."""
    with pytest.raises(PhotoRefused) as refused:
        intake.process(header_claiming(width, height), max_pixels=PHONE_MAX_PIXELS)
    assert refused.value.code == "too_many_pixels"


def test_the_cap_still_holds_for_what_cannot_be_reduced():
    """A PNG is decoded whole, so its header's pixels count against the cap."""
    with pytest.raises(PhotoRefused) as refused:
        open_photo(encoded(Image.new("RGB", (200, 100)), "PNG"), max_pixels=10_000,
                   min_size=(50, 50))
    assert refused.value.code == "too_many_pixels"


# --- a missing end marker ---------------------------------------------------------------------

@pytest.mark.parametrize("progressive", [False, True])
def test_a_jpeg_missing_only_its_end_marker_is_read_whole(progressive):
    """Every row is there: the photo is read as if the 2 bytes were."""
    data = encoded(skin_photo(), "JPEG", quality=90, progressive=progressive)
    assert data.endswith(b"\xff\xd9")
    whole = np.asarray(open_photo(data))
    assert np.array_equal(np.asarray(open_photo(data[:-2])), whole)
    assert intake.process(data[:-2], max_pixels=PHONE_MAX_PIXELS).reading.ok


@pytest.mark.parametrize("kept", [0.5, 0.9])
def test_a_cut_off_jpeg_is_still_refused(kept):
    """A file that stops before its last rows is refused: putting the marker back shows the gap."""
    data = encoded(skin_photo(), "JPEG", quality=90)
    with pytest.raises(PhotoRefused) as refused:
        open_photo(data[:int(len(data) * kept)])
    assert refused.value.code == "truncated"


# --- colour profiles, judged by what they do --------------------------------------------------

def s15(value: float) -> bytes:
    """Encode an ICC s15Fixed16Number."""
    return struct.pack(">i", round(value * 65536))


def rgb_profile(name: str, primaries, white=(0.3127, 0.3290)) -> bytes:
    """Return an ICC v2 matrix/TRC RGB profile with the sRGB tone curve and the given name."""
    def xyz(x, y):
        return np.array([x / y, 1.0, (1 - x - y) / y])
    columns = np.stack([xyz(*p) for p in primaries], axis=1)
    scale = np.linalg.solve(columns, xyz(*white))
    to_xyz = columns * scale
    # adapted to the profile connection space's D50 white (Bradford), as ICC requires
    bradford = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367],
                         [0.0389, -0.0685, 1.0296]])
    d50 = np.array([0.9642, 1.0, 0.8249])
    gain = (bradford @ d50) / (bradford @ xyz(*white))
    adapted = np.linalg.inv(bradford) @ np.diag(gain) @ bradford @ to_xyz
    levels = np.linspace(0, 1, 1024)
    curve = np.where(levels <= 0.04045, levels / 12.92, ((levels + 0.055) / 1.055) ** 2.4)
    curv = b"curv\0\0\0\0" + struct.pack(">I", len(curve)) + b"".join(
        struct.pack(">H", round(v * 65535)) for v in curve)
    text = name.encode("ascii") + b"\0"
    desc = (b"desc\0\0\0\0" + struct.pack(">I", len(text)) + text + b"\0" * 12
            + b"\0" * 67)
    tags = [(b"desc", desc), (b"wtpt", b"XYZ \0\0\0\0" + b"".join(s15(v) for v in d50)),
            (b"cprt", b"text\0\0\0\0no copyright\0")]
    for tag, column in zip((b"rXYZ", b"gXYZ", b"bXYZ"), adapted.T):
        tags.append((tag, b"XYZ \0\0\0\0" + b"".join(s15(v) for v in column)))
    tags += [(b"rTRC", curv), (b"gTRC", curv), (b"bTRC", curv)]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for tag, data in tags:
        data += b"\0" * (-len(data) % 4)
        table += tag + struct.pack(">II", offset + len(body), len(data))
        body += data
    size = offset + len(body)
    header = (struct.pack(">I", size) + b"lcms" + bytes([2, 0x10, 0, 0]) + b"mntrRGB XYZ "
              + struct.pack(">6H", 2026, 1, 1, 0, 0, 0) + b"acsp" + b"APPL" + b"\0" * 4
              + b"\0" * 4 + b"\0" * 4 + b"\0" * 8 + b"\0" * 4 + b"".join(s15(v) for v in d50)
              + b"\0" * 4)
    header += b"\0" * (128 - len(header))
    return header + struct.pack(">I", len(tags)) + table + body


P3 = ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060))
SRGB = ((0.640, 0.330), (0.300, 0.600), (0.150, 0.060))


def profiled(icc: bytes, fmt="JPEG") -> bytes:
    """Return a flat skin-coloured picture carrying the profile."""
    return encoded(Image.new("RGB", (64, 48), SKIN), fmt, icc_profile=icc, quality=95)


def test_a_display_p3_profile_named_srgb_is_converted():
    """The name says sRGB, the primaries are P3's: the skin is converted, as lcms would."""
    icc = rgb_profile("sRGB IEC61966-2.1", P3)
    name = ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc)))
    assert name.startswith("sRGB")
    opened = open_photo(profiled(icc)).getpixel((32, 24))
    expected = ImageCms.profileToProfile(
        Image.new("RGB", (1, 1), SKIN), ImageCms.ImageCmsProfile(io.BytesIO(icc)),
        ImageCms.createProfile("sRGB"), outputMode="RGB").getpixel((0, 0))
    assert max(abs(a - b) for a, b in zip(opened, expected)) <= 2
    # P3's wider red makes the same numbers a redder skin in sRGB
    assert opened[0] - SKIN[0] >= 8


@pytest.mark.parametrize("name", ["Display P3", "Camera RGB", ""])
def test_an_srgb_profile_under_another_name_is_left_as_it_is(name):
    """sRGB primaries and curve under any name: the pixels are already sRGB."""
    opened = open_photo(profiled(rgb_profile(name, SRGB))).getpixel((32, 24))
    assert max(abs(a - b) for a, b in zip(opened, SKIN)) <= 2


# --- orientation in every container, and the other modes a phone or an app writes -------------

@pytest.mark.parametrize("fmt", ["PNG", "WEBP", "HEIF"])
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_in_every_container(fmt, orientation):
    """Stored sideways with its EXIF orientation, each format opens upright."""
    upright = halves()
    stored = upright.transpose({2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
                                4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
                                6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
                                8: Image.Transpose.ROTATE_270}[orientation]) \
        if orientation > 1 else upright
    exif = Image.Exif()
    exif[0x0112] = orientation
    opened = open_photo(encoded(stored, fmt, exif=exif.tobytes(), quality=95))
    assert opened.size == (400, 300)
    top, bottom = opened.getpixel((200, 40)), opened.getpixel((200, 260))
    assert top[0] > 150 > top[2] and bottom[2] > 150 > bottom[0]


def png16(pixels: np.ndarray, colour_type: int) -> bytes:
    """Return a 16-bit PNG (colour type 0: grey, 2: RGB) of big-endian samples."""
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))
    height, width = pixels.shape[:2]
    rows = b"".join(b"\0" + pixels[y].astype(">u2").tobytes() for y in range(height))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_a_16_bit_grey_png_keeps_its_tones():
    """A 16-bit grey PNG is scaled to 8 bits, not clipped to white."""
    grey = np.full((30, 40), 0x8000, np.uint16)
    grey[:, 20:] = 0x2000
    opened = open_photo(png16(grey, 0))
    assert opened.mode == "RGB"
    assert opened.getpixel((5, 5)) == (128, 128, 128) and opened.getpixel((30, 5)) == (32, 32, 32)


def test_a_16_bit_rgb_png_keeps_its_colours():
    """A 16-bit RGB PNG opens with its colours."""
    pixels = np.zeros((30, 40, 3), np.uint16)
    pixels[...] = (0xC400, 0x8C00, 0x7000)
    assert open_photo(png16(pixels, 2)).getpixel((5, 5)) == SKIN


@pytest.mark.parametrize(("mode", "fmt"), [("CMYK", "JPEG"), ("L", "JPEG"), ("LA", "PNG"),
                                           ("P", "PNG"), ("RGBA", "WEBP"), ("RGB", "HEIF")])
def test_other_modes_open_as_rgb_with_their_colours(mode, fmt):
    """CMYK and grey JPEGs, grey-with-alpha, palette, RGBA WebP and HEIC open as plain RGB."""
    picture = halves()
    expected_top = (200, 100, 50)
    if mode in ("L", "LA"):
        expected_top = (picture.convert("L").getpixel((0, 0)),) * 3
    # a palette of its own colours, as an app would save it (the web palette would dither)
    converted = picture.quantize(16) if mode == "P" else picture.convert(mode)
    opened = open_photo(encoded(converted, fmt, quality=95))
    assert opened.mode == "RGB" and opened.size == (400, 300)
    tolerance = 6
    assert max(abs(a - b) for a, b in zip(opened.getpixel((200, 40)), expected_top)) <= tolerance


def test_an_mpo_is_decoded_at_a_reduced_scale_like_any_jpeg():
    """A phone JPEG with a second picture (MPO: Ultra HDR, depth) is reduced like a JPEG."""
    data = encoded(halves(1200, 1600), "MPO", save_all=True,
                   append_images=[halves(300, 400)], quality=90)
    assert Image.open(io.BytesIO(data)).format == "MPO"
    assert open_photo(data, min_size=(300, 300)).size == (400, 300)
