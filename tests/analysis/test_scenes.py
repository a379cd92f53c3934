"""Tests of the realistic scene generator: its truths must be what it painted."""

import time

import numpy as np
import pytest
from scipy import ndimage

from webapp.analysis import colour
from webapp.analysis.scenes import (BACKGROUNDS, FAINT_DELTA_E, FRESH_DELTA_E, KINDS, LATE_COLOURS,
                                    STYLES, SURFACE_WALLS, TURNING_DELTA_E, SceneLighting, make_scene,
                                    random_lighting, scene_suite, surface_scene, transformed)
from webapp.analysis.body import wedge_mask

# captured as painted: neutral light, no shading ramp, no sensor noise
NEUTRAL = SceneLighting(shading=0.0, noise=0.0)


def lab_of(scene):
    """Return the scene's image as CIELAB (H, W, 3)."""
    return colour.srgb8_to_lab(np.asarray(scene.image))


def isolated(scene):
    """Yield (index, mark) of marks whose cores stay well clear of every other mark's core."""
    for index, mark in enumerate(scene.marks):
        reach = max(int(0.5 * mark.radius * min(scene.body.shape)), 2)
        near = ndimage.binary_dilation(mark.core, iterations=reach)
        if not any((near & other.core).any() for j, other in enumerate(scene.marks) if j != index):
            yield index, mark


def test_same_seed_gives_the_same_pixels_and_truth():
    first, second = make_scene(11), make_scene(11)
    assert np.array_equal(np.asarray(first.image), np.asarray(second.image))
    assert [m.delta_lab for m in first.marks] == [m.delta_lab for m in second.marks]
    assert np.array_equal(first.body, second.body)


def test_lighting_changes_the_capture_not_the_scene():
    dim = make_scene(12, lighting=SceneLighting(red_gain=1.15, blue_gain=0.85, exposure_ev=-1.0))
    bright = make_scene(12, lighting=SceneLighting(exposure_ev=0.5, shading=0.0))
    assert not np.array_equal(np.asarray(dim.image), np.asarray(bright.image))
    assert np.array_equal(dim.body, bright.body)
    assert dim.distractors == bright.distractors
    assert len(dim.marks) == len(bright.marks)
    for a, b in zip(dim.marks, bright.marks):
        assert (a.delta_e, a.centre, a.style) == (b.delta_e, b.centre, b.style)
        assert np.array_equal(a.core, b.core)


def test_a_cast_shadow_lowers_the_light_and_keeps_the_chromaticity():
    plain = make_scene(4, kind="back", lighting=SceneLighting(shading=0.0, noise=0.0))
    shaded = make_scene(4, kind="back", lighting=SceneLighting(shading=0.0, noise=0.0, shadow=0.75, shadow_from=0.0,
                                                               shading_angle=90.0))
    lit, dark = (colour.srgb_to_linear(np.asarray(s.image, dtype=np.float64) / 255) for s in (plain, shaded))
    height = lit.shape[0]
    # above the penumbra the light is the same, below it a quarter of it, in every channel
    assert np.allclose(lit[: int(0.4 * height)], dark[: int(0.4 * height)], atol=0.004)
    below = slice(int(0.6 * height), height)
    bright = lit[below].sum(axis=2) > 0.3
    ratio = dark[below][bright] / lit[below][bright]
    assert np.allclose(ratio, 0.25, atol=0.02)


def test_random_lighting_stays_in_its_ranges():
    rng = np.random.default_rng(0)
    for _ in range(200):
        light = random_lighting(rng)
        assert 0.85 <= light.red_gain <= 1.15 and 0.85 <= light.blue_gain <= 1.15
        assert -1.0 <= light.exposure_ev <= 0.5 and 1.5 <= light.noise <= 2.5


@pytest.mark.parametrize("seed", range(12))
def test_painted_marks_measure_as_their_truth(seed):
    # the image minus the same scene painted without marks, over each core, is the truth
    scene = make_scene(seed, lighting=NEUTRAL, mixed=None)
    bare = make_scene(seed, lighting=NEUTRAL, bare=True)
    assert bare.marks == [] and np.array_equal(bare.body, scene.body)
    marked, skin = lab_of(scene), lab_of(bare)
    for _, mark in isolated(scene):
        delta = (marked[mark.core] - skin[mark.core]).mean(axis=0)
        measured = colour.ciede2000(np.array(scene.skin_lab), np.array(scene.skin_lab) + delta)
        assert measured == pytest.approx(mark.delta_e, abs=0.6), (mark.style, mark.touches)


