"""Boolean-mask and grid helpers the analysis shares: morphology, distances, components.

Thin wrappers over OpenCV and SciPy so that every caller gets the same border handling and
kernel shape; masks are 2-D ``bool`` arrays, distances are in pixels of the mask's own grid.
"""

from __future__ import annotations

import cv2
import numpy as np

# one thread: a server runs one analysis per worker process, and OpenCV's thread pool on these
# small grids costs more in start-up and contention than it saves
cv2.setNumThreads(1)


def _square(radius: int) -> np.ndarray:
    """Return a (2r+1)×(2r+1) square structuring element."""
    return np.ones((2 * radius + 1, 2 * radius + 1), dtype=np.uint8)


def erode(mask: np.ndarray, radius: int) -> np.ndarray:
    """Erode a mask with a square of the given radius; the photo's edge does not erode."""
    if radius <= 0:
        return mask
    out = cv2.erode(mask.view(np.uint8), _square(radius), borderType=cv2.BORDER_REPLICATE)
    return out.view(bool)


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Dilate a mask with a square of the given radius; nothing grows in from past the edge."""
    if radius <= 0:
        return mask
    out = cv2.dilate(mask.view(np.uint8), _square(radius), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return out.view(bool)


def open_mask(mask: np.ndarray, radius: int = 1) -> np.ndarray:
    """Remove specks narrower than the square of the given radius from a mask."""
    return dilate(erode(mask, radius), radius)


def close_mask(mask: np.ndarray, radius: int = 1) -> np.ndarray:
    """Bridge gaps narrower than the square of the given radius in a mask."""
    return erode(dilate(mask, radius), radius)


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """Fill the holes of a mask: background not 4-connected to the photo's edge.

    The same result as ``ndimage.binary_fill_holes``, from one labelling of the background
    (SciPy's floods it one step at a time: about 7× slower on an analysis-grid mask, as
    ``benchmarks/bench_analysis.py`` prints). Only the mask's box (:func:`box`) is labelled:
    every hole lies in it, and its border, all background, joins what lies beyond it.
    """
    if not mask.any():
        return mask
    rows, cols = box(mask, 1)
    count, labels = cv2.connectedComponents((~mask[rows, cols]).view(np.uint8), connectivity=4, ltype=cv2.CV_32S)
    if count <= 1:
        return mask
    hole = np.ones(count, dtype=bool)
    hole[0] = False
    hole[edge_labels(labels)] = False
    filled = mask.copy()
    filled[rows, cols] |= hole[labels]
    return filled


def box(mask: np.ndarray, margin: int) -> tuple[slice, slice]:
    """Rows and columns of the box round a mask's True pixels, widened by ``margin`` px and
    clipped to the mask. Raises IndexError for a mask with no True pixel.

    Work on a mark's box instead of a whole window is a fraction of the cost; with a margin of
    one, the box's border is clear of the mask wherever it is not the mask's edge.
    """
    # OpenCV's bounding box of the non-zero pixels: one pass, a tenth of numpy's two any() and
    # two flatnonzero() on a window (an analysis asks for a box some forty times)
    x, y, width, height = cv2.boundingRect(mask.view(np.uint8))
    if width == 0:
        raise IndexError("the mask has no True pixel")
    return (slice(max(y - margin, 0), y + height + margin),
            slice(max(x - margin, 0), x + width + margin))


def share(mask: np.ndarray) -> float:
    """The share (0-1) of a mask's pixels that are True: ``mask.mean()``'s value, from
    ``np.count_nonzero``, which costs a tenth of the float sum ``mean`` makes on a bool mask
    (an analysis asks this of about fifty windows and grids)."""
    return np.count_nonzero(mask) / mask.size


def components(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Label the 8-connected components of a mask: (labels int32 (H, W), count without 0)."""
    count, labels = cv2.connectedComponents(mask.view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
    return labels, count - 1


def counts(labels: np.ndarray, count: int) -> np.ndarray:
    """Pixels (count + 1,) float64 of each label 0..count of a labelling (any shape): the
    counts ``np.bincount`` gives, from OpenCV's histogram of the labels as uint16.

    A third of bincount's cost on the grid: a mask has a few large components, and bincount's
    increments of one counter after another wait on each other.
    """
    if count >= np.iinfo(np.uint16).max:
        return np.bincount(labels.ravel(), minlength=count + 1).astype(np.float64)
    histogram = cv2.calcHist([np.ascontiguousarray(labels, dtype=np.uint16)], [0], None, [count + 1], [0, count + 1])
    return histogram.ravel().astype(np.float64)


def _euclidean_distance(mask: np.ndarray) -> np.ndarray:
    """Return each True pixel's exact Euclidean distance (px, float32) to the nearest False
    pixel of a mask (H, W bool); False pixels read 0.

    OpenCV's precise transform (Felzenszwalb's), by OpenCV's own code and never by Intel IPP's.
    OpenCV hands the transform to IPP on one thread, or for any mask under 16,384 px
    (imgproc/src/distransform.cpp), and IPP's kernel rounds some distances one float32 ulp
    apart by where the mask lies in memory (opencv/opencv#24082, open): 1,103 of the 84,968
    distances of one mask differed between two copies of it 4 bytes apart, so the same photo
    gave two readings in two processes. OpenCV's own code gives SciPy's exact
    ``ndimage.distance_transform_edt`` bit for bit, on any thread count, and no slower. The
    IPP switch is per thread in OpenCV: turning it off here touches no other thread or call.
    """
    use_ipp = cv2.ipp.useIPP()
    cv2.ipp.setUseIPP(False)
    try:
        return cv2.distanceTransform(np.ascontiguousarray(mask).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    finally:
        cv2.ipp.setUseIPP(use_ipp)


def distance_outside(mask: np.ndarray, up_to: float | None = None) -> np.ndarray:
    """Return each pixel's Euclidean distance (px, float32) to the nearest True pixel of a mask.

    With ``up_to``, only distances up to it are computed (on the mask's box widened by it, a
    fraction of the cost for a small mark); pixels farther off read inf.
    """
    if not mask.any():
        return np.full(mask.shape, np.inf, dtype=np.float32)
    if up_to is None:
        return _euclidean_distance(~mask)
    rows, cols = box(mask, int(np.ceil(up_to)) + 1)
    distance = np.full(mask.shape, np.inf, dtype=np.float32)
    # exact within the box: every True pixel is in it
    distance[rows, cols] = _euclidean_distance(~mask[rows, cols])
    return distance


def depth_inside(mask: np.ndarray) -> np.ndarray:
    """Return each True pixel's distance (px, float32) to the nearest False pixel inside the frame.

    The frame's edge is not a boundary: a mark cut by the edge keeps its depth there. Computed
    on the mask's box (:func:`box`): a False pixel beyond it is never nearer than the box's own
    clear border, where that is not the frame's edge.
    """
    depth = np.zeros(mask.shape, dtype=np.float32)
    if mask.any():
        rows, cols = box(mask, 1)
        depth[rows, cols] = _euclidean_distance(mask[rows, cols])
    return depth


def edge_labels(labels: np.ndarray) -> np.ndarray:
    """Return the labels found on the photo's outer rows and columns, some more than once
    (for indexing: sorting out the repeats costs more than the rest of a window's fill)."""
    return np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])


