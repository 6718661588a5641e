"""The crawl core's decisions, driven by hand with a fake clock: no network, no event loop."""

from __future__ import annotations

import dataclasses
import itertools
import random

import pytest

from crawler.config import CrawlConfig
from crawler.core import CrawlCore
from crawler.models import CrawlRequest, ErrorInfo, FetchResult, ParseResult

ROOT = "http://site.test/"


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def html(url: str, *links: str, nofollow: tuple[str, ...] = (), status: int = 200) -> tuple[FetchResult, ParseResult]:
    """A fetched HTML page and its parse."""
    fetch = FetchResult(url=url, status=status, content_type="text/html", body=b"<html>", size=6,
                        fetched_at=1.0)
    return fetch, ParseResult(links=links, nofollow=frozenset(nofollow), title=f"title of {url}")


def make_core(clock: Clock | None = None, **settings: object) -> CrawlCore:
    """A core with robots.txt off unless asked, and deterministic jitter."""
    settings.setdefault("respect_robots", False)
    return CrawlCore(CrawlConfig(**settings), clock=clock or Clock(), rng=random.Random(0))  # type: ignore[arg-type]


def drive(core: CrawlCore, site: dict[str, object], clock: Clock | None = None) -> list:
    """Run the core to the end, answering each request from site, one at a time."""
    records = []
    for _ in range(10_000):
        if core.finished:
            break
        request = core.next_request()
        if request is None:
            if core.finished:  # the call dropped what was left (robots.txt disallows it)
                break
            assert clock is not None, "core waits but the test has no clock to move"
            wait = core.wait_time()
            assert wait is not None and wait > 0
            clock.now += wait
            continue
        answer = site.get(request.url) or FetchResult(url=request.url, status=404, content_type="text/html")
        answer = answer(request) if callable(answer) else answer
        fetch, parsed = answer if isinstance(answer, tuple) else (answer, None)
        records += core.complete(request, fetch, parsed if core.needs_parse(request, fetch) else None)
    records += core.drain()
    return records


def test_crawls_links_once_each_in_scope_only() -> None:
    core = make_core()
    core.add_seeds([ROOT])
    site = {
        ROOT: html(ROOT, ROOT + "a", ROOT + "b", "http://other.test/x", ROOT + "a"),
        ROOT + "a": html(ROOT + "a", ROOT, ROOT + "b"),
        ROOT + "b": html(ROOT + "b"),
    }
    records = drive(core, site)
    assert sorted(r.url for r in records) == [ROOT, ROOT + "a", ROOT + "b"]
    stats = core.statistics()
    assert stats.pages == 3 and stats.out_of_scope == 1 and stats.duplicates >= 2


def test_record_fields() -> None:
    core = make_core()
    core.add_seeds([ROOT])
    site = {ROOT: html(ROOT, ROOT + "a"), ROOT + "a": html(ROOT + "a")}
    records = {r.url: r for r in drive(core, site)}
    page = records[ROOT + "a"].to_dict()
    assert page["requested_url"] == ROOT + "a"
    assert page["referrer"] == ROOT and page["depth"] == 1 and page["status"] == 200
    assert page["title"] == f"title of {ROOT}a" and page["error"] is None
    assert page["redirects"] == [] and page["retries"] == 0 and page["fetched_at"].startswith("1970-01-01T")
    assert set(page) == {"url", "requested_url", "status", "depth", "referrer", "content_type", "size",
                         "title", "links", "redirects", "retries", "elapsed_ms", "fetched_at", "error"}


def test_max_depth_and_max_pages() -> None:
    chain = {f"{ROOT}{i}": html(f"{ROOT}{i}", f"{ROOT}{i + 1}") for i in range(10)}
    chain[ROOT] = html(ROOT, ROOT + "0")
    core = make_core(max_depth=2)
    core.add_seeds([ROOT])
    assert [r.depth for r in drive(core, chain)] == [0, 1, 2]
    core = make_core(max_pages=4)
    core.add_seeds([ROOT])
    assert len(drive(core, chain)) == 4


def test_include_exclude_and_allowed_domains() -> None:
    core = make_core(include=(r"/keep",), exclude=(r"/keep/no",), allow_domains=("friend.test",))
    core.add_seeds([ROOT + "keep"])
    site = {ROOT + "keep": html(ROOT + "keep", ROOT + "keep/yes", ROOT + "keep/no", ROOT + "drop",
                                "http://www.friend.test/keep", "http://foe.test/keep")}
    urls = {r.url for r in drive(core, site)}
    assert urls == {ROOT + "keep", ROOT + "keep/yes", "http://www.friend.test/keep"}


