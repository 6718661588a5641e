"""Sitemaps (sitemaps.org protocol 0.9): the URLs a site lists for crawlers (pure: the driver fetches).

A sitemap is an XML ``<urlset>`` of ``<url><loc>`` entries, an XML
``<sitemapindex>`` of ``<sitemap><loc>`` entries naming more sitemaps, or a
plain text file of one URL per line; any of them may be gzipped. Hostile input
is bounded: a gzipped file is inflated up to a byte limit, the XML parser
expands no entities and reads nothing from the network, and one file yields at
most 50,000 URLs (the protocol's own limit).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field

from lxml import etree

from .urls import normalize_url

# The protocol's limits for one file: 50,000 URLs and 50 MB uncompressed.
MAX_SITEMAP_URLS = 50_000
MAX_SITEMAP_BYTES = 50 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True, slots=True)
class Sitemap:
    """What one sitemap file lists: pages to crawl and further sitemaps to read."""

    pages: list[str] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)


def default_sitemap_url(origin: str) -> str:
    """Where a site without a ``Sitemap:`` line in robots.txt conventionally keeps its sitemap."""
    return f"{origin}/sitemap.xml"


def parse_sitemap(body: bytes, url: str, max_bytes: int = MAX_SITEMAP_BYTES) -> Sitemap:
    """The canonical page and sitemap URLs that the sitemap body fetched from url lists."""
    data = _gunzip(body, max_bytes) if body.startswith(_GZIP_MAGIC) else body[:max_bytes]
    if data.lstrip()[:1] == b"<":
        pages, sitemaps = _xml_locations(data)
    else:  # the protocol's text format: one URL per line
        pages, sitemaps = data.decode("utf-8", "replace").splitlines(), []
    return Sitemap(pages=_canonical(pages, url), sitemaps=_canonical(sitemaps, url))


def _gunzip(body: bytes, max_bytes: int) -> bytes:
    """A gzipped file inflated up to max_bytes (a bomb stops there); a corrupt one as far as it goes."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        return inflater.decompress(body, max_bytes)
    except zlib.error:
        return b""


def _xml_locations(data: bytes) -> tuple[list[str], list[str]]:
    """The ``<loc>`` texts of ``<url>`` entries and of ``<sitemap>`` entries, in document order."""
    # recover: sitemaps in the wild are often malformed. No entities, no network, no huge tree.
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True,
                             remove_comments=True, remove_pis=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError:  # nothing parseable at all
        return [], []
    if root is None:
        return [], []
    pages: list[str] = []
    sitemaps: list[str] = []
    for loc in root.iter("{*}loc"):
        parent = loc.getparent()
        kind = etree.QName(parent).localname if parent is not None else ""
        if loc.text and kind in ("url", "sitemap"):
            (pages if kind == "url" else sitemaps).append(loc.text)
        if len(pages) + len(sitemaps) >= MAX_SITEMAP_URLS:
            break
    return pages, sitemaps


def _canonical(locations: list[str], base: str) -> list[str]:
    """The distinct crawlable URLs among locations, normalised, in order, at most MAX_SITEMAP_URLS."""
    stripped = (location.strip() for location in locations[:MAX_SITEMAP_URLS])
    urls = (normalize_url(location, base) for location in stripped if location)  # "" is the base
    return list(dict.fromkeys(url for url in urls if url is not None))


__all__ = ["MAX_SITEMAP_BYTES", "MAX_SITEMAP_URLS", "Sitemap", "default_sitemap_url", "parse_sitemap"]
