"""The path-token trap guard: traps cut after max_token_urls, legitimate large sites crawled whole."""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Callable

import pytest

from crawler.config import CrawlConfig
from crawler.core import CrawlCore
from crawler.models import FetchResult, ParseResult
from crawler.policy import PATH_TOKENS, TrapGuard, path_tokens

ROOT = "http://site.test"
HEX16 = "3f9a1c0e7b2d4a55"
UUID = "8d3b1c5e-2f4a-4b6c-9d8e-7f6a5b4c3d2e"
B64 = "Zm9vYmFyYmF6cXV4cXV1eA1x"


@pytest.mark.parametrize(("path", "family", "tokens"), [
    (f"/t/end/{HEX16}", "/t/end/*", (HEX16,)),  # at the end
    (f"/s/{HEX16}/page", "/s/*", (HEX16,)),  # in the middle: the tail is not part of the family
    (f"/m/{HEX16}/x/{UUID}/", "/m/*/x/*", (HEX16, UUID)),  # several segments
    (f"/mix/{B64}/catalog/shoes", "/mix/*", (B64,)),  # base64url, with real segments
    (f"/a/page-{HEX16}.html", "/a/page-*.html", (HEX16,)),  # inside a segment
    (f"/Notes-on-Lisp-{HEX16}{HEX16}", "/Notes-on-Lisp-*", (HEX16 * 2,)),  # a title around an id
    ("/commit/" + "a1" * 20, "/commit/*", ("a1" * 20,)),
    ("/status/1234567890123456789", "/status/*", ("1234567890123456789",)),
])
def test_opaque_tokens_are_read_as_one_pattern(path: str, family: str, tokens: tuple[str, ...]) -> None:
    assert path_tokens(path) == (family, tokens)


@pytest.mark.parametrize("path", [
    "/post/how-to-install-python-3-on-ubuntu-2024", "/product/1234567", "/docs/api/v2/reference/index.html",
    "/wiki/FrontPage", "/wiki/ThreeLetterAcronymsExplained", "/2024/01/15/some-post/", "/deadbeefcafebabe",
    "/blog/2024-01-15-release-notes-for-version-12", "/static/app.bundle.min.js",
])
def test_names_are_not_tokens(path: str) -> None:
    assert path_tokens(path) == ("", ())


def chain(guard: TrapGuard, next_url: Callable[[int], str], length: int) -> list[str]:
    """Follow a chain of pages, each found on the one before, until the guard cuts it."""
    referrer, accepted = ROOT + "/", []
    for i in range(length):
        url = next_url(i)
        if guard.rejects(url, referrer) is not None:
            break
        accepted.append(url)
        referrer = url
    return accepted


@pytest.mark.parametrize("shape", [
    lambda i: f"{ROOT}/t/end/{random.Random(i).randbytes(8).hex()}",
    lambda i: f"{ROOT}/s/{random.Random(i).randbytes(8).hex()}/page",
    lambda i: f"{ROOT}/m/{HEX16}/x/{uuid.UUID(int=random.Random(i).getrandbits(128))}/",
    lambda i: f"{ROOT}/mix/{hashlib.sha1(str(i).encode()).hexdigest()}/catalog/{('shoes', 'hats')[i % 2]}",
], ids=["end", "middle", "segments", "mixed"])
def test_a_chain_minting_fresh_tokens_is_cut_at_the_cap_by_default(shape: Callable[[int], str]) -> None:
    guard = TrapGuard.for_config(CrawlConfig())
    assert len(chain(guard, shape, 300_000)) == CrawlConfig().max_token_urls == 1000
    assert guard.rejects(shape(10**6), shape(999)) == PATH_TOKENS


def test_a_session_id_carried_from_page_to_page_is_not_cut() -> None:
    guard = TrapGuard(max_token_urls=2)
    pages = [f"{ROOT}/s/{HEX16}/page{i}" for i in range(100)]
    assert [guard.rejects(url, pages[i - 1] if i else None) for i, url in enumerate(pages)] == [None] * 100


def test_a_listing_is_not_cut_and_lets_through_what_a_chain_was_refused() -> None:
    guard = TrapGuard(max_token_urls=3)
    commits = [f"{ROOT}/commit/{hashlib.sha1(str(n).encode()).hexdigest()}" for n in range(10)]
    assert [guard.rejects(url, ROOT + "/log") for url in commits[:5]] == [None] * 5  # past the cap: fine
    assert guard.rejects(commits[5], commits[4]) == PATH_TOKENS  # a parent link, minted, past the cap
    assert not guard.releases(commits[5], commits[4]) and not guard.releases(commits[6], ROOT + "/log")
    assert guard.releases(commits[5], ROOT + "/log?page=2")  # the next listing page links it
    assert not guard.releases(commits[5], ROOT + "/log?page=2")  # once