def test_nofollow_honoured_unless_turned_off() -> None:
    site = {ROOT: html(ROOT, ROOT + "a", ROOT + "b", nofollow=(ROOT + "b",))}
    core = make_core()
    core.add_seeds([ROOT])
    assert {r.url for r in drive(core, site)} == {ROOT, ROOT + "a"}
    core = make_core(follow_nofollow=True)
    core.add_seeds([ROOT])
    assert {r.url for r in drive(core, site)} == {ROOT, ROOT + "a", ROOT + "b"}


def redirect(url: str, location: str, status: int = 301) -> FetchResult:
    """A redirect answer."""
    return FetchResult(url=url, status=status, location=location)


def test_redirect_chain_gives_one_record_for_the_final_url() -> None:
    core = make_core()
    core.add_seeds([ROOT + "old"])
    site = {ROOT + "old": redirect(ROOT + "old", "/mid"), ROOT + "mid": redirect(ROOT + "mid", "new", 302),
            ROOT + "new": html(ROOT + "new")}
    [record] = drive(core, site)
    assert record.url == ROOT + "new" and record.requested_url == ROOT + "old"
    assert record.redirects == [ROOT + "old", ROOT + "mid"] and record.status == 200


def test_redirect_loop_ends_with_an_error_record_pointing_at_the_seen_url() -> None:
    core = make_core()
    core.add_seeds([ROOT + "a"])
    site = {ROOT + "a": redirect(ROOT + "a", "/b"), ROOT + "b": redirect(ROOT + "b", "/a")}
    [record] = drive(core, site)
    assert record.url == ROOT + "b" and record.status == 301 and record.links == [ROOT + "a"]
    assert record.error is not None and record.error.kind == "redirect_loop"


def test_redirect_limit() -> None:
    core = make_core(max_redirects=3)
    core.add_seeds([ROOT + "0"])
    site = {f"{ROOT}{i}": redirect(f"{ROOT}{i}", f"/{i + 1}") for i in range(10)}
    [record] = drive(core, site)
    assert record.error.kind == "too_many_redirects" and len(record.redirects) == 3


def test_redirect_target_goes_through_scope() -> None:
    core = make_core()
    core.add_seeds([ROOT])
    [record] = drive(core, {ROOT: redirect(ROOT, "http://elsewhere.test/")})
    assert record.status == 301 and record.links == ["http://elsewhere.test/"]


def test_retries_with_backoff_then_success() -> None:
    clock = Clock()
    core = make_core(clock, retries=3, backoff_base=1.0)
    core.add_seeds([ROOT])
    attempts = []

    def flaky(request: CrawlRequest):
        attempts.append(clock.now)
        if len(attempts) < 3:
            return FetchResult(url=request.url, error=ErrorInfo("connection", "reset"))
        return html(ROOT)

    [record] = drive(core, {ROOT: flaky}, clock)
    assert record.retries == 2 and record.error is None
    assert attempts[1] - attempts[0] >= 0.5 and attempts[2] - attempts[1] >= 1.0


def test_retry_after_pauses_the_host_and_exhausted_retries_are_errors() -> None:
    clock = Clock()
    core = make_core(clock, retries=2)
    core.add_seeds([ROOT])
    attempts = []

    def busy(request: CrawlRequest) -> FetchResult:
        attempts.append(clock.now)
        return FetchResult(url=request.url, status=503, retry_after="7", content_type="text/html")

    [record] = drive(core, {ROOT: busy}, clock)
    assert [round(b - a) for a, b in itertools.pairwise(attempts)] == [7, 7]
    assert record.status == 503 and record.retries == 2 and record.error.kind == "http_status"


def test_timeouts_are_given_up_with_their_kind() -> None:
    clock = Clock()
    core = make_core(clock, retries=1)
    core.add_seeds([ROOT])
    [record] = drive(core, {ROOT: FetchResult(url=ROOT, error=ErrorInfo("timeout", "too slow"))}, clock)
    assert record.error.kind == "timeout" and record.retries == 1 and record.status is None


