"""Which headers, credentials and proxy each request gets: the pure decisions of crawler.outbound."""

from __future__ import annotations

from pathlib import Path

import pytest

from crawler.config import ConfigError, CrawlConfig, load_config
from crawler.http_settings import Proxy, basic_auth
from crawler.outbound import Outbound, bypasses, credential_origins

DEFAULTS = {"User-Agent": "test-agent", "Accept": "text/html"}
SEED = "https://site.example/start"


def outbound(environ: dict[str, str] | None = None, seeds: tuple[str, ...] = (SEED,), **settings) -> Outbound:
    """An Outbound for the seeds, with settings and a given environment."""
    origins = {o for seed in seeds for o in credential_origins(seed)}
    return Outbound(CrawlConfig(**settings), DEFAULTS, origins, environ or {})


CREDENTIALS = {"headers": ("X-Team: blue", "Authorization: Bearer t0ken", "user-agent: mine"),
               "cookies": ("session=abc", "lang=en")}


def test_headers_go_everywhere_and_replace_defaults_of_any_case() -> None:
    sent = outbound(**CREDENTIALS).headers("https://elsewhere.example/")
    assert sent == {"Accept": "text/html", "X-Team": "blue", "user-agent": "mine"}


@pytest.mark.parametrize("url, carries", [
    ("https://site.example/any/page", True),
    ("https://site.example:443/robots.txt", True),
    ("https://other.example/", False),            # another host
    ("https://sub.site.example/", False),         # a subdomain is another host
    ("http://site.example/", False),              # plain http: never a downgrade
    ("https://site.example:8443/", False),        # another port (curl CVE-2022-27774)
])
def test_credentials_go_to_the_seeds_origins_only(url: str, carries: bool) -> None:
    sent = outbound(**CREDENTIALS).headers(url)
    secrets = {k: v for k, v in sent.items() if k in ("Authorization", "Cookie")}
    assert secrets == ({"Authorization": "Bearer t0ken", "Cookie": "session=abc; lang=en"} if carries else {})


def test_basic_auth_and_the_https_upgrade_of_an_http_seed() -> None:
    shaper = outbound(seeds=("http://site.example/",), auth="ann:pa:ss")
    expected = "Basic " + "YW5uOnBhOnNz"  # ann:pa:ss
    assert basic_auth("ann", "pa:ss") == expected
    assert shaper.headers("http://site.example/a")["Authorization"] == expected
    assert shaper.headers("https://site.example/a")["Authorization"] == expected
    assert "Authorization" not in shaper.headers("http://site.example:8080/")


def test_an_explicit_authorization_header_wins_over_auth() -> None:
    sent = outbound(auth="ann:pw", headers=("Authorization: Bearer x",)).headers(SEED)
    assert sent["Authorization"] == "Bearer x"


def test_the_jar_cookie_joins_the_given_cookies() -> None:
    shaper = outbound(cookies=("a=1",))
    assert shaper.headers(SEED, cookie="b=2")["Cookie"] == "a=1; b=2"
    assert shaper.headers("https://other.example/", cookie="c=3")["Cookie"] == "c=3"


