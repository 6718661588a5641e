"""Proxies in every mode, through a real forward proxy on 127.0.0.1 that counts what passes.

Plain http is forwarded (``GET http://...``), https tunnelled (``CONNECT``); the
proxy comes from ``proxy`` or from the environment (``http_proxy``, ``no_proxy``);
and the private-address guard still judges the target hosts, which the proxy
would otherwise resolve and reach on the crawler's behalf.
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
from collections.abc import Iterator

import pytest
import trustme
from aiohttp import web

import crawler
from crawler.config import MODES

from .forward_proxy import ForwardProxy
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
def server() -> Iterator[ServerThread]:
    """The loop serving this module's sites and proxy."""
    thread = ServerThread()
    yield thread
    thread.stop()


def make_site(server: ServerThread, context: ssl.SSLContext | None = None) -> tuple[str, HeaderLog]:
    """A site on 127.0.0.1 with a few pages, a redirect and a link to itself as localhost."""
    log = HeaderLog()
    app = web.Application(middlewares=[log.middleware()])
    scheme = "https" if context else "http"
    port: list[int] = []
    add_routes(app, {
        "/": lambda r: html(html_page("home", ["/a", "/b", f"{scheme}://localhost:{port[0]}/other"])),
        "/a": lambda r: html(html_page("a", ["/"])),
        "/b": lambda r: redirect("/c"),
        "/robots.txt": lambda r: plain(404),
        "/{name:.*}": lambda r: html(html_page(r.path)),
    })
    port.append(server.serve_app(app, context))
    return f"{scheme}://127.0.0.1:{port[0]}", log


@pytest.fixture(scope="module")
def plain_site(server: ServerThread) -> tuple[str, HeaderLog]:
    """The site over plain http."""
    return make_site(server)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> tuple[ssl.SSLContext, str]:
    """A server context signed by a throwaway CA, and that CA as a PEM file."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(context)
    path = tmp_path_factory.mktemp("tls") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return context, str(path)


@pytest.mark.parametrize("mode", MODES)
def test_every_request_goes_through_the_proxy_and_the_guard_judges_targets(
        server: ServerThread, plain_site: tuple[str, HeaderLog], mode: str) -> None:
    root, log = plain_site
    log.requests.clear()
    proxy = ForwardProxy(server)
    records = crawler.crawl(root + "/", mode=mode, workers=2, timeout=5.0, allow_domains=["localhost"],
                            proxy=proxy.url.replace("http://", "http://ann:pw@"))
    other = root.replace("127.0.0.1", "localhost") + "/other"
    assert kinds(records) == {root + "/": None, root + "/a": None, root + "/b": None, other: "blocked_address"}
    # Everything the site received came through the proxy, and nothing else went through it.
    assert sorted(proxy.log.targets("GET")) == sorted(root + path for path in ("/robots.txt", "/", "/a", "/b", "/c"))
    assert sorted(proxy.log.targets("GET")) == sorted(root + path for path, seen in log.requests.items()
                                                     for _ in seen)
    assert set(proxy.log.auth) == {"Basic YW5uOnB3"}  # ann:pw, from the proxy URL


@pytest.mark.parametrize("mode", MODES)
def test_https_is_tunnelled_with_connect(server: ServerThread, tls: tuple[ssl.SSLContext, str], mode: str) -> None:
    context, ca_file = tls
    root, log = make_site(server, context)
    proxy = ForwardProxy(server)
    records = crawler.crawl(root + "/", mode=mode, workers=2, timeout=5.0, ca_file=ca_file, proxy=proxy.url,
                            headers=("X-Via-Test: yes",))
    assert kinds(records) == {root + "/": None, root + "/a": None, root + "/b": None}
    assert set(proxy.log.targets("CONNECT")) == {root.removeprefix("https://")}
    assert proxy.log.targets("GET") == []  # nothing in the clear
    assert {h.get("x-via-test") for h in log.all()} == {"yes"}  # end to end, inside the tunnel


@pytest.mark.parametrize("mode", MODES)
def test_an_https_proxy_is_reached_over_tls(server: ServerThread, plain_site: tuple[str, HeaderLog],
                                            tls: tuple[ssl.SSLContext, str], mode: str) -> None:
    context, ca_file = tls
    root, _ = plain_site
    proxy = ForwardProxy(server, context)
    records = crawler.crawl(root + "/", mode=mode, workers=2, timeout=5.0, ca_file=ca_file, proxy=proxy.url)
    assert kinds(records) == {root + "/": None, root + "/a": None, root + "/b": None}
    assert len(proxy.log.lines) == 5  # robots.txt, /, /a, /b, /c, each inside TLS to the proxy


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m crawler ARGS` with these environment variables (and no inherited proxy)."""
    clean = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    return subprocess.run([sys.executable, "-m", "crawler", *args], capture_output=True, text=True, timeout=60,
                          env={**clean, **env}, check=False)


@pytest.mark.parametrize("no_proxy", [None, "127.0.0.1", "127.0.0.0/8"])
def test_the_environments_proxy_and_no_proxy(server: ServerThread, plain_site: tuple[str, HeaderLog],
                                             no_proxy: str | None) -> None:
    root, _ = plain_site
    proxy = ForwardProxy(server)
    env = {"http_proxy": proxy.url} | ({"NO_PROXY": no_proxy} if no_proxy else {})
    done = run_cli("crawl", root + "/", "-o", "-", "-q", "--max-depth", "1", **env)
    assert done.returncode == 0, done.stderr
    assert {json.loads(line)["status"] for line in done.stdout.splitlines()} == {200}
    assert len(proxy.log.lines) == (0 if no_proxy else 5)  # robots.txt, /, /a, /b and its redirect /c
    ignored = run_cli("crawl", root + "/", "-o", "-", "-q", "--max-depth", "0", "--no-env-proxy", **env)
    assert ignored.returncode == 0 and len(proxy.log.lines) == (0 if no_proxy else 5)


@pytest.mark.parametrize("mode", MODES)
def test_the_environments_proxy_in_every_mode(server: ServerThread, plain_site: tuple[str, HeaderLog],
                                              monkeypatch: pytest.MonkeyPatch, mode: str) -> None:
    root, _ = plain_site
    proxy = ForwardProxy(server)
    monkeypatch.setenv("http_proxy", proxy.url)
    records = crawler.crawl(root + "/", mode=mode, workers=2, timeout=5.0, max_depth=0)
    assert kinds(records) == {root + "/": None}
    assert proxy.log.targets("GET") == [root + "/robots.txt", root + "/"]
