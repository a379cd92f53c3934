"""Find skin and marks in a photo and measure each mark against the skin around it."""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy import ndimage

from . import colour
from .photo import PhotoRefused, open_photo
from .reading import MarkDetail, PhotoReading, quality_item

# long side of the image marks are found on: half a phone photo's 1/8 jpeg draft, where a mark
# of 3% of the short side is still ~6 px across; they are measured on the draft itself
ANALYSIS_LONG_SIDE = 250
# long side of the image the blur check runs on: blur is a matter of fine detail, so it is
# judged on the sharper, larger image (the JPEG draft is about this size anyway)
SHARPNESS_LONG_SIDE = 512
# jpeg draft request: dct scaling keeps at least this many pixels on each side
DRAFT_MIN_SIDE = 360
# light smoothing (px at analysis size) that takes sensor noise and skin grain off the pixels
SMOOTH_SIGMA = 1.2 * ANALYSIS_LONG_SIDE / 512  # 1.2 px of a 512-px image: the same smoothing at any grid
# a pixel is a mark candidate when its ΔE00 to the fitted skin baseline exceeds this; below the
# resolved threshold so a blob's extent reaches into its soft edge
DETECT_DELTA_E = 2.0
# fraction of a blob's peak ΔE00 where its outline is drawn (about half-way down its soft edge)
PEAK_FRACTION = 0.45
# pixels kept clear of the skin outline when looking for marks
ROI_MARGIN = 6
# a blob touching the photo's edge must be this many times the smallest mark
BORDER_AREA_FACTOR = 4.0
# smallest mark kept, as an equivalent-circle diameter relative to the short side (the issue
# asks for marks down to about 3%)
MIN_MARK_DIAMETER = 0.018
# skin tests relative to the photo's own dominant skin colour
SKIN_CHROMA_TOLERANCE = 0.55  # of the skin's chroma, at least SKIN_CHROMA_FLOOR
SKIN_CHROMA_FLOOR = 7.0
SKIN_LIGHTER_BY = 12.0  # towels and sheets are much lighter; shading moves skin a few units
SKIN_DARKER_BY = 30.0
# a mark lighter than its skin by more than this is glare or a scar, not a bruise
MAX_LIGHTER = 2.0
# quality thresholds
GLARE_CODE = 250  # all three channels at least this: specular reflection
OVEREXPOSED_FRACTION = 0.10
GLARE_FRACTION = 0.0003
TOO_DARK_L = 14.0
BLUR_LAPLACIAN_STD = 0.35
LITTLE_SKIN_RING = 0.5
# dark skin category (ITA < −30): yellowing is hard to measure there (Thavarajah et al. 2012)
DARK_SKIN_ITA = -30.0
# quality codes that make a reading low-confidence
LOW_CONFIDENCE_CODES = frozenset(
    {"too_dark", "overexposed", "blurred", "little_skin_around_marks", "dark_skin_low_confidence"}
)


def _reduced(image: Image.Image, long_side: int) -> Image.Image:
    """Reduce an upright RGB image so its long side is at most ``long_side``."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    width, height = image.size
    scale = long_side / max(width, height)
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        # whole factors first by reduce(), a plain average far cheaper than box resampling
        # (a check-in hands over a 2016-px image); a box of a box is still a box average
        image = image.resize(size, Image.Resampling.BOX, reducing_gap=1.0)
    return image


def analysis_array(image: Image.Image, long_side: int | None = None) -> np.ndarray:
    """Reduce an upright RGB image to the analysis size and return it as uint8 (H, W, 3)."""
    return np.asarray(_reduced(image, long_side or ANALYSIS_LONG_SIDE))


def _window_reduce(mask: np.ndarray, radius: int, axis: int, op, neutral: bool) -> np.ndarray:
    """Reduce every window [i − radius, i + radius] along an axis with a logical op.

    Windows are clipped at the photo's edge (the neutral padding does that), which equals
    SciPy's minimum filter with mode "nearest" for erosion and maximum filter with cval 0 for
    dilation. Windows double in width each step, so any radius costs a few array operations.
    """
    width = 2 * radius + 1
    length = mask.shape[axis]
    pad = [(0, 0)] * mask.ndim
    pad[axis] = (radius, radius)
    acc = np.pad(mask, pad, constant_values=neutral)

    def part(array, start, stop):
        index = [slice(None)] * array.ndim
        index[axis] = slice(start, stop)
        return array[tuple(index)]

    span = 1
    while span * 2 <= width:
        size = acc.shape[axis]
        acc = op(part(acc, 0, size - span), part(acc, span, size))
        span *= 2
    if span < width:
        return op(part(acc, 0, length), part(acc, width - span, width - span + length))
    return part(acc, 0, length)


def _erode(mask: np.ndarray, radius: int) -> np.ndarray:
    """Erode a mask with a square of the given radius (separable, so fast at any radius)."""
    if radius <= 0:
        return mask
    rows = _window_reduce(mask, radius, 0, np.logical_and, True)
    return _window_reduce(rows, radius, 1, np.logical_and, True)


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Dilate a mask with a square of the given radius."""
    if radius <= 0:
        return mask
    rows = _window_reduce(mask, radius, 0, np.logical_or, False)
    return _window_reduce(rows, radius, 1, np.logical_or, False)


