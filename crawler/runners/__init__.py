"""Drivers: each one only fetches and schedules; every decision is the core's.

=========  ==========================================  =========================
mode       fetch and parse                             who talks to the core
=========  ==========================================  =========================
sync       one at a time, inline                       the calling thread
threaded   ThreadPoolExecutor of ``workers`` threads   the calling thread
process    ProcessPoolExecutor of ``workers``          the parent process
async      aiohttp, ``concurrency`` at once            the event loop
=========  ==========================================  =========================

:func:`make_runner` picks the driver for ``config.mode``; :func:`run_crawl`
runs it from an event loop and :func:`run_blocking` from plain code.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ..core import CrawlCore
from ..hooks import PageHook, is_async
from ..models import PageRecord
from .aio import AsyncRunner
from .blocking import BlockingRunner
from .process import ProcessRunner
from .sync import SyncRunner
from .threaded import ThreadedRunner

Runner = AsyncRunner | BlockingRunner
# Takes the records of one step (a completed request, or the ones made without a fetch) at once:
# a link check makes ~1,500 records without a fetch, which one by one cost the queue as much again.
Emit = Callable[[list[PageRecord]], None]

BLOCKING_RUNNERS: dict[str, type[BlockingRunner]] = {
    "sync": SyncRunner, "threaded": ThreadedRunner, "process": ProcessRunner,
}


def make_runner(core: CrawlCore, emit: Emit, hook: PageHook | None = None) -> Runner:
    """The driver for the core's ``config.mode``; emit receives the records, a non-empty list at a time."""
    if core.config.mode == "async":
        return AsyncRunner(core, emit, hook)
    return make_blocking_runner(core, emit, hook)


def make_blocking_runner(core: CrawlCore, emit: Emit, hook: PageHook | None = None) -> BlockingRunner:
    """The sync, threaded or process driver for the core's ``config.mode``."""
    mode = core.config.mode
    if mode not in BLOCKING_RUNNERS:
        raise ValueError(f"mode {mode!r} has no blocking driver")
    if hook is not None and is_async(hook):
        raise TypeError(f"the page hook is async, which mode {mode!r} cannot run: "
                        "give a plain function or use mode 'async'")
    return BLOCKING_RUNNERS[mode](core, emit, hook)


async def run_crawl(core: CrawlCore, emit: Emit, hook: PageHook | None = None) -> None:
    """Run the configured driver from an event loop; emit is always called on the loop.

    A blocking driver runs in a worker thread and hands each list of records to the loop.
    """
    if core.config.mode == "async":
        await AsyncRunner(core, emit, hook).run()
        return
    loop = asyncio.get_running_loop()

    def hand_over(records: list[PageRecord]) -> None:
        loop.call_soon_threadsafe(emit, records)

    await asyncio.to_thread(make_blocking_runner(core, hand_over, hook).run)


def run_blocking(core: CrawlCore, emit: Emit, hook: PageHook | None = None) -> None:
    """Run the configured driver to the end from plain (non-async) code."""
    runner = make_runner(core, emit, hook)
    if isinstance(runner, AsyncRunner):
        asyncio.run(runner.run())
    else:
        runner.run()


__all__ = ["AsyncRunner", "BlockingRunner", "ProcessRunner", "SyncRunner", "ThreadedRunner",
           "make_blocking_runner", "make_runner", "run_blocking", "run_crawl"]
