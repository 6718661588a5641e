"""WARC output of real crawls: valid for warcio, every fetched URL in it, in every mode.

The site has one of each thing a WARC must hold: robots.txt and a sitemap, a gzipped and
a chunked page, a redirect, a 404, a 500 retried, a non-HTML file, two pages with the
same body (the second a revisit) and a body cut at max_body_bytes.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from warcio.archiveiterator import ArchiveIterator

from crawler import Crawler
from crawler.config import MODES
from crawler.sinks.warc import WarcSink

from .sites import serve

ROOT = Path(__file__).resolve().parents[2]
SAME = b"<!DOCTYPE html><title>Same</title><p>twice the same bytes</p>"


def _page(title: str, *links: str) -> bytes:
    anchors = "".join(f'<a href="{link}">{link}</a>' for link in links)
    return f"<!DOCTYPE html><title>{title}</title><body>{anchors}</body>".encode()


HOME = _page("Home", "/gz", "/chunked", "/moved", "/missing", "/broken", "/data.json",
             "/same/1", "/same/2", "/big", "/private/no")
ROBOTS = b"User-agent: *\nDisallow: /private\nSitemap: /sitemap.xml\n"
SITEMAP = (b'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
           b"<url><loc>/listed</loc></url></urlset>")
GZ_PAGE = _page("Gzipped", "/") * 20


async def _chunked(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/html"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    for part in range(5):
        await response.write(_page(f"Chunk {part}"))
    await response.write_eof()
    return response


def warc_site() -> web.Application:
    """The site: each route one case."""

    def fixed(body: bytes, status: int = 200, content_type: str = "text/html",
              **headers: str) -> Any:
        async def handle(request: web.Request) -> web.Response:
            return web.Response(body=body, status=status, content_type=None,
                                headers={"Content-Type": content_type, **headers})
        return handle

    app = web.Application()
    routes = {
        "/": fixed(HOME), "/robots.txt": fixed(ROBOTS, content_type="text/plain"),
        "/sitemap.xml": fixed(SITEMAP, content_type="application/xml"),
        "/listed": fixed(_page("Listed")),
        "/gz": fixed(gzip.compress(GZ_PAGE), **{"Content-Encoding": "gzip"}),
        "/moved": fixed(b"", 301, Location="/landing"), "/landing": fixed(_page("Landing")),
        "/missing": fixed(_page("Not here"), 404), "/broken": fixed(b"oops", 500, "text/plain"),
        "/data.json": fixed(b'{"a": 1}', content_type="application/json"),
        "/same/1": fixed(SAME), "/same/2": fixed(SAME), "/big": fixed(b"x" * 50_000, content_type="text/plain"),
    }
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    app.router.add_get("/chunked", _chunked)
    return app


# Target paths each crawl's WARC holds a response for: /broken twice (one retry).
FETCHED = Counter({"/robots.txt": 1, "/sitemap.xml": 1, "/": 1, "/listed": 1, "/gz": 1,
                   "/chunked": 1, "/moved": 1, "/landing": 1, "/missing": 1, "/broken": 2,
                   "/data.json": 1, "/same/1": 1, "/same/2": 1, "/big": 1})
SETTINGS: dict[str, Any] = {"sitemaps": True, "retries": 1, "backoff_base": 0.01, "max_body_bytes": 20_000,
                            "concurrency": 4, "workers": 4, "parse_workers": 0}


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    with serve(warc_site()) as url:
        yield url


def read_warcs(directory: Path) -> list[Any]:
    """Every record of every WARC file in directory, in file order, with its file name."""
    records = []
    for path in sorted(directory.glob("*.warc.gz")):
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream):
                record.file = path.name
                record.body = record.raw_stream.read()  # as stored: content coding kept
                records.append(record)
    return records


def path_of(record: Any, base: str) -> str:
    return "/" + record.rec_headers.get_header("WARC-Target-URI").removeprefix(base)


def warcio(*args: str) -> subprocess.CompletedProcess[str]:
    """Run warcio's command line."""
    return subprocess.run([sys.executable, "-m", "warcio.cli", *args], capture_output=True, text=True,
                          check=False, timeout=60)


async def crawl_to_warc(url: str, directory: Path, **settings: Any) -> list[Any]:
    async with Crawler(warc=WarcSink(directory, outlinks=True), **{**SETTINGS, **settings}) as crawler:
        return [page async for page in crawler.crawl(url)]


@pytest.mark.parametrize("mode", MODES)
async def test_every_fetched_url_is_in_the_warc_in_every_mode(mode: str, site: str, tmp_path: Path) -> None:
    pages = await crawl_to_warc(site, tmp_path, mode=mode)
    records = read_warcs(tmp_path)
    types = Counter(record.rec_type for record in records)
    responses = [r for r in records if r.rec_type in ("response", "revisit")]
    assert Counter(path_of(r, site) for r in responses) == FETCHED
    assert types["request"] == types["response"] + types["revisit"] == FETCHED.total()
    assert records[0].rec_type == "warcinfo" and types["warcinfo"] == 1
    # Each request is concurrent to its response; pages with outlinks have their metadata.
    ids = {r.rec_headers.get_header("WARC-Record-ID") for r in responses}
    assert all(r.rec_headers.get_header("WARC-Concurrent-To") in ids
               for r in records if r.rec_type in ("request", "metadata"))
    metadata = {path_of(r, site): r.body.decode() for r in records if r.rec_type == "metadata"}
    assert f"outlink: {site}gz\r\n" in metadata["/"] and set(metadata) == {"/", "/gz"}  # the pages with outlinks
    assert {page.url.removeprefix(site) for page in pages} <= {p.lstrip("/") for p in FETCHED}


