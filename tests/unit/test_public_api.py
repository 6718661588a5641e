"""The public API: what `import crawler` offers is listed, sorted, documented and importable."""

import inspect
import subprocess
import sys

import pytest

import crawler


def test_all_is_sorted_and_importable() -> None:
    assert crawler.__all__ == sorted(crawler.__all__)
    for name in crawler.__all__:
        assert hasattr(crawler, name), name
    assert set(crawler.__all__) == {*crawler._EXPORTS, "__version__"}  # every lazy name is listed


@pytest.mark.parametrize("module", ["crawler.parsing", "crawler.cli"])
def test_light_entry_points_leave_heavy_libraries_unloaded(module: str) -> None:
    """Parse-pool workers (crawler.parsing) and `crawler --help` (crawler.cli) start fast."""
    code = f"import sys, {module}; print(sorted({{'aiohttp', 'bs4', 'rich'}} & set(sys.modules)))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert output.stdout.strip() == "[]"


def test_public_names_have_docstrings() -> None:
    for name in crawler.__all__:
        value = getattr(crawler, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert (value.__doc__ or "").strip(), f"{name} has no docstring"
