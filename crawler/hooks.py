"""User page hooks: a scraper's callback receives each HTML page's record and its BeautifulSoup document.

Where a hook runs is decided once per crawl, by :func:`plan`:

- **Where the page is parsed**, when the hook pickles by reference (a module-level
  function, or an instance of a module-level class): in the parse worker process
  (async, process mode), in the worker thread (threaded), inline (sync). The
  worker builds the soup from the bytes it already holds, calls the hook and
  sends back only what it returned, as the parse's :class:`HookOutput`: the soup
  never crosses a process boundary.
- **In the crawling process**, one page at a time on the thread that owns the
  crawl (the event loop in async mode), when it does not pickle (a lambda, a
  closure), is ``async``, or is pinned there with :func:`in_crawl_process`. The
  crawl says so once, in one line.

Either way the core applies the output: items join the page's record, ``Follow``
URLs are queued, and a hook that failed leaves an error on the record.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import os
import pickle
import traceback
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .config import CrawlConfig
from .core import final_record
from .errors import ErrorKind
from .models import CrawlRequest, ErrorInfo, FetchResult, HookOutput, PageRecord, ParseResult
from .parsing import PageParser, make_soup, parse_page, parser_for

if TYPE_CHECKING:
    from bs4 import BeautifulSoup  # imported by make_soup only when a hook runs

logger = logging.getLogger("crawler")


@dataclass(frozen=True, slots=True)
class Follow:
    """Returned by a hook: also crawl this URL (resolved against the page URL)."""

    url: str


HookResult = Iterable[Any] | None
PageHook = Callable[[PageRecord, "BeautifulSoup"], HookResult | Awaitable[HookResult]]


@dataclass(frozen=True, slots=True)
class _Pinned:
    """A page hook that runs in the crawling process, wherever pages are parsed."""

    hook: PageHook

    def __call__(self, page: PageRecord, soup: BeautifulSoup) -> HookResult | Awaitable[HookResult]:
        """Call the pinned hook."""
        return self.hook(page, soup)


def in_crawl_process(hook: PageHook) -> PageHook:
    """Pin a page hook to the crawling process: it runs one page at a time on the crawl's own thread.

    For a hook that must share state with the program around the crawl (a list it
    appends to, an open database connection). Pages' soups are then built there,
    by one CPU, instead of in the parse workers.
    """
    return _Pinned(hook)


def is_async(hook: PageHook) -> bool:
    """True for a coroutine function, or an object whose __call__ is one (pinned or not)."""
    hook = hook.hook if isinstance(hook, _Pinned) else hook
    return inspect.iscoroutinefunction(hook) or inspect.iscoroutinefunction(type(hook).__call__)


def crawl_process_reason(hook: PageHook) -> str | None:
    """Why hook must run in the crawling process, or None when it may run where pages are parsed."""
    if isinstance(hook, _Pinned):
        return "crawler.in_crawl_process pins it there"
    if is_async(hook):
        return "it is async"
    try:
        pickle.loads(pickle.dumps(hook))
    except Exception as exc:  # noqa: BLE001 - pickle raises many kinds (PicklingError, TypeError, AttributeError)
        return (f"it does not pickle ({type(exc).__name__}: {exc}); a module-level function "
                "or an instance of a module-level class would")
    return None


@dataclass(frozen=True, slots=True)
class Scraper:
    """Runs a page hook on a parsed page: builds its soup, calls the hook, keeps what it returned."""

    hook: PageHook
    max_body_bytes: int
    # Its output crosses to the crawling process (a parse worker): it must pickle.
    in_worker: bool = True
    # The crawl's parse (a link check's reads more), for the pool that parses and scrapes in one.
    parse: PageParser = parse_page

    def __call__(self, request: CrawlRequest, fetch: FetchResult, parsed: ParseResult) -> ParseResult:
        """The parse with the hook's output (never raises)."""
        try:
            result = self.hook(*self._arguments(request, fetch, parsed))
            if inspect.isawaitable(result):
                getattr(result, "close", lambda: None)()  # avoid "coroutine was never awaited"
                raise TypeError("the page hook returned an awaitable: only mode 'async' runs async hooks")
            output = self._output(result)  # type: ignore[arg-type]
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - one bad page must not end a long crawl
            output = HookOutput(error=hook_error(exc))
        return dataclasses.replace(parsed, hook=output)

    async def run_async(self, request: CrawlRequest, fetch: FetchResult, parsed: ParseResult) -> ParseResult:
        """The parse with the output of a sync or async hook, awaited on the event loop."""
        try:
            result = self.hook(*self._arguments(request, fetch, parsed))
            if inspect.isawaitable(result):
                result = await result
            output = self._output(result)  # type: ignore[arg-type]
        except (Exception, SystemExit) as exc:  # noqa: BLE001
            output = HookOutput(error=hook_error(exc))
        return dataclasses.replace(parsed, hook=output)

    def _arguments(self, request: CrawlRequest, fetch: FetchResult,
                   parsed: ParseResult) -> tuple[PageRecord, BeautifulSoup]:
        """The hook's arguments: the record the core will write, and the page's soup."""
        return (final_record(request, fetch, parsed, self.max_body_bytes),
                make_soup(fetch.body, fetch.url, fetch.charset))

    def _output(self, result: HookResult) -> HookOutput:
        """Split what the hook returned into items and URLs to follow; check they can travel."""
        items: list[Any] = []
        follows: list[str] = []
        for value in result or ():
            if not isinstance(value, Follow):
                items.append(value)
            elif isinstance(value.url, str):
                follows.append(value.url)
            else:
                return _bad_result(f"Follow({value.url!r}): a URL must be a str")
        if self.in_worker:
            try:
                pickle.dumps(items, pickle.HIGHEST_PROTOCOL)
            except Exception as exc:  # noqa: BLE001
                return _bad_result(f"an item does not pickle ({type(exc).__name__}: {exc}); a hook "
                                   "that runs in the parse worker must return plain data")
        return HookOutput(tuple(items), tuple(follows))


