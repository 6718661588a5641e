"""The public API: what `import crawler` offers is listed, sorted, documented and importable."""

import inspect
import subprocess
import sys

import crawler


def test_all_is_sorted_and_importable() -> None:
    assert crawler.__all__ == sorted(crawler.__all__)
    for name in crawler.__all__:
        assert hasattr(crawler, name), name
    assert set(crawler.__all__) == {*crawler._EXPORTS, "__version__"}  # every lazy name is listed


def test_parse_workers_import_only_what_parsing_needs() -> None:
    """A parse-pool worker imports crawler.parsing: that must not pull in aiohttp or bs4."""
    code = "import sys, crawler.parsing; print(sorted({'aiohttp', 'bs4'} & set(sys.modules)))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert output.stdout.strip() == "[]"


def test_public_names_have_docstrings() -> None:
    for name in crawler.__all__:
        value = getattr(crawler, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert (value.__doc__ or "").strip(), f"{name} has no docstring"