async def test_the_records_say_what_came_over_the_wire(site: str, tmp_path: Path) -> None:
    await crawl_to_warc(site, tmp_path)
    by_path = {path_of(r, site): r for r in read_warcs(tmp_path) if r.rec_type in ("response", "revisit")}
    gz = by_path["/gz"]
    assert gz.http_headers.get_header("Content-Encoding") == "gzip"
    assert gzip.decompress(gz.body) == GZ_PAGE  # the body as sent, still gzipped
    chunked = by_path["/chunked"]
    assert chunked.http_headers.get_header("Transfer-Encoding") is None  # the framing is gone
    assert chunked.body == b"".join(_page(f"Chunk {i}") for i in range(5))
    assert by_path["/moved"].http_headers.get_statuscode() == "301"
    assert by_path["/missing"].http_headers.get_statuscode() == "404"
    big = by_path["/big"]
    assert (big.rec_headers.get_header("WARC-Truncated"), len(big.body)) == ("length", 20_000)
    assert by_path["/same/1"].rec_type != by_path["/same/2"].rec_type  # the later one is a revisit
    revisit = by_path["/same/1"] if by_path["/same/1"].rec_type == "revisit" else by_path["/same/2"]
    assert revisit.rec_headers.get_header("WARC-Refers-To-Target-URI").startswith(f"{site}same/")
    for record in by_path.values():
        assert record.rec_headers.get_header("WARC-IP-Address") == "127.0.0.1"
        assert record.rec_headers.get_header("WARC-Payload-Digest").startswith("sha1:")


def test_the_cli_writes_warcs_that_warcio_checks_and_indexes(site: str, tmp_path: Path) -> None:
    out, warcs = tmp_path / "out.jsonl", tmp_path / "warcs"
    result = subprocess.run(
        [sys.executable, "-m", "crawler", "crawl", site, "--warc", str(warcs), "-o", str(out), "-q",
         "--sitemaps", "--retries", "1", "--max-body-bytes", "20000", "--warc-outlinks"],
        capture_output=True, text=True, check=False, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    files = sorted(warcs.glob("*.warc.gz"))
    check = warcio("check", "-v", *map(str, files))
    assert check.returncode == 0 and "digest pass" in check.stdout, check.stdout + check.stderr
    index = [json.loads(line) for line in warcio("index", "-f", "warc-type,warc-target-uri",
                                                 *map(str, files)).stdout.splitlines()]
    indexed = {entry["warc-target-uri"] for entry in index if entry["warc-type"] in ("response", "revisit")}
    assert "metadata" in {entry["warc-type"] for entry in index}
    assert {json.loads(line)["url"] for line in out.read_text().splitlines()} <= indexed


def test_files_rotate_each_starting_with_warcinfo(site: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "crawler", "crawl", site, "--warc", str(tmp_path), "-q",
         "--warc-max-size", "1K"], capture_output=True, text=True, check=False, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    files = sorted(tmp_path.glob("*.warc.gz"))
    assert len(files) > 3
    assert [int(f.name.split("-")[-1].split(".")[0]) for f in files] == list(range(1, len(files) + 1))
    for path in files:
        with path.open("rb") as stream:
            types = [record.rec_type for record in ArchiveIterator(stream)]
        assert types[0] == "warcinfo" and types.count("warcinfo") == 1 and len(types) > 1


@pytest.mark.parametrize("size", ["0", "big", "-1M"])
def test_a_bad_max_size_is_one_line_and_exit_2(size: str) -> None:
    result = subprocess.run([sys.executable, "-m", "crawler", "crawl", "http://127.0.0.1:9/",
                             "--warc", "w", "--warc-max-size", size],
                            capture_output=True, text=True, check=False, timeout=60, cwd=ROOT)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def test_credentials_are_sent_but_never_written(site: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "crawler", "crawl", site, "--warc", str(tmp_path), "-q", "--max-pages", "3",
         "--auth", "ann:s3cret", "--cookie", "sid=c00kie", "-H", "X-Team: blue"],
        capture_output=True, text=True, check=False, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    written = b"".join(gzip.decompress(path.read_bytes()) for path in tmp_path.iterdir())
    assert b"s3cret" not in written and b"YW5uOnMzY3JldA" not in written and b"c00kie" not in written
    assert b"\r\nAuthorization: [redacted]\r\n" in written and b"\r\nCookie: [redacted]\r\n" in written
    assert b"\r\nX-Team: blue\r\n" in written
