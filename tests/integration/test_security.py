"""Security: no internal addresses for hosts reached by links, no credentials across hosts,
no files written but the output.

Every connection stays on loopback. An audit hook (PEP 578) watches every
``socket.connect`` of this process and refuses — and records — any to an address
that is not loopback, so a guard that failed could not reach 10.0.0.1 or
169.254.169.254 even by mistake, and the tests can prove no attempt was made.
Modes that connect from other processes are only given loopback targets.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

import crawler
from crawler.config import MODES, CrawlConfig
from crawler.fetchers import AsyncFetcher, BlockingFetcher
from crawler.fetchers.guard import is_public_address
from crawler.models import CrawlRequest, FetchResult
from crawler.stores.sqlite import DB_NAME
from crawler.urls import canonical_hostname, normalize_url

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

IN_PROCESS_MODES = ("async", "sync", "threaded")
ATTEMPTS: list[Any] = []  # non-loopback connects refused by the audit hook


def _loopback(host: str) -> bool:
    """True for a loopback address or the name localhost."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _refuse_non_loopback(event: str, args: tuple[Any, ...]) -> None:
    """Audit hook: record and refuse a connect to anything but loopback."""
    if event == "socket.connect" and isinstance(args[1], tuple) and not _loopback(str(args[1][0])):
        ATTEMPTS.append(args[1])
        raise ConnectionRefusedError(f"test sandbox: no connection to {args[1]}")


sys.addaudithook(_refuse_non_loopback)

# Literal addresses a page might aim a crawler at: metadata services, intranets, loopback.
INTERNAL = (
    "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/latest/meta-data/",
    "http://100.100.100.200/latest/meta-data/", "http://192.0.0.192/", "http://10.0.0.1/",
    "http://172.16.0.1:8080/", "http://192.168.1.1/", "http://100.64.0.1/", "http://0.0.0.0/",
    "http://[::ffff:169.254.169.254]/", "http://[fe80::1]/", "http://224.0.0.1/", "http://[::]/",
)


@pytest.fixture(autouse=True)
def no_outside_connects() -> Iterator[None]:
    """Every test ends with no connect attempted outside loopback."""
    ATTEMPTS.clear()
    yield
    assert ATTEMPTS == []


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    """The loop serving this module's sites."""
    thread = ServerThread()
    yield thread
    thread.stop()


def host(url: str) -> str:
    """The canonical host of url, as scope and allow_domains see it ([...] for IPv6)."""
    return canonical_hostname(normalize_url(url) or "")


@pytest.mark.parametrize("url", INTERNAL)
def test_internal_ranges_are_not_public(url: str) -> None:
    assert not is_public_address(host(url).strip("[]"))


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700::6810:84e5", "8.8.8.8"])
def test_public_addresses_are_public(address: str) -> None:
    assert is_public_address(address)


@pytest.mark.parametrize("fetcher", ["async", "blocking"])
def test_literal_internal_addresses_are_refused_before_any_connect(fetcher: str) -> None:
    config = CrawlConfig(allow_domains=("example.com",), timeout=2.0)
    results = fetch_all(fetcher, config, list(INTERNAL), trusted={"127.0.0.1"})
    assert [(r.url, r.error.kind if r.error else None) for r in results] == [
        (url, "blocked_address") for url in INTERNAL]
    assert all(r.elapsed_ms < 50 for r in results)


@pytest.mark.parametrize("fetcher", ["async", "blocking"])
def test_numeric_ipv4_spellings_do_not_slip_through(fetcher: str) -> None:
    # 2130706433 and 0x7f.1 are 127.0.0.1 to inet_aton; aiohttp refuses such hosts outright.
    config = CrawlConfig(allow_domains=("example.com",), timeout=2.0)
    urls = ["http://2130706433/", "http://0x7f.1/", "http://0251.0376.0251.0376/"]
    results = fetch_all(fetcher, config, urls, trusted={"127.0.0.1"})
    assert {r.error.kind if r.error else None for r in results} <= {"blocked_address", "invalid_url"}


def fetch_all(fetcher: str, config: CrawlConfig, urls: list[str], trusted: set[str]) -> list[FetchResult]:
    """Fetch urls one by one with the named fetcher."""
    if fetcher == "blocking":
        with BlockingFetcher(config, trusted_hosts=trusted) as blocking:
            return [blocking.fetch(CrawlRequest(url)) for url in urls]

    async def run() -> list[FetchResult]:
        async with AsyncFetcher(config, trusted_hosts=trusted) as session:
            return [await session.fetch(CrawlRequest(url)) for url in urls]

    return asyncio.run(run())


