"""Small hand-built sites for crawling in every mode, served from a background thread.

``edge_site_app`` has one of each awkward case a crawler meets; every page is
reachable by exactly one path, so depth and referrer do not depend on the
order fetches complete in, and every mode must produce exactly ``EDGE_EXPECTED``.
``counting_app`` serves a fan of slow pages and records, at the server, when
each request started and how many were in flight.
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

ROBOTS = "User-agent: *\nDisallow: /private\n"


def _page(title: str, *hrefs: str, head: str = "") -> str:
    """A small HTML page with a title and links."""
    links = "".join(f'<a href="{href}">{href}</a>\n' for href in hrefs)
    return f"<!DOCTYPE html><html><head>{head}<title>{title}</title></head><body>{links}</body></html>"


# path -> (status, content type, body or Location)
EDGE_ROUTES: dict[str, tuple[int, str, str]] = {
    "/robots.txt": (200, "text/plain", ROBOTS),
    "/": (200, "text/html", _page(
        "Home", "a.html", "/redirect/1", "/loop/a", "/missing", "/private/secret", "/data.json",
        "/dir/", "/redirect/private", "/redirect/away", "mailto:someone@example.com", "#top")),
    "/a.html": (200, "text/html", _page("A", "./b.html#part", "c.html?x=1", "/")),
    "/b.html": (200, "text/html", _page("B")),
    "/c.html": (200, "text/html; charset=utf-8", _page("C with query")),
    "/redirect/1": (301, "text/html", "/redirect/2"),
    "/redirect/2": (302, "text/html", "final"),
    "/redirect/final": (200, "text/html", _page("Final")),
    "/loop/a": (302, "text/html", "/loop/b"),
    "/loop/b": (302, "text/html", "/loop/a"),
    "/missing": (404, "text/html", _page("Not found")),
    "/private/secret": (200, "text/html", _page("Secret")),
    "/data.json": (200, "application/json", '{"links": ["/never.html"]}'),
    "/dir/": (200, "text/html", _page("Dir", "x.html", "../up.html", head='<base href="/base/">')),
    "/base/x.html": (200, "text/html", _page("X")),
    "/up.html": (200, "text/html", _page("Up")),
    "/hidden.html": (200, "text/html", _page("Hidden")),  # linked from nowhere: a hook follows it
    "/redirect/private": (302, "text/html", "/private/other"),
    "/redirect/away": (302, "text/html", "http://elsewhere.invalid/"),
}

# (path, status, title, links as paths or absolute URLs, redirects as paths, error kind, depth, referrer path)
EDGE_EXPECTED = {
    # "#top" is the page itself; mailto: is no crawlable link; /private/ is never fetched.
    ("/", 200, "Home", ("/a.html", "/redirect/1", "/loop/a", "/missing", "/private/secret", "/data.json",
                        "/dir/", "/redirect/private", "/redirect/away", "/"), (), None, 0, None),
    ("/a.html", 200, "A", ("/b.html", "/c.html?x=1", "/"), (), None, 1, "/"),
    ("/b.html", 200, "B", (), (), None, 2, "/a.html"),
    ("/c.html?x=1", 200, "C with query", (), (), None, 2, "/a.html"),
    ("/redirect/final", 200, "Final", (), ("/redirect/1", "/redirect/2"), None, 1, "/"),
    ("/loop/b", 302, None, ("/loop/a",), ("/loop/a",), "redirect_loop", 1, "/"),
    ("/missing", 404, None, (), (), None, 1, "/"),
    ("/data.json", 200, None, (), (), None, 1, "/"),
    ("/dir/", 200, "Dir", ("/base/x.html", "/up.html"), (), None, 1, "/"),
    ("/base/x.html", 200, "X", (), (), None, 2, "/dir/"),
    ("/up.html", 200, "Up", (), (), None, 2, "/dir/"),
    # A redirect robots.txt forbids to follow, and one out of scope, end with a record of their own.
    ("/redirect/private", 302, None, ("/private/other",), (), None, 1, "/"),
    ("/redirect/away", 302, None, ("http://elsewhere.invalid/",), (), None, 1, "/"),
}


def edge_site_app() -> web.Application:
    """The edge-case site: redirects, a loop, a 404, robots rules, non-HTML, <base href>."""

    async def handle(request: web.Request) -> web.Response:
        status, content_type, text = EDGE_ROUTES.get(request.path, (404, "text/html", _page("Nope")))
        if status in (301, 302):
            return web.Response(status=status, headers={"Location": text})
        return web.Response(status=status, text=text, content_type=content_type.split(";")[0],
                            charset="utf-8")

    app = web.Application()
    app.router.add_get("/{path:.*}", handle)
    return app


SITEMAP_URLSET = ('<?xml version="1.0" encoding="UTF-8"?>'
                  '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{}</urlset>')
# path -> (content type, body): a site whose robots.txt names a sitemap index of three sitemaps,
# one gzipped and one moved (then in the text format), listing pages no link reaches.
SITEMAP_ROUTES: dict[str, tuple[str, bytes]] = {
    "/robots.txt": ("text/plain", b"User-agent: *\nDisallow: /private\nSitemap: /sitemap_index.xml\n"),
    "/sitemap_index.xml": ("application/xml", (
        '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        + "".join(f"<sitemap><loc>{loc}</loc></sitemap>"
                  for loc in ("/sitemap-pages.xml", "/sitemap-more.xml.gz", "/old-sitemap.xml"))
        + "</sitemapindex>").encode()),
    "/sitemap-pages.xml": ("application/xml", SITEMAP_URLSET.format("".join(
        f"<url><loc>{loc}</loc></url>"
        for loc in ("/orphan-1", "/", "/private/hidden", "http://elsewhere.invalid/x"))).encode()),
    "/sitemap-more.xml.gz": ("application/gzip", gzip.compress(
        SITEMAP_URLSET.format("<url><loc>/orphan-2</loc></url>").encode())),
    "/new-sitemap.txt": ("text/plain", b"/orphan-3\n"),
    "/": ("text/html", _page("Home", "/linked").encode()),
    **{path: ("text/html", _page(path).encode()) for path in ("/linked", "/orphan-1", "/orphan-2",
                                                              "/orphan-3", "/private/hidden")},
}
SITEMAP_PAGES = {"/orphan-1", "/orphan-2", "/orphan-3"}  # what only the sitemaps lead to


def sitemap_site_app() -> web.Application:
    """The sitemap site: see SITEMAP_ROUTES; /old-sitemap.xml moved to /new-sitemap.txt."""

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.path == "/old-sitemap.xml":
            raise web.HTTPMovedPermanently("/new-sitemap.txt")
        if request.path not in SITEMAP_ROUTES:
            raise web.HTTPNotFound()
        content_type, body = SITEMAP_ROUTES[request.path]
        return web.Response(body=body, content_type=content_type)

    app = web.Application()
    app.router.add_get("/{path:.*}", handle)
    return app


@dataclass
class ServerLog:
    """What a counting server saw: request start times and the most in flight at once."""

    starts: list[float] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)
    in_flight: int = 0
    peak_in_flight: int = 0

    def gaps(self) -> list[float]:
        """Seconds between consecutive request starts."""
        ordered = sorted(self.starts)
        return [later - earlier for earlier, later in itertools.pairwise(ordered)]


def counting_app(pages: int, latency: float) -> tuple[web.Application, ServerLog]:
    """A home page linking to `pages` pages that each take `latency` seconds; and its log."""
    log = ServerLog()
    home = _page("Home", *(f"/p/{i}" for i in range(pages)))

    async def handle(request: web.Request) -> web.Response:
        log.starts.append(time.monotonic())
        log.paths.append(request.path)
        log.in_flight += 1
        log.peak_in_flight = max(log.peak_in_flight, log.in_flight)
        try:
            await asyncio.sleep(latency)
            if request.path == "/robots.txt":
                return web.Response(text="User-agent: *\nAllow: /\n")
            return web.Response(text=home if request.path == "/" else _page(request.path),
                                content_type="text/html")
        finally:
            log.in_flight -= 1

    app = web.Application()
    app.router.add_get("/{path:.*}", handle)
    return app, log


@contextmanager
def serve(app: web.Application) -> Iterator[str]:
    """Serve app on 127.0.0.1 from a thread with its own event loop; yield its base URL."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    ready: dict[str, Any] = {}

    async def start() -> None:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        ready["port"] = runner.addresses[0][1]

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    try:
        yield f"http://127.0.0.1:{ready['port']}/"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
