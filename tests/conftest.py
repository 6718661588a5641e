"""Shared fixtures: real demo sites on 127.0.0.1, in a child process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crawler.demo import DemoSiteProcess, DemoSpec

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