def _open(mask: np.ndarray, radius: int = 1) -> np.ndarray:
    """Remove specks smaller than the square of the given radius from a mask."""
    return _dilate(_erode(mask, radius), radius)


def _edge_labels(labels: np.ndarray) -> np.ndarray:
    """Return the labels found on the photo's outer rows and columns."""
    return np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill the holes of a mask: background not 4-connected to the photo's edge.

    The same result as ``ndimage.binary_fill_holes`` (which floods the background from the
    edge one step at a time), from one labelling of the background.
    """
    background, count = ndimage.label(~mask)
    if count == 0:
        return mask
    hole = np.ones(count + 1, dtype=bool)
    hole[0] = False
    hole[_edge_labels(background)] = False
    return mask | hole[background]


def _skin_mask(lab_s: np.ndarray, usable: np.ndarray):
    """Return (skin mask, dominant skin Lab) or (None, None) when there is too little skin.

    ``lab_s`` is smoothed CIELAB as planes (3, H, W).
    """

    def mask_for(lab, ok, skin_lab=None):
        """Skin-like pixels: the warm chromatic wedge, or near a known skin colour."""
        lightness, a, b = lab[0], lab[1], lab[2]
        if skin_lab is None:
            # every skin tone under ordinary light sits in this warm, chromatic wedge
            hue = np.degrees(np.arctan2(b, a))
            return ok & (lightness > 6) & (lightness < 97) & (np.hypot(a, b) >= 5) & (hue >= 0) & (hue <= 100)
        l0, a0, b0 = (float(v) for v in skin_lab)
        tolerance = max(SKIN_CHROMA_FLOOR, SKIN_CHROMA_TOLERANCE * float(np.hypot(a0, b0)))
        mask = ok & (lightness <= l0 + SKIN_LIGHTER_BY)
        mask &= lightness >= max(3.0, l0 - SKIN_DARKER_BY)
        da = a - np.float32(a0)
        db = b - np.float32(b0)
        da *= da
        db *= db
        da += db
        mask &= np.sqrt(da, out=da) <= tolerance
        return mask

    def median_of(lab, mask):
        """Per-channel median of the masked pixels."""
        return np.array([np.median(plane[mask]) for plane in lab])

    # the dominant colour is estimated on a sparse grid; only the final mask is full size
    sparse, sparse_ok = lab_s[:, ::4, ::4], usable[::4, ::4]
    mask = mask_for(sparse, sparse_ok)
    if mask.mean() < 0.03:
        return None, None
    skin_lab = median_of(sparse, mask)
    for _ in range(3):
        mask = mask_for(sparse, sparse_ok, skin_lab)
        if mask.mean() < 0.03:
            return None, None
        skin_lab = median_of(sparse, mask)
    return mask_for(lab_s, usable, skin_lab), skin_lab


def _region_of_interest(skin: np.ndarray) -> np.ndarray:
    """Return the skin area with marks inside it: cleaned skin with its holes filled."""
    clean = _open(skin, 2)
    labels, count = ndimage.label(clean)
    if count == 0:
        return clean
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    # keep the body, not stray skin-coloured bits of towel or background
    keep = sizes >= max(0.02 * skin.size, 0.25 * sizes.max())
    return _fill_holes(keep[labels])


def _fit_baseline(lab_s: np.ndarray, skin: np.ndarray):
    """Fit a smooth quadratic skin colour field over the photo, robust to marks and texture.

    Returns the fit as (u axis, v axis, coefficients (6, 3)) for :func:`_baseline_difference`,
    or a constant colour (3,) when there is too little skin to fit.
    """
    height, width = skin.shape
    step = 5
    u_axis = (np.arange(width, dtype=np.float64) / max(width - 1, 1) * 2 - 1)
    v_axis = (np.arange(height, dtype=np.float64) / max(height - 1, 1) * 2 - 1)
    ys, xs = np.nonzero(skin[::step, ::step])
    ys, xs = ys * step, xs * step
    # samples as rows of planes, (terms, N) and (channels, N): contiguous for einsum
    values = lab_s[:, ys, xs].astype(np.float64)
    u, v = u_axis[xs], v_axis[ys]
    terms = np.stack([np.ones_like(u), u, v, u * u, u * v, v * v])
    # terms and values together: one product gives the normal matrix and the right-hand side
    stacked = np.concatenate([terms, values])
    use = np.ones(values.shape[1], dtype=bool)
    coef = None
    for _ in range(4):
        if use.sum() < 12:
            break
        # normal equations: a 6×6 solve, far cheaper than a full least-squares decomposition;
        # einsum, not matmul, so no BLAS thread pool wakes up for these small products
        chosen = stacked[:, use]
        products = np.einsum("in,jn->ij", chosen[:6], chosen)
        coef = _solve_small(products[:, :6] + 1e-9 * np.eye(6), products[:, 6:])
        residual = np.sqrt(np.square(values - np.einsum("ic,in->cn", coef, terms)).sum(axis=0))
        # marks and odd patches drop out of the next fit
        use = residual < max(3.5, 2.5 * float(np.median(residual)))
    if coef is None:
        return np.array([np.median(plane[skin]) for plane in lab_s])
    return u_axis.astype(np.float32), v_axis.astype(np.float32), coef.astype(np.float32)


def _solve_small(matrix: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve a small linear system by Gaussian elimination with partial pivoting.

    For the 6×6 normal equations this is tens of microseconds of plain Python, where LAPACK's
    solver wakes BLAS's thread pool and can cost milliseconds on a busy server.
    """
    a = [list(map(float, row)) for row in np.asarray(matrix, dtype=np.float64)]
    b = [list(map(float, row)) for row in np.asarray(rhs, dtype=np.float64).reshape(len(a), -1)]
    n = len(a)
    for k in range(n):
        pivot = max(range(k, n), key=lambda i: abs(a[i][k]))
        a[k], a[pivot] = a[pivot], a[k]
        b[k], b[pivot] = b[pivot], b[k]
        head = a[k][k]
        if head == 0:
            raise np.linalg.LinAlgError("singular matrix")
        row_a, row_b = a[k], b[k]
        for i in range(k + 1, n):
            factor = a[i][k] / head
            if factor:
                a[i] = [x - factor * y for x, y in zip(a[i], row_a)]
                b[i] = [x - factor * y for x, y in zip(b[i], row_b)]
    x = [None] * n
    for k in range(n - 1, -1, -1):
        x[k] = [
            (b[k][c] - sum(a[k][j] * x[j][c] for j in range(k + 1, n))) / a[k][k] for c in range(len(b[k]))
        ]
    return np.array(x).reshape(np.shape(rhs))


