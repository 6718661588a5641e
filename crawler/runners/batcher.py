"""The parse pool's batcher: one round trip to the pool serves many pages."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from ..models import ParseResult
from ..parsing import parse_pages


class ParseBatcher:
    """Sends pages to the parse pool in batches: one IPC round trip serves many pages.

    Each ``run_in_executor`` call costs the event loop ~0.3-0.45 ms of CPU whatever its
    size, about what parsing a 50 KB page inline costs. A batch leaves when it is full,
    or ``max_wait`` after its first page while a worker is free; while every worker is
    busy, pages gather and leave together as soon as one frees up. So batches grow with
    the load, where each trip saved matters most, and a light crawl waits at most
    ``max_wait``.
    """

    def __init__(self, pool: ProcessPoolExecutor, workers: int,
                 work: Callable[[list[Any]], list[ParseResult]] = parse_pages,
                 max_batch: int = 64, max_wait: float = 0.002) -> None:
        self._pool = pool
        self._work = work  # the pool entry point: parse_pages, or scrape_pages in a hooked crawl
        self._idle = workers  # workers without a batch of ours
        self._max_batch = max_batch
        self._max_wait = max_wait
        self._jobs: list[Any] = []  # ParseJob or ScrapeJob
        self._futures: list[asyncio.Future[ParseResult]] = []
        self._timer: asyncio.TimerHandle | None = None

    async def parse(self, *job: Any) -> ParseResult:
        """Parse one page in the pool, in the next batch: job is the work's ParseJob or ScrapeJob."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[ParseResult] = loop.create_future()
        self._jobs.append(job)
        self._futures.append(future)
        if len(self._jobs) >= self._max_batch:
            self._flush()
        elif self._timer is None and self._idle:
            self._timer = loop.call_later(self._max_wait, self._flush)
        return await future

    def _flush(self) -> None:
        """Send waiting pages, a batch per idle worker; hand each result to its page's future."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._jobs and self._idle:
            jobs, futures = self._jobs[: self._max_batch], self._futures[: self._max_batch]
            del self._jobs[: self._max_batch], self._futures[: self._max_batch]
            try:
                batch = asyncio.get_running_loop().run_in_executor(self._pool, self._work, jobs)
            except (BrokenProcessPool, RuntimeError) as exc:
                # submit refuses once a worker has died, or once the pool is shut down (a crawl
                # stopped early, with pages still waiting): they parse inline instead.
                broken = exc if isinstance(exc, BrokenProcessPool) else BrokenProcessPool(str(exc))
                for future in futures:
                    if not future.done():
                        future.set_exception(broken)
                continue
            self._idle -= 1
            batch.add_done_callback(functools.partial(self._batch_done, futures))

    def _batch_done(self, futures: list[asyncio.Future[ParseResult]],
                    batch: asyncio.Future[list[ParseResult]]) -> None:
        """Settle a batch's pages, then send what gathered while it ran."""
        self._idle += 1
        _settle(futures, batch)
        self._flush()


def _settle(futures: list[asyncio.Future[ParseResult]], batch: asyncio.Future[list[ParseResult]]) -> None:
    """Resolve each page's future from the batch's results (or its failure)."""
    error = None if batch.cancelled() else batch.exception()
    for index, future in enumerate(futures):
        if future.done():
            continue
        if batch.cancelled():
            future.cancel()
        elif error is not None:
            future.set_exception(error)
        else:
            future.set_result(batch.result()[index])
