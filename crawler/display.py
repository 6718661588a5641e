"""What a person sees on stderr: a live progress line and a summary table."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text

from .core import CrawlStats

stderr = Console(stderr=True, highlight=False)


def progress_line(stats: CrawlStats, elapsed: float, before: int = 0) -> Text:
    """One line: done, queued, in flight, errors and pages/s (of this run: before were done earlier)."""
    rate = _rate(stats.pages - before, elapsed)
    return Text.assemble(
        ("crawling ", "bold"), f"done {stats.pages:,}  queued {stats.queued:,}  ",
        f"in flight {stats.in_flight}  ", ("errors ", "red" if stats.errors else ""),
        (f"{stats.errors:,}", "red" if stats.errors else ""), f"  {rate:,.1f} pages/s  ",
        (f"{elapsed:,.0f}s", "dim"),
    )


async def show_progress(read_stats: Callable[[], CrawlStats], started: float, before: int = 0) -> None:
    """Redraw the progress line four times a second until cancelled.

    The loop redraws it, not rich's refresh thread: a process without threads can
    fork its parse pool, which is much faster to start (see runners.aio).
    """
    if not stderr.is_terminal:
        return
    with Live(console=stderr, auto_refresh=False, transient=True) as live:
        while True:
            live.update(progress_line(read_stats(), time.monotonic() - started, before), refresh=True)
            await asyncio.sleep(0.25)


def summary_table(stats: CrawlStats, elapsed: float, title: str = "crawl summary", before: int = 0) -> Table:
    """The end-of-crawl table: counts, rates, statuses and error kinds (before: pages done by earlier runs)."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(justify="right")
    rate = _rate(stats.pages - before, elapsed)
    rows = [
        ("pages", f"{stats.pages:,}"), ("ok", f"{stats.ok:,}"), ("errors", f"{stats.errors:,}"),
        ("elapsed", f"{elapsed:,.2f} s"), ("pages/s", f"{rate:,.1f}"),
        ("downloaded", f"{stats.bytes / 1e6:,.1f} MB"), ("retries", f"{stats.retries:,}"),
        ("redirects followed", f"{stats.redirects:,}"), ("left in queue", f"{stats.queued:,}"),
        ("robots.txt disallowed", f"{stats.robots_disallowed:,}"),
        ("out of scope", f"{stats.out_of_scope:,}"), ("duplicates", f"{stats.duplicates:,}"),
        ("too deep", f"{stats.too_deep:,}"), ("trap guards", f"{stats.traps:,}"),
    ]
    if stats.robots_unreachable:
        rows.append(("hosts whose robots.txt failed", f"{stats.robots_unreachable:,}"))
    if stats.sitemap_pages:
        rows.append(("listed in sitemaps", f"{stats.sitemap_pages:,}"))
    for name, value in rows:
        table.add_row(name, value)
    for status, count in sorted(stats.statuses.items()):
        table.add_row(f"status {status}", f"{count:,}")
    for kind, count in sorted(stats.error_kinds.items()):
        table.add_row(f"error {kind}", f"{count:,}")
    for kind, count in sorted(stats.trap_kinds.items()):
        table.add_row(f"trap {kind}", f"{count:,}")
    return table


def _rate(pages: int, elapsed: float) -> float:
    """Pages a second; a resumed or joined crawl counts only the pages of this run."""
    return pages / elapsed if elapsed > 0 else 0.0
