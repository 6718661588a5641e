"""The asyncio driver: aiohttp fetches, many in flight on one event loop.

One dispatcher asks the core for ready requests and starts a task for each, up
to ``concurrency`` fetching at once; the end of a fetch wakes it. A fetched page
waiting for its parse holds no fetch slot (the core releases its host first). Pages of
``parse_offload_bytes`` or more are parsed in a process pool through
``loop.run_in_executor``, batched so that one round trip serves several pages;
tiny pages parse inline, where that is cheaper than any round trip. A page hook
that may run where pages are parsed runs in the pool too, on every page whatever
its size: building and searching a soup costs milliseconds, a round trip a
fraction of one.
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from ..core import CrawlCore
from ..errors import ErrorKind
from ..fetchers import AsyncFetcher
from ..hooks import PageHook, Scraper, install, plan, scrape_pages
from ..models import CrawlRequest, ErrorInfo, FetchResult, PageRecord, ParseResult
from ..parsing import parse_page, parse_pages, parser_for
from .batcher import ParseBatcher, WorkerDied
from .lifeline import follow
from .work import internal_error

# How long in-flight requests may run on after a stop before they are cancelled.
STOP_GRACE_SECONDS = 2.0
# Fetched pages that may wait for their parse, per fetch slot beyond the first. The pool
# holds whole batches (up to 64 pages per worker) while the next ones gather: with one
# per slot, a crawl at -c 64 stalled its connections whenever both workers held a full
# batch (bench_async, runs alternated in one session: median 543 against 507 pages/s,
# faster in 7 of 8 pairs).
PARSE_BACKLOG = 3
# ... and at most this many bytes of bodies in all: a site of 10 MB pages must not fill the RAM.
PARSE_BACKLOG_BYTES = 64 * 1024 * 1024
# Pages per pool round trip when a page hook runs there. A trip costs the loop ~0.4 ms,
# a page with a soup 5-20 ms: a few pages make the trip's cost small, and many would hold
# back each page's links (and so the frontier) for a whole batch's parse.
HOOKED_BATCH = 4


class AsyncRunner:
    """Runs a crawl core with aiohttp and a parse process pool."""

    def __init__(self, core: CrawlCore, emit: Callable[[list[PageRecord]], None],
                 hook: PageHook | None = None) -> None:
        self.core = core
        self.config = core.config
        self._emit = emit
        # A hook runs where pages are parsed (_scraper) or on this loop (_pinned): see crawler.hooks.
        self._scraper, self._pinned = plan(hook, self.config, self.config.effective_parse_workers)
        self._wake = asyncio.Event()
        self._fetching = 0
        self._held_bytes = 0  # bodies of fetched pages not settled yet
        self._parse_page = parser_for(self.config)  # parse_page, or a link check's parse
        self._batcher: ParseBatcher | None = None  # set once the pool's workers are up; it owns the pool
        self._warm_up: asyncio.Task[None] | None = None  # a pool starting from a forkserver

    async def run(self) -> None:
        """Crawl until the core is finished or halted."""
        warm_up = None
        if self.config.effective_parse_workers:
            if _can_fork():
                self._fork_pool()  # before the fetcher's resolver starts any thread
            else:
                warm_up = self._warm_up = asyncio.create_task(asyncio.to_thread(self._start_pool))
        try:
            async with AsyncFetcher(self.config, connector_limit=self.config.concurrency,
                                    trusted_hosts=self.core.scope.hosts,
                                    seed_origins=self.core.scope.origins) as fetcher:
                await self._dispatch(fetcher)
        finally:
            if warm_up is not None:
                await asyncio.gather(warm_up, return_exceptions=True)
            if self._batcher is not None:
                await self._batcher.wait_replaced()
                self._batcher.pool.shutdown(wait=True, cancel_futures=True)
        if records := self.core.drain():
            self._emit(records)

    async def _dispatch(self, fetcher: AsyncFetcher) -> None:
        """Start ready requests up to the concurrency limit until nothing is left."""
        tasks: set[asyncio.Task[None]] = set()
        try:
            while not self.core.finished:
                if self.core.halted:
                    await _finish_within(tasks, STOP_GRACE_SECONDS)
                    break
                while self._may_start(len(tasks)) and (request := self.core.next_request()):
                    self._fetching += 1
                    task = asyncio.create_task(self._handle(fetcher, request))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                if records := self.core.drain():  # made without a fetch (a URL robots.txt forbids)
                    self._emit(records)
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

    def _may_start(self, tasks: int) -> bool:
        """True while a fetch slot is free and few enough fetched pages await their parse.

        Pages waiting for the parse pool hold no fetch slot, so a busy pool does not idle
        the connections. Up to PARSE_BACKLOG x (concurrency - 1) of them may wait, holding
        PARSE_BACKLOG_BYTES at most, which keeps a crawl at -c 1 one page at a time.
        """
        concurrency = self.config.concurrency
        return (self._fetching < concurrency and self._held_bytes < PARSE_BACKLOG_BYTES
                and tasks < concurrency + PARSE_BACKLOG * (concurrency - 1))

    async def _handle(self, fetcher: AsyncFetcher, request: CrawlRequest) -> None:
        """Fetch, parse and complete one request, waking the dispatcher as its slots free up."""
        held = 0
        try:
            try:
                fetch = await _fetch(fetcher, request)
            finally:
                self._fetching -= 1
                self._wake.set()
            held = len(fetch.body)
            self._held_bytes += held
            self.core.release(request, fetch)
            parsed = await self._parse(request, fetch) if self.core.needs_parse(request, fetch) else None
            if records := self.core.settle(request, fetch, parsed):
                self._emit(records)
        finally:
            self._held_bytes -= held
            self._wake.set()

    async def _parse(self, request: CrawlRequest, fetch: FetchResult) -> ParseResult:
        """Extract links and title (and run the hook), in the pool when that is worth a round trip."""
        if self._scraper is not None:
            return await self._scrape(request, fetch, self._scraper)
        parsed = await self._parse_links(fetch)
        if self._pinned is not None:
            return await self._pinned.run_async(request, fetch, parsed)
        return parsed

    async def _parse_links(self, fetch: FetchResult) -> ParseResult:
        """Extract links and title, in the pool when the page is big enough to be worth it."""
        if len(fetch.body) >= self.config.parse_offload_bytes:
            parsed = await self._in_pool(fetch.body, fetch.url, fetch.charset)
            if parsed is not None:
                return parsed
        return self._parse_page(fetch.body, fetch.url, fetch.charset)

    async def _scrape(self, request: CrawlRequest, fetch: FetchResult, scraper: Scraper) -> ParseResult:
        """Parse a page and run the hook on it in the pool; inline without one (--parse-workers 0)."""
        if self._warm_up is not None and not self._warm_up.done():
            await asyncio.wait({self._warm_up})  # the hook's CPU belongs in the pool: wait for it
        parsed = await self._in_pool(request, fetch)
        return parsed or scraper(request, fetch, self._parse_page(fetch.body, fetch.url, fetch.charset))

    async def _in_pool(self, *job: Any) -> ParseResult | None:
        """The page's parse from the pool; None when there is no pool to parse in."""
        if self._batcher is None:
            return None
        try:
            return await self._batcher.parse(*job)
        except WorkerDied as exc:
            return ParseResult(error=ErrorInfo(ErrorKind.WORKER_DIED, str(exc)))
        except BrokenProcessPool:
            return None  # no new pool started, or the crawl is ending: parse inline

    def _fork_pool(self) -> None:
        """Start the parse pool by forking this process, which has no other thread yet.

        Forked workers already hold the parser, so they are ready in milliseconds
        (a forkserver takes a quarter of a second idle, a second on a busy machine).
        """
        workers = self.config.effective_parse_workers
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                   initializer=_start_worker, initargs=(os.getpid(), self._scraper))
        pool.submit(parse_pages, [])  # forks every worker now, before any thread exists
        self._batcher = self._new_batcher(pool)

    def _start_pool(self) -> None:
        """Start the parse pool from a forkserver (in a thread); pages parse inline meanwhile.

        Starting interpreters takes up to a second of CPU: waiting for it would make
        short crawls slower than parsing inline.
        """
        self._batcher = self._new_batcher(self._forkserver_pool())

    def _forkserver_pool(self) -> ProcessPoolExecutor:
        """A parse pool forked from a forkserver, every worker started (blocks: call it in a thread).

        This process runs threads, which fork() does not copy: a lock one of them held
        would stay locked in the workers for ever. This also replaces a pool that broke.
        """
        context = multiprocessing.get_context("forkserver")
        # The server imports these once and forks every worker from itself: a worker then
        # starts without spending CPU on importing the parser.
        context.set_forkserver_preload(["__main__", getattr(self._work, "func", self._work).__module__])
        workers = self.config.effective_parse_workers
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                                   initargs=(os.getpid(), self._scraper))
        list(pool.map(parse_pages, [[]] * workers))  # one task per worker makes all of them start
        return pool

    @property
    def _work(self) -> Callable[[list[Any]], list[ParseResult]]:
        """The pool's entry point: pages with the hook in a hooked crawl, link extraction otherwise."""
        if self._scraper is not None:
            return scrape_pages
        if self._parse_page is parse_page:
            return parse_pages
        return functools.partial(parse_pages, parse=self._parse_page)  # a link check's parse

    def _new_batcher(self, pool: ProcessPoolExecutor) -> ParseBatcher:
        """The batcher of the pool, which replaces the pool with another when a worker dies."""
        return ParseBatcher(pool, self.config.effective_parse_workers, self._work,
                            replace_pool=self._forkserver_pool, more_coming=lambda: self._fetching > 0,
                            max_batch=HOOKED_BATCH if self._scraper is not None else 64)