def _baseline_difference(plane: np.ndarray, fit, channel: int) -> np.ndarray:
    """Return one smoothed Lab plane minus its fitted baseline (a new float32 array)."""
    if not isinstance(fit, tuple):
        return plane - np.float32(fit[channel])
    u, v, coef = fit
    c = coef[:, channel]
    # c0 + c1·u + c2·v + c3·u² + c4·u·v + c5·v², as a row part, a column part and the cross term
    row = c[0] + c[1] * u + c[3] * u * u
    column = c[2] * v + c[5] * v * v
    diff = plane - row[None, :]
    diff -= column[:, None]
    diff -= (c[4] * v)[:, None] * u[None, :]
    return diff


def _detection_strength(lab_s: np.ndarray, fit, skin_lab, region: np.ndarray) -> np.ndarray:
    """Approximate ΔE00 to the baseline with CIEDE2000's weights frozen at the skin colour.

    Only used to find blobs (each is then measured with true CIEDE2000); it costs a few
    multiplications per pixel instead of CIEDE2000's trigonometry. Zero outside ``region``.
    """
    lightness, chroma = float(skin_lab[0]), float(np.hypot(skin_lab[1], skin_lab[2]))
    s_l = 1 + 0.015 * (lightness - 50) ** 2 / np.sqrt(20 + (lightness - 50) ** 2)
    # between CIEDE2000's chroma (1 + 0.045·C) and hue (≈ 1 + 0.015·C) weights
    s_ab = 1 + 0.03 * chroma
    total = _baseline_difference(lab_s[0], fit, 0)
    total *= np.float32(1 / s_l)
    np.square(total, out=total)
    weight = np.float32(1 / s_ab**2)
    for channel in (1, 2):
        diff = _baseline_difference(lab_s[channel], fit, channel)
        np.square(diff, out=diff)
        diff *= weight
        total += diff
    np.sqrt(total, out=total)
    total[~region] = 0
    return total


