"""Shared fixtures: real demo sites on 127.0.0.1, in a child process, and a real redis-server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from crawler.demo import DemoSiteProcess, DemoSpec

from .redis_server import RedisServer

SMALL_SITE = DemoSpec(pages=60, latency_ms=0, seed=7)
SLOW_SITE = DemoSpec(pages=3000, latency_ms=150, seed=3)


@pytest.fixture(scope="session")
def small_site() -> Iterator[DemoSiteProcess]:
    """A 60-page demo site with no latency, shared by the session."""
    with DemoSiteProcess(SMALL_SITE) as site:
        yield site


@pytest.fixture(scope="session")
def slow_site() -> Iterator[DemoSiteProcess]:
    """A large demo site with 150 ms latency: crawls of it are still running when interrupted."""
    with DemoSiteProcess(SLOW_SITE) as site:
        yield site


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A fresh redis-server with AOF on, stopped at teardown; missing redis-server fails, never skips."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (Debian: apt-get install redis-server); "
                    "the distributed crawl must be tested against the real server")
    with RedisServer(tmp_path / "redis", appendonly=True) as server:
        yield server