def test_per_host_limit_and_delay() -> None:
    clock = Clock()
    core = make_core(clock, per_host=2)
    core.add_seeds([ROOT + str(i) for i in range(5)])
    first, second = core.next_request(), core.next_request()
    assert first and second and core.next_request() is None
    core.complete(first, *html(first.url))
    assert core.next_request() is not None

    core = make_core(clock, delay=2.0)
    core.add_seeds([ROOT + str(i) for i in range(3)])
    request = core.next_request()
    core.complete(request, *html(request.url))
    assert core.next_request() is None and core.wait_time() == pytest.approx(2.0)
    clock.now += 2.0
    assert core.next_request() is not None


def test_release_frees_the_host_slot_before_the_page_is_settled() -> None:
    clock = Clock()
    core = make_core(clock, per_host=1, delay=1.0)
    core.add_seeds([ROOT + "a", ROOT + "b"])
    first = core.next_request()
    fetch, parsed = html(first.url, ROOT + "c")
    clock.now += 0.5
    core.release(first, dataclasses.replace(fetch, elapsed_ms=500.0))
    assert core.next_request() is None and core.wait_time() == pytest.approx(0.5)  # sent 0.5 s ago
    clock.now += 0.5
    second = core.next_request()  # the slot is free though the first page awaits its parse
    assert second is not None and second.url == ROOT + "b"
    assert not core.finished
    [record] = core.settle(first, fetch, parsed)
    assert record.links == [ROOT + "c"] and core.statistics().in_flight == 1


def test_body_too_large_is_recorded() -> None:
    core = make_core()
    core.add_seeds([ROOT])
    fetch = FetchResult(url=ROOT, status=200, content_type="text/html", body=b"<a>", size=3, truncated=True)
    [record] = drive(core, {ROOT: (fetch, ParseResult())})
    assert record.error.kind == "body_too_large"


def test_non_html_is_recorded_not_parsed() -> None:
    core = make_core()
    core.add_seeds([ROOT])
    fetch = FetchResult(url=ROOT, status=200, content_type="image/png", body=b"\x89PNG", size=4)
    request = core.next_request()
    assert not core.needs_parse(request, fetch)
    [record] = core.complete(request, fetch, None)
    assert record.content_type == "image/png" and record.links == [] and record.title is None


def robots(body: str, status: int = 200):
    """A robots.txt answer."""
    return lambda request: FetchResult(url=request.url, status=status, body=body.encode(),
                                       content_type="text/plain")


def test_robots_fetched_first_and_disallow_honoured() -> None:
    clock = Clock()
    core = make_core(clock, respect_robots=True)
    core.add_seeds([ROOT])
    first = core.next_request()
    assert first.kind == "robots" and first.url == ROOT + "robots.txt"
    assert core.next_request() is None  # pages wait for the rules
    core.complete(first, robots("User-agent: *\nDisallow: /private\n")(first))
    site = {ROOT: html(ROOT, ROOT + "private/x", ROOT + "public")}
    assert {r.url for r in drive(core, site, clock)} == {ROOT, ROOT + "public"}
    assert core.statistics().robots_disallowed == 1


@pytest.mark.parametrize("status, allowed", [(404, True), (403, True), (410, True)])
def test_robots_4xx_allows_everything(status: int, allowed: bool) -> None:
    core = make_core(respect_robots=True)
    core.add_seeds([ROOT])
    records = drive(core, {ROOT + "robots.txt": robots("Disallow: /", status), ROOT: html(ROOT)})
    assert bool(records) is allowed


def test_robots_5xx_disallows_until_fetched_then_gives_up() -> None:
    clock = Clock()
    core = make_core(clock, respect_robots=True, retries=2)
    core.add_seeds([ROOT])
    assert drive(core, {ROOT + "robots.txt": robots("", 503), ROOT: html(ROOT)}, clock) == []
    assert (core.statistics().robots_disallowed, core.statistics().robots_unreachable) == (1, 1)

    core = make_core(clock, respect_robots=True, retries=2)
    core.add_seeds([ROOT])
    answers = iter([503, 200])
    records = drive(core, {ROOT + "robots.txt": lambda r: robots("", next(answers))(r), ROOT: html(ROOT)}, clock)
    assert [r.url for r in records] == [ROOT]
    assert core.statistics().robots_unreachable == 0


def test_crawl_delay_from_robots() -> None:
    clock = Clock()
    core = make_core(clock, respect_robots=True)
    core.add_seeds([ROOT + "a", ROOT + "b"])
    starts = []

    def page(request: CrawlRequest):
        starts.append(clock.now)
        return html(request.url)

    drive(core, {ROOT + "robots.txt": robots("User-agent: *\nCrawl-delay: 3\n"),
                 ROOT + "a": page, ROOT + "b": page}, clock)
    assert starts[1] - starts[0] >= 3


