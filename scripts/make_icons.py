"""Draw Cupmark's app icons (192, 512 and a maskable 512) into static/icons/.

The artwork is this script, not a binary in git: a round cupping mark fading in three rings on
the theme colour. `make` runs it like it fills static/vendor, so a changed design is a diff
you can read, and every checkout draws the same pixels.

    python scripts/make_icons.py [OUTPUT_DIR]
"""
import sys
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
THEME = (11, 79, 108)        # the manifest's theme_color, #0b4f6c
MARK = (183, 65, 76)         # a fresh mark's red-violet
SKIN = (241, 214, 196)       # light skin behind the mark
# (file name, size, maskable): a maskable icon keeps its motif in the inner 80 % safe zone
# the 32 px one is the pages' favicon: a browser fetches it for every new visitor, and the
# 192 px one weighs 16 KB, a quarter of a whole page's other files
ICONS = (("icon-32.png", 32, False), ("icon-192.png", 192, False), ("icon-512.png", 512, False),
         ("icon-maskable-512.png", 512, True))
SUPERSAMPLE = 4  # drawn large and scaled down: smooth edges without an anti-aliasing library


def draw_icon(size: int, maskable: bool) -> Image.Image:
    """Return one icon: a skin disc with a mark fading outwards, on the theme colour."""
    big = size * SUPERSAMPLE
    image = Image.new("RGB", (big, big), THEME)
    draw = ImageDraw.Draw(image)
    if not maskable:
        # a plain icon gets rounded corners of its own; a maskable one is cut by the launcher
        image = Image.new("RGBA", (big, big), (0, 0, 0, 0))
        draw = ImageDraw.Draw(image)
        draw.rounded_rectangle((0, 0, big - 1, big - 1), radius=big // 5, fill=THEME)
    centre = big / 2
    skin_radius = big * (0.30 if maskable else 0.38)
    draw.ellipse((centre - skin_radius, centre - skin_radius,
                  centre + skin_radius, centre + skin_radius), fill=SKIN)
    # three rings from a strong centre to a faint edge: the fading the app follows
    for fraction, strength in ((0.78, 0.35), (0.62, 0.65), (0.45, 1.0)):
        radius = skin_radius * fraction
        colour = tuple(round(s + (m - s) * strength) for s, m in zip(SKIN, MARK))
        draw.ellipse((centre - radius, centre - radius, centre + radius, centre + radius),
                     fill=colour)
    return image.resize((size, size), Image.Resampling.LANCZOS)


def main(out_dir: Path) -> None:
    """Write every icon into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, size, maskable in ICONS:
        draw_icon(size, maskable).save(out_dir / name, optimize=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "static" / "icons")