def test_netrc_credentials_for_the_seeds_hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    netrc = tmp_path / "netrc"
    netrc.write_text("machine site.example login ann password s3cret\nmachine other.example login x password y\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    shaper = outbound({"NETRC": str(netrc)}, netrc=True)
    assert shaper.headers(SEED)["Authorization"] == basic_auth("ann", "s3cret")
    assert "Authorization" not in shaper.headers("https://other.example/")  # not a seed's host


def test_proxy_from_the_setting_or_the_environment() -> None:
    env = {"http_proxy": "http://p1:3128", "HTTPS_PROXY": "https://ann:p%40ss@p2:8443", "NO_PROXY": "internal.example"}
    shaper = outbound(env)
    assert shaper.proxy("http://a.example/") == Proxy("http://p1:3128", {})
    assert shaper.proxy("https://a.example/") == Proxy("https://p2:8443",
                                                       {"Proxy-Authorization": basic_auth("ann", "p@ss")})
    assert shaper.proxy("https://www.internal.example/") is None
    assert shaper.proxy_hosts == {"p1", "p2"}
    assert outbound(env, proxy="http://mine:1").proxy("https://a.example/") == Proxy("http://mine:1", {})
    assert outbound(env, proxy_from_env=False).proxy("http://a.example/") is None
    assert outbound({"REQUEST_METHOD": "GET", "HTTP_PROXY": "http://evil:1"}).proxy("http://a.example/") is None


@pytest.mark.parametrize("entry, host, port, covered", [
    ("*", "any.example", 80, True),
    ("example.com", "example.com", 80, True),
    (".example.com", "www.example.com", 443, True),
    ("example.com", "badexample.com", 80, False),
    ("localhost:8080", "localhost", 8080, True),
    ("localhost:8080", "localhost", 80, False),
    ("10.0.0.0/8", "10.1.2.3", 80, True),
    ("10.0.0.0/8", "11.1.2.3", 80, False),
    ("::1", "[::1]", 80, True),
])
def test_no_proxy_entries(entry: str, host: str, port: int, covered: bool) -> None:
    assert bypasses(entry, host, port) is covered


@pytest.mark.parametrize("settings, message", [
    ({"headers": ("X-Token abc",)}, "has no colon"),
    ({"headers": ("Bad Name: x",)}, "not a valid header name"),
    ({"headers": ("X-A: b\r\nX-Injected: 1",)}, "line break"),
    ({"cookies": ("novalue",)}, "is not name=value"),
    ({"cookies": ("a=b; c=d",)}, "may not hold"),
    ({"auth": "nopassword"}, "USER:PASSWORD"),
    ({"proxy": "socks5://127.0.0.1:1080"}, "scheme 'socks5' is not supported"),
    ({"proxy": "ftp://proxy.example"}, "scheme 'ftp' is not supported"),
    ({"proxy": "127.0.0.1:3128"}, "is not supported"),
    ({"proxy": "http://proxy.example/path"}, "must be http(s)://HOST[:PORT]"),
])
def test_malformed_settings_are_refused_in_one_line(settings: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=None) as caught:
        CrawlConfig(**settings)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_bad_proxy_in_the_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("https_proxy", "socks5h://127.0.0.1:1080")
    with pytest.raises(ConfigError, match="socks5h"):
        CrawlConfig()
    assert CrawlConfig(proxy_from_env=False).proxy is None


def test_netrc_that_is_missing_is_refused(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    with pytest.raises(ConfigError, match="netrc: no file"):
        CrawlConfig(netrc=True)


def test_secrets_stay_out_of_the_config_repr_and_the_state_database() -> None:
    from crawler.resume import identity  # what --state saves of a crawl's settings

    config = CrawlConfig(auth="ann:s3cret", cookies=("s=t0ken",), headers=("X-Key: k3y",),
                         proxy="http://u:pw@p:1")
    for shown in (repr(config), repr(identity([SEED], config))):
        assert not any(secret in shown for secret in ("s3cret", "t0ken", "k3y", "pw@"))


def test_every_setting_from_a_config_file(tmp_path: Path) -> None:
    path = tmp_path / "crawl.toml"
    path.write_text('[crawl]\nheaders = ["X-A: 1", "X-B: 2"]\ncookies = "s=1"\nauth = "u:p"\n'
                    'proxy = "http://127.0.0.1:3128"\nno_proxy = ["intranet"]\n'
                    'proxy_from_env = false\n')
    config = load_config(path)
    assert (config.headers, config.cookies, config.auth, config.proxy, config.no_proxy) == (
        ("X-A: 1", "X-B: 2"), ("s=1",), "u:p", "http://127.0.0.1:3128", ("intranet",))
    path.write_text('[crawl]\nheaders = ["no colon"]\n')
    with pytest.raises(ConfigError, match="has no colon"):
        load_config(path)


def test_a_proxys_exemption_covers_the_connection_to_it_not_targets_named_like_it() -> None:
    from crawler.fetchers.guard import AddressGuard, BlockedAddress

    guard = AddressGuard(True, {"seed.example"}, proxy_hosts={"127.0.0.1", "proxy.internal"})
    assert guard.check_url("http://127.0.0.1:8080/admin") is not None  # a link to the proxy's address
    guard.check_addresses("127.0.0.1", ["127.0.0.1"], connecting=True)  # connecting to the proxy is fine
    with pytest.raises(BlockedAddress):
        guard.check_addresses("proxy.internal", ["10.0.0.1"])  # as a target it is judged
    assert guard.lookup_first("http://proxy.internal:22/", proxied=False) == ("proxy.internal", 22)
    assert guard.lookup_first("https://other.example/", proxied=True) == ("other.example", 443)
    assert guard.lookup_first("https://seed.example/", proxied=True) is None  # seeds are trusted
    assert guard.lookup_first("https://other.example/", proxied=False) is None  # its connection is checked
