"""Frontier stores, memory and SQLite, through the same contract tests; then crashes and resumes.

A crash is simulated by closing the SQLite connection without committing, which is
what the database sees when the process dies: the open transaction is rolled back.
(tests/integration/test_resume.py kills real crawler processes.)
"""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest

from crawler.config import CrawlConfig
from crawler.core import CrawlCore
from crawler.errors import OutputError
from crawler.frontier import FrontierStore
from crawler.models import CrawlRequest, FetchResult, PageRecord
from crawler.resume import ResumeInfo, begin
from crawler.sinks import JsonLinesSink, encode_record
from crawler.stores.memory import MemoryFrontier
from crawler.stores.sqlite import DB_NAME, SqliteFrontier, StateError

from .test_core import ROOT, Clock, html, redirect

OTHER = "http://other.test/"


def crash(store: SqliteFrontier) -> None:
    """End a store as kill -9 would: whatever was not committed is lost."""
    store._db.close()  # closing without commit rolls the open transaction back


def push(store: FrontierStore, request: CrawlRequest) -> None:
    """Add a request's URL to the seen-set and queue the request."""
    store.add(request.url, request)


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FrontierStore]:
    """Each back end in turn."""
    backend: FrontierStore = MemoryFrontier() if request.param == "memory" else SqliteFrontier(tmp_path)
    yield backend
    backend.close()


# ----- the FrontierStore operations, on both back ends -----------------------


def test_seen_set_dedups(store: FrontierStore) -> None:
    assert not store.seen(ROOT) and not store.seen(ROOT + "a")
    store.add(ROOT)
    store.add(ROOT + "a", via=ROOT)
    assert store.seen(ROOT) and store.seen(ROOT + "a")
    assert store.seen_count() == 2
    # Only a store a crawl resumes from lists its URLs; memory keeps fingerprints.
    assert sorted(store.seen_urls()) == ([] if isinstance(store, MemoryFrontier) else [ROOT, ROOT + "a"])
    assert store.pending_count() == 0  # seen, not queued


def test_a_url_is_seen_and_queued_in_one_step(store: FrontierStore) -> None:
    push(store, CrawlRequest(url=ROOT))
    assert store.seen(ROOT) and store.pending_count() == 1 and store.seen_count() == 1


def test_pop_is_fifo_per_host_and_hosts_oldest_first(store: FrontierStore) -> None:
    for url in (ROOT + "1", OTHER + "1", ROOT + "2", OTHER + "2"):
        push(store, CrawlRequest(url=url, depth=1, referrer=ROOT))
    assert list(store.pending_hosts()) == ["site.test", "other.test"] and store.pending_count() == 4
    assert store.peek("site.test") == CrawlRequest(url=ROOT + "1", depth=1, referrer=ROOT)
    assert [store.pop("site.test").url, store.pop("site.test").url] == [ROOT + "1", ROOT + "2"]
    assert store.pop("site.test") is None and store.peek("site.test") is None
    push(store, CrawlRequest(url=ROOT + "3"))
    # An emptied host rejoins at the back.
    assert list(store.pending_hosts()) == ["other.test", "site.test"]
    assert store.pending_count() == 3 and store.pop("nowhere.test") is None


def test_requests_keep_every_field(store: FrontierStore) -> None:
    request = CrawlRequest(url=ROOT + "b", depth=3, referrer=ROOT, requested_url=ROOT + "a",
                           redirects=(ROOT + "a",), retries=2)
    push(store, request)
    assert store.pop("site.test") == request


def test_a_request_done_without_a_record_leaves_the_queue(store: FrontierStore) -> None:
    push(store, CrawlRequest(url=ROOT))
    store.record_done(store.pop("site.test"), None)
    store.commit()
    assert store.pending_count() == 0 and store.pop("site.test") is None


def test_memory_store_has_no_history() -> None:
    store = MemoryFrontier()
    store.commit([])
    assert store.totals() == {}


# ----- SQLite: what survives a close, a crash and a reopen ---------------------


def test_the_state_database_is_in_wal_mode(tmp_path: Path) -> None:
    SqliteFrontier(tmp_path).close()
    with closing(sqlite3.connect(tmp_path / DB_NAME)) as db:  # WAL mode is a property of the file
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_committed_work_survives_and_in_flight_requests_go_back_in_line(tmp_path: Path) -> None:
    store = SqliteFrontier(tmp_path)
    for name in "abc":
        push(store, CrawlRequest(url=ROOT + name, depth=1))
    first = store.pop("site.test")
    store.commit()
    store.pop("site.test")  # popped after the last commit
    crash(store)
    store = SqliteFrontier(tmp_path)
    assert store.pending_count() == 3 and store.seen_count() == 3
    assert [store.pop("site.test").url for _ in range(3)] == [first.url, ROOT + "b", ROOT + "c"]
    assert store.seen(ROOT + "a") and sorted(store.seen_urls()) == [ROOT + name for name in "abc"]
    store.close()


