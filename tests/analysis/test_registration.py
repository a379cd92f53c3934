"""Registration: followed marks carried from the last confirmed photo to a new photo."""

import math
import time

import numpy as np
import pytest
from PIL import Image

from tests.scene_pairs import make_scene, photograph, rephotographed
from webapp.analysis.registration import Registration, carry_points, register

CASES = 40


def moved_case(seed: int):
    """One acceptance case: shifted 10% in some direction, rotated ±10°, scaled 1.15 or 0.87, re-lit."""
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, 2 * math.pi)
    shift = (0.1 * math.cos(angle), 0.1 * math.sin(angle))
    rotate = float(rng.choice([-10.0, 10.0]))
    scale = float(rng.choice([1.15, 0.87]))
    scene = make_scene(seed)
    reference, marks = photograph(scene, seed=1000 + seed)
    photo, moved = rephotographed(scene, shift=shift, rotate_deg=rotate, scale=scale, seed=2000 + seed)
    return reference, marks, photo, moved


def error_in_short_sides(got, want, size) -> float:
    """Distance between two fraction points in units of the photo's short side."""
    width, height = size
    return math.hypot((got[0] - want[0]) * width, (got[1] - want[1]) * height) / min(width, height)


def test_marks_are_carried_within_half_their_radius_in_95_percent_of_cases():
    carried_well = total = 0
    for seed in range(CASES):
        reference, marks, photo, moved = moved_case(seed)
        carried, registration = carry_points(reference, photo, [m.centre for m in marks])
        assert registration.ok, (seed, registration)
        for got, truth in zip(carried, moved):
            total += 1
            carried_well += error_in_short_sides(got, truth.centre, photo.size) <= truth.radius / 2
    assert carried_well / total >= 0.95, f"{carried_well}/{total} marks within half their radius"


def test_the_same_photo_carries_points_to_themselves():
    reference, marks, _, _ = moved_case(3)
    points = [m.centre for m in marks] + [(0.1, 0.1), (0.9, 0.85)]
    carried, registration = carry_points(reference, reference, points)
    assert registration.ok
    assert np.abs(np.subtract(carried, points)).max() <= 0.01


@pytest.mark.parametrize("seed", [0, 7, 21])
def test_an_unrelated_photo_keeps_the_same_fractions(seed):
    reference, marks, _, _ = moved_case(seed)
    other, _ = photograph(make_scene(seed + 500), seed=seed)
    points = [m.centre for m in marks]
    carried, registration = carry_points(reference, other, points)
    assert not registration.ok
    assert registration.homography is None
    assert carried == [tuple(p) for p in points]


def test_a_flat_grey_photo_keeps_the_same_fractions():
    reference, marks, _, _ = moved_case(1)
    flat = Image.new("RGB", reference.size, (128, 128, 128))
    points = [m.centre for m in marks]
    for pair in ((reference, flat), (flat, reference), (flat, flat)):
        carried, registration = carry_points(*pair, points)
        assert registration == Registration(ok=False, homography=None, inliers=0, matches=0)
        assert carried == [tuple(p) for p in points]


def test_carried_points_stay_inside_the_photo():
    reference, _, photo, _ = moved_case(2)
    points = [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0), (0.5, 0.5)]
    carried, registration = carry_points(reference, photo, points)
    assert registration.ok
    assert all(0.0 <= v <= 1.0 for point in carried for v in point)
    # a 10% shift with rotation and scale moves at least one corner out of the frame
    assert any(v in (0.0, 1.0) for point in carried[:4] for v in point)


def test_the_homography_maps_reference_fractions_to_new_fractions():
    reference, marks, photo, moved = moved_case(4)
    registration = register(reference, photo)
    assert registration.ok and registration.inliers >= 20 and registration.matches >= registration.inliers
    matrix = np.asarray(registration.homography)
    assert matrix.shape == (3, 3)
    x, y, w = matrix @ np.array([*marks[0].centre, 1.0])
    assert error_in_short_sides((x / w, y / w), moved[0].centre, photo.size) <= moved[0].radius / 2


def test_no_points_carry_to_no_points():
    reference, _, photo, _ = moved_case(5)
    carried, _ = carry_points(reference, photo, [])
    assert carried == []


@pytest.mark.parametrize("points", [[(0.5,)], [(0.5, float("nan"))], [(0.1, 0.2, 0.3)], [0.5, 0.5]])
def test_points_that_are_not_pairs_are_refused(points):
    with pytest.raises(ValueError):
        Registration(ok=False, homography=None, inliers=0, matches=0).apply(points)


def test_registration_time_is_printed(capsys):
    reference, _, photo, _ = moved_case(6)
    large = [image.resize((4000, 3000), Image.Resampling.BICUBIC) for image in (reference, photo)]
    working = [image.resize((640, 480), Image.Resampling.BILINEAR) for image in (reference, photo)]
    timings = {}
    for name, pair in (("12 MP pair, reduced inside", large), ("640x480 pair", working)):
        register(*pair)  # warm up
        best = math.inf
        for _ in range(5):
            start = time.perf_counter()
            register(*pair)
            best = min(best, time.perf_counter() - start)
        timings[name] = best
    with capsys.disabled():
        print("\nregister() best of 5: " + ", ".join(f"{k} {v * 1000:.1f} ms" for k, v in timings.items()))
