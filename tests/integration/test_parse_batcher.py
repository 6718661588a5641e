"""The parse pool and its batcher, for real: every page gets its own result, batches grow under load."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import pytest

from crawler.config import CrawlConfig
from crawler.core import CrawlCore
from crawler.parsing import parse_pages
from crawler.runners.aio import PARSE_BACKLOG_BYTES, AsyncRunner, ParseBatcher, _can_fork


class CountingPool(ProcessPoolExecutor):
    """A process pool that counts the tasks submitted to it."""

    submitted = 0

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.submitted += 1
        return super().submit(fn, *args, **kwargs)


@pytest.fixture
def pool() -> Iterator[CountingPool]:
    """One forkserver worker, started before the test."""
    executor = CountingPool(1, mp_context=multiprocessing.get_context("forkserver"))
    executor.submit(parse_pages, []).result()
    executor.submitted = 0
    yield executor
    executor.shutdown(cancel_futures=True)


def page(n: int) -> bytes:
    return f"<title>page {n}</title><a href='/p/{n}'>next</a>".encode()


async def test_every_page_gets_its_own_result_and_batches_grow_under_load(pool: CountingPool) -> None:
    batcher = ParseBatcher(pool, workers=1, max_batch=8)
    results = await asyncio.gather(*(batcher.parse(page(n), "http://a.test/", "utf-8") for n in range(40)))
    assert [r.title for r in results] == [f"page {n}" for n in range(40)]
    assert results[7].links == ("http://a.test/p/7",)
    assert 5 <= pool.submitted < 40  # batches of up to 8, never one trip per page


async def test_a_lone_page_is_sent_without_waiting_for_company(pool: CountingPool) -> None:
    batcher = ParseBatcher(pool, workers=1, max_wait=0.002)
    result = await asyncio.wait_for(batcher.parse(page(1), "http://a.test/", None), timeout=10)
    assert result.title == "page 1" and pool.submitted == 1


async def test_a_page_leaves_at_once_when_no_other_can_join_it(pool: CountingPool) -> None:
    # A wait far longer than the test's timeout: only more_coming() can send the page.
    batcher = ParseBatcher(pool, workers=1, max_wait=3600, more_coming=lambda: False)
    result = await asyncio.wait_for(batcher.parse(page(1), "http://a.test/", None), timeout=10)
    assert result.title == "page 1" and pool.submitted == 1


async def test_a_dead_worker_fails_the_pages_instead_of_hanging(pool: CountingPool) -> None:
    batcher = ParseBatcher(pool, workers=1)
    for process in list(pool._processes.values()):
        os.kill(process.pid, signal.SIGKILL)
    with pytest.raises(BrokenProcessPool):
        await asyncio.wait_for(batcher.parse(page(1), "http://a.test/", None), timeout=10)
    with pytest.raises(BrokenProcessPool):  # the pool is broken now: submit itself refuses
        await asyncio.wait_for(batcher.parse(page(2), "http://a.test/", None), timeout=10)


async def test_a_dead_worker_costs_a_new_pool_and_every_page_is_parsed(pool: CountingPool) -> None:
    replacements: list[ProcessPoolExecutor] = []

    def replace() -> ProcessPoolExecutor:
        new = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("forkserver"))
        replacements.append(new)
        return new

    batcher = ParseBatcher(pool, workers=1, max_batch=4, replace_pool=replace)
    busy = asyncio.ensure_future(batcher.parse(page(0), "http://a.test/", None))
    await asyncio.sleep(0.01)  # in the pool now
    for process in list(pool._processes.values()):
        os.kill(process.pid, signal.SIGKILL)
    results = await asyncio.wait_for(
        asyncio.gather(busy, *(batcher.parse(page(n), "http://a.test/", None) for n in range(1, 10))), 30)
    try:
        assert [r.title for r in results] == [f"page {n}" for n in range(10)]
        assert len(replacements) == 1 and batcher.pool is replacements[0]
    finally:
        replacements[0].shutdown(cancel_futures=True)


@pytest.mark.parametrize("start, method", [("_fork_pool", "fork"), ("_start_pool", "forkserver")])
async def test_both_pool_starts_parse_and_leave_ctrl_c_to_the_crawl(start: str, method: str) -> None:
    # fork when the process has no other thread (fast), a forkserver otherwise (safe).
    runner = AsyncRunner(CrawlCore(CrawlConfig(parse_workers=1)), emit=lambda records: None)
    getattr(runner, start)()
    assert runner._batcher is not None
    try:
        assert runner._batcher.pool._mp_context.get_start_method() == method  # type: ignore[attr-defined]
        result = await asyncio.wait_for(runner._batcher.parse(page(3), "http://a.test/", None), timeout=10)
        assert result.links == ("http://a.test/p/3",)
        # A terminal's Ctrl-C reaches every process of the group: workers ignore it.
        assert runner._batcher.pool.submit(signal.getsignal, signal.SIGINT).result() == signal.SIG_IGN
    finally:
        runner._batcher.pool.shutdown(cancel_futures=True)


@pytest.mark.parametrize("concurrency, tasks, held, may", [
    (1, 0, 0, True), (1, 1, 0, False),  # -c 1: one page at a time, parse included
    (4, 12, 0, True), (4, 13, 0, False),  # 4 fetching + 3 waiting pages per slot beyond the first
    (4, 1, PARSE_BACKLOG_BYTES, False),  # bodies awaiting their parse are bounded in bytes too
])
def test_fetched_pages_waiting_for_their_parse_are_bounded(concurrency: int, tasks: int, held: int,
                                                           may: bool) -> None:
    runner = AsyncRunner(CrawlCore(CrawlConfig(concurrency=concurrency)), emit=lambda records: None)
    runner._fetching, runner._held_bytes = min(tasks, 1), held
    assert runner._may_start(tasks) is may


def test_the_pool_is_forked_only_from_a_process_without_threads() -> None:
    check = "from crawler.runners.aio import _can_fork; print(_can_fork())"
    alone = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert alone.stdout.strip() == str(sys.platform == "linux")
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not _can_fork()
    finally:
        stop.set()
        other.join()


async def test_pages_waiting_when_the_pool_shuts_down_fail_instead_of_hanging(pool: CountingPool) -> None:
    # A crawl stopped early shuts its pool down while a batch runs and pages wait.
    batcher = ParseBatcher(pool, workers=1, max_batch=1)
    first = asyncio.ensure_future(batcher.parse(page(1), "http://a.test/", None))
    second = asyncio.ensure_future(batcher.parse(page(2), "http://a.test/", None))
    await asyncio.sleep(0)
    pool.shutdown(wait=False)
    assert (await asyncio.wait_for(first, timeout=10)).title == "page 1"
    with pytest.raises(BrokenProcessPool):
        await asyncio.wait_for(second, timeout=10)
