"""Both fetchers against real servers on 127.0.0.1, misbehaving in every way we handle.

Every test runs once per fetcher: same answers from both prove they are interchangeable.
The servers live in a background thread with their own event loop, so the blocking
fetcher can be driven from a worker thread while the test's loop stays free.
"""

from __future__ import annotations

import asyncio
import functools
import gzip
import json
import socket
import struct
import time
import zlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import brotli
import pytest
from aiohttp import web

from crawler.config import CrawlConfig
from crawler.fetchers import AsyncFetcher, BlockingFetcher
from crawler.models import CrawlRequest, FetchResult

from .hostile_server import ServerThread, brotli_bomb, gzip_bomb

KiB = 1024
MiB = 1024 * KiB
PAGE = b"".join(b"<p>paragraph %d of the test page</p>\n" % i for i in range(3000))
DRIP_INTERVAL = 1.0
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def encoded(body: bytes, coding: str, **headers: str) -> web.Response:
    """A response carrying an already encoded body."""
    return web.Response(body=body, headers={"Content-Encoding": coding, **headers})


async def stream(request: web.Request, *, size: int | None, pause: float) -> web.StreamResponse:
    """Send ``x`` bytes in chunks until size is reached (never, when None) or the client leaves."""
    response = web.StreamResponse()
    if size is not None:
        response.content_length = size
    await response.prepare(request)
    chunk = b"x" if pause else b"x" * (64 * KiB)
    sent = 0
    try:
        while size is None or sent < size:
            await response.write(chunk)
            sent += len(chunk)
            await asyncio.sleep(pause)
    except ConnectionError:
        pass  # the fetcher hung up, as it should
    return response


