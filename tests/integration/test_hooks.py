"""Page hooks run where the page is parsed when they pickle, in the crawling process when not, and fail safely.

Real crawls of the edge site in every mode, with real parse pools and worker processes.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

import pytest

import crawler
from crawler import Crawler, Follow, PageRecord

QUICK = {"timeout": 5, "retries": 0, "workers": 2, "concurrency": 2, "parse_workers": 1}
TEST_PID = os.getpid()


def where(page: PageRecord, soup: Any) -> list[Any]:
    """A module-level hook: says where it ran, and follows a page no link reaches."""
    follow = [Follow("/hidden.html")] if page.url.endswith("/b.html") else []
    return [{"title": soup.title.string, "pid": os.getpid(), "thread": threading.current_thread().name,
             "url": page.url, "depth": page.depth}, *follow]


class Raising:
    """An instance of a module-level class: fails on one page, and returns a generator elsewhere."""

    def __call__(self, page: PageRecord, soup: Any) -> Iterator[str]:
        if page.url.endswith("/a.html"):
            raise ValueError("no price on this page")
        yield soup.title.string


def unpicklable(page: PageRecord, soup: Any) -> list[Any]:
    """Returns a lock on one page: it cannot travel back from a parse worker."""
    return [threading.Lock()] if page.url.endswith("/a.html") else [soup.title.string]


async def crawl(url: str, mode: str, hook: Any, **settings: Any) -> dict[str, PageRecord]:
    async with Crawler(mode=mode, on_page=hook, **{**QUICK, **settings}) as session:
        return {record.url: record async for record in session.crawl(url)}


async def test_a_module_level_hook_runs_where_the_page_is_parsed(mode: str, edge_site: str,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    records = await crawl(edge_site, mode, where)
    item = records[edge_site + "a.html"].items[0]
    assert item["title"] == "A" and item["url"] == edge_site + "a.html" and item["depth"] == 1
    assert records[edge_site + "hidden.html"].items[0]["title"] == "Hidden"  # a Follow was crawled
    assert records[edge_site + "missing"].items == []  # a 404 is no page for a hook
    pids = {r.items[0]["pid"] for r in records.values() if r.items}
    threads = {r.items[0]["thread"] for r in records.values() if r.items}
    if mode in ("async", "process"):  # in a worker process, even for pages under parse_offload_bytes
        assert TEST_PID not in pids
    else:
        assert pids == {TEST_PID}
    if mode == "threaded":
        assert all(name.startswith("crawler") for name in threads)  # the pool's worker threads
    assert "runs in the crawling process" not in caplog.text


@pytest.mark.parametrize("hook, reason", [
    (lambda page, soup: [os.getpid()], "does not pickle"),
    (crawler.in_crawl_process(where), "in_crawl_process pins it there"),
])
async def test_a_hook_that_cannot_or_may_not_leave_runs_in_the_crawling_process(
        mode: str, edge_site: str, hook: Any, reason: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="crawler"):
        records = await crawl(edge_site, mode, hook)
    items = [r.items[0] for r in records.values() if r.items]
    assert len(items) >= 8 and all(item == TEST_PID or item["pid"] == TEST_PID for item in items)
    notices = [r.message for r in caplog.records if "runs in the crawling process" in r.message]
    if mode == "sync":
        assert notices == []  # nothing to lose: sync parses in the crawling process anyway
    else:
        assert len(notices) == 1 and reason in notices[0] and "on one CPU" in notices[0]


async def test_an_async_hook_runs_on_the_event_loop_and_says_so(edge_site: str,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    async def hook(page: PageRecord, soup: Any) -> list[Any]:
        return [(os.getpid(), threading.current_thread() is threading.main_thread())]

    records = await crawl(edge_site, "async", hook)
    assert records[edge_site + "a.html"].items == [(TEST_PID, True)]
    assert caplog.text.count("because it is async") == 1


async def test_a_hook_that_raises_marks_its_page_and_the_crawl_goes_on(mode: str, edge_site: str) -> None:
    records = await crawl(edge_site, mode, Raising())
    failed = records[edge_site + "a.html"]
    assert failed.error is not None and failed.error.kind == "hook_error"
    assert failed.error.message.startswith("ValueError: no price on this page (at test_hooks.py:")
    assert failed.status == 200 and failed.items == [] and failed.title == "A"
    assert records[edge_site + "b.html"].items == ["B"]  # its links were still followed
    assert records[edge_site + "c.html?x=1"].error is None


async def test_a_hook_result_that_does_not_pickle_marks_its_page(mode: str, edge_site: str) -> None:
    records = await crawl(edge_site, mode, unpicklable)
    failed = records[edge_site + "a.html"]
    assert failed.error is not None and failed.error.kind == "hook_result"
    assert "does not pickle" in failed.error.message and failed.items == []
    assert records[edge_site + "b.html"].items == ["B"]


async def test_a_pinned_hook_may_return_anything(edge_site: str) -> None:
    records = await crawl(edge_site, "async", crawler.in_crawl_process(unpicklable))
    assert isinstance(records[edge_site + "a.html"].items[0], type(threading.Lock()))


class Killer:
    """Kills its worker on /a.html as a real failure would; with a marker path, only the first time."""

    def __init__(self, how: str, marker: str | None = None) -> None:
        self.how, self.marker = how, marker

    def __call__(self, page: PageRecord, soup: Any) -> list[Any]:
        if page.url.endswith("/a.html") and not (self.marker and os.path.exists(self.marker)):
            if self.marker:
                open(self.marker, "w").close()
            if self.how == "exit":
                os._exit(3)
            if self.how == "segfault":
                ctypes.string_at(0)  # a crash in C code: SIGSEGV
            os.kill(os.getpid(), signal.SIGKILL)  # what the out-of-memory killer does
        return [(soup.title.string, os.getpid())]


@pytest.mark.parametrize("mode", ["async", "process"])
@pytest.mark.parametrize("how", ["exit", "segfault", "oom"])
async def test_a_page_that_kills_its_worker_twice_is_recorded_and_the_pool_goes_on(
        mode: str, how: str, edge_site: str) -> None:
    records = await crawl(edge_site, mode, Killer(how))
    killer = records[edge_site + "a.html"]
    assert killer.error is not None and killer.error.kind == "worker_died", killer
    assert "died on this page twice" in killer.error.message and killer.items == []
    others = [r for r in records.values() if r.items]
    assert len(others) == 5 and all(r.error is None for r in others)  # all but /a.html and its links
    assert all(pid != TEST_PID for r in others for _, pid in r.items)  # none was scraped inline


@pytest.mark.parametrize("mode", ["async", "process"])
async def test_a_page_that_kills_its_worker_once_is_parsed_again(mode: str, edge_site: str, tmp_path: Any) -> None:
    records = await crawl(edge_site, mode, Killer("exit", marker=str(tmp_path / "killed-once")))
    assert all(r.error is None for r in records.values() if r.status == 200)
    # Parsed again in the new pool, not inline, and its links were followed.
    for path, title in [("a.html", "A"), ("b.html", "B"), ("c.html?x=1", "C with query")]:
        [(scraped, pid)] = records[edge_site + path].items
        assert scraped == title and pid != TEST_PID
