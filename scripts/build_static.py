"""Build the static files the app serves: hashed names, a manifest, .gz and .br copies.

`make` runs it after filling static/vendor and static/icons; the output is build output, never
committed. What is built and why: webapp/views/delivery.py.

    python scripts/build_static.py [SOURCE [TARGET]]    # default: static build/static
"""
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from webapp.views import delivery  # noqa: E402


def main(argv: list[str]) -> None:
    """Build SOURCE (default static/) into TARGET (default build/static/)."""
    source = Path(argv[0]) if argv else ROOT / "static"
    target = Path(argv[1]) if len(argv) > 1 else ROOT / delivery.BUILD
    manifest = delivery.build(source, target)
    print(f"{len(manifest)} static files built into {target}, hashed and compressed")


if __name__ == "__main__":
    main(sys.argv[1:])
