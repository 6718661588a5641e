"""Every mode crawls the same sites into the same records: one expected result, four drivers."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import crawler
from crawler import Crawler, Follow, PageRecord
from crawler.cli import main
from crawler.demo import expected_urls
from crawler.frontier import FrontierStore
from crawler.stores.sqlite import SqliteFrontier

from ..conftest import SMALL_SITE
from .sites import (
    EDGE_EXPECTED,
    SITEMAP_PAGES,
    counting_app,
    serve,
    sitemap_site_app,
)

# Fields that depend on timing or on the order fetches complete in (first discoverer).
TIMING = {"elapsed_ms", "fetched_at"}
ORDER = {"depth", "referrer"}
QUICK = {"timeout": 5, "retries": 0}


@pytest.fixture(scope="module")
def sitemap_site() -> Iterator[str]:
    """A site whose sitemaps list pages that no link reaches."""
    with serve(sitemap_site_app()) as url:
        yield url


@pytest.fixture(scope="module")
def reference(small_site: Any) -> list[dict[str, Any]]:
    """The demo site crawled by the sync mode, one request at a time."""
    return fields(crawler.crawl(small_site.url, mode="sync", **QUICK), drop=TIMING)


async def crawl(url: str, mode: str, width: int = 4, store: FrontierStore | None = None,
                **settings: Any) -> list[PageRecord]:
    """Crawl through the library API in a mode, `width` requests in flight."""
    async with Crawler(mode=mode, workers=width, concurrency=width, per_host=width, store=store,
                       **QUICK | settings) as crawl_session:
        return [record async for record in crawl_session.crawl(url)]


def fields(records: list[PageRecord], drop: set[str]) -> list[dict[str, Any]]:
    """Records as dicts without some fields, sorted by URL."""
    return sorted(({k: v for k, v in r.to_dict().items() if k not in drop} for r in records),
                  key=lambda r: r["url"])


def summarise(record: PageRecord, base: str) -> tuple[Any, ...]:
    """A record in EDGE_EXPECTED's form: site URLs as paths."""
    def path(url: str | None) -> str | None:
        return "/" + url[len(base):] if url and url.startswith(base) else url

    return (path(record.url), record.status, record.title, tuple(path(link) for link in record.links),
            tuple(path(url) for url in record.redirects), record.error.kind if record.error else None,
            record.depth, path(record.referrer))


async def test_edge_site_gives_the_expected_records(mode: str, edge_site: str) -> None:
    records = await crawl(edge_site, mode)
    assert {summarise(record, edge_site) for record in records} == EDGE_EXPECTED
    assert len(records) == len(EDGE_EXPECTED)
    final = next(r for r in records if r.url.endswith("/redirect/final"))
    assert final.requested_url == edge_site + "redirect/1"


async def test_edge_site_over_the_sqlite_store_gives_the_same_records(mode: str, edge_site: str,
                                                                      tmp_path: Path) -> None:
    with SqliteFrontier(tmp_path) as store:  # redirects and retries in flight live on disk
        records = await crawl(edge_site, mode, store=store)
        assert store.pending_count() == 0
    assert {summarise(record, edge_site) for record in records} == EDGE_EXPECTED
    assert len(records) == len(EDGE_EXPECTED)


async def test_sitemaps_add_the_pages_they_list(mode: str, sitemap_site: str) -> None:
    def paths(records: list[PageRecord]) -> set[str]:
        return {"/" + record.url.removeprefix(sitemap_site) for record in records}

    assert paths(await crawl(sitemap_site, mode)) == {"/", "/linked"}
    listed = await crawl(sitemap_site, mode, sitemaps=True)
    assert paths(listed) == {"/", "/linked"} | SITEMAP_PAGES
    assert all(record.status == 200 and record.depth <= 1 for record in listed)


async def test_demo_site_one_at_a_time_matches_sync_field_for_field(mode: str, small_site: Any,
                                                                    reference: list[dict[str, Any]]) -> None:
    records = await crawl(small_site.url, mode, width=1)
    assert {r.url for r in records} == expected_urls(SMALL_SITE, small_site.url)
    assert fields(records, drop=TIMING) == reference


async def test_demo_site_concurrently_finds_the_same_pages(mode: str, small_site: Any,
                                                           reference: list[dict[str, Any]]) -> None:
    records = await crawl(small_site.url, mode, width=8)
    assert len(records) == SMALL_SITE.pages
    # With 8 in flight, which page discovers a link first varies: so do depth and referrer.
    assert fields(records, drop=TIMING | ORDER) == [{k: v for k, v in r.items() if k not in ORDER}
                                                    for r in reference]


async def test_a_plain_hook_runs_in_every_mode(mode: str, edge_site: str) -> None:
    def hook(record: PageRecord, soup: Any) -> list[Any]:
        follow = [Follow("/hidden.html")] if record.url.endswith("/b.html") else []
        return [soup.title.string, *follow]

    async with Crawler(mode=mode, workers=2, concurrency=2, on_page=hook, **QUICK) as session:
        records = {r.url: r async for r in session.crawl(edge_site)}
    assert records[edge_site + "a.html"].items == ["A"]
    assert records[edge_site + "hidden.html"].items == ["Hidden"]
    assert records[edge_site + "missing"].items == []  # a 404 is no page for a hook


async def test_an_async_hook_needs_the_async_mode(edge_site: str) -> None:
    async def hook(record: PageRecord, soup: Any) -> None:
        return None

    with pytest.raises(TypeError, match="async"):
        async with Crawler(mode="threaded", on_page=hook) as session:
            async for _ in session.crawl(edge_site):
                pass


async def test_stop_ends_every_mode(mode: str) -> None:
    app, log = counting_app(pages=200, latency=0.05)
    with serve(app) as url:
        async with Crawler(mode=mode, workers=4, concurrency=4, per_host=4, **QUICK) as session:
            records = []
            async for record in session.crawl(url):
                records.append(record)
                if len(records) == 5:
                    session.stop()
                    stopped = time.monotonic()
        assert time.monotonic() - stopped < 1.0
    assert 5 <= len(records) <= 5 + 4  # at most what was in flight when stopped
    assert len(log.starts) == len(records) + 1  # robots.txt, then one request per record


@pytest.mark.parametrize("args, message", [
    (["--mode", "fibers"], "invalid choice: 'fibers'"),
    (["--mode", "threaded", "-w", "0"], "workers must be positive"),
    (["--mode", "process", "--workers", "-3"], "workers must be positive"),
])
def test_mode_mistakes_get_one_line(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["crawl", "http://127.0.0.1:9/", *args]) == 2
    error = capsys.readouterr().err
    assert message in error and len(error.strip().splitlines()) == 1
