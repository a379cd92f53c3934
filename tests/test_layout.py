"""The layout shows the layers, and the imports keep to them (contracts in pyproject.toml)."""
from pathlib import Path

from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]


def test_each_layer_imports_only_the_layers_below_it_and_the_analysis_stays_pure():
    # views -> services -> models -> extensions | clock | config -> analysis; the analysis
    # imports neither Flask nor a database library
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True) == 0


def test_the_tests_mirror_the_layout():
    for layer in ("analysis", "services", "views"):
        modules = {path.stem for path in (ROOT / "webapp" / layer).glob("*.py")}
        for test in (ROOT / "tests" / layer).glob("test_*.py"):
            area = test.stem.removeprefix("test_")
            # an area's tests live beside the layer its module is in (analysis tests may be
            # about the whole engine: test_analysis, test_scenes)
            assert area in modules or layer == "analysis", test
