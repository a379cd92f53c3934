"""The engine on realistic generated scenes (scenes.py): proposals, measurement at points, lighting.

Each test prints the issue's figure beside its goal, on 100 scenes (30 without marks). Where
this version meets a goal of issue 10 the assert is the goal itself; where it does not yet (the
ΔE00 error at the true centres) the assert holds the figure this version reaches, so that a change that makes the engine worse fails, and the printed line shows
how far the goal still is.
"""

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw
from scipy import ndimage

from webapp.analysis import analyze_photo, colour, scenes as sc
from webapp.analysis.analyze import in_light_of, survey
from webapp.analysis.synthetic import save_jpeg

SUITE_SIZE = 100
CLEAN_FRACTION = 0.3
# a truth this close to a stage boundary is left out of the stage figures: phone noise alone
# moves a reading by ΔE 2–4 (colour-evidence.md, "Photos")
BOUNDARY_SHARE = 0.15
HUE_BOUNDARY_DEG = 8.0
STAGE_HUE_BOUNDARIES = (35.0, 120.0, -160.0)


@pytest.fixture(scope="module")
def readings():
    """The suite's scenes with their JPEG bytes, the reading without points and at the true centres."""
    out = []
    for scene in sc.scene_suite(SUITE_SIZE, seed=11, clean_fraction=CLEAN_FRACTION):
        data = save_jpeg(scene.image, quality=90)
        proposed = analyze_photo(data)
        at_points = analyze_photo(data, at=[m.centre for m in scene.marks]) if scene.marks else None
        out.append((scene, proposed, at_points))
    return out


def _near_boundary(mark) -> bool:
    """True when a mark's truth lies close to a stage boundary (ΔE00 3 or 6, or a hue edge)."""
    if min(abs(mark.delta_e - 3.0), abs(mark.delta_e - 6.0)) < BOUNDARY_SHARE * max(mark.delta_e, 3.0):
        return True
    return min(abs((mark.hue_deg - b + 180) % 360 - 180) for b in STAGE_HUE_BOUNDARIES) < HUE_BOUNDARY_DEG


def _report(name, value, goal, floor):
    """Print a figure with its goal, and check it has not fallen below this version's floor."""
    print(f"\n{name}: {value:.1%} (issue goal {goal:.0%}, floor {floor:.0%})")
    assert value >= floor


def test_top_proposal_lies_on_a_true_mark(readings):
    hits = [
        bool(proposed.mark_details) and scene.on_mark(*proposed.mark_details[0]["centre"]) is not None
        for scene, proposed, _ in readings
        if scene.marks
    ]
    _report("top proposal on a true mark", float(np.mean(hits)), 0.90, 0.90)


def test_clean_scenes_with_distractors_read_no_mark(readings):
    clean = [not proposed.mark_found or proposed.stage == "resolved" for scene, proposed, _ in readings if not scene.marks]
    assert len(clean) >= 25
    _report("clean scenes without a mark", float(np.mean(clean)), 0.95, 0.95)


def test_stage_of_the_reading_away_from_boundaries(readings):
    right = []
    for scene, proposed, _ in readings:
        if not scene.marks or not proposed.mark_found:
            continue
        top = max(proposed.mark_details, key=lambda d: d["delta_e"])
        index = scene.on_mark(*top["centre"])
        if index is None:
            right.append(False)
        elif not _near_boundary(scene.marks[index]):
            right.append(top["stage"] == scene.marks[index].stage)
    _report("stage of the reading", float(np.mean(right)), 0.90, 0.90)


