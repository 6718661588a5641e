"""The demo site generator: deterministic, sized as asked, and fully reachable."""

from __future__ import annotations

import argparse
from collections import deque
from functools import cache
from urllib.parse import urldefrag, urljoin, urlsplit
from urllib.robotparser import RobotFileParser

import lxml.html
import pytest

from crawler.demo.site import (
    ROBOTS_TXT,
    DemoSpec,
    add_spec_arguments,
    expected_urls,
    generate_pages,
    page_path,
    spec_from_args,
    spec_to_argv,
)

BASE = "http://127.0.0.1:8080"
SPECS = [
    DemoSpec(pages=60),
    DemoSpec(pages=1),
    DemoSpec(pages=2, seed=7),
    DemoSpec(pages=9, seed=3, min_kb=4, max_kb=4, min_links=10, max_links=10),
    DemoSpec(pages=5, seed=5, min_kb=300, max_kb=300, min_links=500, max_links=500),
]


@cache
def pages_of(spec: DemoSpec) -> dict[str, bytes]:
    """The generated site, built once per spec for the whole module."""
    return generate_pages(spec)


@cache
def anchors(body: bytes) -> list[tuple[str | None, bool]]:
    """(href or None, nofollow) for every <a> tag of a page."""
    tree = lxml.html.fromstring(body.decode("utf-8"))
    return [(a.get("href"), a.get("rel") == "nofollow") for a in tree.iter("a")]


def robots() -> RobotFileParser:
    """The demo site's robots.txt, parsed by the standard library."""
    parser = RobotFileParser()
    parser.parse(ROBOTS_TXT.splitlines())
    return parser


def followable(page_url: str, body: bytes, rules: RobotFileParser, nofollow: bool) -> set[str]:
    """Same-host, robots-allowed URLs a page links to; with nofollow, minus any it marks nofollow.

    Dropping a URL whenever it is nofollow anywhere on the page is the strictest
    reading of nofollow, so reachability under it holds under every reading.
    """
    links = [(href, rel) for href, rel in anchors(body) if href]
    resolved = [(urldefrag(urljoin(page_url, href)).url, rel) for href, rel in links]
    dropped = {url for url, rel in resolved if rel and nofollow}
    same_host = {url for url, _ in resolved if url.startswith(BASE + "/")} - dropped
    return {url for url in same_host if rules.can_fetch("*", url)}


def crawl(spec: DemoSpec, nofollow: bool) -> set[str]:
    """Breadth-first search of the generated pages from the home page."""
    pages, rules = pages_of(spec), robots()
    seen, queue = {BASE + "/"}, deque([BASE + "/"])
    while queue:
        url = queue.popleft()
        for link in followable(url, pages[urlsplit(url).path], rules, nofollow) - seen:
            seen.add(link)
            queue.append(link)
    return seen


def test_same_seed_gives_identical_bytes() -> None:
    assert generate_pages(DemoSpec(pages=30)) == generate_pages(DemoSpec(pages=30))


def test_different_seed_gives_different_pages() -> None:
    first = generate_pages(DemoSpec(pages=30, seed=1))
    second = generate_pages(DemoSpec(pages=30, seed=2))
    assert first.keys() == second.keys()
    assert all(first[path] != second[path] for path in first)


def test_paths_are_home_and_numbered_pages() -> None:
    assert list(generate_pages(DemoSpec(pages=4))) == ["/", "/page/1", "/page/2", "/page/3"]
    assert page_path(0) == "/" and page_path(12) == "/page/12"


@pytest.mark.parametrize("spec", SPECS, ids=repr)
def test_page_sizes_are_within_range(spec: DemoSpec) -> None:
    sizes = [len(body) for body in pages_of(spec).values()]
    assert min(sizes) >= spec.min_kb * 1024
    assert max(sizes) <= spec.max_kb * 1024


@pytest.mark.parametrize("spec", SPECS, ids=repr)
def test_link_counts_are_within_range(spec: DemoSpec) -> None:
    counts = [len(anchors(body)) for body in pages_of(spec).values()]
    assert min(counts) >= spec.min_links
    assert max(counts) <= spec.max_links