def test_uncommitted_work_is_lost_in_a_crash(tmp_path: Path) -> None:
    store = SqliteFrontier(tmp_path)
    push(store, CrawlRequest(url=ROOT))
    crash(store)
    store = SqliteFrontier(tmp_path)
    assert store.pending_count() == 0 and store.seen_count() == 0 and not store.seen(ROOT)
    store.close()


def test_a_request_is_done_only_when_its_record_is_committed(tmp_path: Path) -> None:
    store = SqliteFrontier(tmp_path)
    for name in "ab":
        push(store, CrawlRequest(url=ROOT + name))
    a, b = store.pop("site.test"), store.pop("site.test")
    store.record_done(a, record(a.url))
    store.record_done(b, record(b.url))
    store.commit([record(a.url)])  # b's record never reached the writer
    crash(store)
    store = SqliteFrontier(tmp_path)
    assert store.pending_count() == 1 and store.pop("site.test").url == b.url
    assert store.totals()["pages"] == 1 and store.totals()["statuses"] == {200: 1}
    store.close()


def test_a_url_is_saved_as_seen_with_its_request_in_one_step(tmp_path: Path) -> None:
    # The writer commits from the event loop while a blocking driver's core is inside add_url:
    # no commit can fall between a URL's being seen and its being queued.
    store = SqliteFrontier(tmp_path)
    push(store, CrawlRequest(url=ROOT + "a"))
    store.add(ROOT + "trap")  # the trap guard refused it: seen, not queued
    assert store.seen(ROOT + "trap") and store.seen(ROOT + "a")
    store.commit()
    crash(store)
    store = SqliteFrontier(tmp_path)
    assert store.pending_count() == 1 and store.seen_count() == 2  # /a with its request, and the trap
    store.close()


def test_request_without_record_is_dropped(tmp_path: Path) -> None:
    with SqliteFrontier(tmp_path) as store:
        push(store, CrawlRequest(url=ROOT))
        store.record_done(store.pop("site.test"), None)  # robots.txt forbids it
    with SqliteFrontier(tmp_path) as store:
        assert store.pending_count() == 0


def test_redirect_targets_of_redone_requests_are_unseen(tmp_path: Path) -> None:
    store = SqliteFrontier(tmp_path)
    push(store, CrawlRequest(url=ROOT + "old"))
    old = store.pop("site.test")
    store.add(ROOT + "new", via=old.url)
    store.commit()
    crash(store)
    store = SqliteFrontier(tmp_path)
    assert not store.seen(ROOT + "new") and store.seen(ROOT + "old")  # the chain starts again from /old
    store.close()


def test_fresh_starts_over(tmp_path: Path) -> None:
    with SqliteFrontier(tmp_path) as store:
        push(store, CrawlRequest(url=ROOT))
        begin(store, [ROOT], CrawlConfig())
    with SqliteFrontier(tmp_path, fresh=True) as store:
        assert store.pending_count() == 0 and store.seen_count() == 0
        assert not begin(store, [OTHER], CrawlConfig()).resumed


def test_one_crawl_at_a_time(tmp_path: Path) -> None:
    with SqliteFrontier(tmp_path), pytest.raises(StateError, match="another crawl is using it"):
        SqliteFrontier(tmp_path)
    SqliteFrontier(tmp_path).close()  # the lock went with the first


def test_not_a_database(tmp_path: Path) -> None:
    (tmp_path / "state.sqlite3").write_bytes(b"not a database, just bytes" * 100)
    with pytest.raises(StateError, match="cannot use state"):
        SqliteFrontier(tmp_path)


# ----- the crawl's identity -------------------------------------------------------


def test_begin_refuses_other_seeds_and_scope_but_adopts_other_limits(tmp_path: Path) -> None:
    config = CrawlConfig(max_depth=3)
    with SqliteFrontier(tmp_path) as store:
        assert begin(store, [ROOT, OTHER], config) == ResumeInfo(False, done=0, pending=0, finished=False)
        store.commit()
    with SqliteFrontier(tmp_path) as store:
        faster = config.replace(concurrency=2, max_pages=9, verify_tls=False)
        assert begin(store, [OTHER, "HTTP://site.test"], faster).resumed
        with pytest.raises(StateError, match="other seed URLs"):
            begin(store, [ROOT], config)
        with pytest.raises(StateError, match="max_depth=3, not 4"):
            begin(store, [ROOT, OTHER], config.replace(max_depth=4))


