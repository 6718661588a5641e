"""Politeness, measured where it matters, at the server, for every mode."""

from __future__ import annotations

import pytest

from crawler import Crawler

from .sites import counting_app, serve

MODES = ("sync", "threaded", "process", "async")
# The core times --delay from when it hands a request out; the request reaches the server
# a few ms later (a thread waking for the GIL, a pipe to a worker process, a new connection),
# and by a varying amount: with both CPUs busy, gaps up to 26 ms short were seen (process mode).
TOLERANCE = 0.030


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """Each execution mode in turn."""
    return request.param


async def crawl(url: str, mode: str, **settings: object) -> int:
    """Crawl url with 8 workers / 8 in flight allowed overall; return the number of records."""
    async with Crawler(mode=mode, workers=8, concurrency=8, timeout=5, retries=0, **settings) as session:
        return len([record async for record in session.crawl(url)])


async def test_never_more_than_per_host_in_flight(mode: str) -> None:
    app, log = counting_app(pages=12, latency=0.05)
    with serve(app) as url:
        assert await crawl(url, mode, per_host=2) == 13
    # The limit held; and for the concurrent modes it was what bound the crawl.
    assert log.peak_in_flight == (1 if mode == "sync" else 2)


async def test_never_two_requests_closer_than_delay(mode: str) -> None:
    app, log = counting_app(pages=4, latency=0.0)
    with serve(app) as url:
        assert await crawl(url, mode, per_host=8, delay=0.2) == 5
    assert len(log.starts) == 6  # robots.txt, the home page and its four links
    assert min(log.gaps()) >= 0.2 - TOLERANCE
