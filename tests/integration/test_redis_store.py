"""The Redis store against a real redis-server: leases, late commits, shared politeness, the end.

Several workers are several RedisFrontier objects on one crawl id, each with its own
connection and lease, as separate processes would be. A worker "killed" stops renewing
its lease and never leaves (what kill -9 leaves behind).
(tests/integration/test_redis.py runs real crawler processes.)
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from crawler import Crawler
from crawler.config import CrawlConfig
from crawler.models import CrawlRequest, PageRecord
from crawler.resume import begin
from crawler.robots import rules_from_response
from crawler.stores.redis import RedisFrontier
from crawler.stores.sqlite import StateError

from ..redis_server import RedisServer
from .sites import counting_app, serve

ROOT = "http://site.test/"
HOST = "site.test"
LEASE = 0.6  # seconds: short, so that a lease runs out within a test


@pytest.fixture
def workers(redis_server: RedisServer) -> Iterator[Callable[..., RedisFrontier]]:
    """A factory of workers on one crawl; every one still open is closed at the end."""
    made: list[RedisFrontier] = []

    def worker(name: str, **options: object) -> RedisFrontier:
        options.setdefault("lease_timeout", LEASE)
        store = RedisFrontier.connect(redis_server.url, "test", worker=name, warn=lambda _: None,
                                      **options)  # type: ignore[arg-type]
        made.append(store)
        return store

    yield worker
    for store in made:
        if not store._stop.is_set():
            store.close()


def kill(store: RedisFrontier) -> None:
    """Stop a worker as kill -9 would: its lease is no longer renewed, it gives nothing back."""
    store._stop.set()
    assert store._renewer is not None
    store._renewer.join()


def record(url: str) -> PageRecord:
    """A record of a page fetched at url."""
    return PageRecord(url=url, requested_url=url, status=200, depth=0, referrer=None,
                      content_type="text/html", size=10, title=None, links=[], redirects=[],
                      retries=0, elapsed_ms=1.0, fetched_at="2026-12-02T00:00:00.000+00:00")


def queue(store: RedisFrontier, *paths: str) -> None:
    """Queue pages of the site from a worker and make it so in Redis."""
    for path in paths:
        store.add(ROOT + path, CrawlRequest(url=ROOT + path))
    store.commit()


def test_a_url_queued_by_two_workers_is_queued_once(workers: Callable[..., RedisFrontier]) -> None:
    a, b = workers("a"), workers("b")
    queue(a, "x", "y")
    queue(b, "x", "z")
    assert a.seen_count() == 3 and a.status().queued == 3


def test_a_claimed_request_is_leased_not_gone(workers: Callable[..., RedisFrontier]) -> None:
    a, b = workers("a"), workers("b")
    queue(a, "x")
    assert list(a.pending_hosts()) == [HOST] and a.pop(HOST) == CrawlRequest(url=ROOT + "x")
    assert list(b.pending_hosts()) == []  # a holds it
    assert b.pending_count() == 1  # ... so b waits: a may queue more
    assert a.status().leased == 1 and a.status().queued == 0


def test_a_killed_workers_requests_go_back_and_its_late_commit_is_refused(
        workers: Callable[..., RedisFrontier]) -> None:
    a, b = workers("a"), workers("b")
    queue(a, "x")
    request = a.pop(HOST) if list(a.pending_hosts()) else None
    assert request is not None
    kill(a)
    deadline = time.monotonic() + 10 * LEASE
    while not list(b.pending_hosts()) and time.monotonic() < deadline:
        time.sleep(LEASE / 4)  # b's renewer gives a's requests back once a's lease ran out
    assert b.pop(HOST) == request
    assert a.commit([record(ROOT + "x")]) == []  # too late: b holds it now
    assert b.commit([record(ROOT + "x")]) == [record(ROOT + "x")]
    assert [r.url for r in b.crawl_records()] == [ROOT + "x"]
    assert b.status().done == 1 and b.pending_count() == 0


def test_a_redirect_target_is_forgotten_when_its_request_is_redone(
        workers: Callable[..., RedisFrontier]) -> None:
    a, b = workers("a"), workers("b")
    queue(a, "old")
    request = a.pop(HOST) if list(a.pending_hosts()) else None
    assert request is not None
    a.add(ROOT + "new", via=request.origin_url)  # the redirect's target, fetched next by a
    a.commit()
    assert a.seen_count() == 2
    kill(a)
    b._call("REAP")
    time.sleep(LEASE * 1.5)
    b._call("REAP")
    assert b.seen_count() == 1  # redoing "old" follows its redirect again
    queue(b, "new")
    assert b.status().queued == 2


def test_a_worker_leaving_gives_back_what_it_holds(workers: Callable[..., RedisFrontier]) -> None:
    a, b = workers("a"), workers("b")
    queue(a, "x", "y")
    assert list(a.pending_hosts()) == [HOST]
    a.close()
    assert b.status().queued == 2 and b.status().leased == 0
    assert [w.name for w in b.status().workers] == ["b"]


def test_counters_never_go_negative(workers: Callable[..., RedisFrontier]) -> None:
    a, b = workers("a"), workers("b")
    queue(a, "x")
    list(a.pending_hosts())
    for _ in range(3):  # leaving, reaping and ending twice must not count anything twice
        a._call("LEAVE", "a")
        b._call("REAP")
    a.record_done(CrawlRequest(url=ROOT + "x"), None)
    a.commit()
    status = b.status()
    assert (status.queued, status.leased) == (1, 0)
    assert b.client.hget("crawler:{test}:n", "queued") == "1"


def test_a_retried_commit_saves_its_records_once(workers: Callable[..., RedisFrontier]) -> None:
    a = workers("a")
    queue(a, "x")
    list(a.pending_hosts())
    lease = a._ids[ROOT + "x"]
    batch = json.dumps({"a": [], "d": [], "r": [[lease, "{}", {"pages": 1}]]})
    first = a._call("COMMIT", "a", "n1", batch)
    again = a._call("COMMIT", "a", "n1", batch)  # the reply was lost: the same nonce is sent again
    assert first == again == [1] and a.crawl_record_count() == 1


def test_one_slot_per_host_across_workers(workers: Callable[..., RedisFrontier]) -> None:
    a, b = workers("a"), workers("b")
    slots_a, slots_b = a.slots(per_host=1, delay=0.0), b.slots(per_host=1, delay=0.0)
    slots_a.open(ROOT), slots_b.open(ROOT)
    now = time.monotonic()
    assert slots_a.free(HOST, now) and not slots_b.free(HOST, now)
    slots_a.start(HOST, now)
    slots_a.finish(HOST, now)
    time.sleep(0.06)  # b does not ask again before BUSY_POLL
    assert slots_b.free(HOST, time.monotonic())


def test_the_delay_and_a_pause_hold_for_every_worker(workers: Callable[..., RedisFrontier]) -> None:
    a, b = workers("a"), workers("b")
    slots_a, slots_b = a.slots(per_host=4, delay=0.3), b.slots(per_host=4, delay=0.3)
    slots_a.open(ROOT), slots_b.open(ROOT)
    assert slots_a.free(HOST, time.monotonic())
    slots_a.start(HOST, time.monotonic())
    assert not slots_b.free(HOST, time.monotonic())
    assert 0.1 < slots_b.free_at(HOST) - time.monotonic() <= 0.3  # type: ignore[operator]
    slots_a.pause(HOST, time.monotonic() + 1.0)  # Retry-After
    time.sleep(0.35)
    assert not slots_b.free(HOST, time.monotonic())


def test_robots_txt_is_fetched_once_and_shared(workers: Callable[..., RedisFrontier]) -> None:
    a, b = workers("a"), workers("b")
    slots_a, slots_b = a.slots(per_host=4, delay=0.0), b.slots(per_host=4, delay=0.0)
    slots_a.open(ROOT), slots_b.open(ROOT)
    assert slots_a.claim_robots(HOST) and not slots_b.claim_robots(HOST)
    rules = rules_from_response(200, b"User-agent: *\nDisallow: /private\nCrawl-delay: 2\n")
    assert rules is not None
    slots_a.settle_robots(HOST, rules, 2.0)
    time.sleep(0.25)  # b asks Redis again after ROBOTS_POLL
    shared = slots_b.rules(HOST)
    assert shared is not None and not shared.allows(ROOT + "private", "crawler")
    assert shared.allows(ROOT + "public", "crawler")
    assert b.client.hget("crawler:{test}:slot:" + HOST, "delay") == "2000"


def test_settings_must_match_and_seeds_join(workers: Callable[..., RedisFrontier]) -> None:
    a, b = workers("a"), workers("b")
    config = CrawlConfig(max_depth=2)
    assert not begin(a, [ROOT], config).resumed
    assert begin(b, [ROOT + "other"], config).resumed
    assert a.seeds() == [ROOT, ROOT + "other"]
    with pytest.raises(StateError, match="max_depth=2, not 3"):
        begin(b, [ROOT], config.replace(max_depth=3))
    begin(b, [ROOT], config.replace(concurrency=3))  # how fast a worker goes is its own


def test_the_page_budget_holds_for_the_whole_crawl(workers: Callable[..., RedisFrontier]) -> None:
    a, b = workers("a", max_pages=3), workers("b", max_pages=3)
    queue(a, *"vwxyz")
    list(a.pending_hosts())  # a claims what the budget allows: 3
    assert a._local_count == 3 and list(b.pending_hosts()) == []
    a.commit([record(ROOT + path) for path in "vw"])
    assert b.pending_count() == 1  # a still holds one; then the budget is spent
    assert list(b.pending_hosts()) == []


def test_the_time_limit_counts_from_the_crawls_start(workers: Callable[..., RedisFrontier]) -> None:
    a = workers("a")
    assert a.time_left(None) is None
    first = a.time_left(10.0)
    time.sleep(0.2)
    b = workers("b")
    assert first is not None and 9.5 < first <= 10.0
    assert b.time_left(10.0) <= first - 0.2 + 0.05  # type: ignore[operator]


def test_unreachable_redis_is_one_line() -> None:
    with pytest.raises(StateError, match=r"^cannot reach Redis at redis://127.0.0.1:1/0: .*refused"):
        RedisFrontier.connect("redis://127.0.0.1:1/0", "test")


def test_a_worker_waits_out_a_redis_restart_and_loses_nothing_committed(
        redis_server: RedisServer) -> None:
    said: list[str] = []
    store = RedisFrontier.connect(redis_server.url, "test", worker="a", warn=said.append)
    queue(store, "x", "y")
    list(store.pending_hosts())
    assert store.commit([record(ROOT + "x")]) == [record(ROOT + "x")]
    redis_server.kill()
    restart = threading.Timer(0.5, redis_server.restart)
    restart.start()
    try:
        assert store.commit([record(ROOT + "y")]) == [record(ROOT + "y")]  # waits for Redis, then commits
    finally:
        restart.join()
    assert [r.url for r in store.crawl_records()] == [ROOT + "x", ROOT + "y"]
    assert said[0].startswith(f"lost Redis at {redis_server.url}") and said[-1].endswith("is back")
    store.close()


async def test_workers_share_one_crawl_and_its_politeness(redis_server: RedisServer) -> None:
    app, log = counting_app(pages=12, latency=0.05)
    with serve(app) as url:
        stores = [RedisFrontier.connect(redis_server.url, "crawl", worker=name, lease_timeout=5)
                  for name in ("a", "b")]
        config = CrawlConfig(per_host=2, concurrency=4, timeout=5, retries=0, parse_workers=0)
        for store in stores:
            begin(store, [url], config)

        async def work(store: RedisFrontier) -> list[PageRecord]:
            async with Crawler(config, store=store) as crawler:
                return [page async for page in crawler.crawl(store.seeds())]

        results = await asyncio.gather(*(work(store) for store in stores))
        for store in stores:
            store.close()
    urls = sorted(r.url for records in results for r in records)
    assert len(urls) == 13 and len(set(urls)) == 13  # every page once, across both workers
    assert log.peak_in_flight <= 2  # the per-host limit held across the workers
    assert log.paths.count("/robots.txt") == 1


def test_a_dead_workers_slots_free_up_for_a_worker_that_only_waits_for_one(
        workers: Callable[..., RedisFrontier]) -> None:
    a, b = workers("a"), workers("b")
    slots_a, slots_b = a.slots(per_host=1, delay=0.0), b.slots(per_host=1, delay=0.0)
    slots_a.open(ROOT), slots_b.open(ROOT)
    assert slots_a.free(HOST, time.monotonic())
    slots_a.start(HOST, time.monotonic())
    a._stop.set()  # a dies holding the host's only slot, before any thread of its reaps or renews
    deadline = time.monotonic() + 10 * LEASE
    while not slots_b.free(HOST, time.monotonic()) and time.monotonic() < deadline:
        time.sleep(0.05)  # b only asks for the slot: asking gives a dead worker's slots back
    assert slots_b.free(HOST, time.monotonic()) and b.status().workers[0].name == "b"


def test_a_worker_joining_a_finished_crawl_finds_it_finished(workers: Callable[..., RedisFrontier]) -> None:
    a = workers("a")
    assert not begin(a, [ROOT], CrawlConfig()).finished
    queue(a, "")
    list(a.pending_hosts())
    a.pop(HOST)
    a.commit([record(ROOT)])
    late = begin(workers("b"), [ROOT], CrawlConfig())
    assert late.resumed and late.finished and late.done == 1
