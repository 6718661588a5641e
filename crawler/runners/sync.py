"""The synchronous driver: one blocking fetch, then its parse, one page at a time.

It also holds what the three blocking drivers (sync, threaded, process) share:
the fetch-and-parse unit of work, which runs a page hook that may run where the
page is parsed, and the hand-back of its result to the core, which runs a hook
pinned to the crawling process (see :mod:`crawler.hooks`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from ..core import CrawlCore
from ..errors import ErrorKind
from ..fetchers import BlockingFetcher
from ..hooks import PageHook, Scraper, plan
from ..models import CrawlRequest, ErrorInfo, FetchResult, PageRecord, ParseResult
from ..parsing import PageParser, parse_page, parser_for

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


class BlockingRunner:
    """What the blocking drivers share: the core, the record callback and the hook."""

    def __init__(self, core: CrawlCore, emit: Callable[[PageRecord], None],
                 hook: PageHook | None = None) -> None:
        self.core = core
        self.config = core.config
        self._emit = emit
        workers = self.config.workers if self.config.mode != "sync" else 0
        # A hook runs where pages are parsed (_scraper) or in this thread (_pinned): see crawler.hooks.
        self._scraper, self._pinned = plan(hook, self.config, workers)

    def run(self) -> None:
        """Crawl until the core is finished or halted."""
        raise NotImplementedError

    def _deliver(self, request: CrawlRequest, fetch: FetchResult, parsed: ParseResult | None) -> None:
        """Run a pinned hook on the page, give the finished request to the core, emit its records."""
        if self._pinned is not None and parsed is not None:
            parsed = self._pinned(request, fetch, parsed)
        for record in self.core.complete(request, fetch, parsed):
            self._emit(record)

    def _flush(self) -> None:
        """Emit records the core made without a fetch (robots-forbidden redirect targets)."""
        for record in self.core.drain():
            self._emit(record)


class SyncRunner(BlockingRunner):
    """Fetches and parses one page at a time in the calling thread."""

    def run(self) -> None:
        """Crawl until the core is finished or halted."""
        with BlockingFetcher(self.config, maxsize=1, trusted_hosts=self.core.scope.hosts,
                             seed_origins=self.core.scope.origins) as fetcher:
            while not self.core.finished:
                request = self.core.next_request()
                if request is None:
                    self._flush()  # a dropped redirect target may be all that was left
                    if not self.core.finished:
                        time.sleep(idle_wait(self.core))
                    continue
                self._deliver(request, *fetch_and_parse(fetcher, request, self.core.needs_parse,
                                                        self._scraper, parser_for(self.config)))
        self._flush()
