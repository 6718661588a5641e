"""Sitemap parsing: the URL sets, sitemap indexes, gzip, the text format, and hostile files."""

from __future__ import annotations

import gzip

from crawler.sitemaps import MAX_SITEMAP_URLS, Sitemap, parse_sitemap

BASE = "http://site.test/sitemap.xml"
NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def urlset(*locs: str) -> bytes:
    """A sitemap listing locs."""
    entries = "".join(f"<url><loc>{loc}</loc><lastmod>2026-01-01</lastmod></url>" for loc in locs)
    return f'<?xml version="1.0" encoding="UTF-8"?><urlset {NS}>{entries}</urlset>'.encode()


def test_a_urlset_lists_pages_canonical_distinct_and_in_order() -> None:
    body = urlset("http://site.test/b", "HTTP://Site.Test/a#top", "http://site.test/b", "mailto:x@y.z")
    assert parse_sitemap(body, BASE) == Sitemap(pages=["http://site.test/b", "http://site.test/a"])


def test_an_index_lists_sitemaps() -> None:
    body = (f'<sitemapindex {NS}><sitemap><loc>http://site.test/s1.xml</loc></sitemap>'
            f'<sitemap><loc> /s2.xml.gz </loc></sitemap></sitemapindex>').encode()
    assert parse_sitemap(body, BASE) == Sitemap(sitemaps=["http://site.test/s1.xml", "http://site.test/s2.xml.gz"])


def test_gzipped_and_text_sitemaps() -> None:
    assert parse_sitemap(gzip.compress(urlset("http://site.test/z")), BASE).pages == ["http://site.test/z"]
    text = b"http://site.test/1\n\n  http://site.test/2  \r\nnot a url\n"
    assert parse_sitemap(text, BASE).pages == ["http://site.test/1", "http://site.test/2",
                                               "http://site.test/not%20a%20url"]


def test_broken_files_give_what_they_can() -> None:
    assert parse_sitemap(urlset("http://site.test/a")[:-20], BASE).pages == ["http://site.test/a"]
    assert parse_sitemap(b"<html><body>not a sitemap</body></html>", BASE) == Sitemap()
    assert parse_sitemap(b"\x1f\x8bnot gzip at all", BASE) == Sitemap()
    assert parse_sitemap(b"", BASE) == Sitemap()
    assert parse_sitemap(b"<<<>>>\x00\xff", BASE) == Sitemap()


def test_hostile_files_are_bounded() -> None:
    # Entities are not expanded (a billion laughs stays small), and no external file is read.
    laughs = (b'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaaaaaaaa">'
              + b"".join(b'<!ENTITY %c "&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;&%c;">' % ((c,) + (c - 1,) * 10)
                         for c in range(ord("b"), ord("k")))
              + f'<!ENTITY x SYSTEM "file:///etc/passwd">]><urlset {NS}><url><loc>http://site.test/&j;</loc>'
                f"</url><url><loc>http://site.test/&x;</loc></url></urlset>".encode())
    assert all(len(url) < 100 for url in parse_sitemap(laughs, BASE).pages)
    bomb = gzip.compress(urlset("http://site.test/a") + b" " * 50_000_000)
    assert parse_sitemap(bomb, BASE, max_bytes=1_000_000).pages == ["http://site.test/a"]
    many = urlset(*(f"http://site.test/{i}" for i in range(MAX_SITEMAP_URLS + 10)))
    assert len(parse_sitemap(many, BASE).pages) == MAX_SITEMAP_URLS