def test_measured_at_true_centres(readings):
    on, stage, errors = [], [], []
    for scene, _, at_points in readings:
        if at_points is None:
            continue
        assert len(at_points.mark_details) == len(scene.marks)
        for index, (mark, detail) in enumerate(zip(scene.marks, at_points.mark_details)):
            assert detail["point"] == pytest.approx(list(mark.centre), abs=1e-4)
            on.append(scene.on_mark(*detail["centre"]) == index)
            if not _near_boundary(mark):
                stage.append(detail["stage"] == mark.stage)
            errors.append(abs(detail["delta_e"] - mark.delta_e))
    errors = np.array(errors)
    print(f"\nat true centres: |ΔE00 error| median {np.median(errors):.2f} (goal ≤ 1.0), "
          f"p90 {np.percentile(errors, 90):.2f} (goal ≤ 2.5) over {len(errors)} marks")
    _report("measured on its mark", float(np.mean(on)), 0.95, 0.95)
    _report("stage at the true centre", float(np.mean(stage)), 0.93, 0.93)
    # the goals are a median of 1.0 and a p90 of 2.5; this version's figures (1.03, 3.09), held.
    # The light alone (true pixels on the true skin, in the photo's light) errs by 0.86/2.56 here
    # (measure.py's docstring): the p90 goal is out of reach without the photo's exposure
    assert np.median(errors) <= 1.04 and np.percentile(errors, 90) <= 3.1


def test_stage_stays_across_casts_and_exposures():
    rng = np.random.default_rng(3)
    same = []
    for seed in range(10):
        scene = sc.make_scene(seed, kind="back")
        if not scene.marks:
            continue
        stages = []
        for _ in range(4):
            shot = sc.make_scene(seed, kind="back", lighting=sc.random_lighting(rng))
            reading = analyze_photo(save_jpeg(shot.image), at=[m.centre for m in shot.marks])
            stages.append([d["stage"] for d in reading.mark_details])
        for column in zip(*stages):
            usual = max(set(column), key=column.count)
            same += [value == usual for value in column]
    _report("stage unchanged across lightings", float(np.mean(same)), 0.95, 0.95)


def test_clear_skin_point_reads_resolved_and_a_cut_mark_is_measured():
    scene = sc.make_scene(2, kind="back", lighting=sc.SceneLighting(noise=2.0))
    data = save_jpeg(scene.image)
    # a point on skin well away from every mark and from the outline reads resolved
    inside = ndimage.distance_transform_edt(scene.body) > 0.1 * min(scene.image.size)
    ys, xs = np.nonzero(inside & ~np.logical_or.reduce([m.core for m in scene.marks]))
    far = max(range(0, len(ys), 97), key=lambda i: min(
        np.hypot(xs[i] / scene.image.width - m.centre[0], ys[i] / scene.image.height - m.centre[1]) for m in scene.marks
    ))
    point = (xs[far] / scene.image.width, ys[far] / scene.image.height)
    detail = analyze_photo(data, at=[point]).mark_details[0]
    assert detail["stage"] == "resolved" and detail["delta_e"] < 3
    # a mark the frame's edge cuts is still segmented on itself at its point (its colour is not
    # yet right here: the floor beyond the outline next to it pulls it toward yellow)
    cut = [i for i, m in enumerate(scene.marks) if m.touches == "frame"]
    assert cut
    mark = scene.marks[cut[0]]
    detail = analyze_photo(data, at=[mark.centre]).mark_details[0]
    assert scene.on_mark(*detail["centre"]) == cut[0] and detail["delta_e"] >= 3


def test_a_mark_at_the_body_outline_is_measured_against_the_shaded_skin_under_it():
    # the skin darkens toward the outline and a mark there has skin on one side only: the ring's
    # median (the lit side) made such marks read too strong, and ΔE00 taken on the shaded skin
    # weighed them by where the body curves (2.4.0: median 1.49, p90 5.27 here)
    errors = []
    for seed in range(20):
        for kind in ("back", "torso"):
            scene = sc.make_scene(seed, kind=kind, lighting=sc.SceneLighting())
            at_outline = [m for m in scene.marks if m.touches == "outline"]
            if at_outline:
                reading = analyze_photo(save_jpeg(scene.image), at=[m.centre for m in at_outline])
                errors += [abs(d["delta_e"] - m.delta_e) for m, d in zip(at_outline, reading.mark_details)]
    assert len(errors) >= 30
    assert np.median(errors) <= 0.95 and np.percentile(errors, 90) <= 3.6


def _region_off_the_body(scene) -> float:
    """The share of a scene's pixels off its painted body that the analysis takes as the body's
    region, on the analysis grid."""
    region = survey(scene.image).body.region
    height, width = region.shape
    truth = np.asarray(Image.fromarray(scene.body.astype(np.uint8) * 255).resize((width, height))) > 128
    return float(region[~truth].mean())


