"""The process driver: fetch + parse in a ProcessPoolExecutor; the parent owns the frontier.

Each worker process builds its own :class:`BlockingFetcher` in the pool's
initializer (an HTTP session cannot cross a process boundary). Only small
picklable values cross: the CrawlRequest out, and back the FetchResult and
ParseResult (with what a page hook returned: the hook runs in the worker) —
without the body of a page or a link check, which the parent needs only for
robots.txt, sitemaps and a hook pinned to the crawling process.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
import signal
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing.synchronize import Barrier

from ..config import CrawlConfig
from ..core import CrawlCore
from ..errors import ErrorKind
from ..fetchers import BlockingFetcher
from ..hooks import PageHook, Scraper
from ..models import CrawlRequest, ErrorInfo, FetchResult, PageRecord
from ..outbound import Origin
from ..parsing import PageParser, parser_for
from .blocking import PoolRunner, Work
from .lifeline import follow
from .work import NeedsParse, Outcome, fetch_and_parse


@dataclass(frozen=True, slots=True)
class _WorkerState:
    """What one worker process keeps between requests."""

    fetcher: BlockingFetcher
    needs_parse: NeedsParse
    scraper: Scraper | None
    parse: PageParser
    keep_body: bool
    all_started: Barrier


# The requests whose bodies the crawling process reads itself (see CrawlCore); of the others
# it needs only what the parse found, unless a page hook is pinned there.
_READ_AT_HOME = frozenset({"robots", "sitemap"})
# Seconds the pool may take to start all its workers before the crawl starts anyway.
STARTUP_TIMEOUT = 60.0

_state: _WorkerState | None = None


def _start_worker(config: CrawlConfig, scraper: Scraper | None, keep_body: bool, all_started: Barrier,
                  trusted_hosts: frozenset[str], seed_origins: frozenset[Origin], environ: dict[str, str],
                  crawl_pid: int) -> None:
    """Pool initializer: open this worker's HTTP session; trusted_hosts are exempt from its address
    guard, seed_origins may receive the seeds' credentials, environ is the crawl's environment."""
    global _state
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the parent decides
    follow(crawl_pid)
    # A core of its own only to ask the pure needs_parse; the parent's core owns the frontier.
    core = CrawlCore(config)
    fetcher = BlockingFetcher(config, maxsize=1, trusted_hosts=trusted_hosts, seed_origins=seed_origins,
                              environ=environ)
    _state = _WorkerState(fetcher, core.needs_parse, scraper, parser_for(config), keep_body, all_started)


def _wait_for_all_workers() -> None:
    """The warm-up task: hold this worker busy until every worker has started."""
    assert _state is not None
    _state.all_started.wait(STARTUP_TIMEOUT)


def work(request: CrawlRequest) -> Outcome:
    """Fetch and parse one request in a worker process."""
    assert _state is not None, "work() runs only in a pool started by ProcessRunner"
    fetch, parsed = fetch_and_parse(_state.fetcher, request, _state.needs_parse, _state.scraper, _state.parse)
    if request.kind not in _READ_AT_HOME and not _state.keep_body:
        # A page's or a link check's body: the parse has it already (a check needs only the status).
        fetch = dataclasses.replace(fetch, body=b"")
    return fetch, parsed


class ProcessRunner(PoolRunner):
    """Fetches and parses in a ProcessPoolExecutor of ``workers`` processes.

    A worker that dies (``os._exit`` in a page hook, a crash in C, the out-of-memory
    killer) breaks the pool, which ends its other workers too: the pool is replaced,
    and every request that was in it runs again, alone and one at a time, so that
    one that breaks the new pool too is known to be the cause. It is recorded with
    the error kind ``worker_died``; the others complete as if nothing happened.
    """

    def __init__(self, core: CrawlCore, emit: Callable[[list[PageRecord]], None],
                 hook: PageHook | None = None) -> None:
        super().__init__(core, emit, hook)
        self._suspects: deque[CrawlRequest] = deque()  # requests that were in a pool when it broke
        self._kills: dict[CrawlRequest, int] = {}  # how many pools each broke while in them

    def run(self) -> None:
        """Crawl until the core is finished or halted."""
        self._crawl(self._new_pool(), work)

    def _new_pool(self) -> ProcessPoolExecutor:
        """A pool with every worker started, forked from a server that imported the crawler once.

        Workers start before the first request: the core counts a request as started
        when it hands it out, so one that waited for a process to start would reach
        the server late, closer to the next one than the politeness delay allows.
        """
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["__main__", __name__])
        workers = self.config.workers
        pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                                   initargs=(self.config, self._scraper, self._pinned is not None, context.Barrier(workers),
                                             frozenset(self.core.scope.hosts),
                                             frozenset(self.core.scope.origins),
                                             # A forkserver started earlier holds the environment of then.
                                             dict(os.environ), os.getpid()))
        # A pool starts a process per submitted task while none is idle: busy them all.
        warm_up = [pool.submit(_wait_for_all_workers) for _ in range(workers)]
        wait(warm_up)
        if any(isinstance(future.exception(), BrokenProcessPool) for future in warm_up):
            pool.shutdown(wait=False)
            raise RuntimeError("the process pool's workers died on start-up (a script using mode "
                               "'process' must guard its code with if __name__ == '__main__')")
        return pool

    def _next_request(self, pending: dict[Future[Outcome], CrawlRequest]) -> CrawlRequest | None:
        """After a break, each suspect alone in the pool; then the core's next request."""
        if self._suspects:
            return self._suspects.popleft() if not pending else None
        if any(request in self._kills for request in pending.values()):
            return None  # a suspect runs alone
        return super()._next_request(pending)

    def _finished(self, future: Future[Outcome], request: CrawlRequest) -> None:
        """Deliver a request's result; one whose worker died runs again alone, or fails if it did."""
        if future.cancelled() or not isinstance(future.exception(), BrokenProcessPool):
            self._kills.pop(request, None)
            super()._finished(future, request)
            return
        kills = self._kills[request] = self._kills.get(request, 0) + 1
        if kills < 2:
            self._suspects.append(request)
            return
        del self._kills[request]
        error = ErrorInfo(ErrorKind.WORKER_DIED, "the worker process died on this page twice, the second "
                          "time alone (os._exit, a crash in C code, or the out-of-memory killer): the "
                          "pool was replaced and the crawl went on")
        self._deliver(request, FetchResult(url=request.url, error=error, fetched_at=time.time()), None)

    def _submit(self, work: Work, request: CrawlRequest) -> Future[Outcome]:
        """Start one request's work, replacing the pool if a worker died."""
        try:
            return super()._submit(work, request)
        except BrokenProcessPool:
            # A worker died: its requests come back to _finished; the crawl goes on with a new pool.
            self._pool.shutdown(wait=False)
            self._pool = self._new_pool()
            return super()._submit(work, request)

    def _abandon(self, pending: dict[Future[Outcome], CrawlRequest]) -> None:
        """Stop waiting for unfinished work, ending the workers still busy with it."""
        if pending:
            # Python 3.14 has terminate_workers(); until then, the pool's process table.
            for process in list((getattr(self._pool, "_processes", None) or {}).values()):
                process.terminate()
        super()._abandon(pending)