def test_marks_on_even_skin_measure_against_nearby_skin_as_their_truth():
    # what an engine does: the core's mean against body pixels around it, outside all marks;
    # where the skin there is even (the spine, a blade or the outline's shading are not near)
    checked = 0
    for seed in range(30, 42):
        scene = make_scene(seed, kind="back", lighting=NEUTRAL)
        lab, skin = lab_of(scene), lab_of(make_scene(seed, kind="back", lighting=NEUTRAL, bare=True))
        short = min(scene.body.shape)
        near_marks = np.zeros_like(scene.body)
        for mark in scene.marks:
            near_marks |= ndimage.binary_dilation(mark.core, iterations=int(0.3 * mark.radius * short) + 3)
        for _, mark in isolated(scene):
            ring = ndimage.binary_dilation(mark.core, iterations=int(0.8 * mark.radius * short) + 6)
            ring &= scene.body & ~near_marks
            if ring.sum() < 200:
                continue
            unevenness = skin[mark.core].mean(axis=0) - np.median(skin[ring], axis=0)
            if np.abs(unevenness).max() > 0.3:
                continue
            delta = lab[mark.core].mean(axis=0) - np.median(lab[ring], axis=0)
            measured = colour.ciede2000(np.array(scene.skin_lab), np.array(scene.skin_lab) + delta)
            assert measured == pytest.approx(mark.delta_e, abs=0.6), (seed, mark.style, mark.touches)
            checked += 1
    assert checked >= 5


