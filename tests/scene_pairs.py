"""A small test-side painter of a back photographed on two days, for the registration tests.

Stand-in until ``webapp.analysis.scenes`` lands on this branch: then ``make_scene`` and
``rephotographed`` here are swapped for ``scenes.make_scene`` and ``scenes.transformed``.

A scene is painted once on a "world" canvas larger than the photo: a warm, lightly mottled wall,
a torso with a soft outline (darker where the body turns away), low-contrast skin mottling and
grain, a few moles, some short hairs, and soft round marks on a separate layer. A photo is a
similarity view of that world (``cv2.warpAffine``), lit in linear RGB (channel gains, exposure)
with its own sensor noise, so the content around a moved frame is real scene, not padding.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

PHOTO_SIZE = (960, 720)  # width, height of one photo in pixels
WORLD_SCALE = 1.7  # the world canvas is this many photos wide and high: room for any view


@dataclass(frozen=True)
class Mark:
    """Where one mark is in a photo: centre (x, y fractions) and radius (fraction of short side)."""

    centre: tuple[float, float]
    radius: float


@dataclass(frozen=True)
class Scene:
    """The painted world (linear RGB, marks apart) and how the reference photo sees it."""

    base: np.ndarray  # (H, W, 3) float32 linear RGB without marks
    mark_layer: np.ndarray  # (H, W, 3) float32 multiplicative darkening, 0 = none
    world_marks: tuple[tuple[float, float, float], ...]  # (x, y, radius) in world pixels
    view: np.ndarray  # 2x3 affine, world pixels -> photo pixels


def _smooth(rng, shape, sigma, amplitude):
    """Gaussian-filtered noise scaled to a standard deviation of ``amplitude``."""
    step = max(1, int(sigma // 4))  # broad noise is drawn small and enlarged: same look, less work
    small = rng.standard_normal((shape[0] // step + 1, shape[1] // step + 1)).astype(np.float32)
    noise = cv2.GaussianBlur(small, (0, 0), sigma / step)
    noise = cv2.resize(noise, (shape[1] // step * step + step, shape[0] // step * step + step))[: shape[0], : shape[1]]
    return noise / max(float(noise.std()), 1e-9) * amplitude


def _window(x, y, reach, shape):
    """The slices of a square around (x, y) and the pixel coordinates inside it."""
    top, left = max(int(y - reach), 0), max(int(x - reach), 0)
    window = (slice(top, min(int(y + reach) + 2, shape[0])), slice(left, min(int(x + reach) + 2, shape[1])))
    return window, np.mgrid[window].astype(np.float32)


def make_scene(seed: int, marks: int = 4) -> Scene:
    """Paint one back on a wall with ``marks`` soft round marks near the middle of the photo."""
    rng = np.random.default_rng(seed)
    width, height = PHOTO_SIZE
    world_w, world_h = int(width * WORLD_SCALE), int(height * WORLD_SCALE)
    ys, xs = np.mgrid[0:world_h, 0:world_w].astype(np.float32)
    cx, cy = world_w / 2, world_h / 2

    wall = np.array([0.62, 0.50, 0.36]) * rng.uniform(0.7, 1.1)
    wall_img = wall * (1 + _smooth(rng, (world_h, world_w), 40, 0.04))[..., None]
    skin = np.array([0.78, 0.55, 0.42]) * rng.uniform(0.55, 1.05)
    skin_img = skin * (1 + _smooth(rng, (world_h, world_w), 25, 0.05))[..., None]
    skin_img *= (1 + _smooth(rng, (world_h, world_w), 1.0, 0.02))[..., None]

    # torso: half width grows from the neck to the shoulders and narrows to the waist
    top = cy - height * rng.uniform(0.42, 0.5)
    depth = np.clip((ys - top) / height, 0, None)
    half = width * (0.08 + 0.32 * np.tanh(depth * 9) - 0.05 * np.clip(depth - 0.5, 0, None))
    half *= 1 + 0.03 * np.sin(ys / rng.uniform(60, 90))
    across = np.abs(xs - cx - width * rng.uniform(-0.04, 0.04)) / np.maximum(half, 1)
    body = np.clip((1 - across) * half / 3 + 0.5, 0, 1) * (ys > top)
    turn = 1 - 0.45 * np.clip(across, 0, 1) ** 4  # the body turning away from the light
    base = wall_img * (1 - body[..., None]) + (skin_img * turn[..., None]) * body[..., None]

    for _ in range(int(rng.integers(8, 16))):  # moles: small dark brown dots on the body
        x, y = cx + rng.uniform(-0.35, 0.35) * width, cy + rng.uniform(-0.3, 0.45) * height
        r = rng.uniform(2.0, 5.0)
        window, (wy, wx) = _window(x, y, 4 * r, base.shape)
        dot = np.exp(-((wx - x) ** 2 + (wy - y) ** 2) / (2 * r * r)) * body[window]
        base[window] *= 1 - dot[..., None] * np.array([0.55, 0.62, 0.65])
    hair = np.zeros((world_h, world_w), np.float32)
    for _ in range(int(rng.integers(30, 70))):  # short fine hairs, mostly near the spine
        x = cx + rng.normal(0, 0.12) * width
        y = cy + rng.uniform(-0.4, 0.5) * height
        angle, length = rng.uniform(0, np.pi), rng.uniform(6, 16)
        end = (int(x + length * np.cos(angle)), int(y + length * np.sin(angle)))
        cv2.line(hair, (int(x), int(y)), end, float(rng.uniform(0.15, 0.35)), 1, cv2.LINE_AA)
    base *= (1 - (hair * body)[..., None])

    mark_layer = np.zeros_like(base, dtype=np.float32)
    world_marks = []
    offset = np.array([(world_w - width) / 2, (world_h - height) / 2])
    for _ in range(marks * 50):
        if len(world_marks) == marks:
            break
        x = offset[0] + rng.uniform(0.3, 0.7) * width
        y = offset[1] + rng.uniform(0.3, 0.72) * height
        r = rng.uniform(0.05, 0.08) * height
        if any(np.hypot(x - u, y - v) < (r + s) * 1.3 for u, v, s in world_marks):
            continue
        window, (wy, wx) = _window(x, y, r + 1, base.shape)
        t = np.clip((r - np.hypot(wx - x, wy - y)) / (0.35 * r), 0, 1)
        strength = rng.uniform(0.25, 0.5)
        mark_layer[window] += (t * t * (3 - 2 * t))[..., None] * strength * np.array([0.5, 0.9, 0.75])
        world_marks.append((float(x), float(y), float(r)))
    view = np.array([[1, 0, -offset[0]], [0, 1, -offset[1]]], dtype=np.float64)
    return Scene(base.astype(np.float32), mark_layer, tuple(world_marks), view)


def photograph(scene: Scene, view=None, fade=1.0, gains=(1.0, 1.0), ev=0.0, seed=0):
    """Render one photo of the scene: ``view`` (2x3, world -> photo), marks at ``fade`` strength.

    Returns the upright RGB image and its marks (centres as fractions, radii of the short side).
    """
    view = scene.view if view is None else view
    rng = np.random.default_rng(seed)
    width, height = PHOTO_SIZE
    linear = scene.base * (1 - np.clip(scene.mark_layer * fade, 0, 0.95))
    linear = cv2.warpAffine(linear, view, PHOTO_SIZE, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    linear = linear * np.array([gains[0], 1.0, gains[1]], dtype=np.float32) * 2.0**ev
    srgb = np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * np.abs(linear) ** (1 / 2.4) - 0.055)
    srgb = srgb * 255 + rng.standard_normal(srgb.shape) * 2.0
    image = Image.fromarray(np.clip(np.round(srgb), 0, 255).astype(np.uint8), "RGB")
    scale = float(np.hypot(view[0, 0], view[1, 0]))
    marks = []
    for x, y, r in scene.world_marks:
        px, py = view @ np.array([x, y, 1.0])
        marks.append(Mark((float(px / width), float(py / height)), r * scale / min(width, height)))
    return image, marks


def moved_view(scene: Scene, shift=(0.0, 0.0), rotate_deg=0.0, scale=1.0) -> np.ndarray:
    """The reference view followed by a similarity about the photo's centre, then a shift.

    ``shift`` is (dx, dy) in fractions of the photo's width and height; ``scale`` > 1 is closer.
    """
    width, height = PHOTO_SIZE
    move = cv2.getRotationMatrix2D((width / 2, height / 2), rotate_deg, scale)
    move[:, 2] += (shift[0] * width, shift[1] * height)
    return np.vstack([move, [0, 0, 1]])[:2] @ np.vstack([scene.view, [0, 0, 1]])


def rephotographed(scene: Scene, shift=(0.0, 0.0), rotate_deg=0.0, scale=1.0, seed=1):
    """The same back photographed the next day: moved, re-lit (gains ±10%, ±0.5 EV), marks fainter."""
    rng = np.random.default_rng(seed)
    gains = tuple(rng.choice([0.9, 1.1], size=2))
    ev = float(rng.choice([-0.5, 0.5]))
    view = moved_view(scene, shift, rotate_deg, scale)
    return photograph(scene, view, fade=0.7, gains=gains, ev=ev, seed=seed)