def hook_error(exc: BaseException) -> ErrorInfo:
    """The record's error for a hook that raised: the exception and where the hook raised it."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" (at {os.path.basename(frames[-1].filename)}:{frames[-1].lineno} in {frames[-1].name})" \
        if frames else ""
    return ErrorInfo(ErrorKind.HOOK_ERROR, f"{type(exc).__name__}: {exc}{where}")


def _bad_result(message: str) -> HookOutput:
    """The output of a hook whose return value cannot be used."""
    return HookOutput(error=ErrorInfo(ErrorKind.HOOK_RESULT, f"the page hook returned {message}"))


def plan(hook: PageHook | None, config: CrawlConfig, workers: int) -> tuple[Scraper | None, Scraper | None]:
    """Where the crawl runs its hook: (scraper for where pages are parsed, scraper for the crawling process).

    workers counts what a hook in the crawling process forgoes (parse processes or
    threads); when there are some, the crawl says once why and what it costs.
    """
    if hook is None:
        return None, None
    reason = crawl_process_reason(hook)
    if reason is None:
        return Scraper(hook, config.max_body_bytes, parse=parser_for(config)), None
    if workers:
        logger.warning(
            "the page hook %s runs in the crawling process, one page at a time, because %s: every "
            "page's BeautifulSoup document is built and searched there, on one CPU, instead of in "
            "the %d %s", _name(hook), reason, workers,
            "worker threads" if config.mode == "threaded" else "parse worker processes")
    return None, Scraper(hook, config.max_body_bytes, in_worker=False)


def _name(hook: PageHook) -> str:
    """A short name for a hook in messages."""
    hook = hook.hook if isinstance(hook, _Pinned) else hook
    return getattr(hook, "__qualname__", None) or type(hook).__qualname__


# ----- the parse pool's side --------------------------------------------------------------

_installed: Scraper | None = None

ScrapeJob = tuple[CrawlRequest, FetchResult]


def install(scraper: Scraper | None) -> None:
    """Give this parse worker the scraper that scrape_pages runs (from the pool's initializer)."""
    global _installed
    _installed = scraper


def scrape_pages(jobs: list[ScrapeJob]) -> list[ParseResult]:
    """Parse each fetched page and run the installed hook on it: a hooked crawl's pool entry point."""
    assert _installed is not None, "scrape_pages runs only in a pool whose workers installed a scraper"
    return [_installed(request, fetch, _installed.parse(fetch.body, fetch.url, fetch.charset))
            for request, fetch in jobs]