def laplacian(plane: np.ndarray) -> np.ndarray:
    """Return the 5-point Laplacian of a float32 plane, edges mirrored as ``ndimage.laplace``."""
    return cv2.Laplacian(plane, cv2.CV_32F, ksize=1, borderType=cv2.BORDER_REFLECT)


def gaussian(planes: np.ndarray, sigma: float) -> np.ndarray:
    """Blur each plane of a float32 stack (C, H, W) with a Gaussian of ``sigma`` px (reflected edges)."""
    smooth = np.empty(planes.shape, planes.dtype)
    for plane, out in zip(planes, smooth):
        # written into its plane of the stack: no second copy of the grid as np.stack makes
        cv2.GaussianBlur(plane, (0, 0), sigma, dst=out, borderType=cv2.BORDER_REFLECT)
    return smooth


def gradient_magnitude(planes: np.ndarray) -> np.ndarray:
    """Return the Euclidean norm over planes (C, H, W) of their Sobel gradients, per pixel step."""
    total = np.zeros(planes.shape[1:], dtype=np.float32)
    for plane in planes:
        # ksize 3 Sobel sums four times a unit step's difference across two pixels
        gx = cv2.Sobel(plane, cv2.CV_32F, 1, 0, ksize=3, scale=1 / 8)
        gy = cv2.Sobel(plane, cv2.CV_32F, 0, 1, ksize=3, scale=1 / 8)
        # total += gx² + gy², in place: the same sums without three whole-grid temporaries
        np.multiply(gx, gx, out=gx)
        gx += np.multiply(gy, gy, out=gy)
        total += gx
    return np.sqrt(total, out=total)