def _squared_distance(mask: np.ndarray) -> np.ndarray:
    """Return each pixel's squared distance to the nearest False pixel of a mask (int32).

    The same nearest pixels as ``ndimage.distance_transform_edt`` (its feature transform) with
    the distance left squared and exact: thresholds compare as integers, and the float64
    arrays and square roots the distance transform builds are skipped.
    """
    nearest = ndimage.distance_transform_edt(mask, return_distances=False, return_indices=True)
    rows = nearest[0]
    rows -= np.arange(mask.shape[0], dtype=np.int32)[:, None]
    rows *= rows
    cols = nearest[1]
    cols -= np.arange(mask.shape[1], dtype=np.int32)
    cols *= cols
    rows += cols
    return rows


def _median_rows(values: np.ndarray) -> np.ndarray:
    """Return the median of each row of a 2-D float array, as ``np.median(values, axis=1)``.

    One partition around the middle and the mean of the middle pair, without np.median's
    general-purpose checks, which cost more than the partition for a ring of skin.
    """
    middle = values.shape[1] // 2
    if values.shape[1] % 2:
        return np.partition(values, middle, axis=1)[:, middle]
    pair = np.partition(values, (middle - 1, middle), axis=1)[:, middle - 1 : middle + 1]
    return pair.mean(axis=1)


