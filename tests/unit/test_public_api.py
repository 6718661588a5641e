"""The public API: what `import crawler` offers is listed, sorted, documented and importable."""

import inspect

import crawler


def test_all_is_sorted_and_importable() -> None:
    assert crawler.__all__ == sorted(crawler.__all__)
    for name in crawler.__all__:
        assert hasattr(crawler, name), name


def test_public_names_have_docstrings() -> None:
    for name in crawler.__all__:
        value = getattr(crawler, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert (value.__doc__ or "").strip(), f"{name} has no docstring"