@pytest.fixture(scope="module")
def guarded_site(server: ServerThread) -> tuple[str, int, HeaderLog]:
    """A site on 127.0.0.1 linking to itself under the name localhost, directly and by redirect."""
    log = HeaderLog()
    app = web.Application(middlewares=[log.middleware()])
    port_box: list[int] = []
    add_routes(app, {
        "/": lambda r: html(html_page("seed", ["/page", f"http://localhost:{port_box[0]}/other", "/jump"])),
        "/page": lambda r: html(html_page("page")),
        "/jump": lambda r: redirect(f"http://localhost:{port_box[0]}/target"),
        "/robots.txt": lambda r: plain(404),
        "/{name:.*}": lambda r: html(html_page(r.path)),
    })
    port_box.append(server.serve_app(app))
    return f"http://127.0.0.1:{port_box[0]}", port_box[0], log


@pytest.mark.parametrize("mode", MODES)
def test_another_host_resolving_to_loopback_is_refused(
        guarded_site: tuple[str, int, HeaderLog], mode: str) -> None:
    root, port, log = guarded_site
    log.requests.clear()
    records = crawler.crawl(root + "/", mode=mode, allow_domains=["localhost"], timeout=2.0, workers=2)
    assert kinds(records) == {
        root + "/": None, root + "/page": None, root + "/jump": "blocked_address",
        f"http://localhost:{port}/other": "blocked_address",
    }
    [jump] = [r for r in records if r.requested_url == root + "/jump"]
    assert jump.url == f"http://localhost:{port}/target" and jump.redirects == [root + "/jump"]
    assert "/other" not in log.requests and "/target" not in log.requests  # nothing was sent


@pytest.mark.parametrize("mode", MODES)
def test_allow_private_lets_other_private_hosts_through(
        guarded_site: tuple[str, int, HeaderLog], mode: str) -> None:
    root, port, _ = guarded_site
    records = crawler.crawl(root + "/", mode=mode, allow_domains=["localhost"], timeout=2.0, workers=2,
                            allow_private_addresses=True)
    assert set(kinds(records).values()) == {None}
    assert {r.url for r in records} >= {f"http://localhost:{port}/other", f"http://localhost:{port}/target"}


@pytest.mark.parametrize("flags", [[], ["--allow-private"]])
def test_the_cli_refuses_private_hosts_unless_allow_private(
        guarded_site: tuple[str, int, HeaderLog], flags: list[str]) -> None:
    root, port, _ = guarded_site
    command = [sys.executable, "-m", "crawler", "crawl", root + "/", "-o", "-", "-q",
               "--allow-domain", "localhost", *flags]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    other = [json.loads(line) for line in done.stdout.splitlines()
             if json.loads(line)["url"] == f"http://localhost:{port}/other"]
    assert [(r["error"] or {}).get("kind") for r in other] == [None if flags else "blocked_address"]


@pytest.mark.parametrize("mode", IN_PROCESS_MODES)
def test_links_and_redirects_to_internal_addresses_are_refused(server: ServerThread, mode: str) -> None:
    app = web.Application()
    add_routes(app, {
        "/": lambda r: html(html_page("seed", [*INTERNAL, "/jump"])),
        "/jump": lambda r: redirect("http://169.254.169.254/user-data", 307),
        "/robots.txt": lambda r: plain(404),
    })
    root = f"http://127.0.0.1:{server.serve_app(app)}"
    records = crawler.crawl(root + "/", mode=mode, allow_domains=[host(u) for u in INTERNAL], timeout=2.0,
                            workers=2, respect_robots=False)
    found = kinds(records)
    assert found.pop(root + "/") is None and found.pop(root + "/jump") == "blocked_address"
    assert sorted(found) == sorted(map(normalize_url, INTERNAL))
    assert set(found.values()) == {"blocked_address"}


