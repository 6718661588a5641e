"""pywb, the replay system, serves crawled pages from our WARC files byte for byte (raw mode).

pywb cannot share the project's environment: it requires brotlipy, whose ``brotli``
module replaces Brotli's (which the crawler decodes ``br`` bodies with). So it lives
in a virtual environment of its own, ``.venv-pywb`` at the top of the checkout
(``.ci/run`` makes it), or wherever ``PYWB_BIN`` points.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import urllib3

from crawler.fetchers.body import ACCEPT_ENCODING

from .test_warc import SAME, crawl_to_warc, serve, warc_site

ROOT = Path(__file__).resolve().parents[2]
PYWB_BIN = Path(os.environ.get("PYWB_BIN", ROOT / ".venv-pywb" / "bin"))
REPLAYED = ["", "gz", "chunked", "data.json", "missing", "moved", "same/1", "same/2", "listed"]

pytestmark = pytest.mark.skipif(
    not (PYWB_BIN / "wayback").exists(),
    reason=f"pywb not installed in {PYWB_BIN}: python3 -m venv .venv-pywb && .venv-pywb/bin/pip install pywb")


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with serve(warc_site()) as url:
        yield url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def wayback(site: str, tmp_path: Path) -> Iterator[str]:
    """A pywb collection of one crawl of the site, served; yields the collection's URL."""
    import asyncio

    asyncio.run(crawl_to_warc(site, tmp_path / "warcs"))
    manage = PYWB_BIN / "wb-manager"
    subprocess.run([manage, "init", "crawl"], cwd=tmp_path, check=True, capture_output=True)
    subprocess.run([manage, "add", "crawl", *sorted((tmp_path / "warcs").iterdir())], cwd=tmp_path,
                   check=True, capture_output=True)
    port = _free_port()
    server = subprocess.Popen([PYWB_BIN / "wayback", "-b", "127.0.0.1", "-p", str(port)], cwd=tmp_path,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/crawl"
    finally:
        server.terminate()
        server.wait(timeout=10)


def _raw(url: str) -> tuple[int, bytes]:
    """Status and body bytes as sent (content coding kept), fetched the way the crawler fetches."""
    response = urllib3.request("GET", url, redirect=False, decode_content=False, retries=False,
                               headers={"Accept-Encoding": ACCEPT_ENCODING})
    return response.status, response.data


def test_pywb_replays_crawled_pages_byte_identical(site: str, wayback: str) -> None:
    for path in REPLAYED:
        # id_ is pywb's raw mode: the archived response, not rewritten; the latest capture.
        replayed = _raw(f"{wayback}/2099id_/{site}{path}")
        assert replayed == _raw(site + path), path
    assert _raw(f"{wayback}/2099id_/{site}same/2")[1] == SAME  # served from the revisit's original