def _measure_blobs(rgb8, labels, count, skin, glare_near, short_side):
    """Measure every candidate blob's core against its ring of skin; return a list of dicts.

    ``rgb8`` is the 8-bit image the marks are measured on (H, W, 3). ``labels``, ``skin`` and
    ``glare_near`` are on the analysis grid, the same size or smaller. Each blob and its core
    are drawn on ``rgb8``'s grid (its label map enlarged by nearest neighbour), where a small
    faint mark keeps its shape; its ring of skin, a robust median over a wide band, is drawn on
    the analysis grid and enlarged. CIELAB is computed only for the blobs' core and ring
    pixels, all in one conversion. ``short_side`` is ``rgb8``'s.
    """
    height, width = rgb8.shape[:2]
    small_height, small_width = labels.shape
    total = float(height * width)
    rows_map, cols_map = _nearest_maps((height, width), labels.shape)
    # analysis pixels per measuring pixel: the ring's radii are worked out in measuring pixels
    # and drawn in analysis pixels
    scale = small_width / width
    # skin a ring may use: not glare and not part of any blob
    ring_skin = skin & ~glare_near & (labels == 0)
    # enlarging never drops a pixel of the smaller grid, so a blob touches glare on the
    # measuring grid exactly when it does on the analysis grid
    near_glare = np.zeros(count + 1, dtype=bool)
    near_glare[labels[glare_near]] = True
    blobs, pixels = [], []
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None or near_glare[index]:
            continue
        # the blob on the measuring grid, over the rows and columns that fall in its box
        box_y0, box_y1 = np.searchsorted(rows_map, (box[0].start, box[0].stop))
        box_x0, box_x1 = np.searchsorted(cols_map, (box[1].start, box[1].stop))
        box_blob = labels[np.ix_(rows_map[box_y0:box_y1], cols_map[box_x0:box_x1])] == index
        area = int(box_blob.sum())
        r_eq = float(np.sqrt(area / np.pi))
        inner = scale * max(2.0, 0.3 * r_eq)
        outer = inner + scale * max(4.0, 0.6 * r_eq)
        pad = int(np.ceil(outer)) + 1
        y0, y1 = max(0, box[0].start - pad), min(small_height, box[0].stop + pad)
        x0, x1 = max(0, box[1].start - pad), min(small_width, box[1].stop + pad)
        blob = labels[y0:y1, x0:x1] == index
        # the ring is drawn on a canvas padded past the photo's edges, so a mark cut by the edge
        # counts the missing side as missing skin
        padding = ((y0 - box[0].start + pad, box[0].stop + pad - y1), (x0 - box[1].start + pad, box[1].stop + pad - x1))
        distance = _squared_distance(~np.pad(blob, padding))
        ring_all = (distance > inner * inner) & (distance <= outer * outer)
        inside = (slice(padding[0][0], padding[0][0] + blob.shape[0]), slice(padding[1][0], padding[1][0] + blob.shape[1]))
        ring = ring_all[inside] & ring_skin[y0:y1, x0:x1]
        ring_fraction = int(ring.sum()) / max(int(ring_all.sum()), 1)
        # the window on the measuring grid: the rows and columns that fall in the analysis window
        big_y0, big_y1 = np.searchsorted(rows_map, (y0, y1))
        big_x0, big_x1 = np.searchsorted(cols_map, (x0, x1))
        ring = ring[np.ix_(rows_map[big_y0:big_y1] - y0, cols_map[big_x0:big_x1] - x0)]
        if int(ring.sum()) < 15:
            blobs.append({"delta_e": 0.0, "measured": False, "ring_fraction": ring_fraction})
            continue
        # depth inside the blob on the measuring grid, on its box with a one-pixel margin of
        # background (the nearest background pixel is never farther than that margin)
        depth = _squared_distance(np.pad(box_blob, 1))[1:-1, 1:-1]
        # the core: at least half the deepest depth, compared squared
        core = depth >= max(1, 0.25 * int(depth.max()))
        pixels += [rgb8[box_y0:box_y1, box_x0:box_x1][core], rgb8[big_y0:big_y1, big_x0:big_x1][ring]]
        ys, xs = np.nonzero(box_blob)
        blobs.append(
            {
                "measured": True,
                "area_fraction": area / total,
                "centre": [(xs.mean() + box_x0 + 0.5) / width, (ys.mean() + box_y0 + 0.5) / height],
                "radius": r_eq / short_side,
                "ring_fraction": ring_fraction,
            }
        )
    measured = [blob for blob in blobs if blob["measured"]]
    if not measured:
        return blobs
    # cielab of every core and ring pixel in one conversion, then cut back into its parts
    lab = colour.srgb8_to_lab_planes(np.concatenate(pixels)[None])[:, 0]
    ends = np.cumsum([len(part) for part in pixels])
    parts = np.split(lab, ends[:-1], axis=1)
    mark_labs = np.array([part.mean(axis=1, dtype=np.float64) for part in parts[0::2]])
    skin_labs = np.array([_median_rows(part) for part in parts[1::2]], dtype=np.float64)
    delta_es = colour.ciede2000(skin_labs, mark_labs)
    for blob, mark_lab, skin_lab, delta_e in zip(measured, mark_labs, skin_labs, delta_es):
        blob.update(mark_lab=mark_lab, skin_lab=skin_lab, delta_e=float(delta_e))
    return blobs


