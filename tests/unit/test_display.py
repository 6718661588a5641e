"""The progress display: drawn by the event loop, with no thread of its own."""

from __future__ import annotations

import asyncio
import io
import threading
import time

import pytest
from rich.console import Console

from crawler import display
from crawler.core import CrawlStats


async def test_progress_is_redrawn_by_the_loop_without_a_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(display, "stderr", Console(file=screen, force_terminal=True, width=120))
    threads = threading.active_count()
    task = asyncio.create_task(display.show_progress(lambda: CrawlStats(pages=7), time.monotonic()))
    await asyncio.sleep(0.1)
    # A thread would stop the async driver from forking its parse pool (runners.aio).
    assert threading.active_count() == threads
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert "done 7" in screen.getvalue()


def test_the_summary_counts_each_trap_guard_under_its_name() -> None:
    stats = CrawlStats(traps=7, trap_kinds={"too_many_path_tokens": 5, "repeated_segments": 2})
    console = Console(file=io.StringIO(), width=100)
    console.print(display.summary_table(stats, 1.0))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "trap guards" in text and "trap too_many_path_tokens" in text and "trap repeated_segments" in text


def test_a_resumed_crawls_rate_counts_only_this_runs_pages() -> None:
    console = Console(file=io.StringIO(), width=100)
    console.print(display.summary_table(CrawlStats(pages=300), 2.0, before=100))
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "300" in text and "100.0" in text  # 200 pages this run, in 2 s
    assert "100.0 pages/s" in display.progress_line(CrawlStats(pages=300), 2.0, before=100).plain


def test_the_summary_counts_hosts_whose_robots_txt_failed_only_when_there_are_some() -> None:
    for stats, shown in ((CrawlStats(robots_unreachable=2), True), (CrawlStats(), False)):
        console = Console(file=io.StringIO(), width=100)
        console.print(display.summary_table(stats, 1.0))
        text = console.file.getvalue()  # type: ignore[attr-defined]
        assert ("hosts whose robots.txt failed │      2" in text) is shown