def test_a_wooden_floor_or_carpet_beside_a_back_is_not_taken_into_the_body():
    # the skin darkens toward the outline until it matches a warm floor in colour; the floor's
    # grain still tells it apart (2.2.0 took half or all of the floor in 6 of these 11 scenes)
    checked = 0
    for seed in range(12):
        scene = sc.make_scene(seed, kind="back", marks=0)
        if scene.background not in ("floor", "carpet"):
            continue
        assert _region_off_the_body(scene) < 0.1, (seed, scene.background)
        checked += 1
    assert checked >= 8


def test_a_floor_or_carpet_taken_into_the_body_is_cut_off_by_its_grain():
    # under some lightings the shaded outline joins a floor or carpet of its colour and the floor
    # becomes half the body's area, as grainy as the rest of the photo: the grain must be judged
    # on the body's central skin, not on that area (2.8.0 took 41-100% of the floor on 3 of these)
    checked = 0
    for seed in range(20):
        for kind in ("back", "torso"):
            for ita in (35.0, 70.0):
                scene = sc.make_scene(seed, kind=kind, ita=ita, lighting=sc.random_lighting(np.random.default_rng([seed, int(ita)])))
                if scene.background not in ("floor", "carpet"):
                    continue
                assert _region_off_the_body(scene) < 0.1, (seed, kind, ita, scene.background)
                checked += 1
    assert checked >= 40


def test_a_photo_of_cups_under_a_wooden_or_beige_wall_with_no_body_shows_no_skin():
    # dark wood and a beige wall are skin-coloured (in the wedge), and the body finder took the
    # wall for a body in all 60 of seeds 0-29 with and without cups (2.14.0; the tester's photo
    # of cups on a bamboo mat under wooden drawers got three marks on the drawers)
    for seed in range(10):
        for cups in (0, 4):
            scene = sc.surface_scene(seed, cups=cups)
            reading = analyze_photo(save_jpeg(scene.image, quality=90))
            assert "no_skin" in reading.quality_codes, (seed, cups, scene.background)
            assert not reading.mark_found and reading.mark_details == []


def _banded(band_lab, rows) -> Image.Image:
    """A 480 x 360 photo of a blue-grey wall with a band of one colour (Lab) over ``rows`` (a
    slice), with camera noise."""
    lab = np.empty((360, 480, 3), dtype=np.float32)
    lab[...] = (60.0, -2.0, -12.0)
    lab[rows] = band_lab
    srgb = colour.linear_to_srgb(colour.lab_to_linear(lab)) * 255
    srgb += np.random.default_rng(4).normal(0, 2.0, srgb.shape)
    return Image.fromarray(np.clip(np.round(srgb), 0, 255).astype(np.uint8), "RGB")


def test_a_body_along_the_frames_edge_is_kept_when_its_colour_is_unmistakably_skins():
    # a back along the bottom edge, none of it in the photo's middle half: skin all the same
    skin = _banded((68.0, 12.0, 18.0), slice(290, 360))
    assert "no_skin" not in analyze_photo(save_jpeg(skin, quality=90)).quality_codes
    # the same band as dark wood, or as a pale beige wall, is no skin there; in the middle of
    # the photo the beige is kept (it may be a pale, overexposed skin)
    for band, rows, no_skin in (((12.0, 13.0, 13.0), slice(290, 360), True), ((75.0, 3.0, 11.0), slice(290, 360), True),
                                ((75.0, 3.0, 11.0), slice(100, 260), False)):
        reading = analyze_photo(save_jpeg(_banded(band, rows), quality=90))
        assert ("no_skin" in reading.quality_codes) == no_skin, (band, rows)


def test_a_close_up_of_a_mark_filling_the_middle_of_pale_skin_is_a_body():
    # the pale skin (C*ab 15) lies only round the frame's edges, none of it in the photo's
    # middle half: the skin's hull, round the mark, is where the photo is aimed (a first version
    # of the off-centre rule said no skin here, and on one close-up of held-out seed 12)
    rows, cols = np.mgrid[0:360, 0:480]
    lab = np.empty((360, 480, 3), dtype=np.float32)
    lab[...] = (78.0, 9.0, 11.5)
    lab += np.clip((170 - np.hypot(cols - 240, rows - 180)) / 8, 0, 1)[..., None] * np.float32([-14.0, 10.0, -14.0])
    srgb = colour.linear_to_srgb(colour.lab_to_linear(lab)) * 255 + np.random.default_rng(4).normal(0, 2.0, lab.shape)
    photo = Image.fromarray(np.clip(np.round(srgb), 0, 255).astype(np.uint8), "RGB")
    reading = analyze_photo(save_jpeg(photo, quality=90))
    assert "no_skin" not in reading.quality_codes and reading.mark_found