def test_finished_when_nothing_is_pending_or_the_page_budget_is_spent(tmp_path: Path) -> None:
    with SqliteFrontier(tmp_path) as store:
        begin(store, [ROOT], CrawlConfig())
        push(store, CrawlRequest(url=ROOT))
        push(store, CrawlRequest(url=ROOT + "a"))
        request = store.pop("site.test")
        store.commit([record(request.url)])
    with SqliteFrontier(tmp_path) as store:
        assert not begin(store, [ROOT], CrawlConfig()).finished
        assert begin(store, [ROOT], CrawlConfig(max_pages=1)).finished
        store.record_done(store.pop("site.test"), None)
    with SqliteFrontier(tmp_path) as store:
        assert begin(store, [ROOT], CrawlConfig()) == ResumeInfo(True, done=1, pending=0, finished=True)


# ----- the output file, repaired from the store's journal ----------------------------------


def saved_store(tmp_path: Path, pages: int) -> tuple[SqliteFrontier, list[bytes]]:
    """A store that saved pages records, and their lines."""
    store = SqliteFrontier(tmp_path / "state")
    records = []
    for i in range(pages):
        push(store, CrawlRequest(url=f"{ROOT}{i}"))
        records.append(record(store.pop("site.test").url))
    store.commit(records)
    return store, [encode_record(r).encode() for r in records]


def test_the_journal_gives_back_the_saved_records(tmp_path: Path) -> None:
    store, lines = saved_store(tmp_path, 3)
    assert store.saved_count() == 3
    assert [encode_record(r).encode() for r in store.saved_records()] == lines
    assert [encode_record(r).encode() for r in store.saved_records(after=2)] == lines[2:]
    store.close()