@pytest.fixture(scope="module")
def credential_sites(server: ServerThread) -> tuple[str, HeaderLog, HeaderLog]:
    """Site A (seed) sets a cookie and redirects to site B, another port; both log headers."""
    log_a, log_b = HeaderLog(), HeaderLog()
    app_b = web.Application(middlewares=[log_b.middleware()])
    add_routes(app_b, {"/robots.txt": lambda r: plain(404), "/{name:.*}": lambda r: html(html_page(r.path))})
    port_b = server.serve_app(app_b)
    b_name, b_ip = f"http://localhost:{port_b}", f"http://127.0.0.1:{port_b}"

    def login(request: web.Request) -> web.Response:
        response = redirect(f"{b_name}/landing")
        # Cookies are not isolated by port (RFC 6265 8.5): a jar would send this one to B.
        response.set_cookie("session", "secret-a", path="/", httponly=True)
        return response

    app_a = web.Application(middlewares=[log_a.middleware()])
    add_routes(app_a, {
        "/": lambda r: html(html_page("a", ["/login", "/after", f"http://user:pw@localhost:{port_b}/userinfo",
                                            f"{b_ip}/by-address"])),
        "/login": login,
        "/after": lambda r: html(html_page("after login", [f"{b_name}/after-login"])),
        "/robots.txt": lambda r: plain(404),
    })
    seed = f"http://user:secret@localhost:{server.serve_app(app_a)}/"
    return seed, log_a, log_b


@pytest.mark.parametrize("mode", MODES)
def test_no_credentials_follow_a_redirect_to_another_host(
        credential_sites: tuple[str, HeaderLog, HeaderLog], mode: str) -> None:
    seed, log_a, log_b = credential_sites
    log_a.requests.clear()
    log_b.requests.clear()
    records = crawler.crawl(seed, mode=mode, allow_domains=["127.0.0.1"], allow_private_addresses=True,
                            timeout=2.0, workers=2)
    assert all(r.ok for r in records), kinds(records)
    assert set(log_b.requests) >= {"/landing", "/userinfo", "/by-address", "/after-login"}
    sent = log_a.all() + log_b.all()
    assert not [h for h in sent if "cookie" in h or "authorization" in h]
    assert not [r.url for r in records if "@" in r.url or "secret" in r.url]  # userinfo is dropped


HOSTILE_NAMES = (
    "/../../../../etc/passwd", "/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2f..%2fetc%2fpasswd",
    "/a/..%5c..%5c..%5cwin.ini", "/%00/evil", "/con/aux/nul", "file:///etc/passwd", "/~/.ssh/id_rsa",
    "/" + "n" * 300,
)


@pytest.mark.parametrize("mode", MODES)
def test_nothing_is_written_outside_the_output_file_and_state(server: ServerThread, tmp_path: Path,
                                                              mode: str) -> None:
    app = web.Application()
    add_routes(app, {
        "/": lambda r: html(html_page("names", list(HOSTILE_NAMES))),
        "/robots.txt": lambda r: plain(404),
        # A body that asks to be saved under a traversing name (RFC 6266 4.3 says: don't).
        "/{name:.*}": lambda r: html(html_page("x"), **{"Content-Disposition": 'attachment; filename="../x"'}),
    })
    root = f"http://127.0.0.1:{server.serve_app(app)}/"
    work = tmp_path / "work"
    work.mkdir()
    command = [sys.executable, "-m", "crawler", "crawl", root, "-o", "out.jsonl", "--state", "state",
               "--mode", mode, "-q", "--timeout", "2"]
    done = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*"))
    assert written == ["work", "work/out.jsonl", "work/state", f"work/state/{DB_NAME}"]
    urls = {json.loads(line)["url"] for line in (work / "out.jsonl").read_text().splitlines()}
    assert urls == {root} | {normalize_url(name, root) for name in HOSTILE_NAMES} - {None}


GIVEN = {"headers": ("X-Team: blue", "Authorization: Bearer t0ken"), "cookies": ("token=abc",)}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("identity", [GIVEN, {"auth": "ann:s3cret", "cookies": ("token=abc",)}])
def test_given_credentials_reach_the_seed_site_only_also_across_redirects(
        credential_sites: tuple[str, HeaderLog, HeaderLog], mode: str, identity: dict[str, Any]) -> None:
    seed, log_a, log_b = credential_sites
    log_a.requests.clear()
    log_b.requests.clear()
    records = crawler.crawl(seed, mode=mode, allow_domains=["127.0.0.1"], allow_private_addresses=True,
                            timeout=2.0, workers=2, **identity)
    assert all(r.ok for r in records), kinds(records)
    # B (localhost and 127.0.0.1 on another port) is reached by links and by /login's redirect.
    assert set(log_b.requests) >= {"/landing", "/userinfo", "/by-address", "/after-login"}
    assert set(log_a.requests) >= {"/robots.txt", "/", "/login", "/after"}
    expected_auth = "Bearer t0ken" if "headers" in identity else "Basic YW5uOnMzY3JldA=="
    assert {(h.get("authorization"), h.get("cookie")) for h in log_a.all()} == {(expected_auth, "token=abc")}
    assert not [h for h in log_b.all() if "cookie" in h or "authorization" in h]
    if "headers" in identity:  # other headers go everywhere
        assert {h.get("x-team") for h in log_a.all() + log_b.all()} == {"blue"}


