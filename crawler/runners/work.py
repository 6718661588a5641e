"""The unit of work the blocking drivers share: fetch a request, parse it, run its hook; never raise."""

from __future__ import annotations

import time
from collections.abc import Callable

from ..core import CrawlCore
from ..errors import ErrorKind
from ..fetchers import BlockingFetcher
from ..hooks import Scraper
from ..models import CrawlRequest, ErrorInfo, FetchResult, ParseResult
from ..parsing import PageParser, parse_page

# The longest idle sleep: short enough that a stop is noticed promptly.
MAX_IDLE_SECONDS = 0.5

Outcome = tuple[FetchResult, ParseResult | None]
NeedsParse = Callable[[CrawlRequest, FetchResult], bool]


def fetch_and_parse(fetcher: BlockingFetcher, request: CrawlRequest, needs_parse: NeedsParse,
                    scraper: Scraper | None = None, parse: PageParser = parse_page) -> Outcome:
    """Fetch a request, parse it when the core wants its links and run the scraper on it; never raises."""
    try:
        fetch = fetcher.fetch(request)
        if not needs_parse(request, fetch):
            return fetch, None
        parsed = parse(fetch.body, fetch.url, fetch.charset)
        return fetch, scraper(request, fetch, parsed) if scraper else parsed
    except Exception as exc:  # noqa: BLE001 - a bug on one page must not hang the crawl
        return internal_error(request, exc), None


def internal_error(request: CrawlRequest, exc: BaseException) -> FetchResult:
    """The result of a request whose work failed unexpectedly."""
    return FetchResult(url=request.url, error=ErrorInfo(ErrorKind.INTERNAL, f"{type(exc).__name__}: {exc}"),
                       fetched_at=time.time())


def idle_wait(core: CrawlCore) -> float:
    """How long to wait for something to become ready, bounded by MAX_IDLE_SECONDS."""
    wait = core.wait_time()
    return MAX_IDLE_SECONDS if wait is None else min(wait, MAX_IDLE_SECONDS)
