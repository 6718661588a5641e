"""The parse pool's batcher: one round trip to the pool serves many pages."""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from ..models import ParseResult
from ..parsing import parse_pages


class WorkerDied(Exception):
    """A page killed its parse worker twice, the second time alone in a fresh pool."""


@dataclass(slots=True)
class _Page:
    """One page waiting for its parse: the job for the pool, the future of its result."""

    job: Any
    future: asyncio.Future[ParseResult]
    kills: int = 0  # pools it was in when they broke


class ParseBatcher:
    """Sends pages to the parse pool in batches: one IPC round trip serves many pages.

    Each ``run_in_executor`` call costs the event loop ~0.3-0.45 ms of CPU whatever its
    size, about what parsing a 50 KB page inline costs. A batch leaves when it is full,
    or ``max_wait`` after its first page while a worker is free; while every worker is
    busy, pages gather and leave together as soon as one frees up. So batches grow with
    the load, where each trip saved matters most, and a light crawl waits at most
    ``max_wait``; when ``more_coming()`` says no other page can arrive meanwhile (the
    driver has no fetch in flight), a batch leaves at once: at ``-c 1`` the wait was
    pure loss, 4% of each 50 ms page.

    A worker that dies (``os._exit`` in a hook, a crash in C, the out-of-memory killer)
    breaks a ProcessPoolExecutor, which then ends its other workers too. Given
    ``replace_pool``, the batcher starts a new pool (in a thread: a forkserver takes up
    to a second) and sends every page that was in the broken one again, each alone and
    one at a time, so that a page that breaks the new pool too is known to be the
    cause: its parse fails with :class:`WorkerDied`. Without ``replace_pool``, or when
    no new pool starts, parses fail with BrokenProcessPool.
    """

    def __init__(self, pool: ProcessPoolExecutor, workers: int,
                 work: Callable[[list[Any]], list[ParseResult]] = parse_pages,
                 replace_pool: Callable[[], ProcessPoolExecutor] | None = None,
                 max_batch: int = 64, max_wait: float = 0.002,
                 more_coming: Callable[[], bool] = lambda: True) -> None:
        self.pool = pool
        self._work = work  # the pool entry point: parse_pages, or scrape_pages in a hooked crawl
        self._replace_pool = replace_pool
        self._workers = workers
        self._idle = workers  # workers without a batch of ours
        self._max_batch = max_batch
        self._max_wait = max_wait
        self._more_coming = more_coming  # False when no page can join a batch soon (no fetch in flight)
        self._waiting: list[_Page] = []
        self._suspects: deque[_Page] = deque()  # pages that were in a pool when it broke
        self._solo = False  # a suspect is in the pool, alone
        self._replacing: asyncio.Task[None] | None = None
        self._broken: BrokenProcessPool | None = None  # set when no new pool could start
        self._timer: asyncio.TimerHandle | None = None

    async def parse(self, *job: Any) -> ParseResult:
        """Parse one page in the pool, in the next batch: job is the work's ParseJob or ScrapeJob."""
        if self._broken is not None:
            raise self._broken
        loop = asyncio.get_running_loop()
        page = _Page(job, loop.create_future())
        self._waiting.append(page)
        if len(self._waiting) >= self._max_batch or not self._more_coming():
            self._flush()
        elif self._timer is None and self._idle:
            self._timer = loop.call_later(self._max_wait, self._flush)
        return await page.future

    async def wait_replaced(self) -> None:
        """Wait until no new pool is starting (before shutting self.pool down)."""
        if self._replacing is not None:
            await asyncio.wait({self._replacing})

    def _flush(self) -> None:
        """Send waiting pages, a batch per idle worker; after a break, suspects first, one at a time."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._replacing is not None:
            return  # they go to the new pool
        while self._suspects and self._suspects[0].future.done():
            self._suspects.popleft()  # cancelled: the crawl stopped
        if self._suspects or self._solo:
            if not self._solo and self._idle == self._workers:
                self._solo = True
                self._send([self._suspects.popleft()])
            return
        while self._waiting and self._idle and self._replacing is None:
            pages = self._waiting[: self._max_batch]
            del self._waiting[: self._max_batch]
            self._send(pages)

    def _send(self, pages: list[_Page]) -> None:
        """Start one batch in the pool; its pages' futures settle when it ends."""
        pages = [page for page in pages if not page.future.done()]  # a stopped crawl cancels some
        if not pages:
            self._solo = False
            return
        try:
            batch = asyncio.get_running_loop().run_in_executor(self.pool, self._work,
                                                               [page.job for page in pages])
        except BrokenProcessPool as exc:
            self._solo = False
            if self._replace_pool is None:
                _fail(pages, exc)
                return
            # A worker died and the callbacks saying so have not run yet: these pages were not in it.
            self._waiting[:0] = [page for page in pages if not page.kills]
            self._suspects.extendleft(reversed([page for page in pages if page.kills]))
            self._broke(self.pool)
            return
        except RuntimeError as exc:
            # The pool is shut down (a crawl stopped early, with pages still waiting).
            _fail(pages, BrokenProcessPool(str(exc)))
            return
        self._idle -= 1
        batch.add_done_callback(functools.partial(self._batch_done, self.pool, pages))

    def _batch_done(self, pool: ProcessPoolExecutor, pages: list[_Page],
                    batch: asyncio.Future[list[ParseResult]]) -> None:
        """Settle a batch's pages (or suspect them, if the pool broke), then send what gathered."""
        if pool is self.pool:  # a batch of a pool replaced since frees no worker of the new one
            self._idle += 1
            self._solo = False
        error = None if batch.cancelled() else batch.exception()
        if isinstance(error, BrokenProcessPool) and self._replace_pool is not None:
            self._suspect(pages)
            self._broke(pool)
        else:
            _settle(pages, batch)
        self._flush()

    def _suspect(self, pages: list[_Page]) -> None:
        """Queue pages a broken pool held to be parsed again alone; fail one that broke a pool twice."""
        for page in pages:
            if page.future.done():
                continue
            page.kills += 1
            if page.kills >= 2:
                page.future.set_exception(WorkerDied(
                    "the parse worker died on this page twice, the second time parsing it alone "
                    "(os._exit, a crash in C code, or the out-of-memory killer): the pool was "
                    "replaced and the crawl went on"))
            else:
                self._suspects.append(page)

    def _broke(self, pool: ProcessPoolExecutor) -> None:
        """Start replacing the pool that broke, unless that is under way or done."""
        if pool is self.pool and self._replacing is None and self._broken is None:
            self._replacing = asyncio.get_running_loop().create_task(self._replace())

    async def _replace(self) -> None:
        """Shut the broken pool down and start a new one; parses fail if it does not start."""
        assert self._replace_pool is not None
        self.pool.shutdown(wait=False, cancel_futures=True)
        try:
            self.pool = await asyncio.to_thread(self._replace_pool)
        except Exception as exc:  # noqa: BLE001 - no pool to be had: pages parse inline instead
            self._broken = BrokenProcessPool(f"no new parse pool started: {exc}")
            _fail([*self._waiting, *self._suspects], self._broken)
            self._waiting.clear()
            self._suspects.clear()
            return
        finally:
            self._replacing = None
        self._idle = self._workers
        self._flush()


def _fail(pages: list[_Page], error: BaseException) -> None:
    """Fail the futures of pages still waiting for their parse."""
    for page in pages:
        if not page.future.done():
            page.future.set_exception(error)


def _settle(pages: list[_Page], batch: asyncio.Future[list[ParseResult]]) -> None:
    """Resolve each page's future from the batch's results (or its failure)."""
    error = None if batch.cancelled() else batch.exception()
    for index, page in enumerate(pages):
        if page.future.done():
            continue
        if batch.cancelled():
            page.future.cancel()
        elif error is not None:
            page.future.set_exception(error)
        else:
            page.future.set_result(batch.result()[index])
