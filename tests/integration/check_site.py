"""A site with known broken links for ``crawler check``, and an "external" site beside it.

The site is served on 127.0.0.1; the external one on another port, addressed as
``localhost``: another host name, so outside the crawl's scope (checked, never
crawled), and a loopback address, which a check allows with ``allow_private_addresses``.
``EXPECTED_BROKEN`` and ``EXPECTED_DISALLOWED`` are what every mode must report.
"""

from __future__ import annotations

import socket
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from aiohttp import web

from .sites import serve

HOME = """<!DOCTYPE html><html><head><title>Home</title>
<link rel="stylesheet" href="/style.css"><link rel="icon" href="/favicon.ico">
<link rel="preconnect" href="https://fonts.example/"><script src="/app.js"></script></head><body>
<a href="/ok">OK page</a> <a href="/missing">Missing page</a> <a href="/moved">Moved page</a>
<a href="/private/report">Private report</a> <a href="/anchors#present">Present anchor</a>
<a href="/anchors#absent">Absent anchor</a> <a href="/anchors#named">Named anchor</a> <a href="#top">Top</a>
<a href="#nowhere">Nowhere on this page</a>
<img src="/img/logo.png" alt="Logo"> <img src="/img/gone.png" alt="Gone image">
<iframe src="/frame"></iframe> <map><area href="/area-target" alt="Area"></map>
<a href="EXT/ok">External OK</a> <a href="EXT/gone">External gone</a>
<a href="EXT/head-refused">HEAD refused</a> <a href="EXT/server-error">Server error</a>
<a href="EXT/loop/1">Loop</a> <a href="EXT/secret">External secret</a> <a href="DEAD/">Dead host</a>
<a href="/away">Away</a> <a href="mailto:someone@example.com">Mail</a> <a href="/nofollow" rel="nofollow">NF</a>
</body></html>"""
OK_PAGE = """<!DOCTYPE html><html><head><title>OK</title></head><body>
<a href="/">Home</a> <a href="/missing">Missing again</a> <a href="EXT/ok">External OK</a>
</body></html>"""
ANCHORS = """<!DOCTYPE html><html><head><title>Anchors</title></head><body>
<h2 id="present">Present</h2> <a name="named">Named</a></body></html>"""
EXTERNAL_PAGE = '<!DOCTYPE html><html><body><a href="/never-crawled">never</a><p id="x">x</p></body></html>'

# path -> (status, content type, body or Location) of the site; EXT is the external base URL.
ROUTES = {
    "/robots.txt": (200, "text/plain", "User-agent: *\nDisallow: /private\n"),
    "/": (200, "text/html", HOME),
    "/ok": (200, "text/html", OK_PAGE),
    "/missing": (404, "text/html", "<html><title>Not found</title></html>"),
    "/moved": (301, "text/html", "/moved-again"),
    "/moved-again": (302, "text/html", "/gone-after-redirect"),
    "/gone-after-redirect": (404, "text/html", "gone"),
    "/anchors": (200, "text/html", ANCHORS),
    "/private/report": (200, "text/html", "<html><title>Private</title></html>"),
    "/img/logo.png": (200, "image/png", "\x89PNG"),
    "/img/gone.png": (404, "text/plain", "no"),
    "/style.css": (404, "text/plain", "no"),
    "/favicon.ico": (200, "image/x-icon", "ico"),
    "/app.js": (200, "application/javascript", "1;"),
    "/frame": (200, "text/html", "<html><title>Frame</title></html>"),
    "/area-target": (500, "text/plain", "boom"),
    "/away": (302, "text/html", "EXT/gone"),
    "/nofollow": (200, "text/html", "<html><title>NF</title></html>"),
}
EXTERNAL_ROUTES = {
    "/robots.txt": (200, "text/plain", "User-agent: *\nDisallow: /secret\n"),
    "/ok": (200, "text/html", EXTERNAL_PAGE),
    "/gone": (404, "text/html", "gone"),
    "/server-error": (503, "text/html", "down"),
    "/loop/1": (302, "text/html", "/loop/2"),
    "/loop/2": (302, "text/html", "/loop/1"),
    "/secret": (200, "text/html", "secret"),
    "/never-crawled": (200, "text/html", "never"),
}

# Broken targets: (path or EXT/DEAD URL, status, error kind or None, referrers as (page path, text)).
EXPECTED_BROKEN = {
    ("/missing", 404, None, (("/", "Missing page"), ("/ok", "Missing again"))),
    ("/moved", 404, None, (("/", "Moved page"),)),
    ("/img/gone.png", 404, None, (("/", "Gone image"),)),
    ("/style.css", 404, None, (("/", "<link>"),)),
    ("/area-target", 500, "http_status", (("/", "Area"),)),
    ("EXT/gone", 404, None, (("/", "External gone"),)),
    ("/away", 404, None, (("/", "Away"),)),
    ("EXT/server-error", 503, "http_status", (("/", "Server error"),)),
    ("EXT/loop/1", 302, "redirect_loop", (("/", "Loop"),)),
    ("DEAD/", None, "connection", (("/", "Dead host"),)),
}
# With fragment checks, also these (the target answered, the anchor is missing).
EXPECTED_BROKEN_FRAGMENTS = {
    ("/anchors#absent", 200, "fragment", (("/", "Absent anchor"),)),
    ("/#nowhere", 200, "fragment", (("/", "Nowhere on this page"),)),
}
EXPECTED_DISALLOWED = {"/private/report", "EXT/secret"}
# Targets checked and fine (besides the seed).
EXPECTED_OK = {"/ok", "/anchors", "/img/logo.png", "/favicon.ico", "/app.js", "/frame", "/nofollow",
               "EXT/ok", "EXT/head-refused"}


@dataclass
class CheckSites:
    """The two sites' base URLs (no trailing slash) and the external site's request log."""

    site: str
    external: str
    dead: str
    requests: Counter[tuple[str, str]] = field(default_factory=Counter)  # (method, path) at EXT

    def url(self, path: str) -> str:
        """An expected path (or EXT/..., DEAD/...) as a URL."""
        return path.replace("EXT", self.external).replace("DEAD", self.dead) if path[0] != "/" \
            else self.site + path


def _route(routes: dict[str, tuple[int, str, str]], sites: CheckSites, log: bool) -> web.Application:
    """An app answering routes; the external one logs requests and refuses HEAD on /head-refused."""

    async def handle(request: web.Request) -> web.StreamResponse:
        if log:
            sites.requests[(request.method, request.path)] += 1
            if request.path == "/head-refused":
                return web.Response(status=405 if request.method == "HEAD" else 200,
                                    text="<html><title>GET only</title></html>", content_type="text/html")
        status, content_type, body = routes.get(request.path, (404, "text/plain", "not here"))
        body = body.replace("EXT", sites.external).replace("DEAD", sites.dead)
        if 300 <= status < 400:
            return web.Response(status=status, headers={"Location": body})
        return web.Response(status=status, body=body.encode(), content_type=content_type)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def _free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def check_sites() -> Iterator[CheckSites]:
    """Serve the site and the external site; yield their URLs."""
    sites = CheckSites("", "", f"http://localhost:{_free_port()}")
    with serve(_route(EXTERNAL_ROUTES, sites, log=True)) as external:
        sites.external = external.replace("127.0.0.1", "localhost").rstrip("/")
        with serve(_route(ROUTES, sites, log=False)) as site:
            sites.site = site.rstrip("/")
            yield sites