def _can_fork() -> bool:
    """True when forking this process is safe: on Linux, with no other thread running.

    A lock held by another thread would stay locked in the child for ever. Threads
    started by C libraries count too, so the kernel's list is asked, not threading's.
    macOS's system frameworks are not fork-safe at all (CPython's default there is spawn).
    """
    if sys.platform != "linux":
        return False
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:  # no /proc: do not guess
        return False


def _start_worker(crawl_pid: int, scraper: Scraper | None) -> None:
    """Pool initializer: quiet the worker (see _quiet_worker), give it the page hook's scraper."""
    _quiet_worker(crawl_pid)
    install(scraper)


def _quiet_worker(crawl_pid: int) -> None:
    """Leave Ctrl-C to the crawl: a parse worker ignores SIGINT, wakes no parent loop, ends with the crawl.

    A terminal sends SIGINT to every process of the group; the crawl stops gracefully
    and then shuts the pool down. A forked worker also inherits the event loop's
    signal wake-up socket, through which its signals would reach the parent, and
    its SIGTERM handler, which without that socket would make SIGTERM do nothing.
    """
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    follow(crawl_pid)


async def _fetch(fetcher: AsyncFetcher, request: CrawlRequest) -> FetchResult:
    """Fetch, turning an unexpected fetcher failure into an error result so the crawl goes on."""
    try:
        return await fetcher.fetch(request)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # noqa: BLE001 - a bug in one fetch must not hang the crawl
        return internal_error(request, exc)


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
