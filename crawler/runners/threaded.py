"""The threaded driver: fetch + parse in a thread pool, results back as futures.

Only the calling thread talks to the core, so the frontier needs no lock. It
submits at most ``workers`` requests, so each one starts at once on a free
thread and the core's politeness clock (which counts a request as started when
it hands it out) matches what the server sees.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ThreadPoolExecutor, wait

from ..fetchers import BlockingFetcher
from ..models import CrawlRequest
from ..parsing import parser_for
from .sync import (
    MAX_IDLE_SECONDS,
    BlockingRunner,
    Outcome,
    fetch_and_parse,
    idle_wait,
    internal_error,
)

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


class ThreadedRunner(PoolRunner):
    """Fetches and parses in a ThreadPoolExecutor of ``workers`` threads."""

    def run(self) -> None:
        """Crawl until the core is finished or halted."""
        # urllib3's PoolManager is thread-safe: one, with a connection per thread.
        with BlockingFetcher(self.config, maxsize=self.config.workers,
                             trusted_hosts=self.core.scope.hosts,
                             seed_origins=self.core.scope.origins) as fetcher:
            work = functools.partial(fetch_and_parse, fetcher, needs_parse=self.core.needs_parse,
                                     scraper=self._scraper, parse=parser_for(self.config))
            self._crawl(ThreadPoolExecutor(self.config.workers, thread_name_prefix="crawler"), work)
