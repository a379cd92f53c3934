"""The before/after comparison: the earlier photo laid over the later one, lined up."""
import io

import numpy as np

from tests.scene_pairs import make_scene, photograph, rephotographed
from webapp.services import compare
from webapp.services.storage import get_store


def jpeg(image) -> bytes:
    """Encode a test photo as the store keeps it."""
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def through(matrix, x: float, y: float) -> tuple[float, float]:
    """Map a pixel through an SVG matrix(a b c d e f)."""
    a, b, c, d, e, f = matrix
    return a * x + c * y + e, b * x + d * y + f


def test_svg_matrix_maps_photo_pixels_through_the_fractions_map():
    # fractions: shift right by a tenth, between a 960x720 and a 480x360 photo
    shift = ((1.0, 0.0, 0.1), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
    matrix = compare.svg_matrix(shift, (960, 720), (480, 360))
    assert through(matrix, 480, 360) == (288.0, 180.0)
    assert compare.svg_matrix(np.eye(3), (400, 300), (400, 300)) == (1, 0, 0, 1, 0, 0)


def test_stored_photos_of_a_moved_back_are_lined_up_on_the_marks(app):
    scene = make_scene(seed=3)
    before, marks_before = photograph(scene)
    after, marks_after = rephotographed(scene, shift=(0.08, -0.05), rotate_deg=8, scale=1.1)
    size = before.size
    with app.app_context():
        store = get_store()
        store.put("compare-before", jpeg(before))
        store.put("compare-after", jpeg(after))
        matrix = compare.aligned("compare-before", size, "compare-after", size)
        # a photo that is not there: shown as taken, never an error
        assert compare.aligned("compare-before", size, "missing", size) is None
    assert matrix is not None
    for was, now in zip(marks_before, marks_after):
        x, y = through(matrix, was.centre[0] * size[0], was.centre[1] * size[1])
        error = np.hypot(x - now.centre[0] * size[0], y - now.centre[1] * size[1])
        # within a fifth of the mark's radius: the divider shows the same patch of skin
        assert error < 0.2 * now.radius * min(size)
