"""HTTPS in every mode, against a real TLS server on 127.0.0.1 signed by a throwaway CA (trustme).

A trusted certificate crawls like plain HTTP; an untrusted one is a ``tls`` error
on the page, at once and without retries; ``verify_tls = false`` crawls anyway;
a handshake that never completes ends at the total deadline; and the address
guard holds for HTTPS hosts reached by links.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
import trustme
from aiohttp import web

import crawler
from crawler.config import MODES

from .hostile_server import (
    HeaderLog,
    ServerThread,
    add_routes,
    html,
    html_page,
    kinds,
    plain,
    redirect,
)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    """A certificate authority that exists only for these tests."""
    return trustme.CA()


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The CA's certificate as a PEM file, as a user would pass it with --ca-file."""
    path = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


@pytest.fixture(scope="module")
def site(ca: trustme.CA) -> Iterator[tuple[str, int, HeaderLog]]:
    """An HTTPS site whose certificate names both localhost and 127.0.0.1; it logs what reaches it."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    log = HeaderLog()
    app = web.Application(middlewares=[log.middleware()])
    port_box: list[int] = []
    add_routes(app, {
        "/": lambda r: html(html_page("home", ["/a", "/b", f"https://localhost:{port_box[0]}/other"])),
        "/a": lambda r: html(html_page("a", ["/"])),
        "/b": lambda r: redirect("/c"),
        "/robots.txt": lambda r: plain(404),
        "/{name:.*}": lambda r: html(html_page(r.path)),
    })
    server = ServerThread()
    port_box.append(server.serve_app(app, context))
    yield f"https://127.0.0.1:{port_box[0]}", port_box[0], log
    server.stop()


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_crawls_a_site_signed_by_the_given_ca(site: tuple[str, int, HeaderLog],
                                                          ca_file: str, mode: str) -> None:
    root, _, _ = site
    records = crawler.crawl(root + "/", mode=mode, ca_file=ca_file, workers=2)
    assert kinds(records) == {root + "/": None, root + "/a": None, root + "/b": None}
    [moved] = [r for r in records if r.requested_url == root + "/b"]
    assert (moved.url, moved.status, moved.title) == (root + "/c", 200, "/c")


@pytest.mark.parametrize("mode", MODES)
def test_an_untrusted_certificate_is_a_tls_error_at_once(site: tuple[str, int, HeaderLog], mode: str) -> None:
    root, _, log = site
    log.requests.clear()
    started = time.monotonic()
    records = crawler.crawl(root + "/", mode=mode, workers=2, retries=3, backoff_base=2.0)
    # Not retried (a certificate does not change in seconds), and robots.txt failing the
    # same way does not hide the seed: the page itself says what went wrong.
    assert time.monotonic() - started < 10
    [record] = records
    assert record.error is not None and record.error.kind == "tls" and record.retries == 0
    assert "certificate verify failed" in record.error.message
    assert not log.requests  # no HTTP request was sent over an unverified connection


@pytest.mark.parametrize("mode", MODES)
def test_verification_can_be_turned_off(site: tuple[str, int, HeaderLog], mode: str) -> None:
    root, _, _ = site
    records = crawler.crawl(root + "/", mode=mode, verify_tls=False, workers=2)
    assert set(kinds(records).values()) == {None} and len(records) == 3


@pytest.mark.parametrize("mode", MODES)
def test_the_address_guard_holds_for_https_links(site: tuple[str, int, HeaderLog], ca_file: str,
                                                 mode: str) -> None:
    # localhost is another host than the seed's 127.0.0.1, and resolves to loopback.
    root, port, _ = site
    other = f"https://localhost:{port}/other"
    refused = crawler.crawl(root + "/", mode=mode, ca_file=ca_file, allow_domains=["localhost"], workers=2)
    assert kinds(refused)[other] == "blocked_address"
    allowed = crawler.crawl(root + "/", mode=mode, ca_file=ca_file, allow_domains=["localhost"], workers=2,
                            allow_private_addresses=True)
    # Connected to the checked address, the certificate is still verified for the name.
    assert kinds(allowed)[other] is None


@pytest.fixture(scope="module")
def silent_port() -> Iterator[int]:
    """A server that accepts connections and never answers: a TLS handshake that never ends."""
    server = ServerThread()

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(3600)

    yield server.serve_raw(never_answer)
    server.stop()


@pytest.mark.parametrize("mode", MODES)
def test_a_stalled_handshake_ends_at_the_deadline(silent_port: int, mode: str) -> None:
    started = time.monotonic()
    [record] = crawler.crawl(f"https://127.0.0.1:{silent_port}/", mode=mode, timeout=1.0, retries=0,
                             respect_robots=False, workers=2)
    assert record.error is not None and record.error.kind == "timeout"
    assert time.monotonic() - started < 8


def test_the_cli_takes_a_ca_file(site: tuple[str, int, HeaderLog], ca_file: str) -> None:
    root, _, _ = site
    done = subprocess.run([sys.executable, "-m", "crawler", "crawl", root + "/", "-o", "-", "-q",
                           "--ca-file", ca_file], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["error"] for line in done.stdout.splitlines()] == [None] * 3