def _nearest_maps(large: tuple[int, int], small: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """For every row and column of shape ``large``, the row and column of ``small`` it falls in."""
    rows = ((np.arange(large[0]) + 0.5) * small[0] / large[0]).astype(np.intp)
    cols = ((np.arange(large[1]) + 0.5) * small[1] / large[1]).astype(np.intp)
    return rows, cols


def _sharpness(lightness: np.ndarray, region: np.ndarray) -> float:
    """Return the spread of the Laplacian of L* over a region: low means blurred.

    ``region`` may be smaller than ``lightness`` (the analysis grid): it is enlarged to it by
    nearest neighbour.
    """
    if region.shape != lightness.shape:
        region = region[np.ix_(*_nearest_maps(lightness.shape, region.shape))]
    values = _laplacian(lightness)[region]
    return float(values.std()) if values.size else 0.0


def _laplacian(plane: np.ndarray) -> np.ndarray:
    """Return the 5-point Laplacian of a float32 plane, edges mirrored as ``ndimage.laplace``.

    Four shifted views added in float32: a third of the time of SciPy's two filter passes,
    which run in float64, and the same values to within float32 rounding.
    """
    # numpy's "symmetric" padding is scipy's "reflect" mode
    padded = np.pad(plane, 1, mode="symmetric")
    total = padded[:-2, 1:-1] + padded[2:, 1:-1]
    total += padded[1:-1, :-2]
    total += padded[1:-1, 2:]
    total -= 4 * plane
    return total


def analyze_image(image: Image.Image) -> PhotoReading:
    """Analyse an already opened, upright RGB image and return its reading."""
    sharp_image = _reduced(image, SHARPNESS_LONG_SIDE)
    rgb8 = analysis_array(sharp_image)
    height, width = rgb8.shape[:2]
    short_side = min(height, width)
    # cielab as planes (3, H, W): every per-channel step below reads contiguous memory
    lab = colour.srgb8_to_lab_planes(rgb8)
    lab_s = ndimage.gaussian_filter(lab, sigma=(0, SMOOTH_SIGMA, SMOOTH_SIGMA), truncate=3.0)

    red, green, blue = rgb8[..., 0], rgb8[..., 1], rgb8[..., 2]
    glare = np.minimum(np.minimum(red, green), blue) >= GLARE_CODE
    glare_near = _dilate(glare, 4) if glare.any() else glare
    quality: list[str] = []

    skin, skin_lab = _skin_mask(lab_s, ~glare_near)
    roi = _region_of_interest(skin) if skin is not None else None
    if roi is None or roi.mean() < 0.03:
        if float(lab[0].mean()) < TOO_DARK_L:
            quality.append("too_dark")
        quality.append("no_skin")
        return PhotoReading(
            ok=True, confidence="low", quality=[quality_item(q) for q in quality]
        )
    skin &= roi

    roi_fraction_glare = float(glare[roi].mean())
    if roi_fraction_glare > OVEREXPOSED_FRACTION or float(
        (np.maximum(np.maximum(red, green), blue)[skin] >= 254).mean()
    ) > 0.25:
        quality.append("overexposed")
    elif roi_fraction_glare > GLARE_FRACTION:
        quality.append("glare")
    if skin_lab[0] < TOO_DARK_L:
        quality.append("too_dark")
    # stay clear of the skin's outline, where smoothing and jpeg mix in towel or sheet colour
    inner_roi = _erode(roi, ROI_MARGIN) & ~glare_near
    sharp_rgb8 = np.asarray(sharp_image)
    sharp_lightness = lab[0] if sharp_rgb8.shape == rgb8.shape else colour.srgb8_to_lightness(sharp_rgb8)
    if _sharpness(sharp_lightness, inner_roi) < BLUR_LAPLACIAN_STD:
        quality.append("blurred")

    fit = _fit_baseline(lab_s, skin)
    strength = _detection_strength(lab_s, fit, skin_lab, inner_roi)
    candidates = _open(strength > DETECT_DELTA_E)
    labels, count = ndimage.label(candidates)
    if count:
        # cut each blob at a fraction of its own peak: its outline then sits at the same place in
        # the soft edge whatever its strength, and skin mottling next to it stays out
        peaks = np.zeros(count + 1, dtype=np.float32)
        np.maximum.at(peaks, labels[candidates], strength[candidates])
        candidates &= strength >= PEAK_FRACTION * peaks[labels]
        labels, count = ndimage.label(_open(candidates))
    if count:
        sizes = np.bincount(labels.ravel())
        min_area = np.pi * (MIN_MARK_DIAMETER * short_side / 2) ** 2
        keep = sizes >= min_area
        # a blob cut by the photo's edge must be larger: the edge is where the skin baseline
        # is least sure, and a partial mark is measured against half a ring
        border = _edge_labels(labels)
        keep[border] &= sizes[border] >= BORDER_AREA_FACTOR * min_area
        keep[0] = False
        # renumber the kept blobs in order (kept blobs never touch, so this is a relabelling)
        renumber = np.cumsum(keep).astype(labels.dtype)
        renumber[~keep] = 0
        labels, count = renumber[labels], int(keep.sum())

    # marks are found on the analysis grid and measured on the larger, sharper image: a small
    # faint mark keeps more of its colour there (the blob masks are enlarged by nearest neighbour)
    blobs = _measure_blobs(sharp_rgb8, labels, count, skin, glare_near, min(sharp_rgb8.shape[:2]))
    marks = []
    sub_threshold = 0.0
    for blob in blobs:
        if not blob["measured"]:
            continue
        d_lab = blob["mark_lab"] - blob["skin_lab"]
        if blob["delta_e"] >= colour.RESOLVED_BELOW and d_lab[0] <= MAX_LIGHTER:
            marks.append(blob)
        elif blob["delta_e"] < colour.RESOLVED_BELOW:
            sub_threshold = max(sub_threshold, blob["delta_e"])
    marks.sort(key=lambda m: m["delta_e"], reverse=True)

    details = [_mark_detail(m) for m in marks]
    if any(b["ring_fraction"] < LITTLE_SKIN_RING for b in (marks[:1] or [])):
        quality.append("little_skin_around_marks")
    ita = colour.ita_degrees(skin_lab)
    if ita < DARK_SKIN_ITA:
        quality.append("dark_skin_low_confidence")
    confidence = "low" if LOW_CONFIDENCE_CODES.intersection(quality) else "high"
    quality_items = [quality_item(q) for q in quality]

    if not marks:
        return PhotoReading(
            ok=True,
            mark_found=False,
            marks=0,
            stage="resolved",
            colour="none",
            delta_e=round(sub_threshold, 3),
            delta_lab=[0.0, 0.0, 0.0],
            hue_deg=None,
            mark_lab=None,
            skin_lab=_rounded(skin_lab),
            skin_hex=colour.lab_to_hex(skin_lab),
            ita_deg=round(ita, 2),
            erythema_index=0.0,
            area_fraction=0.0,
            total_area_fraction=0.0,
            confidence=confidence,
            quality=quality_items,
        )
    top = details[0]
    return PhotoReading(
        ok=True,
        mark_found=True,
        marks=len(details),
        stage=top.stage,
        colour=top.colour,
        delta_e=top.delta_e,
        delta_lab=top.delta_lab,
        hue_deg=top.hue_deg,
        mark_lab=top.mark_lab,
        skin_lab=top.skin_lab,
        mark_hex=colour.lab_to_hex(marks[0]["mark_lab"]),
        skin_hex=colour.lab_to_hex(marks[0]["skin_lab"]),
        ita_deg=round(ita, 2),
        erythema_index=top.erythema_index,
        area_fraction=top.area_fraction,
        total_area_fraction=round(sum(d.area_fraction for d in details), 6),
        confidence=confidence,
        quality=quality_items,
        mark_details=[d.to_dict() for d in details],
    )


def _rounded(values, digits: int = 2) -> list[float]:
    """Round a vector to plain floats for JSON."""
    return [round(float(v), digits) for v in values]


def _mark_detail(blob: dict) -> MarkDetail:
    """Turn one measured blob into a MarkDetail with its hue, colour and stage."""
    d_lab = blob["mark_lab"] - blob["skin_lab"]
    theta = colour.hue_angle(d_lab[1], d_lab[2])
    name = colour.colour_name(theta)
    delta_e = blob["delta_e"]
    mark_linear = colour.lab_to_linear(blob["mark_lab"])
    skin_linear = colour.lab_to_linear(blob["skin_lab"])
    erythema = colour.erythema_index(mark_linear) - colour.erythema_index(skin_linear)
    return MarkDetail(
        delta_e=round(delta_e, 3),
        delta_lab=_rounded(d_lab),
        hue_deg=round(theta, 1),
        colour=name,
        stage=colour.stage_for(delta_e, name),
        area_fraction=round(blob["area_fraction"], 6),
        centre=_rounded(blob["centre"], 4),
        radius=round(blob["radius"], 4),
        mark_lab=_rounded(blob["mark_lab"]),
        skin_lab=_rounded(blob["skin_lab"]),
        erythema_index=round(float(erythema), 2),
        ring_skin_fraction=round(blob["ring_fraction"], 3),
    )


def analyze_photo(source) -> PhotoReading:
    """Open a photo (path, bytes or binary file) and analyse it; bad input gives ok=False."""
    try:
        image = open_photo(source, min_size=(DRAFT_MIN_SIDE, DRAFT_MIN_SIDE))
    except PhotoRefused as refusal:
        return PhotoReading.refused(refusal.code, refusal.message)
    return analyze_image(image)
