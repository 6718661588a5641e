"""Transient faults from a real server: every page is still fetched exactly once, in every mode.

The fault site (see hostile_server.FaultSite) answers 503s and 429s with and without
Retry-After, resets connections mid-body, answers slower than the timeout and cuts
gzip bodies short — each page a planned number of times (0-3), deterministically,
before it answers; five "hopeless" pages never answer. With the default three
retries every other page must end in exactly one good record, and each hopeless
page in one record naming its last fault. Each mode crawls it over the memory
store and over the SQLite one.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from itertools import pairwise

import pytest

import crawler
from crawler.config import MODES, CrawlConfig
from crawler.frontier import FrontierStore
from crawler.models import PageRecord
from crawler.stores.memory import MemoryFrontier
from crawler.stores.sqlite import SqliteFrontier

from .hostile_server import GIVE_UP_KINDS, HOPELESS, FaultSite, ServerThread

STORES = ("memory", "sqlite")  # the SQLite store keeps retries and redirects in flight on disk
RETRIES = CrawlConfig().retries  # the default, which the site's plan stays within
TIMEOUT = 0.5
MAX_RETRY_AFTER = 0.1  # caps the site's Retry-After of 1 s, to keep the test short
SETTINGS = {"timeout": TIMEOUT, "connect_timeout": TIMEOUT, "backoff_base": 0.01,
            "max_retry_after": MAX_RETRY_AFTER, "workers": 4, "concurrency": 8, "parse_workers": 0}


@dataclass
class FaultCrawl:
    """A finished crawl of the fault site."""

    site: FaultSite
    root: str
    records: list[PageRecord]
    elapsed: float

    def record(self, path: str) -> PageRecord:
        """The one record of the page at path."""
        [record] = [r for r in self.records if r.requested_url == self.root + path]
        return record


@pytest.fixture(scope="module", params=[(mode, store) for store in STORES for mode in MODES],
                ids=lambda param: "-".join(param))
def fault_crawl(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultCrawl]:
    """The fault site crawled once per mode and store with default retries and short timeouts."""
    mode, store_name = request.param
    store = SqliteFrontier(tmp_path_factory.mktemp("state")) if store_name == "sqlite" else MemoryFrontier()
    site = FaultSite(slow_seconds=TIMEOUT + 1.5)
    server = ServerThread()
    root = f"http://127.0.0.1:{server.serve_app(site.app())}"
    started = time.monotonic()
    with closing(store):
        records = asyncio.run(crawl(root + "/", mode, store))
        assert store.pending_count() == 0
    yield FaultCrawl(site, root, records, time.monotonic() - started)
    server.stop()


async def crawl(seed: str, mode: str, store: FrontierStore) -> list[PageRecord]:
    """Every record of a crawl from seed in mode over store."""
    async with crawler.Crawler(mode=mode, store=store, **SETTINGS) as running:
        return [record async for record in running.crawl(seed)]


def good_paths(site: FaultSite) -> list[str]:
    """The pages that answer within the retries."""
    return [p for p in site.paths() if not p.startswith("/hopeless/")]


def test_the_site_plans_every_fault_within_the_default_retries() -> None:
    site = FaultSite()
    plans = [site.plan(path) for path in good_paths(site)]
    assert {fault for plan in plans for fault in plan} == set(GIVE_UP_KINDS)
    assert max(map(len, plans)) == RETRIES and site.plan("/p/3") == FaultSite().plan("/p/3")


def test_every_page_has_exactly_one_record(fault_crawl: FaultCrawl) -> None:
    urls = Counter(r.requested_url for r in fault_crawl.records)
    assert max(urls.values()) == 1
    assert set(urls) == {fault_crawl.root + path for path in fault_crawl.site.paths()}


def test_every_page_answers_after_its_planned_faults(fault_crawl: FaultCrawl) -> None:
    site = fault_crawl.site
    for path in good_paths(site):
        record, planned = fault_crawl.record(path), site.plan(path)
        assert (path, record.status, record.error, record.retries) == (path, 200, None, len(planned))
        assert [a.fault for a in site.attempts[path]] == [*planned, "ok"]
        assert site.served(path) == 1  # fetched exactly once: no answer was thrown away


def test_hopeless_pages_are_given_up_with_their_error_kind(fault_crawl: FaultCrawl) -> None:
    for fault in HOPELESS:
        path = f"/hopeless/{fault}"
        record = fault_crawl.record(path)
        assert record.error is not None, path
        assert (path, record.error.kind, record.retries) == (path, GIVE_UP_KINDS[fault], RETRIES)
        assert len(fault_crawl.site.attempts[path]) == RETRIES + 1


def test_retry_after_is_honoured_up_to_its_cap(fault_crawl: FaultCrawl) -> None:
    waits = [
        later.at - attempt.at
        for attempts in fault_crawl.site.attempts.values()
        for attempt, later in pairwise(attempts)
        if attempt.fault.endswith("retry-after")
    ]
    assert waits and min(waits) >= MAX_RETRY_AFTER - 0.02


def test_faults_cost_bounded_time(fault_crawl: FaultCrawl) -> None:
    # Sequential (sync) worst case: every slow answer and hopeless timeout one after another.
    site = fault_crawl.site
    timeouts = sum(a.fault == "slow" for attempts in site.attempts.values() for a in attempts)
    assert fault_crawl.elapsed < timeouts * TIMEOUT + 8
