"""User page hooks: a scraper's callback receives each HTML page and its BeautifulSoup document."""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Iterable, Union

from .models import FetchResult, PageRecord
from .parsing import make_soup

if TYPE_CHECKING:
    from bs4 import BeautifulSoup  # imported by make_soup only when a hook runs

logger = logging.getLogger("crawler")


@dataclass(frozen=True, slots=True)
class Follow:
    """Returned by a hook: also crawl this URL (resolved against the page URL)."""

    url: str


HookResult = Union[Iterable[Any], None]
PageHook = Callable[[PageRecord, "BeautifulSoup"], Union[HookResult, Awaitable[HookResult]]]


# How a hook's Follow(url) reaches the crawl: CrawlCore.follow.
Follower = Callable[[str, PageRecord], bool]


def split_results(results: HookResult) -> tuple[list[Any], list[str]]:
    """Separate what a hook returned into scraped items and URLs to follow."""
    items: list[Any] = []
    follows: list[str] = []
    for result in results or ():
        (follows.append(result.url) if isinstance(result, Follow) else items.append(result))
    return items, follows


async def run_hook(hook: PageHook, record: PageRecord, fetch: FetchResult, follow: Follower) -> None:
    """Call a sync or async hook with the page's soup; add its items to the record, follow its Follows.

    A hook that raises is logged and treated as returning nothing: one bad page
    must not end a long crawl.
    """
    try:
        result = hook(record, make_soup(fetch.body, fetch.url, fetch.charset))
        if inspect.isawaitable(result):
            result = await result
        items, follows = split_results(result)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001
        logger.exception("page hook failed on %s", record.url)
        return
    _apply(record, items, follows, follow)


def call_hook(hook: PageHook, record: PageRecord, fetch: FetchResult, follow: Follower) -> None:
    """run_hook for the blocking modes, which run plain (not async) hooks only."""
    try:
        result = hook(record, make_soup(fetch.body, fetch.url, fetch.charset))
    except Exception:  # noqa: BLE001
        logger.exception("page hook failed on %s", record.url)
        return
    if inspect.isawaitable(result):
        getattr(result, "close", lambda: None)()  # avoid "coroutine was never awaited"
        raise TypeError("the page hook returned an awaitable: only mode 'async' runs async hooks")
    _apply(record, *split_results(result), follow)  # type: ignore[arg-type]


def _apply(record: PageRecord, items: list[Any], follows: list[str], follow: Follower) -> None:
    """Attach scraped items to the record and queue the URLs to follow."""
    record.items.extend(items)
    for url in follows:
        follow(url, record)
