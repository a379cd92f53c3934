"""Benchmark: analyze_photo on a 12-megapixel phone-like JPEG against a plain full decode.

Run with ``python benchmarks/bench_analysis.py``. Prints the median of several runs of
``Image.open(path).load()`` and of ``analyze_photo(path)``, their ratio (goal ≤ 0.8) and peak
memory (tracemalloc peak of one analysis, and the process's ru_maxrss).
"""

from __future__ import annotations

import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from webapp.analysis import analyze_photo  # noqa: E402
from webapp.analysis import synthetic as syn  # noqa: E402

RUNS = 7


def phone_jpeg(path: Path) -> None:
    """Write a 4000×3000 JPEG with skin, six marks, a towel, texture and noise, quality 90."""
    rng = np.random.default_rng(12)
    skin = syn.random_skin("intermediate", rng)
    marks = syn.random_marks(skin, 6, rng, avoid_edge="bottom")
    # paint at 1000×750 (the scene is smooth), enlarge to 12 MP, then add full-resolution grain
    # and sensor noise so the jpeg carries phone-like fine detail
    scene = syn.render_scene(skin, marks, size=(1000, 750), edge="towel", lighting=syn.Lighting(shading=0.1), seed=3)
    big = np.asarray(scene.image.resize((4000, 3000), Image.Resampling.BICUBIC), dtype=np.float32)
    big += rng.normal(0, 3.0, big.shape).astype(np.float32)
    Image.fromarray(np.clip(big, 0, 255).astype(np.uint8)).save(path, "JPEG", quality=90)


def median_ms(action) -> float:
    """Median wall time of several runs of an action, in milliseconds."""
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    """Build the photo, time both, print the figures."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "phone.jpg"
        phone_jpeg(path)
        size_mb = path.stat().st_size / 1e6

        def decode():
            with Image.open(path) as image:
                image.load()

        analyze_photo(path)  # warm up imports and caches
        decode_ms = median_ms(decode)
        analyze_ms = median_ms(lambda: analyze_photo(path))
        tracemalloc.start()
        reading = analyze_photo(path)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    maxrss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"photo: 4000x3000 JPEG q90, {size_mb:.1f} MB; reading: {reading.marks} marks, "
          f"stage {reading.stage}, ΔE00 {reading.delta_e}")
    print(f"full decode  Image.open().load(): {decode_ms:7.1f} ms (median of {RUNS})")
    print(f"analyze_photo(path):              {analyze_ms:7.1f} ms (median of {RUNS})")
    print(f"ratio analyze/decode: {analyze_ms / decode_ms:.2f} (goal <= 0.80)")
    print(f"peak memory: tracemalloc {peak / 1e6:.1f} MB during one analysis; ru_maxrss {maxrss_mb:.0f} MB")


if __name__ == "__main__":
    main()