def test_on_mark_hits_every_centre_and_misses_the_background():
    for scene in scene_suite(12, seed=3):
        for index, mark in enumerate(scene.marks):
            assert scene.on_mark(*mark.centre) == index
        outside = np.argwhere(~scene.body)
        if len(outside):
            row, col = outside[len(outside) // 2]
            h, w = scene.body.shape
            assert scene.on_mark((col + 0.5) / w, (row + 0.5) / h) is None


@pytest.mark.parametrize("seed", range(8))
def test_a_closeup_mark_fills_the_frame_and_touches_its_edges(seed):
    scene = make_scene(seed, kind="closeup", lighting=NEUTRAL)
    (mark,) = scene.marks
    assert mark.touches == "frame"
    assert 0.45 <= mark.core.mean() <= 0.9
    edges = mark.core[0].any() + mark.core[-1].any() + mark.core[:, 0].any() + mark.core[:, -1].any()
    assert 1 <= edges <= 4
    assert scene.body.all()


@pytest.mark.parametrize("kind", ["back", "torso"])
def test_clean_scenes_keep_their_distractors(kind):
    scene = make_scene(21, kind=kind, marks=0)
    assert scene.marks == []
    names = {name for name, _ in scene.distractors}
    assert ("spine" if kind == "back" else "navel") in names
    assert 0.2 < scene.body.mean() < 1.0


def test_mark_strengths_respect_their_stage_ranges():
    for seed in range(6):
        for mark in make_scene(seed, marks=10, mixed=False).marks:
            low, high = FRESH_DELTA_E if mark.stage == "fresh" else TURNING_DELTA_E
            assert low - 0.01 <= mark.delta_e <= high + 0.01
        for mark in make_scene(seed, marks=6, faint=True, mixed=False).marks:
            assert FAINT_DELTA_E[0] - 0.01 <= mark.delta_e <= FAINT_DELTA_E[1] + 0.01
            assert mark.colour in LATE_COLOURS and mark.stage == "faint"


def test_mixed_marks_are_named_by_their_breakdown_part():
    marks = [m for seed in range(6) for m in make_scene(seed, kind="back", marks=6, mixed=True).marks]
    assert all(m.style == "mixed" for m in marks)
    named_late = [m for m in marks if m.colour in colour.BREAKDOWN_COLOURS]
    # the yellow part covers 25-50% of each core; only frame or outline cuts can shrink it below 20%
    assert len(named_late) >= 0.8 * len(marks)
    for mark in marks:
        assert mark.stage == colour.stage_for(mark.delta_e, mark.colour)


def test_warm_floors_and_carpets_are_skin_hued_but_not_skin_light():
    checked = 0
    for seed in range(40):
        scene = make_scene(seed, marks=0, lighting=NEUTRAL)
        if scene.background not in ("floor", "carpet"):
            continue
        lab = lab_of(scene)
        ground = ~scene.body
        ground[int(0.75 * ground.shape[0]) :] = False  # above any clothing band
        if ground.sum() < 2000:
            continue
        lightness, a, b = np.median(lab[ground], axis=0)
        assert 25 <= np.degrees(np.arctan2(b, a)) <= 75
        assert abs(lightness - scene.skin_lab[0]) >= 10
        checked += 1
    assert checked >= 5


def test_surface_scenes_have_no_body_and_skin_coloured_walls_and_mats():
    walls = set()
    for seed in range(6):
        for cups in (0, 4):
            scene = surface_scene(seed, cups=cups, lighting=NEUTRAL)
            assert scene.kind == "surface" and not scene.body.any() and scene.marks == []
            assert len(scene.cups) == 0 if cups == 0 else len(scene.cups) >= 3
            lab = lab_of(scene)
            height = lab.shape[0]
            # the wall above and the mat below are skin-coloured (in the body finder's wedge), the
            # cloth between them is not
            bands = (lab[: int(0.1 * height)], lab[int(0.9 * height):], lab[int(0.4 * height): int(0.6 * height)])
            medians = np.array([np.median(band.reshape(-1, 3), axis=0) for band in bands], dtype=np.float32)
            assert wedge_mask(medians.T[:, None, :])[0].tolist() == [True, True, False], medians
            walls.add(scene.background)
    assert walls == set(SURFACE_WALLS)
    with pytest.raises(ValueError):
        surface_scene(0, wall="marble")


def test_scene_suite_covers_kinds_styles_skins_and_backgrounds():
    suite = scene_suite(40, seed=1, clean_fraction=0.1, size=(400, 300))
    assert {s.kind for s in suite} == set(KINDS)
    assert {m.style for s in suite for m in s.marks} == set(STYLES)
    assert {s.background for s in suite} >= set(BACKGROUNDS)
    categories = {colour.ita_category(colour.ita_degrees(s.skin_lab)) for s in suite}
    assert categories == {"very light", "light", "intermediate", "tan", "brown", "dark"}
    assert sum(not s.marks for s in suite) >= 4
    assert {m.touches for s in suite for m in s.marks} == {None, "frame", "outline"}
    first, again = scene_suite(3, seed=1, size=(400, 300)), scene_suite(3, seed=1, size=(400, 300))
    assert all(np.array_equal(np.asarray(a.image), np.asarray(b.image)) for a, b in zip(first, again))


def test_transformed_without_a_move_is_the_same_photo():
    scene = make_scene(5)
    again = transformed(scene)
    assert np.array_equal(np.asarray(scene.image), np.asarray(again.image))
    assert [m.delta_e for m in again.marks] == pytest.approx([m.delta_e for m in scene.marks])


@pytest.mark.parametrize("seed", [2, 6, 9])
def test_transformed_moves_marks_where_the_similarity_says(seed):
    scene = make_scene(seed, kind="back", marks=8, lighting=NEUTRAL)
    width, height = scene.image.size
    shift, angle, scale = (0.04, -0.03), 6.0, 1.05
    moved = transformed(scene, shift=shift, rotate_deg=angle, scale=scale, lighting=SceneLighting(red_gain=1.1))
    theta = np.radians(angle)
    turn = scale * np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]])
    centre = np.array([width / 2, height / 2])

    def moved_point(p):
        return turn @ (np.asarray(p) - centre) + centre + np.array(shift) * (width, height)

    def centroid(core):
        rows, cols = np.nonzero(core)
        return np.array([cols.mean() + 0.5, rows.mean() + 0.5])

    before = {m.number: m for m in scene.marks}
    followed = 0
    for mark in moved.marks:
        earlier = before[mark.number]
        expected = moved_point(np.array(earlier.centre) * (width, height))
        assert np.allclose(np.array(mark.centre) * (width, height), expected, atol=1e-6)
        if earlier.touches is None and mark.touches is None:
            assert np.hypot(*(centroid(mark.core) - moved_point(centroid(earlier.core)))) <= 1.0
            assert mark.delta_e == pytest.approx(earlier.delta_e, abs=0.3)
            followed += 1
    assert followed >= 1
    # the body moved with its marks: away from edges, the moved outline is the old one moved
    rows, cols = np.mgrid[60:height - 60:7, 60:width - 60:7]
    points = np.stack([cols + 0.5, rows + 0.5], axis=-1) @ np.linalg.inv(turn).T
    back = points - (centre + np.array(shift) * (width, height)) @ np.linalg.inv(turn).T + centre
    inside = (back[..., 0] >= 0) & (back[..., 0] < width) & (back[..., 1] >= 0) & (back[..., 1] < height)
    was = scene.body[back[..., 1][inside].astype(int), back[..., 0][inside].astype(int)]
    assert np.mean(was == moved.body[rows[inside], cols[inside]]) > 0.98


def test_render_time(capsys):
    start = time.perf_counter()
    for seed in range(10):
        make_scene(seed)
    with capsys.disabled():
        print(f"\n800x600 scene: {(time.perf_counter() - start) / 10 * 1000:.0f} ms")


def test_a_bounce_band_darkens_and_reddens_the_skin_along_the_outline_only():
    plain = make_scene(5, kind="back", lighting=NEUTRAL)
    bounced = make_scene(5, kind="back", lighting=NEUTRAL, bounce=True)
    before, after = lab_of(plain), lab_of(bounced)
    body = plain.body
    inner = ndimage.distance_transform_edt(body)
    edge = body & (inner <= 0.01 * min(body.shape))
    middle = body & (inner >= 0.3 * min(body.shape))
    change = after - before
    # at the outline L* falls and a* rises by several units; far inside hardly anything changes
    assert np.median(change[edge][:, 0]) < -4 and np.median(change[edge][:, 1]) > 3
    assert np.median(np.abs(change[middle]), axis=0).max() < 0.5
    assert [m.delta_lab for m in plain.marks] == [m.delta_lab for m in bounced.marks]