@pytest.mark.parametrize("seed", [2, 28])
def test_one_mark_at_a_backs_outline_does_not_call_the_whole_photo_short_of_skin(seed):
    # nine marks on a back, the most visible one cut by the outline: that mark's own ring says it
    # had little skin round it, the photo is not told to show more skin (2.14.0 was)
    scene = sc.make_scene(seed, kind="back", marks=9)
    reading = analyze_photo(save_jpeg(scene.image, quality=90), at=[m.centre for m in scene.marks])
    top = int(np.argmax([d["delta_e"] for d in reading.mark_details]))
    assert scene.marks[top].touches == "outline" and reading.mark_details[top]["ring_skin_fraction"] < 0.5
    assert "little_skin_around_marks" not in reading.quality_codes


def test_the_navel_on_dark_skin_in_dim_light_is_no_mark():
    # a pit in shadow keeps a few percent of the skin's light, far less than any mark (2.2.0
    # proposed it as a blue mark on every one of these scenes)
    for seed in range(6):
        scene = sc.make_scene(seed, kind="torso", marks=0, ita=-60.0, lighting=sc.SceneLighting(exposure_ev=-0.8))
        (navel,) = [at for name, at in scene.distractors if name == "navel"]
        reading = analyze_photo(save_jpeg(scene.image))
        assert all(np.hypot(d["centre"][0] - navel[0], d["centre"][1] - navel[1]) > 0.03 for d in reading.mark_details)


PALE_BODY_IN_SHADOW = sc.SceneLighting(red_gain=0.85, blue_gain=1.15, exposure_ev=0.5, shading=0.05, shading_angle=90.0,
                                       shadow=0.8, shadow_from=-0.1)


def _skin_is_the_lit_skin(scene, image) -> bool:
    """True when the body found in ``image`` (the scene's photo, perhaps drawn over) has the lit
    skin's lightness: the median L* of the body's upper rows, above the shadow's penumbra."""
    body = survey(image).body
    lit_rows = scene.body[: int(0.3 * scene.body.shape[0])]
    lit_l = float(np.median(colour.srgb8_to_lab(np.asarray(scene.image)[: lit_rows.shape[0]][lit_rows])[:, 0]))
    return body is not None and abs(float(body.skin_lab[0]) - lit_l) < 6.0


def test_a_shadow_over_most_of_a_pale_body_is_not_its_skin():
    # pale skin under a cold light, its lower part in a cast shadow: the shadow is as wide as the
    # lit part or wider and more chromatic than the lit skin, whose highlights the camera clips;
    # the skin is the lit skin's (2.4.0 took the shadow, L* ~44 on skin of L* ~85, on 6 of 12 and
    # then flagged the skin as dark)
    scenes = [sc.make_scene(seed, kind=kind, ita=65.0, lighting=PALE_BODY_IN_SHADOW)
              for kind in ("back", "torso") for seed in range(6)]
    assert sum(_skin_is_the_lit_skin(scene, scene.image) for scene in scenes) >= 10


def test_a_strap_along_the_shadow_edge_does_not_part_the_lit_skin_from_its_shadow():
    # a white strap 2% of the short side wide along the shadow's edge: the lit skin is not
    # beside the shadow but across the strap (taken only when touching, the shadow stayed the
    # skin on 5 of 12)
    right = 0
    for kind in ("back", "torso"):
        for seed in range(6):
            scene = sc.make_scene(seed, kind=kind, ita=65.0, lighting=PALE_BODY_IN_SHADOW)
            image = scene.image.copy()
            half = 0.01 * min(image.size)
            ImageDraw.Draw(image).rectangle([0, 0.41 * image.height - half, image.width, 0.41 * image.height + half],
                                            fill=(236, 236, 240))
            right += _skin_is_the_lit_skin(scene, image)
    assert right >= 9


