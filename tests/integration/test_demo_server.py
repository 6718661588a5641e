"""The demo site served for real, in this process and in a child process."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest

from crawler.demo.site import (
    ROBOTS_TXT,
    DemoSite,
    DemoSiteError,
    DemoSiteProcess,
    DemoSpec,
    generate_pages,
)

SPEC = DemoSpec(pages=20, seed=3)
HTML = "text/html; charset=utf-8"


@pytest.fixture
async def site() -> AsyncIterator[DemoSite]:
    async with DemoSite(SPEC) as running:
        yield running


async def get(url: str, **headers: str) -> tuple[int, str, dict[str, str], bytes]:
    """GET url with a fresh session: status, content type, headers and body."""
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        body = await response.read()
        return response.status, response.headers["Content-Type"], dict(response.headers), body


async def test_site_listens_on_a_real_port(site: DemoSite) -> None:
    assert site.url.startswith("http://127.0.0.1:") and site.url.endswith("/")
    assert site.port != 0


async def test_robots_txt(site: DemoSite) -> None:
    status, content_type, _, body = await get(site.url + "robots.txt")
    assert (status, content_type, body.decode()) == (200, "text/plain; charset=utf-8", ROBOTS_TXT)


async def test_pages_are_the_generated_bytes_uncompressed(site: DemoSite) -> None:
    pages = generate_pages(SPEC)
    for path in ("/", "/page/7"):
        status, content_type, headers, body = await get(
            site.url + path[1:], **{"Accept-Encoding": "gzip"}
        )
        assert (status, content_type, body) == (200, HTML, pages[path])
        assert "Content-Encoding" not in headers


@pytest.mark.parametrize("path", ["search?q=lo", "search?q=lo&page=2", "private/12"])
async def test_disallowed_paths_still_answer(site: DemoSite, path: str) -> None:
    status, content_type, _, _ = await get(site.url + path)
    assert (status, content_type) == (200, HTML)


@pytest.mark.parametrize("path", ["nowhere", "page/20", "page/7/", "private"])
async def test_unknown_paths_are_404_html(site: DemoSite, path: str) -> None:
    status, content_type, _, body = await get(site.url + path)
    assert (status, content_type) == (404, HTML)
    assert b"Not found" in body


async def test_stats_count_requests_but_not_themselves(site: DemoSite) -> None:
    for path in ("", "page/1", "page/1", "nowhere"):
        await get(site.url + path)
    status, _, _, body = await get(site.url + "__stats__")
    assert status == 200 and b'"requests": 4' in body
    stats = site.stats()
    assert (stats.requests, stats.in_flight, stats.peak_in_flight) == (4, 0, 1)
    assert stats.paths == {"/": 1, "/page/1": 2, "/nowhere": 1}
    site.reset_stats()
    assert site.stats().requests == 0 and site.stats().paths == {}


async def test_latency_delays_each_response_and_peak_in_flight_is_recorded() -> None:
    async with DemoSite(DemoSpec(pages=3, latency_ms=100)) as slow:
        started = time.perf_counter()
        await asyncio.gather(*(get(slow.url) for _ in range(8)))
        elapsed = time.perf_counter() - started
        assert slow.stats().peak_in_flight == 8
    assert 0.1 <= elapsed < 0.6


def test_url_before_start_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="not running"):
        DemoSite(SPEC).url  # noqa: B018


# small_site is the session's shared DemoSiteProcess, from tests/conftest.py.


async def test_process_serves_the_same_bytes(small_site: DemoSiteProcess) -> None:
    # The child has its own hash seed, so this also checks generation ignores it.
    status, content_type, _, body = await get(small_site.url + "page/5")
    assert (status, content_type) == (200, HTML)
    assert body == generate_pages(small_site.spec)["/page/5"]
    status, _, _, body = await get(small_site.url + "robots.txt")
    assert body.decode() == ROBOTS_TXT


async def test_process_stats_and_reset(small_site: DemoSiteProcess) -> None:
    small_site.reset_stats()
    await asyncio.gather(get(small_site.url + "page/2"), get(small_site.url + "nowhere"))
    stats = small_site.stats()
    assert stats.requests == 2 and stats.paths == {"/page/2": 1, "/nowhere": 1}
    small_site.reset_stats()
    assert small_site.stats().requests == 0


def test_process_that_cannot_start_raises_a_clear_error() -> None:
    with (
        pytest.raises(DemoSiteError, match=r"exited with code 1: .*cannot listen on 256\.0\.0\.1"),
        DemoSiteProcess(DemoSpec(pages=1), host="256.0.0.1"),
    ):
        pass


async def exchange(site: DemoSite, raw: bytes) -> bytes:
    """Send raw bytes on one connection and read until the server closes it."""
    reader, writer = await asyncio.open_connection(site.host, site.port)
    writer.write(raw)
    try:
        return await asyncio.wait_for(reader.read(), timeout=5)
    finally:
        writer.close()


async def test_keep_alive_answers_requests_in_order_and_head_has_no_body(site: DemoSite) -> None:
    raw = (b"GET /robots.txt HTTP/1.1\r\nHost: x\r\n\r\nHEAD /page/1 HTTP/1.1\r\nHost: x\r\n\r\n"
           b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    answer = await exchange(site, raw)
    assert re.findall(rb"HTTP/1\.1 (\d{3})", answer) == [b"200", b"200", b"404"]
    assert ROBOTS_TXT.encode() in answer and answer.count(b"<html") == 1  # HEAD sent no body
    assert site.stats().paths == {"/robots.txt": 1, "/page/1": 1, "/nowhere": 1}


@pytest.mark.parametrize("raw, status", [
    (b"GARBAGE\r\n\r\n", b"400"),
    (b"GET /a HTTP/2\r\n\r\n", b"400"),
    (b"POST /page/1 HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", b"405"),
    (b"GET /" + b"a" * 20_000, b"431"),
])
async def test_bad_requests_get_an_error_and_the_connection_closes(site: DemoSite, raw: bytes,
                                                                   status: bytes) -> None:
    answer = await exchange(site, raw)
    assert answer.startswith(b"HTTP/1.1 " + status) and b"Connection: close" in answer
    assert site.stats().requests == 0


async def test_http_1_0_and_absolute_targets(site: DemoSite) -> None:
    answer = await exchange(site, f"GET {site.url}page/2?x=1 HTTP/1.0\r\n\r\n".encode())
    assert answer.startswith(b"HTTP/1.1 200 OK") and answer.endswith(generate_pages(SPEC)["/page/2"])
    assert site.stats().paths == {"/page/2?x=1": 1}
