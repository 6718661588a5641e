"""Real misbehaving servers on 127.0.0.1 for the fault, hostile-input and security tests.

:class:`ServerThread` runs them on an event loop in a daemon thread, so a crawl in
any mode can be driven from the test's own thread. :class:`FaultSite` injects
transient faults, deterministic per URL and attempt; :func:`hostile_app` and
:func:`raw_hostile` serve bad input; :class:`HeaderLog` records what arrived.
Every server listens on port 0 of loopback and nothing else.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import inspect
import itertools
import random
import secrets
import socket
import ssl
import struct
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from html import escape
from typing import Any
from uuid import uuid4

import brotli
from aiohttp import web

from crawler.models import PageRecord
from crawler.policy import path_tokens

KiB = 1024
# /variants links to itself with this many query strings.
VARIANT_LINKS = 200_000
MiB = 1024 * KiB
GiB = 1024 * MiB
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
RawHandler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class ServerThread:
    """An event loop in a daemon thread that serves aiohttp apps and raw socket handlers."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self._cleanups: list[Callable[[], Awaitable[None]]] = []

    def run(self, coro: Awaitable[Any]) -> Any:
        """Run a coroutine on the server loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    def serve_app(self, app: web.Application, ssl_context: ssl.SSLContext | None = None) -> int:
        """Serve an aiohttp app on 127.0.0.1 (over TLS with ssl_context); return its port."""
        runner = web.AppRunner(app, shutdown_timeout=0.5, handle_signals=False)
        self.run(runner.setup())
        self.run(web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ssl_context).start())
        self._cleanups.append(runner.cleanup)
        return int(runner.addresses[0][1])

    def serve_raw(self, handler: RawHandler, ssl_context: ssl.SSLContext | None = None) -> int:
        """Serve a raw asyncio stream handler on 127.0.0.1 (over TLS with ssl_context); return its port."""
        server = self.run(asyncio.start_server(handler, "127.0.0.1", 0, ssl=ssl_context))

        async def close() -> None:
            server.close()

        self._cleanups.append(close)
        return int(server.sockets[0].getsockname()[1])

    def stop(self) -> None:
        """Close every server, end handlers still running (a slow answer), stop the loop."""
        for cleanup in reversed(self._cleanups):
            self.run(cleanup())
        self.run(_cancel_others())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


async def _cancel_others() -> None:
    """Cancel every other task of the running loop and wait for them to end."""
    tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def kinds(records: list[PageRecord]) -> dict[str, str | None]:
    """Each record's requested URL and error kind."""
    return {r.requested_url: r.error.kind if r.error else None for r in records}


def html_page(title: str, links: Sequence[str] = ()) -> bytes:
    """A small HTML page linking to links (escaped: an href holding markup stays one href)."""
    anchors = "".join(f'<a href="{escape(link)}">{escape(link)}</a>\n' for link in links)
    return f"<!doctype html><title>{escape(title)}</title><body>{anchors}</body>".encode()


def plain(status: int) -> web.Response:
    """A plain-text response with a status."""
    return web.Response(status=status, text=f"HTTP {status}")


def add_routes(app: web.Application, routes: dict[str, Callable[[web.Request], Any]]) -> None:
    """Add GET routes whose handlers return a response or an awaitable of one."""
    for path, function in routes.items():
        app.router.add_get(path, _handler(function))


def _handler(function: Callable[[web.Request], Any]) -> Handler:
    """An aiohttp handler calling function (aiohttp wants coroutine functions)."""

    async def handle(request: web.Request) -> web.StreamResponse:
        result = function(request)
        return await result if inspect.isawaitable(result) else result  # type: ignore[no-any-return]

    return handle


def html(body: bytes, status: int = 200, **headers: str) -> web.Response:
    """A text/html response."""
    return web.Response(body=body, status=status, headers={"Content-Type": "text/html", **headers})