def convex_hull(mask: np.ndarray) -> np.ndarray:
    """Return the filled convex hull (H, W) bool of a mask's True pixels."""
    hull_mask = np.zeros(mask.shape, dtype=np.uint8)
    # the hull of the outer contours is the hull of the pixels, from far fewer points
    contours, _ = cv2.findContours(mask.view(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if contours:
        hull = cv2.convexHull(np.concatenate(contours))
        cv2.fillConvexPoly(hull_mask, hull, 1)
    return hull_mask.view(bool)


def pixels(planes: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Values (C, N) of planes (C, H, W) at a mask's N pixels in reading order, as
    ``planes[:, mask]`` gives them, plane by plane: a 2-D mask over the last axes of a 3-D
    window costs numpy three times as much. Joined by one concatenation: np.stack's checks cost
    more than the copy on a mark's few hundred pixels."""
    return np.concatenate([plane[mask] for plane in planes]).reshape(len(planes), -1)


def percentile(values: np.ndarray, q: float) -> float:
    """``np.percentile(values, q)`` (linear method) of 1-D float values without NaN, the same
    value bit for bit, from one partition: on a window's few thousand values NumPy's general
    path (its NaN check, index arrays and 0-d array arithmetic) costs ten times the partition.
    Raises IndexError for no values.
    """
    count = len(values)
    position = (count - 1) * (q / 100)
    low = int(position)
    high = min(low + 1, count - 1)
    part = np.partition(values, (low, high) if high > low else low)
    below, above = part[low], part[high]
    gamma = position - low
    # numpy's lerp: from the nearer end, so that the ends are exact
    difference = above - below
    return float(above - difference * (1 - gamma) if gamma >= 0.5 else below + difference * gamma)


def sample(planes: np.ndarray, mask: np.ndarray, limit: int = 1500) -> np.ndarray:
    """Values (N, C) of planes (C, H, W) at about ``limit`` of a mask's pixels, evenly spaced
    through it (every k-th in reading order; N < 2 × limit).

    A median or a clustering of a few thousand skin pixels is as good as one of all of them and
    far cheaper.
    """
    # flat indices, taken from the planes laid out flat: np.nonzero's two index arrays over a
    # whole 400×300 mask cost four times a median of the sample, and numpy's gather by rows and
    # columns from a window's planes four times a copy of the window and a take
    flat = np.flatnonzero(mask)
    step = max(1, len(flat) // limit)
    return np.take(np.ascontiguousarray(planes).reshape(len(planes), -1), flat[::step], axis=1).T


def sample_median(planes: np.ndarray, mask: np.ndarray, limit: int = 1500) -> np.ndarray:
    """Per-plane median (C,) float64 of the masked pixels of planes (C, H, W), on ``sample``.

    ``np.median``'s value bit for bit (the middle one, or the mean of the middle two in the
    planes' dtype), from one partition of each plane: its general path costs twice that on a
    sample, and an analysis takes about a hundred medians. NaN with no masked pixel.
    """
    values = sample(planes, mask, limit).T
    count = values.shape[1]
    if count == 0:
        return np.full(len(planes), np.nan)
    half = count // 2
    if count % 2:
        return np.partition(values, half, axis=1)[:, half].astype(np.float64)
    part = np.partition(values, (half - 1, half), axis=1)
    return ((part[:, half - 1] + part[:, half]) / 2).astype(np.float64)


def colour_clusters(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Cluster colours (N, 3) into k with OpenCV's k-means (k-means++ seeding, one attempt).

    Returns each value's cluster (N,) int and the centres (k, 3) float64. The random seed is
    fixed, so the same photo always gives the same clusters.
    """
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 0.5)
    cv2.setRNGSeed(0)
    _, labels, centres = cv2.kmeans(values.astype(np.float32), k, None, criteria, 1,
                                    cv2.KMEANS_PP_CENTERS)
    return labels.ravel(), centres.astype(np.float64)


def least_squares(terms: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Solve min ||terms · coef − values|| for coef (T, C), terms (N, T), values (N, C).

    Through the T×T normal equations: on a few thousand rows this is exact enough for a smooth
    colour field. Their products are matrix products of blocks of at most ``_LSQ_ROWS`` rows,
    six times faster than einsum's loops: OpenBLAS runs a product of M·N·K ≤ 262144 on the
    calling thread (its interface/gemm.c), so with T ≤ 7 terms no block wakes its thread pool
    (``lstsq`` does, costing more than the fit on a busy server).
    """
    gram = np.zeros((terms.shape[1], terms.shape[1]))
    rhs = np.zeros((terms.shape[1], values.shape[1]))
    for start in range(0, len(terms), _LSQ_ROWS):
        block = terms[start:start + _LSQ_ROWS]
        # a copy of the transpose: numpy sends ``block.T @ block`` to BLAS's syrk, six times
        # slower than the general product on these thin blocks
        block_t = np.ascontiguousarray(block.T)
        gram += block_t @ block
        rhs += block_t @ values[start:start + _LSQ_ROWS]
    return np.linalg.solve(gram + 1e-9 * np.eye(len(gram)), rhs)


# rows per block of least_squares' products: 7 × 7 × 5000 stays under OpenBLAS's single-thread bound
_LSQ_ROWS = 5000
