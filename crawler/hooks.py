"""User page hooks: a scraper's callback receives each HTML page and its BeautifulSoup document."""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable, Union

from bs4 import BeautifulSoup

from .models import FetchResult, PageRecord
from .parsing import make_soup

logger = logging.getLogger("crawler")


@dataclass(frozen=True, slots=True)
class Follow:
    """Returned by a hook: also crawl this URL (resolved against the page URL)."""

    url: str


HookResult = Union[Iterable[Any], None]
PageHook = Callable[[PageRecord, BeautifulSoup], Union[HookResult, Awaitable[HookResult]]]


def split_results(results: HookResult) -> tuple[list[Any], list[str]]:
    """Separate what a hook returned into scraped items and URLs to follow."""
    items: list[Any] = []
    follows: list[str] = []
    for result in results or ():
        (follows.append(result.url) if isinstance(result, Follow) else items.append(result))
    return items, follows


async def run_hook(hook: PageHook, record: PageRecord, fetch: FetchResult) -> tuple[list[Any], list[str]]:
    """Call a sync or async hook with the page's soup; return (items, urls to follow).

    A hook that raises is logged and treated as returning nothing: one bad page
    must not end a long crawl.
    """
    try:
        result = hook(record, make_soup(fetch.body, fetch.url, fetch.charset))
        if inspect.isawaitable(result):
            result = await result
        return split_results(result)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001
        logger.exception("page hook failed on %s", record.url)
        return [], []