def test_a_ragged_measurement_of_a_close_up_mark_does_not_hide_a_round_one():
    # the close-up's widest point and a ragged piece are measured first and score nothing (the
    # whole mottled extent has no mark colour against the skin beside it, the piece no solid
    # shape); a round measurement of the mark's core, overlapping them, scores 1 and is the top
    # proposal (when the first measured took the area, the photo read no mark)
    scene = sc.make_scene(37, kind="closeup")
    reading = analyze_photo(save_jpeg(scene.image, quality=90))
    assert reading.mark_details and scene.on_mark(*reading.mark_details[0]["centre"]) is not None


@pytest.mark.parametrize("seed, offset", [(3, (0.0, -0.5)), (7, (0.0, 0.0)), (14, (0.5, 0.0))])
def test_a_tap_inside_a_close_up_mark_is_measured_when_the_whole_frame_loses_it(seed, offset):
    # the first window finds the mark and it reaches the window's side; the wider windows take
    # the mark for the skin (it fills them) and the whole photo finds nothing at the tap. What the
    # first window found is the mark, as it already was when the widest window was not the whole
    # photo (2.6.0 read these taps as clear skin, ΔE00 < 1)
    scene = sc.make_scene(seed, kind="closeup", lighting=sc.random_lighting(np.random.default_rng(seed)))
    mark = scene.marks[0]
    width, height = scene.image.size
    step = mark.radius * min(width, height)
    point = (mark.centre[0] + offset[0] * step / width, mark.centre[1] + offset[1] * step / height)
    detail = analyze_photo(save_jpeg(scene.image), at=[point]).mark_details[0]
    assert scene.on_mark(*detail["centre"]) == 0 and detail["stage"] == mark.stage


def test_a_tap_whose_wider_view_lies_inside_a_larger_mark_off_the_first_is_measured():
    # the first window finds a mark reaching its side; the next, clipped by the frame, lies
    # inside a larger mark (no skin in view) whose centre is off the first one: that view has
    # nothing to measure against, and 2.8.0 failed with a TypeError (an error page in the app).
    # The first window's mark stands. Taps on a grid over the same close-up, each measured
    scene = sc.make_scene(37, kind="closeup")
    data = save_jpeg(scene.image, quality=90)
    grid = [(x, y) for x in np.linspace(0.02, 0.98, 9) for y in np.linspace(0.02, 0.98, 9)]
    details = analyze_photo(data, at=grid).mark_details
    assert len(details) == len(grid)
    assert all(np.isfinite(d["delta_e"]) and d["stage"] in {"fresh", "turning", "faint", "resolved"}
               for d in details)


def test_a_mark_at_the_outline_is_not_lost_along_a_band_of_reflected_light():
    # a band of darker, redder skin along the outline (light off a warm surface) differs from
    # the skin as a mark does; a mark near the outline reaches the first window's side along it,
    # and the wider windows took the band with the mark, its centre moving off the mark (2.6.0:
    # centre off the mark, |ΔE00 error| 1.1). Only the wider window's mark within the tap's own
    # window is kept
    scene = sc.make_scene(28, kind="back", lighting=sc.random_lighting(np.random.default_rng(28)), bounce=True)
    mark = scene.marks[2]
    detail = analyze_photo(save_jpeg(scene.image), at=[mark.centre]).mark_details[0]
    assert scene.on_mark(*detail["centre"]) == 2 and abs(detail["delta_e"] - mark.delta_e) < 1.0


@pytest.fixture(scope="module")
def mixed_closeups():
    """24 close-ups of mixed marks (a violet centre, a yellow or green part round it, filling
    50-85% of the frame): each with its mark, the reading at the true centre and the share of
    the mark's core within the body's reach."""
    out = []
    for seed in range(500, 524):
        scene = sc.make_scene(seed, kind="closeup", mixed=True)
        data = save_jpeg(scene.image, quality=90)
        mark = scene.marks[0]
        detail = analyze_photo(data, at=[mark.centre]).mark_details[0]
        found = survey(Image.open(io.BytesIO(data)).convert("RGB")).scene
        height, width = found.shape
        core = np.asarray(Image.fromarray(mark.core.astype(np.uint8) * 255).resize((width, height))) > 0
        out.append((mark, detail, float(found.reach[core].mean())))
    return out