async def test_a_new_crawls_file_starts_empty_and_takes_each_record_once_saved(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text("an older file\n")
    store, _ = saved_store(tmp_path, 0)
    sink = JsonLinesSink(out)
    assert await sink.repair(store) == 0 and out.read_bytes() == b""
    push(store, CrawlRequest(url=ROOT))
    batch = [record(store.pop("site.test").url)]
    store.commit(batch)
    await sink.write_many(batch)
    await sink.close()
    assert json.loads(out.read_text())["url"] == ROOT
    store.close()


@pytest.mark.parametrize("damage", [
    lambda data, lines: data[:-10],                            # a torn last line
    lambda data, lines: data[: -len(lines[-1]) - 3],           # two lines short, one torn
    lambda data, lines: b"",                                   # the file was lost
    lambda data, lines: data + b'{"url": "half a lin',         # power loss: the store lost a line
])
async def test_repair_mends_what_a_crash_left(tmp_path: Path,
                                             damage: Callable[[bytes, list[bytes]], bytes]) -> None:
    store, lines = saved_store(tmp_path, 5)
    out = tmp_path / "out.jsonl"
    out.write_bytes(damage(b"".join(lines), lines))
    await JsonLinesSink(out).repair(store)
    store.close()
    assert out.read_bytes() == b"".join(lines)


async def test_repair_refuses_another_crawls_file(tmp_path: Path) -> None:
    store, lines = saved_store(tmp_path, 3)
    out = tmp_path / "out.jsonl"
    out.write_bytes(b"".join(lines).replace(b"site.test", b"else.test"))
    with pytest.raises(OutputError, match="is not the output of the crawl"):
        await JsonLinesSink(out).repair(store)
    store.close()


# ----- the core over both stores: dedup, crashes, resumes ---------------------------------

SITE = {
    ROOT: html(ROOT, ROOT + "a", ROOT + "b", ROOT + "old"),
    ROOT + "a": html(ROOT + "a", ROOT, ROOT + "c", ROOT + "d"),
    ROOT + "b": html(ROOT + "b", ROOT + "a", ROOT + "e"),
    ROOT + "old": redirect(ROOT + "old", "/new"),
    ROOT + "new": html(ROOT + "new", ROOT + "f"),
    ROOT + "c": html(ROOT + "c"), ROOT + "d": html(ROOT + "d"), ROOT + "e": html(ROOT + "e"),
    ROOT + "f": html(ROOT + "f", ROOT),
}
ALL_PAGES = sorted([ROOT, ROOT + "a", ROOT + "b", ROOT + "new", ROOT + "c", ROOT + "d", ROOT + "e",
                    ROOT + "f"])


def make_core(store: FrontierStore, **settings: object) -> CrawlCore:
    """A core on store, robots.txt off, deterministic."""
    config = CrawlConfig(respect_robots=False, **settings)  # type: ignore[arg-type]
    return CrawlCore(config, store, clock=Clock(), rng=random.Random(0))


def crawl_some(core: CrawlCore, completions: int | None = None, in_flight: int = 1) -> list[PageRecord]:
    """Complete up to completions requests, in_flight at a time, committing as the writer does."""
    records: list[PageRecord] = []
    started: list[CrawlRequest] = []
    while completions is None or completions > 0:
        while len(started) < in_flight and (request := core.next_request()) is not None:
            started.append(request)
        if not started:
            break
        request = started.pop(0)
        fetch, parsed = answer(request)
        batch = core.complete(request, fetch, parsed if core.needs_parse(request, fetch) else None)
        core.store.commit(batch)
        records += batch
        completions = None if completions is None else completions - 1
    return records


def answer(request: CrawlRequest) -> tuple[FetchResult, object]:
    """The site's answer to a request."""
    page = SITE.get(request.url) or FetchResult(url=request.url, status=404)
    return page if isinstance(page, tuple) else (page, None)


def test_both_stores_crawl_the_same_pages(store: FrontierStore) -> None:
    core = make_core(store)
    core.add_seeds([ROOT])
    records = crawl_some(core, in_flight=3)
    assert sorted(r.url for r in records) == ALL_PAGES and core.finished
    stats = core.statistics()
    assert stats.pages == 8 and stats.seen == 9 and stats.duplicates > 0 and stats.queued == 0


@pytest.mark.parametrize("completions", range(10))
def test_a_crash_at_any_point_then_resume_writes_every_page_once(tmp_path: Path,
                                                                  completions: int) -> None:
    store = SqliteFrontier(tmp_path)
    begin(store, [ROOT], CrawlConfig())
    core = make_core(store)
    core.add_seeds([ROOT])
    before = crawl_some(core, completions, in_flight=3)
    core.next_request()  # one more in flight when the crash comes
    crash(store)

    store = SqliteFrontier(tmp_path)
    core = make_core(store)
    core.add_seeds([ROOT])
    after = crawl_some(core, in_flight=2)
    urls = [r.url for r in before + after]
    assert sorted(urls) == ALL_PAGES  # every page, none twice
    assert core.statistics().pages == len(urls) == store.totals()["pages"]
    store.close()


def test_the_page_budget_counts_pages_of_earlier_runs(tmp_path: Path) -> None:
    with SqliteFrontier(tmp_path) as store:
        core = make_core(store, max_pages=5)
        core.add_seeds([ROOT])
        assert len(crawl_some(core, 3)) == 3
    with SqliteFrontier(tmp_path) as store:
        core = make_core(store, max_pages=5)
        core.add_seeds([ROOT])
        assert len(crawl_some(core)) == 2 and core.finished and core.statistics().pages == 5


def record(url: str) -> PageRecord:
    """A small record of a fetched page."""
    return PageRecord(url=url, requested_url=url, status=200, depth=0, referrer=None,
                      content_type="text/html", size=6, title=None, links=[], redirects=[], retries=0,
                      elapsed_ms=1.0, fetched_at="1970-01-01T00:00:01.000+00:00")


def test_a_resumed_crawl_keeps_its_trap_guard_counts(tmp_path: Path) -> None:
    variants = [f"{ROOT}cal?date={day}" for day in range(5)]
    with SqliteFrontier(tmp_path) as store:
        begin(store, [ROOT], CrawlConfig(respect_robots=False, max_query_variants=2))
        core = make_core(store, max_query_variants=2)
        core.add_seeds([ROOT])
        assert [core.add_url(url, depth=1) for url in variants[:3]] == [True, True, False]
        store.commit()
    with SqliteFrontier(tmp_path) as store:
        assert begin(store, [ROOT], CrawlConfig(respect_robots=False, max_query_variants=2)).resumed
        core = make_core(store, max_query_variants=2)
        core.add_seeds([ROOT])
        # The cap was reached before the crash: a fresh count would let two more through.
        assert [core.add_url(url, depth=1) for url in variants[3:]] == [False, False]
        assert core.statistics().traps == 2


def test_a_resumed_crawl_keeps_its_path_token_counts(tmp_path: Path) -> None:
    chain = [f"{ROOT}s/{n:016x}/page" for n in range(1, 7)]
    config = CrawlConfig(respect_robots=False, max_token_urls=3)
    with SqliteFrontier(tmp_path) as store:
        begin(store, [ROOT], config)
        core = make_core(store, max_token_urls=3)
        core.add_seeds([ROOT])
        added = [core.add_url(url, 1, referrer) for referrer, url in zip([ROOT, *chain], chain[:4], strict=False)]
        assert added == [True, True, True, False]
        store.commit()
    with SqliteFrontier(tmp_path) as store:
        assert begin(store, [ROOT], config).resumed
        core = make_core(store, max_token_urls=3)
        core.add_seeds([ROOT])
        # A page that mints a fresh token is still past the cap; a listing is not cut.
        assert not core.add_url(chain[4], 2, chain[2]) and core.add_url(chain[5], 2, ROOT + "log")
        assert core.statistics().trap_kinds == {"too_many_path_tokens": 1}