async def reset_after(request: web.Request, body: bytes, sent: int) -> web.StreamResponse:
    """Declare the whole body, send its first bytes, then reset the connection (TCP RST)."""
    response = web.StreamResponse(headers={"Content-Type": "text/html"})
    response.content_length = len(body)
    await response.prepare(request)
    await response.write(body[:sent])
    await asyncio.sleep(0.05)  # let the client read the prefix first
    transport = request.transport
    assert transport is not None
    # Linger 0 makes close send RST rather than FIN: a real reset (RFC 9293 3.10.7.1).
    transport.get_extra_info("socket").setsockopt(
        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    return response


async def stream(request: web.Request, *, size: int | None, chunk: bytes, pause: float = 0.0,
                 content_type: str = "text/html") -> web.StreamResponse:
    """Send chunk after chunk, generated lazily, until size (never, when None) or the client leaves."""
    response = web.StreamResponse(headers={"Content-Type": content_type})
    if size is not None:
        response.content_length = size
    await response.prepare(request)
    sent = 0
    try:
        while size is None or sent < size:
            piece = chunk if size is None else chunk[: size - sent]
            await response.write(piece)
            sent += len(piece)
            if pause:
                await asyncio.sleep(pause)
    except (ConnectionError, RuntimeError):
        pass  # the client hung up, as it should
    return response


# ----- faults --------------------------------------------------------------------

# Transient faults and the error kind a page that never gets past one is recorded with.
GIVE_UP_KINDS = {
    "503": "http_status",
    "503-retry-after": "http_status",
    "429": "http_status",
    "429-retry-after": "http_status",
    "reset": "connection",
    "slow": "timeout",
    "truncated-gzip": "decoding",
}
FAULTS = tuple(GIVE_UP_KINDS)
# Pages that meet this fault on every attempt, so the crawl must give them up.
HOPELESS = ("503", "429-retry-after", "reset", "slow", "truncated-gzip")


@dataclass
class Attempt:
    """One request the fault site answered."""

    fault: str
    at: float


@dataclass
class FaultSite:
    """A site whose pages fail a few times before they answer, deterministically.

    ``/`` links to ``/p/0`` and to the hopeless pages; ``/p/i`` links to ``/p/2i+1``
    and ``/p/2i+2``, so most pages are found only once a faulty parent has answered.
    The faults met by a page before it answers come from a RNG seeded with the
    site's seed and the path: at most three, so default retries (3) reach every page.
    """

    # The default seed gives 24 pages 22 faults, every kind at least once, and few slow ones.
    pages: int = 24
    seed: int = 1
    slow_seconds: float = 2.5
    retry_after: int = 1
    attempts: dict[str, list[Attempt]] = field(default_factory=lambda: defaultdict(list))

    def plan(self, path: str) -> list[str]:
        """The faults path meets, in order, before it answers."""
        if path.startswith("/hopeless/"):
            return [path.removeprefix("/hopeless/")] * 1000
        rng = random.Random(f"{self.seed}:{path}")
        return [rng.choice(FAULTS) for _ in range(rng.choice((0, 0, 1, 1, 2, 3)))]

    def paths(self) -> list[str]:
        """Every page path of the site."""
        return ["/", *(f"/p/{i}" for i in range(self.pages)), *(f"/hopeless/{f}" for f in HOPELESS)]

    def body(self, path: str) -> bytes:
        """The page at path."""
        if path == "/":
            return html_page("home", ["/p/0", *(f"/hopeless/{f}" for f in HOPELESS)])
        if path.startswith("/p/"):
            i = int(path.removeprefix("/p/"))
            return html_page(f"page {i}", [f"/p/{c}" for c in (2 * i + 1, 2 * i + 2) if c < self.pages])
        return html_page(path)

    def served(self, path: str) -> int:
        """How many times path was answered in full."""
        return sum(a.fault == "ok" for a in self.attempts[path])

    def app(self) -> web.Application:
        """The aiohttp app serving the site."""
        app = web.Application()
        add_routes(app, {"/robots.txt": lambda r: plain(404), "/{path:.*}": self._handle})
        return app

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        """Answer with the fault planned for this attempt, or the page."""
        path = request.path
        if path not in self.paths():
            return html(b"no such page", status=404)
        plan = self.plan(path)
        attempt = len(self.attempts[path])
        fault = plan[attempt] if attempt < len(plan) else "ok"
        self.attempts[path].append(Attempt(fault, time.monotonic()))
        return await self._answer(request, fault, self.body(path))

    async def _answer(self, request: web.Request, fault: str, body: bytes) -> web.StreamResponse:
        """One answer: the page, or the fault."""
        status = int(fault[:3]) if fault[:3] in ("503", "429") else 200
        if fault in ("503", "429"):
            return html(b"try later", status=status)
        if fault == "429-retry-after":  # RFC 9110 10.2.3: delay-seconds ...
            return html(b"slow down", status=status, **{"Retry-After": str(self.retry_after)})
        if fault == "503-retry-after":  # ... or an HTTP-date, whole seconds: one more keeps it ahead
            when = formatdate(time.time() + self.retry_after + 1, usegmt=True)
            return html(b"back soon", status=status, **{"Retry-After": when})
        if fault == "reset":
            return await reset_after(request, body, len(body) // 2)
        if fault == "slow":
            await asyncio.sleep(self.slow_seconds)
        if fault == "truncated-gzip":
            packed = gzip.compress(body)
            return html(packed[: len(packed) // 2], **{"Content-Encoding": "gzip"})
        return html(body)


# ----- hostile input -------------------------------------------------------------


def gzip_bomb(mebibytes: int) -> bytes:
    """A gzip body of that many MiB of zeros, built without ever holding them.

    A full flush resets the compressor, so every MiB compresses to the same bytes.
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    block = compressor.compress(bytes(MiB)) + compressor.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(mebibytes):
        crc = zlib.crc32(bytes(MiB), crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"  # RFC 1952 2.3, no name, no mtime
    trailer = struct.pack("<II", crc, (mebibytes * MiB) & 0xFFFFFFFF)
    return header + block * mebibytes + compressor.flush() + trailer


def brotli_bomb(mebibytes: int) -> bytes:
    """A br body of that many MiB of zeros, compressed one MiB at a time."""
    compressor = brotli.Compressor(quality=1)
    parts = [compressor.process(bytes(MiB)) for _ in range(mebibytes)]
    return b"".join(parts) + compressor.finish()


HOSTILE_HREFS = (
    "http://[::1", "http://[::1]:99999/", "http://127.0.0.1:65536/", "http://127.0.0.1:-1/",
    "http://127.0.0.1:http/", "http://127.0.0.1:0/", "/" + "x" * 100_000, "/%zz%", "/bad%e",
    "/%E0%A4%A", "http://bücher.example/", "http://xn--bcher-kva.example/", "http://ex ample.com/",
    "http://a@b@c/", "javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<a href=/ok/data>x</a>",
    "mailto:a@example.com", "vbscript:msgbox", "file:///etc/passwd", "\\\\server\\share", "http://%00/",
    "http://user:secret@127.0.0.1:{port}/ok/creds", "//127.0.0.1:{port}/ok/scheme-relative",
    "  /ok/spaced  ", "/ok/tab\there", "/ok/%6Fk", "/ok/?q=%zz&r=%",
)


def hostile_app(raw_port: int) -> web.Application:
    """Every kind of bad input a page or a response can carry, linked from ``/``."""
    # Built once: building them per request would stall the server loop for every case.
    bombs = {"gzip": gzip_bomb(1024), "br": brotli_bomb(1024)}
    pages = {"binary": random.Random(1).randbytes(256 * KiB), "nested": _nested(),
             "variants": html_page("variants", [f"?v={i}" for i in range(VARIANT_LINKS)])}
    app = web.Application()
    routes: dict[str, Callable[[web.Request], Any]] = {
        "/": lambda r: _index(raw_port),
        "/robots.txt": lambda r: plain(404),
        "/ok/{name:.*}": lambda r: html(html_page(f"ok {r.match_info['name']}")),
        "/loop/a": lambda r: redirect("/loop/b"),
        "/loop/b": lambda r: redirect("/loop/a"),
        "/loop/self": lambda r: redirect("/loop/self"),
        "/chain/{n:[0-9]+}": _chain,
        "/calendar": _calendar,
        "/cal/{y}/{m}/{d}/": _path_calendar,
        "/a/{rest:.*}": lambda r: html(html_page("a", ["a/"])),
        "/shop/{item:[0-9]+}": _shop,
        **_token_trap_routes(),
        "/git/commits": _commits,
        "/git/commit/{sha:[0-9a-f]{40}}": _commit,
        "/variants": lambda r: html(html_page("variant") if r.query_string else pages["variants"]),
        "/huge": lambda r: stream(r, size=GiB, chunk=b"<p>" + b"x" * (64 * KiB)),
        "/endless": lambda r: stream(r, size=None, chunk=b"y" * (64 * KiB)),
        "/drip-body": lambda r: stream(r, size=None, chunk=b"z", pause=0.3),
        "/gzip-bomb": lambda r: html(bombs["gzip"], **{"Content-Encoding": "gzip"}),
        "/br-bomb": lambda r: html(bombs["br"], **{"Content-Encoding": "br"}),
        "/binary": lambda r: html(pages["binary"]),
        "/nested": lambda r: html(pages["nested"]),
        "/hrefs": lambda r: html(html_page("hrefs", [h.format(port=r.url.port) for h in HOSTILE_HREFS])),
        **_charset_routes(),
    }
    add_routes(app, routes)
    return app


def hostile_paths() -> list[str]:
    """The paths ``/`` of the hostile app links to."""
    return [
        "/ok/1", "/ok/2", "/ok/3", "/loop/a", "/loop/self", "/chain/0", "/calendar?date=2024-01-01",
        "/cal/2024/01/01/", "/a/", "/shop/0", *TOKEN_TRAPS.values(), "/git/commits?page=0", "/variants", "/huge", "/endless", "/drip-body",
        "/gzip-bomb", "/br-bomb", "/binary", "/nested", "/hrefs", *CHARSET_PAGES,
    ]


def _index(raw_port: int) -> web.Response:
    """The page linking to every hostile page, and to the raw server's."""
    raw = [f"http://127.0.0.1:{raw_port}{path}" for path in RAW_PATHS]
    return html(html_page("hostile", [*hostile_paths(), *raw]))


def redirect(location: str, status: int = 302) -> web.Response:
    """A redirect to location."""
    return web.Response(status=status, headers={"Location": location})


async def _chain(request: web.Request) -> web.Response:
    """/chain/n redirects to /chain/n+1 until /chain/50, a page: a 50-hop chain."""
    n = int(request.match_info["n"])
    return redirect(f"/chain/{n + 1}") if n < 50 else html(html_page("end of chain"))


async def _calendar(request: web.Request) -> web.Response:
    """An endless calendar: every day links to the day before and the day after."""
    day = time.strptime(request.query.get("date", "2024-01-01"), "%Y-%m-%d")
    stamp = time.mktime(day) + 12 * 3600
    near = [time.strftime("%Y-%m-%d", time.localtime(stamp + d * 86400)) for d in (-1, 1)]
    return html(html_page("calendar", [f"/calendar?date={d}" for d in near]))


async def _path_calendar(request: web.Request) -> web.Response:
    """An endless calendar in the path: /cal/y/m/d/ links to the next day."""
    y, m, d = (int(request.match_info[k]) for k in ("y", "m", "d"))
    stamp = time.mktime((y, m, d, 12, 0, 0, 0, 0, -1)) + 86400
    return html(html_page("cal", [time.strftime("/cal/%Y/%m/%d/", time.localtime(stamp))]))


SHOP_ITEMS = 5


async def _shop(request: web.Request) -> web.Response:
    """Five items, each linking to all five under a fresh session id (path and query forms)."""
    links = []
    for item in range(SHOP_ITEMS):
        links += [f"/shop/{item};jsessionid={secrets.token_hex(16)}",
                  f"/shop/{item}?PHPSESSID={secrets.token_hex(13)}",
                  f"/shop/{item}?sid={secrets.token_urlsafe(24)}"]
    return html(html_page("shop", links))


# Traps that mint a fresh token in the path on every page, by where the token sits:
# the path-token guard's cases, linked from ``/`` by these first URLs.
TOKEN_TRAPS = {
    "end": "/t/end/3f9a1c0e7b2d4a55",
    "middle": "/s/3f9a1c0e7b2d4a55/page",  # a session id kept in the path
    "segments": "/m/0c5e2b7d9a1f3e46/x/8d3b1c5e-2f4a-4b6c-9d8e-7f6a5b4c3d2e/",  # one kept, one fresh
    "mixed": "/mix/Zm9vYmFyYmF6cXV4cXV1eA1x/catalog/shoes",  # base64url, real segments that alternate
}


def _token_trap_routes() -> dict[str, Callable[[web.Request], web.Response]]:
    """The TOKEN_TRAPS: each page links to the next under a fresh random token."""
    def link(fresh: str) -> web.Response:
        return html(html_page("token trap", [fresh]))

    def other(name: str) -> str:
        return "hats" if name == "shoes" else "shoes"

    return {
        "/t/end/{token}": lambda r: link(f"/t/end/{secrets.token_hex(8)}"),
        "/s/{token}/page": lambda r: link(f"/s/{secrets.token_hex(8)}/page"),
        "/m/{session}/x/{id}/": lambda r: link(f"/m/{r.match_info['session']}/x/{uuid4()}/"),
        "/mix/{token}/catalog/{name}": lambda r: link(
            f"/mix/{_urlsafe_token()}/catalog/{other(r.match_info['name'])}"),
    }


def _urlsafe_token() -> str:
    """A random base64url id, one of the 97% of them the guard reads as a token (the counts stay exact)."""
    token = secrets.token_urlsafe(18)
    return token if path_tokens(f"/{token}")[1] == (token,) else _urlsafe_token()


# A code browser: /git/commits?page=N lists COMMITS_PER_PAGE commits, each commit page links
# to its parent. Each commit is an opaque 40-hex id used once: all of them must be crawled.
COMMITS = 200
COMMITS_PER_PAGE = 50


def commit_sha(n: int) -> str:
    """The id of commit n (0 is the newest)."""
    return hashlib.sha1(str(n).encode()).hexdigest()


async def _commits(request: web.Request) -> web.Response:
    """A page of the commit log, newest first, linking to the next page."""
    page = int(request.query.get("page", "0"))
    first = page * COMMITS_PER_PAGE
    links = [f"/git/commit/{commit_sha(n)}" for n in range(first, min(first + COMMITS_PER_PAGE, COMMITS))]
    if first + COMMITS_PER_PAGE < COMMITS:
        links.append(f"/git/commits?page={page + 1}")
    return html(html_page("log", links))


async def _commit(request: web.Request) -> web.Response:
    """A commit, linking to its parent (which a listing also links to)."""
    shas = {commit_sha(n): n for n in range(COMMITS)}
    n = shas.get(request.match_info["sha"])
    if n is None:
        return html(b"no such commit", status=404)
    return html(html_page(f"commit {n}", [f"/git/commit/{commit_sha(n + 1)}"] if n + 1 < COMMITS else []))


# ----- memory: pages that make a parser hold a lot ------------------------------

# A fan trap: /fan/<token>/ links to FAN_OUT fresh tokens, FAN_URLS URLs in all.
FAN_OUT = 100
FAN_URLS = 300_000


def memory_app(big_bytes: int = 10 * MiB - KiB) -> web.Application:
    """The shapes that once made a crawl hold memory for good, linked from ``/``.

    A page of big_bytes of dense markup (just under the default max_body_bytes), a page
    of 200,000 links, 100,000 levels of nesting, and a trap yielding FAN_URLS URLs.
    """
    pages = {"big": _big_page(big_bytes), "nested": _nested(),
             "variants": html_page("variants", [f"?v={i}" for i in range(VARIANT_LINKS)])}
    app = web.Application()
    add_routes(app, {
        "/": lambda r: html(html_page("memory", ["/big", "/variants", "/nested", f"/fan/{_fan_token(0)}/"])),
        "/robots.txt": lambda r: plain(404),
        "/ok/{name:.*}": lambda r: html(html_page(f"ok {r.match_info['name']}")),
        "/big": lambda r: html(pages["big"]),
        "/nested": lambda r: html(pages["nested"]),
        "/variants": lambda r: html(html_page("variant") if r.query_string else pages["variants"]),
        "/fan/{token}/": _fan,
    })
    return app


def _big_page(size: int) -> bytes:
    """size bytes of small elements with attributes, text and links to 100 pages."""
    parts, total, i = [b"<!doctype html><title>big</title><body>"], 0, 0
    while total < size - 100:
        part = f'<div class="c{i % 7}"><span>item {i}</span><a href="/ok/{i % 100}">more</a></div>\n'.encode()
        parts.append(part)
        total += len(part)
        i += 1
    return b"".join(parts)[:size]


def _fan_token(n: int) -> str:
    """The 16-hex-digit token of fan page n: its number, then a hash of it."""
    return f"{n:08x}" + hashlib.sha1(str(n).encode()).hexdigest()[:8]


async def _fan(request: web.Request) -> web.Response:
    """Fan page n links to pages FAN_OUT*n+1 ... FAN_OUT*n+FAN_OUT, up to FAN_URLS."""
    n = int(request.match_info["token"][:8], 16)
    children = range(FAN_OUT * n + 1, min(FAN_OUT * n + FAN_OUT + 1, FAN_URLS))
    return html(html_page("fan", [f"/fan/{_fan_token(c)}/" for c in children]))


def _nested() -> bytes:
    """100,000 unclosed divs, a table soup and a broken attribute, around one real link."""
    soup = "<div>" * 100_000 + "<table><tr><td>" * 5_000 + '<a href="/ok/deep">deep</a>'
    return f'<html><body>{soup}<a href="/ok/unterminated'.encode()


CHARSET_PAGES = ("/charset/utf16-label", "/charset/bogus", "/charset/missing", "/charset/meta-lies")


def _charset_routes() -> dict[str, Callable[[web.Request], web.Response]]:
    """Pages whose declared charset is wrong, unknown or missing."""
    def page(name: str) -> bytes:
        return html_page("café " + name, [f"/ok/charset-{name}"]).decode().encode("cp1252")

    meta_lies = b'<meta charset="utf-8">' + page("meta-lies")
    return {
        "/charset/utf16-label": lambda r: html(page("utf16"), **_charset("utf-16")),
        "/charset/bogus": lambda r: html(page("bogus"), **_charset("x-bogus")),
        "/charset/missing": lambda r: html(page("missing")),
        "/charset/meta-lies": lambda r: html(meta_lies),
    }


def _charset(label: str) -> dict[str, str]:
    """A Content-Type header declaring an HTML page in the charset label."""
    return {"Content-Type": f"text/html; charset={label}"}


RAW_PATHS = ("/drip-headers", "/silent", "/lying-length")
# Sent a byte at a time, forever: a header line that never ends the header block.
_DRIP_HEADER = b"X-Drip: still coming\r\n"


async def raw_hostile(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Endpoints that break HTTP itself, by path; each closes the connection when done."""
    try:
        request_line = await reader.readline()
        await reader.readuntil(b"\r\n\r\n")
        path = request_line.split()[1].decode()
        if path == "/drip-headers":
            writer.write(b"HTTP/1.1 200 OK\r\n")
            for byte in itertools.cycle(_DRIP_HEADER):
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.3)
        elif path == "/silent":
            await reader.read()  # accept, then say nothing until the client gives up
        elif path == "/lying-length":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 10000\r\n\r\n"
                         + b"<p>short</p>")
        else:
            writer.write(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError, IndexError):
        pass  # the client hung up, or sent nonsense
    except asyncio.CancelledError:
        pass  # the server is stopping; asyncio logs a cancelled stream handler as an error
    finally:
        writer.close()


# ----- recording what arrives ----------------------------------------------------


@dataclass
class HeaderLog:
    """The headers of every request an app received, by path."""

    requests: dict[str, list[dict[str, str]]] = field(default_factory=lambda: defaultdict(list))

    def middleware(self) -> Any:
        """An aiohttp middleware that logs each request's headers (names lower-cased)."""

        @web.middleware
        async def log(request: web.Request, handler: Handler) -> web.StreamResponse:
            self.requests[request.path_qs].append({k.lower(): v for k, v in request.headers.items()})
            return await handler(request)

        return log

    def all(self) -> list[dict[str, str]]:
        """Every logged request's headers."""
        return [headers for entries in self.requests.values() for headers in entries]