def test_time_limit_and_stop() -> None:
    clock = Clock()
    core = make_core(clock, time_limit=5)
    core.add_seeds([ROOT, ROOT + "a"])
    assert core.next_request() is not None
    clock.now += 6
    assert core.next_request() is None and not core.finished  # one still in flight
    core.stop()
    assert core.halted


def test_trap_guards() -> None:
    core = make_core(max_query_variants=3, max_repeated_segments=2)
    core.add_seeds([ROOT])
    links = [f"{ROOT}cal?date={d}" for d in range(10)] + [ROOT + "a/a/a/b"]
    records = drive(core, {ROOT: html(ROOT, *links)})
    assert len(records) == 4 and core.statistics().traps == 8


def test_bad_seed_is_refused() -> None:
    with pytest.raises(ValueError):
        make_core().add_seeds(["mailto:me@example.org"])


def sitemap(*locs: str, index: bool = False, status: int = 200):
    """A sitemap answer listing page URLs (or, as an index, sitemap URLs)."""
    entry, root = ("sitemap", "sitemapindex") if index else ("url", "urlset")
    body = f"<{root}>" + "".join(f"<{entry}><loc>{loc}</loc></{entry}>" for loc in locs) + f"</{root}>"
    return lambda request: FetchResult(url=request.url, status=status, body=body.encode(),
                                       content_type="application/xml")


def test_sitemaps_named_by_robots_add_their_pages_one_hop_from_the_seed() -> None:
    core = make_core(respect_robots=True, sitemaps=True)
    core.add_seeds([ROOT])
    site = {
        ROOT + "robots.txt": robots(f"User-agent: *\nDisallow: /private\nSitemap: {ROOT}index.xml\n"
                                    "Sitemap: http://other.test/s.xml"),
        ROOT + "index.xml": sitemap(ROOT + "pages.xml", ROOT + "index.xml", index=True),  # names itself too
        ROOT + "pages.xml": sitemap(ROOT + "orphan", ROOT, ROOT + "private/x", "http://other.test/y"),
        ROOT: html(ROOT),
        ROOT + "orphan": html(ROOT + "orphan"),
    }
    records = {r.url: r for r in drive(core, site)}
    assert set(records) == {ROOT, ROOT + "orphan"}  # sitemaps make no records of their own
    assert (records[ROOT + "orphan"].depth, records[ROOT + "orphan"].referrer) == (1, ROOT + "pages.xml")
    stats = core.statistics()
    assert (stats.sitemap_pages, stats.robots_disallowed, stats.out_of_scope) == (4, 1, 1)


@pytest.mark.parametrize("respect_robots", [True, False])
def test_without_a_sitemap_line_sitemap_xml_is_tried_and_its_absence_is_no_error(respect_robots: bool) -> None:
    core = make_core(respect_robots=respect_robots, sitemaps=True)
    core.add_seeds([ROOT])
    asked: list[str] = []
    site = {ROOT + "robots.txt": robots("User-agent: *\nAllow: /\n"), ROOT: html(ROOT)}
    records = drive(core, {**site, ROOT + "sitemap.xml": lambda r: asked.append(r.url) or robots("", 404)(r)})
    assert [r.url for r in records] == [ROOT] and asked == [ROOT + "sitemap.xml"]
    assert core.statistics().errors == 0


def test_sitemaps_are_off_by_default_and_retried_or_redirected_like_pages() -> None:
    core = make_core(respect_robots=True)
    core.add_seeds([ROOT])
    drive(core, {ROOT + "robots.txt": robots(f"Sitemap: {ROOT}s.xml"), ROOT: html(ROOT)})
    assert core.statistics().sitemap_pages == 0

    clock = Clock()
    core = make_core(clock, respect_robots=True, sitemaps=True)
    core.add_seeds([ROOT])
    answers = iter([sitemap(status=503), sitemap(ROOT + "late")])
    moved = FetchResult(url=ROOT + "s.xml", status=301, location="/moved.xml")
    site = {ROOT + "robots.txt": robots(f"Sitemap: {ROOT}s.xml"), ROOT + "s.xml": moved,
            ROOT + "moved.xml": lambda r: next(answers)(r), ROOT: html(ROOT), ROOT + "late": html(ROOT + "late")}
    assert {r.url for r in drive(core, site, clock)} == {ROOT, ROOT + "late"}
    assert core.statistics().retries == 1
