"""What the blocking drivers (sync, threaded, process) share: the core, the records, the hook.

A page hook may run where the page is parsed, inside the unit of work
(:mod:`.work`), or be pinned to the crawling process, where :meth:`BlockingRunner._deliver`
runs it before the core gets the result (see :mod:`crawler.hooks`). :class:`PoolRunner`
keeps an executor busy for the threaded and process drivers; only the calling thread
talks to the core, so the frontier needs no lock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait

from ..core import CrawlCore
from ..hooks import PageHook, plan
from ..models import CrawlRequest, FetchResult, PageRecord, ParseResult
from .work import MAX_IDLE_SECONDS, Outcome, idle_wait, internal_error


class BlockingRunner:
    """What the blocking drivers share: the core, the record callback and the hook."""

    def __init__(self, core: CrawlCore, emit: Callable[[list[PageRecord]], None],
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
        if records := self.core.complete(request, fetch, parsed):
            self._emit(records)

    def _flush(self) -> None:
        """Emit records the core made without a fetch (robots-forbidden redirect targets)."""
        if records := self.core.drain():
            self._emit(records)


# How long in-flight requests may run on after a stop before they are abandoned.
STOP_GRACE_SECONDS = 2.0

Work = Callable[[CrawlRequest], Outcome]


class PoolRunner(BlockingRunner):
    """Runs the work of each request in an executor; the calling thread owns the core."""

    _pool: Executor

    def _crawl(self, pool: Executor, work: Work) -> None:
        """Keep the pool busy until the core is finished or halted, then settle up."""
        self._pool = pool
        pending: dict[Future[Outcome], CrawlRequest] = {}
        try:
            while not self.core.finished:
                if self.core.halted:
                    self._collect(pending, STOP_GRACE_SECONDS, wait_all=True)
                    break
                while len(pending) < self.config.workers and (request := self._next_request(pending)):
                    pending[self._submit(work, request)] = request
                self._flush()  # a dropped redirect target may be all that was left
                # At the worker limit only a completion can help: wait for one.
                full = len(pending) >= self.config.workers
                self._collect(pending, MAX_IDLE_SECONDS if full else idle_wait(self.core))
        finally:
            self._abandon(pending)
        self._flush()

    def _next_request(self, pending: dict[Future[Outcome], CrawlRequest]) -> CrawlRequest | None:
        """The next request to start: the core's."""
        return self.core.next_request()

    def _submit(self, work: Work, request: CrawlRequest) -> Future[Outcome]:
        """Start the work of one request."""
        return self._pool.submit(work, request)

    def _collect(self, pending: dict[Future[Outcome], CrawlRequest], timeout: float,
                 wait_all: bool = False) -> None:
        """Deliver results as they finish, for up to timeout seconds (just sleep if none is running)."""
        if not pending:
            if not self.core.finished:
                time.sleep(timeout)
            return
        deadline = time.monotonic() + timeout
        while pending:
            done, _ = wait(pending, max(0.0, deadline - time.monotonic()), FIRST_COMPLETED)
            for future in done:
                self._finished(future, pending.pop(future))
            if not done or not wait_all:
                return

    def _finished(self, future: Future[Outcome], request: CrawlRequest) -> None:
        """Deliver the result of a request's work."""
        self._deliver(request, *self._outcome(future, request))

    @staticmethod
    def _outcome(future: Future[Outcome], request: CrawlRequest) -> Outcome:
        """The work's result, or an internal error if the worker itself failed."""
        try:
            return future.result()
        except Exception as exc:  # noqa: BLE001 - a dead worker must not end the crawl
            return internal_error(request, exc), None

    def _abandon(self, pending: dict[Future[Outcome], CrawlRequest]) -> None:
        """Stop waiting for unfinished work; threads still fetching end at their timeout."""
        self._pool.shutdown(wait=not pending, cancel_futures=True)