def test_the_cap_is_per_host_and_family_and_zero_turns_it_off() -> None:
    guard = TrapGuard(max_token_urls=1)
    page = f"{ROOT}/s/{HEX16}/page"
    assert guard.rejects(page) is None
    assert guard.rejects(f"{ROOT}/s/{'1' * 16}/page", page) == PATH_TOKENS
    assert guard.rejects(f"{ROOT}/other/{'1' * 16}", page) is None
    assert guard.rejects(f"http://other.test/s/{'1' * 16}/page", page) is None
    off = TrapGuard(max_token_urls=0)
    assert {off.rejects(f"{ROOT}/s/{n:016x}/page", f"{ROOT}/s/{n - 1:016x}/page") for n in range(2000)} == {None}


def test_recount_ends_where_the_earlier_run_did() -> None:
    first = TrapGuard(max_token_urls=5)
    urls = [f"{ROOT}/s/{n:016x}/page" for n in range(1, 20)]
    accepted = chain(first, lambda i: urls[i], len(urls))
    resumed = TrapGuard(max_token_urls=5)
    resumed.recount(reversed(accepted))
    assert resumed.rejects(urls[-1], accepted[-1]) == first.rejects(urls[-1], accepted[-1]) == PATH_TOKENS


# ----- whole sites through the core ---------------------------------------------

Site = Callable[[str], list[str]]


def crawl(site: Site, seed: str = ROOT + "/", **settings: object) -> CrawlCore:
    """Crawl a site of generated pages through the core with default guards; robots.txt off."""
    core = CrawlCore(CrawlConfig(respect_robots=False, **settings))  # type: ignore[arg-type]
    core.add_seeds([seed])
    while not core.finished:
        request = core.next_request()
        assert request is not None
        fetch = FetchResult(url=request.url, status=200, content_type="text/html", body=b"<html>", size=6)
        links = tuple(ROOT + path for path in site(request.url.removeprefix(ROOT)))
        core.complete(request, fetch, ParseResult(links=links))
    return core


def sha(n: int) -> str:
    """A commit id."""
    return hashlib.sha1(str(n).encode()).hexdigest()


def blog(path: str) -> list[str]:
    """5,000 posts by slug, ten a listing page; each post links to its neighbours."""
    slug = _slugs
    if path == "/" or path.startswith("/page/"):
        page = int(path.removeprefix("/page/") or 0) if path != "/" else 0
        return [f"/post/{s}" for s in slug[page * 10:page * 10 + 10]] + ([f"/page/{page + 1}"] if page < 499 else [])
    n = int(path.split("-")[1])
    return [f"/post/{slug[m]}" for m in (n - 1, n + 1) if 0 <= m < 5000]


_slugs = [f"post-{n}-on-python-{n % 13}-and-more" for n in range(5000)]


def shop(path: str) -> list[str]:
    """20,000 products by number, 100 a category page; each product links to five others."""
    if path == "/":
        return [f"/category/{c}" for c in range(200)]
    if path.startswith("/category/"):
        c = int(path.rsplit("/", 1)[1])
        return [f"/product/{100_000 + c * 100 + i}" for i in range(100)]
    n = int(path.rsplit("/", 1)[1])
    return [f"/product/{100_000 + (n * 7 + k) % 20_000}" for k in range(5)]


def docs(path: str) -> list[str]:
    """600 pages over 40 directories two levels deep; each page links to its whole directory."""
    if path == "/":
        return [f"/docs/{s}/{d}/index.html" for s in ("guide", "api", "howto", "ref") for d in range(10)]
    directory = path.rsplit("/", 1)[0]
    return [f"{directory}/page-{i}.html" for i in range(14)] + ["/"]


def code_browser(path: str) -> list[str]:
    """5,000 commits, 50 a log page; each commit links to its parent and to its tree."""
    if path == "/" or path.startswith("/log/"):
        page = int(path.removeprefix("/log/")) if path != "/" else 0
        first = page * 50
        return [f"/commit/{sha(n)}" for n in range(first, first + 50)] + ([f"/log/{page + 1}"] if page < 99 else [])
    if path.startswith("/commit/"):
        commit = path.rsplit("/", 1)[1]
        n = _commit_number[commit]
        return [f"/tree/{commit}/"] + ([f"/commit/{sha(n + 1)}"] if n + 1 < 5000 else [])
    return []


_commit_number = {sha(n): n for n in range(5000)}


@pytest.mark.parametrize(("site", "pages"), [
    (blog, 1 + 499 + 5000), (shop, 1 + 200 + 20_000), (docs, 1 + 40 + 40 * 14), (code_browser, 1 + 99 + 2 * 5000),
], ids=["blog", "shop", "docs", "code-browser"])
def test_large_legitimate_sites_are_crawled_whole(site: Site, pages: int) -> None:
    core = crawl(site)
    stats = core.statistics()
    assert (stats.pages, stats.traps) == (pages, 0)


def test_a_trap_on_a_site_is_cut_and_counted_under_its_own_name() -> None:
    def trap(path: str) -> list[str]:
        fresh = f"/s/{random.Random(path).randbytes(8).hex()}/page"
        return [fresh, "/about"] if path == "/" else [fresh] if path.startswith("/s/") else []

    stats = crawl(trap).statistics()
    assert stats.pages == 1 + 1 + 1000  # the seed, /about, and the trap up to its cap
    assert (stats.traps, stats.trap_kinds) == (1, {PATH_TOKENS: 1})
