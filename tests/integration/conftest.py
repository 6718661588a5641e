"""Fixtures shared by the integration tests that crawl in every mode."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crawler.config import MODES

from .sites import edge_site_app, serve


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """Each execution mode in turn."""
    return request.param


@pytest.fixture(scope="module")
def edge_site() -> Iterator[str]:
    """The hand-built edge-case site (its pages are tiny: far below parse_offload_bytes)."""
    with serve(edge_site_app()) as url:
        yield url
