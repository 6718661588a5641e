"""The asyncio driver: aiohttp fetches, many in flight on one event loop.

One dispatcher asks the core for ready requests and starts a task for each, up
to ``concurrency`` at once; a completion wakes it. Link extraction of small
pages runs inline (lxml takes well under a millisecond); pages of
``parse_offload_bytes`` or more go to a process pool through
``loop.run_in_executor``, where their parse cost is worth the round trip.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Callable

from ..core import CrawlCore
from ..fetchers import AsyncFetcher
from ..hooks import PageHook, run_hook
from ..models import CrawlRequest, ErrorInfo, FetchResult, PageRecord, ParseResult
from ..parsing import parse_page

# How long in-flight requests may run on after a stop before they are cancelled.
STOP_GRACE_SECONDS = 2.0


class AsyncRunner:
    """Runs a crawl core with aiohttp and a parse process pool."""

    def __init__(self, core: CrawlCore, emit: Callable[[PageRecord], None],
                 hook: PageHook | None = None) -> None:
        self.core = core
        self.config = core.config
        self._emit = emit
        self._hook = hook
        self._wake = asyncio.Event()
        self._pool: ProcessPoolExecutor | None = None
        self._pool_usable = self.config.effective_parse_workers > 0

    async def run(self) -> None:
        """Crawl until the core is finished or halted."""
        try:
            async with AsyncFetcher(self.config, connector_limit=self.config.concurrency,
                                    trusted_hosts=self.core.scope.hosts) as fetcher:
                await self._dispatch(fetcher)
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True, cancel_futures=True)
        for record in self.core.drain():
            self._emit(record)

    async def _dispatch(self, fetcher: AsyncFetcher) -> None:
        """Start ready requests up to the concurrency limit until nothing is left."""
        tasks: set[asyncio.Task[None]] = set()
        try:
            while not self.core.finished:
                if self.core.halted:
                    await _finish_within(tasks, STOP_GRACE_SECONDS)
                    break
                while len(tasks) < self.config.concurrency and (request := self.core.next_request()):
                    task = asyncio.create_task(self._handle(fetcher, request))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                for record in self.core.drain():  # made without a fetch (a redirect robots.txt forbids)
                    self._emit(record)
                if self.core.finished:  # next_request() may just have dropped the last disallowed URLs
                    break
                self._wake.clear()
                timeout = self.core.wait_time()
                try:
                    await asyncio.wait_for(self._wake.wait(), min(timeout if timeout is not None else 1.0, 1.0))
                except TimeoutError:
                    pass
        finally:
            await _finish_within(tasks, 0)

    async def _handle(self, fetcher: AsyncFetcher, request: CrawlRequest) -> None:
        """Fetch, parse and complete one request; wake the dispatcher when done."""
        try:
            fetch = await _fetch(fetcher, request)
            parsed = await self._parse(fetch) if self.core.needs_parse(request, fetch) else None
            for record in self.core.complete(request, fetch, parsed):
                if self._hook is not None and parsed is not None and record.url == fetch.url:
                    items, follows = await run_hook(self._hook, record, fetch)
                    record.items.extend(items)
                    for url in follows:
                        self.core.follow(url, record)
                self._emit(record)
        finally:
            self._wake.set()

    async def _parse(self, fetch: FetchResult) -> ParseResult:
        """Extract links and title, in the pool when the page is big enough to be worth it."""
        if self._pool_usable and len(fetch.body) >= self.config.parse_offload_bytes:
            loop = asyncio.get_running_loop()
            try:
                return await loop.run_in_executor(self._parse_pool(), parse_page, fetch.body, fetch.url,
                                                  fetch.charset)
            except BrokenProcessPool:
                self._pool_usable = False  # a worker died (killed, out of memory): parse inline from now on
        return parse_page(fetch.body, fetch.url, fetch.charset)

    def _parse_pool(self) -> ProcessPoolExecutor:
        """The parse pool, started on first use so crawls of small pages never pay for it."""
        if self._pool is None:
            # forkserver: forking a process that runs threads (aiohttp's resolver) is unsafe.
            context = multiprocessing.get_context("forkserver")
            self._pool = ProcessPoolExecutor(self.config.effective_parse_workers, mp_context=context)
        return self._pool


async def _fetch(fetcher: AsyncFetcher, request: CrawlRequest) -> FetchResult:
    """Fetch, turning an unexpected fetcher failure into an error result so the crawl goes on."""
    try:
        return await fetcher.fetch(request)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - a bug in one fetch must not hang the crawl
        return FetchResult(url=request.url, error=ErrorInfo("internal", f"{type(exc).__name__}: {exc}"))


async def _finish_within(tasks: set[asyncio.Task[None]], grace: float) -> None:
    """Let running tasks finish for up to grace seconds, then cancel the rest."""
    if not tasks:
        return
    pending = set(tasks)
    if grace > 0:
        _, pending = await asyncio.wait(pending, timeout=grace)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