# The last spec has few random links, so reachability rests on the tree links.
TINY_PAGES = DemoSpec(pages=300, min_kb=4, max_kb=4, min_links=3, max_links=6)


@pytest.mark.parametrize("nofollow", [True, False], ids=["honour-nofollow", "ignore-nofollow"])
@pytest.mark.parametrize("spec", [*SPECS, TINY_PAGES], ids=repr)
def test_expected_urls_is_what_a_breadth_first_crawl_finds(spec: DemoSpec, nofollow: bool) -> None:
    assert crawl(spec, nofollow) == expected_urls(spec, BASE)


def test_expected_urls_are_normalised_page_urls() -> None:
    urls = {BASE + "/", BASE + "/page/1", BASE + "/page/2"}
    assert expected_urls(DemoSpec(pages=3), BASE) == urls
    assert expected_urls(DemoSpec(pages=3), BASE + "/") == urls


def test_every_internal_link_leads_to_a_page_or_a_disallowed_path() -> None:
    spec, rules = SPECS[0], robots()
    known = expected_urls(spec, BASE)
    for path, body in pages_of(spec).items():
        for href, _ in anchors(body):
            url = urldefrag(urljoin(BASE + path, href or "")).url
            assert not url.startswith(BASE) or url in known or not rules.can_fetch("*", url)


def test_pages_carry_every_kind_of_link() -> None:
    hrefs = [link for body in pages_of(SPECS[0]).values() for link in anchors(body)]
    seen = {href for href, _ in hrefs if href}
    checks = {
        "fragment": lambda h: h.startswith("/page/") and "#" in h,
        "parent-relative": lambda h: h.startswith("../page/"),
        "bare relative": lambda h: h.isdigit(),
        "wikipedia": lambda h: h.startswith("https://www.wikipedia.org/"),
        "example.com": lambda h: h.startswith("https://example.com/"),
        "search query variant": lambda h: h.startswith("/search?q=") and "&page=" in h,
        "private": lambda h: h.startswith("/private/"),
        "mailto": lambda h: h.startswith("mailto:"),
        "javascript": lambda h: h.startswith("javascript:"),
    }
    for kind, check in checks.items():
        assert any(map(check, seen)), kind
    assert any(nofollow for _, nofollow in hrefs)
    assert any(href is None for href, _ in hrefs)


def test_pages_repeat_links() -> None:
    body = pages_of(SPECS[0])["/page/3"]
    hrefs = [href for href, _ in anchors(body)]
    assert len(set(hrefs)) < len(hrefs)


def test_pages_are_utf8_html_documents() -> None:
    text = pages_of(SPECS[0])["/page/2"].decode("utf-8")
    assert text.startswith("<!DOCTYPE html>")
    for part in ('<meta charset="utf-8">', "<title>", "<nav>", "<p>", "</html>"):
        assert part in text
    assert not text.isascii()


def test_site_has_tables_and_lists() -> None:
    text = b"".join(pages_of(SPECS[0]).values())
    assert b"<table>" in text and b"<ul>" in text


def test_robots_txt_disallows_search_and_private() -> None:
    rules = robots()
    assert rules.can_fetch("*", BASE + "/page/3")
    assert not rules.can_fetch("*", BASE + "/search?q=x")
    assert not rules.can_fetch("*", BASE + "/private/12")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"pages": 0}, "pages must be at least 1"),
        ({"latency_ms": -1}, "latency_ms"),
        ({"min_kb": 70}, "min_kb <= max_kb"),
        ({"min_links": 2, "max_links": 2}, "min_links <= max_links"),
        ({"min_kb": 4, "max_kb": 4}, "do not fit in 4 KiB"),
    ],
)
def test_bad_specs_are_rejected(changes: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DemoSpec(**changes)  # type: ignore[arg-type]


def test_spec_round_trips_through_command_line_flags() -> None:
    spec = DemoSpec(
        pages=7, latency_ms=2.5, seed=9, min_kb=40, max_kb=50, min_links=20, max_links=30
    )
    parser = argparse.ArgumentParser()
    add_spec_arguments(parser)
    assert spec_from_args(parser.parse_args(spec_to_argv(spec))) == spec
