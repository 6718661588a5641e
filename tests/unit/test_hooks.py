"""Where a page hook may run: decided from the hook alone, before the crawl starts."""

from __future__ import annotations

import functools
from typing import Any

import pytest

import crawler
from crawler.hooks import crawl_process_reason, is_async


def module_hook(page: Any, soup: Any) -> list[Any]:
    """Pickles by reference."""
    return []


class ModuleHook:
    """Its instances pickle by reference to the class, with their state."""

    def __init__(self, selector: str) -> None:
        self.selector = selector

    def __call__(self, page: Any, soup: Any) -> list[Any]:
        return [self.selector]


async def async_hook(page: Any, soup: Any) -> list[Any]:
    """Awaits: runs on the event loop."""
    return []


def closure() -> Any:
    found: list[Any] = []

    def hook(page: Any, soup: Any) -> None:
        found.append(page)

    return hook


@pytest.mark.parametrize("hook", [module_hook, ModuleHook("h2"), functools.partial(module_hook)])
def test_what_pickles_by_reference_may_run_where_pages_are_parsed(hook: Any) -> None:
    assert crawl_process_reason(hook) is None


@pytest.mark.parametrize("hook, reason", [
    (lambda page, soup: [], "does not pickle"),
    (closure(), "does not pickle"),
    (async_hook, "it is async"),
    (crawler.in_crawl_process(module_hook), "pins it there"),
    (crawler.in_crawl_process(async_hook), "pins it there"),
])
def test_what_cannot_or_may_not_leave_runs_in_the_crawling_process(hook: Any, reason: str) -> None:
    assert reason in (crawl_process_reason(hook) or "")


def test_a_pinned_async_hook_is_still_async() -> None:
    assert is_async(crawler.in_crawl_process(async_hook)) and not is_async(module_hook)