@pytest.fixture(scope="module")
def session_site(server: ServerThread) -> tuple[str, str, HeaderLog, HeaderLog]:
    """Site A logs in (a session cookie), shows members' pages only with it, links to site B, logs out."""
    log_a, log_b = HeaderLog(), HeaderLog()
    app_b = web.Application(middlewares=[log_b.middleware()])
    add_routes(app_b, {"/robots.txt": lambda r: plain(404), "/{name:.*}": lambda r: html(html_page(r.path))})
    b_root = f"http://localhost:{server.serve_app(app_b)}"

    def login(request: web.Request) -> web.Response:
        response = redirect("/members")
        response.set_cookie("session", "s3ss10n", path="/", httponly=True)
        return response

    def members(links: list[str]) -> Any:
        def page(request: web.Request) -> web.Response:
            if request.cookies.get("session") != "s3ss10n":
                return plain(403)
            return html(html_page(request.path, links))
        return page

    def logout(request: web.Request) -> web.Response:
        response = html(html_page("bye", ["/after-logout"]))
        response.del_cookie("session", path="/")
        return response

    app_a = web.Application(middlewares=[log_a.middleware()])
    add_routes(app_a, {
        "/": lambda r: html(html_page("home", ["/login"])),
        "/login": login,
        "/members": members(["/members/2", f"{b_root}/from-members"]),
        "/members/2": members([f"{b_root}/jump-target", "/logout"]),
        "/logout": logout,
        "/robots.txt": lambda r: plain(404),
        "/{name:.*}": lambda r: html(html_page(r.path)),
    })
    a_root = f"http://127.0.0.1:{server.serve_app(app_a)}"
    return a_root, b_root, log_a, log_b


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("jar", [True, False])
def test_the_cookie_jar_keeps_a_session_for_its_host_only(
        session_site: tuple[str, str, HeaderLog, HeaderLog], mode: str, jar: bool) -> None:
    a_root, _, log_a, log_b = session_site
    log_a.requests.clear()
    log_b.requests.clear()
    records = crawler.crawl(a_root + "/", mode=mode, allow_domains=["localhost"], allow_private_addresses=True,
                            timeout=2.0, workers=2, cookie_jar=jar)
    statuses = {r.url.removeprefix(a_root): r.status for r in records if r.url.startswith(a_root)}
    if not jar:  # the default keeps no cookie: the members' pages stay shut
        assert statuses == {"/": 200, "/members": 403}
        assert not [h for h in log_a.all() + log_b.all() if "cookie" in h]
        return
    assert statuses == {"/": 200, "/members": 200, "/members/2": 200, "/logout": 200, "/after-logout": 200}
    assert [h.get("cookie") for h in log_a.requests["/members"]] == ["session=s3ss10n"]
    assert [h.get("cookie") for h in log_a.requests["/after-logout"]] == [None]  # deleted by /logout
    assert set(log_b.requests) == {"/robots.txt", "/from-members", "/jump-target"}
    assert not [h for h in log_b.all() if "cookie" in h]  # another host (and port): never


@pytest.mark.parametrize("mode", MODES)
def test_a_cookie_set_by_a_redirect_stays_with_its_host(
        credential_sites: tuple[str, HeaderLog, HeaderLog], mode: str) -> None:
    seed, _, log_b = credential_sites
    log_b.requests.clear()
    records = crawler.crawl(seed, mode=mode, allow_domains=["127.0.0.1"], allow_private_addresses=True,
                            timeout=2.0, workers=2, cookie_jar=True)
    assert all(r.ok for r in records), kinds(records)
    assert "/landing" in log_b.requests  # /login set the cookie and redirected here, on another port
    assert not [h for h in log_b.all() if "cookie" in h]
