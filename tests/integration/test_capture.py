"""Both fetchers keep what came over the wire when a crawl asks for it (for WARC output).

The server writes its bytes by hand, so the test knows exactly what was sent: header
fields in an odd spelling and order, a chunked gzip body, a lying length, a reset.
"""

from __future__ import annotations

import asyncio
import gzip
import socket
import struct
from collections.abc import Iterator
from typing import Any

import pytest

from crawler.config import CrawlConfig
from crawler.models import FetchResult

from .hostile_server import ServerThread, gzip_bomb
from .test_fetchers import fetch_async, fetch_blocking

PAGE = b"<html><title>kept</title>" + b"<p>as it came</p>" * 200 + b"</html>"
PAGE_GZ = gzip.compress(PAGE)
HEAD_FIELDS = [("content-TYPE", "text/html"), ("X-Dup", "a"), ("Content-Encoding", "gzip"),
               ("X-Dup", "b"), ("Transfer-Encoding", "chunked")]
BOMB = gzip_bomb(1)


def _chunked(body: bytes, size: int = 1000) -> bytes:
    """body in chunked framing (RFC 9112 §7.1)."""
    parts = [b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size])
             for i in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\n\r\n"


def _head(status: bytes, fields: list[tuple[str, str]]) -> bytes:
    return status + b"\r\n" + b"".join(f"{n}: {v}\r\n".encode() for n, v in fields) + b"\r\n"


RESPONSES = {
    "/chunked-gzip": _head(b"HTTP/1.1 200 Fine Thanks", HEAD_FIELDS) + _chunked(PAGE_GZ),
    "/lying-length": _head(b"HTTP/1.1 200 OK", [("Content-Length", "10000")]) + b"a" * 100,
    "/bomb": _head(b"HTTP/1.1 200 OK", [("Content-Encoding", "gzip"),
                                        ("Content-Length", str(len(BOMB)))]) + BOMB,
    "/big": _head(b"HTTP/1.1 200 OK", [("Content-Length", "50000")]) + b"x" * 50000,
    "/malformed": b"HTTP/1.1 200 OK\r\nNo colon in this line\r\n\x00\x01: x\r\n\r\nbody",
    "/reset": _head(b"HTTP/1.1 200 OK", [("Content-Length", "10000")]) + b"r" * 100,
}


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Send the canned bytes for the requested path, then close."""
    request_line = await reader.readline()
    await reader.readuntil(b"\r\n\r\n")
    path = request_line.split()[1].decode().split("?")[0]
    writer.write(RESPONSES[path])
    await writer.drain()
    if path == "/reset":
        await asyncio.sleep(0.2)  # let the client read the prefix first
        # Linger 0 makes close send RST rather than FIN: a real reset (RFC 9293 §3.10.7).
        writer.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        return
    writer.close()


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    thread = ServerThread()
    try:
        yield f"http://127.0.0.1:{thread.serve_raw(_answer)}"
    finally:
        thread.stop()


@pytest.fixture(params=["async", "blocking"])
def fetch(request: pytest.FixtureRequest) -> Any:
    async def run(url: str, **settings: Any) -> FetchResult:
        config = CrawlConfig(timeout=2.0, capture=True).replace(**settings)
        if request.param == "async":
            return (await fetch_async(config, [url]))[0]
        return (await asyncio.to_thread(fetch_blocking, config, [url]))[0]

    return run


async def test_the_response_is_kept_as_received(fetch: Any, server: str) -> None:
    result = await fetch(f"{server}/chunked-gzip?q=1")
    exchange = result.exchange
    assert result.body == PAGE and exchange is not None
    assert exchange.status_line == "HTTP/1.1 200 Fine Thanks"
    # In order, spelling and duplicates kept; the transfer coding is gone with its framing.
    assert list(exchange.headers) == HEAD_FIELDS[:-1]
    assert exchange.body == PAGE_GZ and exchange.truncated is None
    assert exchange.ip == "127.0.0.1"
    assert exchange.request_head.startswith(b"GET /chunked-gzip?q=1 HTTP/1.1\r\n")
    assert b"\r\nUser-Agent: crawler/" in exchange.request_head
    assert exchange.request_head.endswith(b"\r\n\r\n")


async def test_a_body_cut_at_max_body_bytes_is_marked_length(fetch: Any, server: str) -> None:
    exchange = (await fetch(f"{server}/big", max_body_bytes=20000)).exchange
    assert (exchange.body, exchange.truncated) == (b"x" * 20000, "length")


async def test_a_bomb_keeps_no_more_raw_bytes_than_it_took(fetch: Any, server: str) -> None:
    result = await fetch(f"{server}/bomb", max_body_bytes=100_000)
    assert result.truncated and result.exchange.truncated == "length"
    assert BOMB.startswith(result.exchange.body) and len(result.exchange.body) <= 100_000


async def test_a_lying_length_is_marked_disconnect(fetch: Any, server: str) -> None:
    result = await fetch(f"{server}/lying-length")
    assert result.error is not None and result.error.kind == "connection"
    assert (result.exchange.body, result.exchange.truncated) == (b"a" * 100, "disconnect")


async def test_a_reset_mid_body_keeps_what_arrived_marked_disconnect(fetch: Any, server: str) -> None:
    result = await fetch(f"{server}/reset")
    assert result.error is not None and result.error.kind == "connection"
    assert result.exchange.truncated == "disconnect"
    assert result.exchange.body == b"r" * len(result.exchange.body)  # the prefix the kernel kept


async def test_malformed_headers_keep_nothing_or_what_the_client_parsed(fetch: Any, server: str) -> None:
    # aiohttp refuses the response (a connection error: no response, nothing to archive);
    # http.client skips the bad lines. Either way, no half-parsed head reaches a WARC.
    result = await fetch(f"{server}/malformed")
    if result.error is not None and result.status is None:
        assert result.exchange is None
    else:
        assert result.exchange is not None and result.exchange.status_line == "HTTP/1.1 200 OK"


async def test_nothing_is_kept_unless_asked(fetch: Any, server: str) -> None:
    assert (await fetch(f"{server}/chunked-gzip", capture=False)).exchange is None