def make_app(bombs: dict[str, bytes]) -> web.Application:
    """The well-formed-HTTP endpoints."""
    page_gz, page_br = gzip.compress(PAGE), brotli.compress(PAGE, quality=5)
    routes = {
        "/html": lambda r: web.Response(
            body=PAGE, headers={"Content-Type": "text/html; charset=UTF-8"}
        ),
        "/missing": lambda r: web.Response(status=404, text="no such page"),
        "/moved": lambda r: web.Response(status=301, headers={"Location": "/html"}),
        "/busy": lambda r: web.Response(status=503, headers={"Retry-After": "7"}),
        "/gzip": lambda r: encoded(page_gz, "gzip", **{"Content-Type": "text/html"}),
        "/deflate": lambda r: encoded(zlib.compress(PAGE), "deflate"),
        "/deflate-raw": lambda r: encoded(zlib.compress(PAGE, wbits=-zlib.MAX_WBITS), "deflate"),
        "/br": lambda r: encoded(page_br, "br"),
        "/truncated-gzip": lambda r: encoded(page_gz[: len(page_gz) // 2], "gzip"),
        "/gzip-bomb": lambda r: encoded(bombs["gzip"], "gzip"),
        "/br-bomb": lambda r: encoded(bombs["br"], "br"),
        "/echo": lambda r: web.json_response(dict(r.headers)),
    }
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_get(path, _async(handler))
    app.router.add_get("/big", functools.partial(stream, size=20 * MiB, pause=0))
    app.router.add_get("/endless", functools.partial(stream, size=None, pause=0))
    app.router.add_get("/drip", functools.partial(stream, size=100, pause=DRIP_INTERVAL))
    return app


def _async(handler: Callable[[web.Request], web.StreamResponse]) -> Handler:
    """Wrap a plain function as an aiohttp handler."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        return handler(request)

    return wrapped


HEAD_HTML = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
HEAD_10000 = HEAD_HTML + b"Content-Length: 10000\r\n\r\n"


async def raw_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Endpoints that break HTTP itself, dispatched on the request path."""
    request_line = await reader.readline()
    if not request_line:  # the client closed a kept-alive connection
        writer.close()
        return
    await reader.readuntil(b"\r\n\r\n")
    path = request_line.split()[1].decode()
    if path == "/ok":
        writer.write(HEAD_HTML + b"Content-Length: 9\r\n\r\n<p>ok</p>")
        await writer.drain()
        await raw_handler(reader, writer)  # keep-alive: the next request on this connection
        return
    if path == "/longer-than-length":
        # The body runs on past its Content-Length into what looks like a second response,
        # which must not become the answer to the next request on this connection.
        writer.write(HEAD_HTML + b"Content-Length: 12\r\n\r\n<p>short</p>"
                     + HEAD_HTML + b"Content-Length: 8\r\n\r\nSMUGGLED")
        await writer.drain()
        await raw_handler(reader, writer)
        return
    if path == "/silent":
        await reader.read()  # accept, then say nothing until the client gives up
    elif path == "/lying-length":
        writer.write(HEAD_10000 + b"a" * 100)
        await writer.drain()
    elif path == "/reset":
        writer.write(HEAD_10000 + b"a" * 100)
        await writer.drain()
        await asyncio.sleep(0.2)  # let the client read the prefix first
        # Linger 0 makes close send RST rather than FIN: a real reset (RFC 9293 §3.10.7).
        writer.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
        )
        writer.transport.abort()
        return
    writer.close()


@dataclass
class Servers:
    """Where the test servers listen."""

    http: str
    raw: str
    refused: str


def free_port() -> int:
    """A port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    """Start both servers once for the module."""
    bombs = {"gzip": gzip_bomb(1024), "br": brotli_bomb(1024)}
    thread = ServerThread()
    http_port = thread.serve_app(make_app(bombs))
    raw_port = thread.serve_raw(raw_handler)
    try:
        yield Servers(
            f"http://127.0.0.1:{http_port}",
            f"http://127.0.0.1:{raw_port}",
            f"http://127.0.0.1:{free_port()}",
        )
    finally:
        # Closing on the server's own loop: asyncio servers are not thread-safe.
        thread.stop()


Fetch = Callable[..., Awaitable[list[FetchResult]]]


async def fetch_async(config: CrawlConfig, urls: list[str]) -> list[FetchResult]:
    """Fetch urls one after another through one AsyncFetcher."""
    async with AsyncFetcher(config) as fetcher:
        return [await fetcher.fetch(CrawlRequest(url)) for url in urls]


def fetch_blocking(config: CrawlConfig, urls: list[str]) -> list[FetchResult]:
    """Fetch urls one after another through one BlockingFetcher."""
    with BlockingFetcher(config) as fetcher:
        return [fetcher.fetch(CrawlRequest(url)) for url in urls]


@pytest.fixture(params=["async", "blocking"])
def fetch_many(request: pytest.FixtureRequest) -> Fetch:
    """fetch_many(urls, **config) -> results, through the fetcher under test."""

    async def run(urls: list[str], **settings: Any) -> list[FetchResult]:
        config = CrawlConfig(timeout=2.0, connect_timeout=1.0).replace(**settings)
        if request.param == "async":
            return await fetch_async(config, urls)
        return await asyncio.to_thread(fetch_blocking, config, urls)

    return run


@pytest.fixture
def fetch(fetch_many: Fetch) -> Callable[..., Awaitable[FetchResult]]:
    """fetch(url, **config) -> result, through the fetcher under test."""

    async def run(url: str, **settings: Any) -> FetchResult:
        return (await fetch_many([url], **settings))[0]

    return run


def error_kind(result: FetchResult) -> str | None:
    """The result's error kind, or None."""
    return result.error.kind if result.error else None


async def test_plain_html(fetch: Any, servers: Servers) -> None:
    result = await fetch(f"{servers.http}/html")
    assert (result.status, result.error, result.body, result.size) == (200, None, PAGE, len(PAGE))
    assert (result.content_type, result.charset) == ("text/html; charset=UTF-8", "utf-8")
    assert not result.truncated and result.elapsed_ms > 0
    assert abs(result.fetched_at - time.time()) < 10


async def test_sends_our_headers(fetch: Any, servers: Servers) -> None:
    result = await fetch(f"{servers.http}/echo", user_agent="test-bot/1.0")
    headers = {k.lower(): v for k, v in json.loads(result.body).items()}
    assert headers["user-agent"] == "test-bot/1.0"
    assert headers["accept-encoding"] == "gzip, deflate, br"
    assert headers["accept"] == "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"


async def test_status_codes_are_data_not_errors(fetch: Any, servers: Servers) -> None:
    missing, busy = await fetch(f"{servers.http}/missing"), await fetch(f"{servers.http}/busy")
    assert (missing.status, missing.error, missing.body) == (404, None, b"no such page")
    assert (busy.status, busy.error, busy.retry_after) == (503, None, "7")


async def test_redirect_is_returned_not_followed(fetch: Any, servers: Servers) -> None:
    result = await fetch(f"{servers.http}/moved")
    assert (result.status, result.location, result.error, result.body) == (301, "/html", None, b"")


@pytest.mark.parametrize("path", ["/gzip", "/deflate", "/deflate-raw", "/br"])
async def test_compressed_bodies_are_decoded(fetch: Any, servers: Servers, path: str) -> None:
    result = await fetch(f"{servers.http}{path}")
    assert (result.status, result.error, result.body, result.size) == (200, None, PAGE, len(PAGE))


@pytest.mark.parametrize("path", ["/gzip-bomb", "/br-bomb"])
async def test_compression_bombs_are_cut_at_max_body_bytes(
    fetch: Any, servers: Servers, path: str
) -> None:
    result = await fetch(f"{servers.http}{path}", max_body_bytes=MiB)
    assert (result.status, result.error, result.truncated, result.size) == (200, None, True, MiB)
    assert result.body == bytes(MiB)


async def test_large_body_is_truncated(fetch: Any, servers: Servers) -> None:
    result = await fetch(f"{servers.http}/big", max_body_bytes=MiB)
    assert (result.status, result.error, result.truncated, result.body) == (
        200,
        None,
        True,
        b"x" * MiB,
    )


async def test_endless_stream_is_truncated_and_the_fetcher_stays_usable(
    fetch_many: Fetch, servers: Servers
) -> None:
    endless, html = await fetch_many(
        [f"{servers.http}/endless", f"{servers.http}/html"], max_body_bytes=MiB
    )
    assert (endless.status, endless.error, endless.truncated, endless.size) == (
        200,
        None,
        True,
        MiB,
    )
    assert (html.status, html.error, html.body) == (200, None, PAGE)


async def test_truncated_gzip_is_a_decoding_error_keeping_the_prefix(
    fetch: Any, servers: Servers
) -> None:
    result = await fetch(f"{servers.http}/truncated-gzip")
    assert (result.status, error_kind(result), result.truncated) == (200, "decoding", False)
    assert 0 < result.size < len(PAGE) and PAGE.startswith(result.body)


async def test_content_length_that_lies_is_a_connection_error(fetch: Any, servers: Servers) -> None:
    result = await fetch(f"{servers.raw}/lying-length")
    assert (result.status, error_kind(result), result.body) == (200, "connection", b"a" * 100)


async def test_a_body_longer_than_its_length_smuggles_nothing_into_the_next_response(
    fetch_many: Fetch, servers: Servers
) -> None:
    first, second = await fetch_many([f"{servers.raw}/longer-than-length", f"{servers.raw}/ok"])
    assert (first.status, error_kind(first), first.body) == (200, None, b"<p>short</p>")
    assert (second.status, error_kind(second), second.body) == (200, None, b"<p>ok</p>")


async def test_reset_mid_body_is_a_connection_error(fetch: Any, servers: Servers) -> None:
    result = await fetch(f"{servers.raw}/reset")
    assert (result.status, error_kind(result), result.truncated) == (200, "connection", False)
    assert result.body == b"a" * result.size  # the prefix, if the kernel kept it


async def test_silent_server_times_out(fetch: Any, servers: Servers) -> None:
    started = time.monotonic()
    result = await fetch(f"{servers.raw}/silent", timeout=1.0)
    assert (result.status, error_kind(result)) == (None, "timeout")
    assert time.monotonic() - started < 2.5


async def test_dripping_server_is_cut_at_the_total_deadline(fetch: Any, servers: Servers) -> None:
    started = time.monotonic()
    result = await fetch(f"{servers.http}/drip", timeout=2 * DRIP_INTERVAL)
    elapsed = time.monotonic() - started
    assert (result.status, error_kind(result), result.truncated) == (200, "timeout", False)
    assert 1 <= result.size <= 3 and result.body == b"x" * result.size
    assert 2 * DRIP_INTERVAL - 0.2 < elapsed < 2 * DRIP_INTERVAL + 1.5


async def test_refused_connection(fetch: Any, servers: Servers) -> None:
    result = await fetch(f"{servers.refused}/")
    assert (result.status, error_kind(result), result.body) == (None, "connection", b"")


@pytest.mark.parametrize("url", ["http://[::1", "ftp://127.0.0.1/", "http://", "127.0.0.1/page"])
async def test_invalid_url_is_reported_not_raised(fetch: Any, url: str) -> None:
    result = await fetch(url)
    assert (result.url, result.status, error_kind(result)) == (url, None, "invalid_url")


async def test_both_fetchers_agree_field_by_field(servers: Servers) -> None:
    paths = ["/html", "/missing", "/moved", "/busy", "/gzip", "/br", "/truncated-gzip", "/big"]
    urls = [f"{servers.http}{path}" for path in paths] + [
        f"{servers.raw}/lying-length",
        "http://[::1",
    ]
    config = CrawlConfig(timeout=2.0, max_body_bytes=MiB)
    async_results = await fetch_async(config, urls)
    blocking_results = await asyncio.to_thread(fetch_blocking, config, urls)
    assert [_comparable(r) for r in async_results] == [_comparable(r) for r in blocking_results]


def _comparable(result: FetchResult) -> tuple[Any, ...]:
    """Every field that must not depend on the fetcher (timings and messages do)."""
    return (
        result.url,
        result.status,
        result.content_type,
        result.charset,
        result.location,
        result.retry_after,
        result.body,
        result.size,
        result.truncated,
        error_kind(result),
    )


async def test_cancelling_an_async_fetch_propagates(servers: Servers) -> None:
    async with AsyncFetcher(CrawlConfig(timeout=5.0)) as fetcher:
        task = asyncio.create_task(fetcher.fetch(CrawlRequest(f"{servers.raw}/silent")))
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
