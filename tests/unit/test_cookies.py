"""The opt-in cookie jar: each host's cookies back to that host (and port) only, bounded."""

from __future__ import annotations

from crawler.cookies import MAX_COOKIE_BYTES, MAX_PER_HOST, CookieJar, parse_set_cookie

NOW = 1_700_000_000.0
SITE = "https://shop.example"


def jar_with(url: str, *headers: str) -> CookieJar:
    """A jar that has seen these Set-Cookie headers on a response for url."""
    jar = CookieJar()
    jar.update(url, headers, NOW)
    return jar


def test_a_cookie_goes_back_to_its_host_and_port_only() -> None:
    jar = jar_with(SITE + "/login", "session=abc; Path=/; HttpOnly; Domain=shop.example; SameSite=Lax")
    assert jar.header(SITE + "/account") == "session=abc"
    assert jar.header("https://www.shop.example/") is None      # Domain is ignored: no subdomain
    assert jar.header("https://example/") is None
    assert jar.header("https://shop.example:8443/") is None     # another port, another service
    assert jar.header("http://shop.example/") is None           # port 80 is another port too


def test_paths_secure_and_order() -> None:
    jar = jar_with(SITE + "/shop/cart", "a=1", "b=2; Path=/", "c=3; Path=/shop/cart/items", "d=4; Secure")
    assert jar.header(SITE + "/shop/cart") == "a=1; d=4; b=2"   # a, d: default path /shop
    assert jar.header(SITE + "/shop/cart/items/7") == "c=3; a=1; d=4; b=2"
    assert jar.header(SITE + "/shopping") == "b=2"               # /shop does not path-match /shopping
    assert jar_with("http://plain.example/", "s=1; Secure").header("http://plain.example/") is None


def test_replacing_and_deleting() -> None:
    jar = jar_with(SITE + "/", "s=1; Path=/", "t=1; Path=/")
    jar.update(SITE + "/", ["s=2; Path=/", "t=; Path=/; Max-Age=0"], NOW)
    assert jar.header(SITE + "/") == "s=2"
    jar.update(SITE + "/", ["s=gone; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT"], NOW)
    assert jar.header(SITE + "/") is None
    jar.update(SITE + "/", ["u=kept; Path=/; Expires=Fri, 01 Jan 2100 00:00:00 GMT", "v=1; Expires=nonsense"], NOW)
    assert jar.header(SITE + "/") == "u=kept; v=1"


def test_malformed_and_oversized_cookies_are_ignored() -> None:
    assert parse_set_cookie("no-equals-sign", "/", NOW) is None
    assert parse_set_cookie("=value", "/", NOW) is None
    assert parse_set_cookie("big=" + "x" * MAX_COOKIE_BYTES, "/", NOW) is None


def test_a_site_cannot_grow_the_jar_without_bound() -> None:
    jar = CookieJar()
    jar.update(SITE + "/", [f"c{i}=v; Path=/" for i in range(MAX_PER_HOST * 3)], NOW)
    sent = jar.header(SITE + "/") or ""
    assert sent.count("=") == MAX_PER_HOST and f"c{MAX_PER_HOST * 3 - 1}=v" in sent and "c0=" not in sent