def test_a_mixed_close_up_is_measured_with_its_yellow_part_not_against_it(mixed_closeups):
    # the yellow or green part round a close-up's violet centre lies within the skin's tolerance
    # and beside the thin band of skin in view: taken for skin, the mark read violet, fresh and
    # too strong (2.7.0: median error 3.9, stage right on 9 of 16; 2.10.0: 1.56, once a speck
    # between a tap and the mark no longer hid the mark)
    errors = [abs(detail["delta_e"] - mark.delta_e) for mark, detail, _ in mixed_closeups]
    stage = [detail["stage"] == mark.stage for mark, detail, _ in mixed_closeups if not _near_boundary(mark)]
    print(f"\nmixed close-ups: median |ΔE00 error| {np.median(errors):.2f}, stage {np.mean(stage):.1%} of {len(stage)}")
    assert np.median(errors) <= 2.0
    assert np.mean(stage) >= 0.65


def test_a_close_up_mark_cut_by_the_frame_is_within_the_body(mixed_closeups):
    # the mark beyond the body's area and its convex hull (where the frame cuts it) fades into
    # the skin as a mark does: it is the body's, never a surface beside it (2.7.0: 84% of the
    # cores within reach)
    shares = [share for _, _, share in mixed_closeups]
    print(f"\nclose-up mark cores within the body's reach: {np.mean(shares):.1%}")
    assert np.mean(shares) >= 0.87


def test_a_followed_mark_photographed_on_another_day_reads_as_it_did(readings):
    # each marked scene photographed again in another random light, a little moved, as the next
    # day's photo is, and put into the first photo's light from the same skin (in_light_of);
    # within one photo nothing gives the light away, across days the person's skin does
    rng = np.random.default_rng([11, 99])
    taken, relit, stage_taken, stage_relit, truth_taken, truth_relit = [], [], [], [], [], []
    for scene, _, first in readings:
        if first is None:
            continue
        light = sc.random_lighting(rng)
        move = dict(shift=tuple(rng.uniform(-0.04, 0.04, 2)), scale=float(rng.uniform(0.9, 1.1)),
                    rotate_deg=float(rng.uniform(-5, 5)))
        again = sc.transformed(scene, lighting=light, **move)
        if not again.marks:
            continue
        later = analyze_photo(save_jpeg(again.image, quality=90), at=[m.centre for m in again.marks])
        before = {m.number: d for m, d in zip(scene.marks, first.mark_details)}
        now = in_light_of(later, first.body_skin_lab,
                          [before[m.number]["skin_lab"] if m.number in before else None for m in again.marks])
        for mark, raw, new in zip(again.marks, later.mark_details, now.mark_details):
            if mark.number not in before:
                continue
            was = before[mark.number]
            taken.append(abs(raw["delta_e"] - was["delta_e"]))
            relit.append(abs(new["delta_e"] - was["delta_e"]))
            stage_taken.append(raw["stage"] != was["stage"])
            stage_relit.append(new["stage"] != was["stage"])
            truth_taken.append(abs(raw["delta_e"] - mark.delta_e))
            truth_relit.append(abs(new["delta_e"] - mark.delta_e))

    def spread(values):
        return f"{np.median(values):.2f}/{np.percentile(values, 90):.2f}"

    print(f"\nday to day, {len(taken)} followed marks: |ΔE00 difference| median/p90 {spread(taken)} as "
          f"taken, {spread(relit)} in the first photo's light; stage differs {np.mean(stage_taken):.1%} "
          f"-> {np.mean(stage_relit):.1%}; second photo against the truth {spread(truth_taken)} -> "
          f"{spread(truth_relit)}")
    # this version's figures (0.23/1.21, stage 5.5%, from 0.95/3.09 and 6.4%), held. Same light,
    # only moved, the framing alone differs by 0.13/0.86 and 2.9%
    assert np.median(relit) <= 0.25 and np.percentile(relit, 90) <= 1.3
    assert np.mean(stage_relit) <= 0.06 and np.mean(stage_relit) < np.mean(stage_taken)
