"""Tests for crawler.urls: every normalisation rule, then properties over any input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.urls import is_http_url, normalize_link, normalize_url, url_host


def _cases(*rows: tuple[str, str | None]) -> list:
    """Name each parametrised row after its input, so failures read well."""
    return [pytest.param(url, expected, id=repr(url)[:60]) for url, expected in rows]


@pytest.mark.parametrize("url, expected", _cases(
    ("HTTP://EXAMPLE.COM/Path", "http://example.com/Path"),
    ("HtTpS://Example.Com/", "https://example.com/"),
    ("http://example.com", "http://example.com/"),
    ("http://example.com?q=1", "http://example.com/?q=1"),
    ("http://example.com:80/", "http://example.com/"),
    ("https://example.com:443/", "https://example.com/"),
    ("http://example.com:443/", "http://example.com:443/"),
    ("https://example.com:80/", "https://example.com:80/"),
    ("http://example.com:8080/a", "http://example.com:8080/a"),
    ("http://example.com:0080/", "http://example.com/"),
    ("http://example.com:/a", "http://example.com/a"),
    ("http://example.com/a#frag", "http://example.com/a"),
    ("http://example.com/a?q=1#frag", "http://example.com/a?q=1"),
    ("http://example.com/#", "http://example.com/"),
    ("http://example.com/a?", "http://example.com/a"),
    ("http://user:secret@example.com/", "http://example.com/"),
    ("http://user@example.com:8080/", "http://example.com:8080/"),
    ("http://a@b@example.com/", "http://example.com/"),
))
def test_scheme_host_port_fragment_userinfo(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


@pytest.mark.parametrize("url, expected", _cases(
    ("http://a/b/c/./../../g", "http://a/g"),
    ("http://a/b/c/.", "http://a/b/c/"),
    ("http://a/b/c/..", "http://a/b/"),
    ("http://a/..", "http://a/"),
    ("http://a/../../x", "http://a/x"),
    ("http://a/./x/./y", "http://a/x/y"),
    ("http://a/b//../c", "http://a/b/c"),
    ("http://a/%2e%2E/x", "http://a/x"),
    ("http://a/.%2e/x", "http://a/x"),
    ("http://a/b.html", "http://a/b.html"),
    ("http://a/..b/c", "http://a/..b/c"),
    ("http://a/b//c", "http://a/b//c"),
))
def test_dot_segments_resolved(url: str, expected: str) -> None:
    # RFC 3986 5.2.4, after escape normalisation as WHATWG does for "%2e".
    assert normalize_url(url) == expected


@pytest.mark.parametrize("url, expected", _cases(
    ("http://a/%7e%41%5a%2D%2e%5F", "http://a/~AZ-._"),
    ("http://a/%2f%3a%3F", "http://a/%2F%3A%3F"),
    ("http://a/%2F", "http://a/%2F"),
    ("http://a/?x=%2f&y=%26", "http://a/?x=%2F&y=%26"),
    ("http://a/?x=%7E", "http://a/?x=~"),
    ("http://a/a b", "http://a/a%20b"),
    ("http://a/?q=a b", "http://a/?q=a%20b"),
    ("http://a/caf\u00e9", "http://a/caf%C3%A9"),
    ("http://a/?q=\u65e5\u672c", "http://a/?q=%E6%97%A5%E6%9C%AC"),
    ("http://a/100%", "http://a/100%25"),
    ("http://a/%zz", "http://a/%25zz"),
    ("http://a/%4", "http://a/%254"),
    ("http://a/?p=50%&q=%", "http://a/?p=50%25&q=%25"),
    ("http://a/%25", "http://a/%25"),
    ('http://a/"<>^`{|}', "http://a/%22%3C%3E%5E%60%7B%7C%7D"),
    ("http://a/?a[]=1", "http://a/?a%5B%5D=1"),
    ("http://a/p;x=1,y@z:w!$'()*+", "http://a/p;x=1,y@z:w!$'()*+"),
    ("http://a/?a=1&b=2/?c", "http://a/?a=1&b=2/?c"),
    ("http://a/\x00\x7f", "http://a/%00%7F"),
))
def test_percent_encoding_normalised(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


@pytest.mark.parametrize("url, expected", _cases(
    ("http://a/?b=2&a=1", "http://a/?b=2&a=1"),
    ("http://a/?a=1&a=1", "http://a/?a=1&a=1"),
    ("http://a/?q=a+b", "http://a/?q=a+b"),
    ("http://a/?=&&", "http://a/?=&&"),
))
def test_query_kept_in_order(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


# WHATWG's IPv4 parser (the web-platform-tests vectors): what inet_aton() and browsers accept.
@pytest.mark.parametrize("url, expected", _cases(
    ("http://2130706433/", "http://127.0.0.1/"),
    ("http://0x7f.1/", "http://127.0.0.1/"),
    ("http://0177.0.0.1/", "http://127.0.0.1/"),
    ("http://127.1/", "http://127.0.0.1/"),
    ("http://127.0.0.1./a", "http://127.0.0.1/a"),
    ("http://0X7F.0.0.1:8080/", "http://127.0.0.1:8080/"),
    ("http://4294967295/", "http://255.255.255.255/"),
    ("http://0x/", "http://0.0.0.0/"),
    ("http://%31%32%37.1/", "http://127.0.0.1/"),
    ("http://4294967296/", None),
    ("http://1.2.3.4.5/", None),
    ("http://0x100.0/", None),
    ("http://10.0.0.256/", None),
    ("http://1.2.3.09/", None),
    ("http://foo.09/", None),
    ("http://foo.0x/", None),
    ("http://0..0x300/", None),
    ("http://foo.1a/", "http://foo.1a/"),
    ("http://1.0x_1/", "http://1.0x_1/"),
    ("http://example.com./", "http://example.com./"),
))
def test_numeric_hosts_read_as_ipv4(url: str, expected: str | None) -> None:
    assert normalize_url(url) == expected


@pytest.mark.parametrize("url, expected", _cases(
    ("http://b\u00fccher.de/", "http://xn--bcher-kva.de/"),
    ("http://B\u00dcCHER.DE/", "http://xn--bcher-kva.de/"),
    ("http://\u4f8b\u5b50.\u6d4b\u8bd5/", "http://xn--fsqu00a.xn--0zwm56d/"),
    ("http://fa\u00df.de/", "http://xn--fa-hia.de/"),
    ("http://XN--BCHER-KVA.de/", "http://xn--bcher-kva.de/"),
    ("http://exa%6Dple.com/", "http://example.com/"),
    ("http://foo_bar.example.com/", "http://foo_bar.example.com/"),
    ("http://127.0.0.1:8000/", "http://127.0.0.1:8000/"),
    ("http://[::1]/", "http://[::1]/"),
    ("http://[0:0:0:0:0:0:0:1]:8080/", "http://[::1]:8080/"),
    ("http://[2001:DB8::A]/", "http://[2001:db8::a]/"),
))
def test_hosts(url: str, expected: str) -> None:
    assert normalize_url(url) == expected


@pytest.mark.parametrize("url", [
    "javascript:alert(1)", "JavaScript:void(0)", "mailto:someone@example.com",
    "tel:+15555550100", "data:text/html,<p>hi</p>", "ftp://example.com/file",
    "file:///etc/passwd", "about:blank", "ws://example.com/", "news:comp.lang.python",
    "", "   ", "example.com/page", "/relative/path", "//example.com/no-scheme",
    "http:", "http://", "http://:80/", "http://user@/", "http:///", "http://\u00ad/",
    "http://[::1", "http://[::1]x/", "http://[not-ipv6]/", "http://[1.2.3.4]/",
    "http://[fe80::1%25eth0]/",
    "http://example.com:99999/", "http://example.com:65536/", "http://example.com:-1/",
    "http://example.com:8o/", "http://example.com:\u0662/", "http://example.com:1:2/",
    "http://exa mple.com/", "http://exa<mple.com/", "http://exa%20mple.com/",
    "http://exa%mple.com/", "http://%ff.com/", "http://a%2541.com/",
    "http://\ud800.com/",
])
def test_rejected(url: str) -> None:
    assert normalize_url(url) is None


RFC_BASE = "http://a/b/c/d;p?q"


@pytest.mark.parametrize("url, expected", [
    # RFC 3986 5.4.1, normal examples (fragments then dropped, "g:h" not http).
    ("g:h", None), ("g", "http://a/b/c/g"), ("./g", "http://a/b/c/g"), ("g/", "http://a/b/c/g/"),
    ("/g", "http://a/g"), ("//g", "http://g/"), ("?y", "http://a/b/c/d;p?y"),
    ("g?y", "http://a/b/c/g?y"), ("#s", "http://a/b/c/d;p?q"), ("g#s", "http://a/b/c/g"),
    ("g?y#s", "http://a/b/c/g?y"), (";x", "http://a/b/c/;x"), ("g;x", "http://a/b/c/g;x"),
    ("g;x?y#s", "http://a/b/c/g;x?y"), ("", "http://a/b/c/d;p?q"), (".", "http://a/b/c/"),
    ("./", "http://a/b/c/"), ("..", "http://a/b/"), ("../", "http://a/b/"), ("../g", "http://a/b/g"),
    ("../..", "http://a/"), ("../../", "http://a/"), ("../../g", "http://a/g"),
    # RFC 3986 5.4.2, abnormal examples; "http:g" read the non-strict (WHATWG) way.
    ("../../../g", "http://a/g"), ("../../../../g", "http://a/g"), ("/./g", "http://a/g"),
    ("/../g", "http://a/g"), ("g.", "http://a/b/c/g."), (".g", "http://a/b/c/.g"),
    ("g..", "http://a/b/c/g.."), ("..g", "http://a/b/c/..g"), ("./../g", "http://a/b/g"),
    ("./g/.", "http://a/b/c/g/"), ("g/./h", "http://a/b/c/g/h"), ("g/../h", "http://a/b/c/h"),
    ("g;x=1/./y", "http://a/b/c/g;x=1/y"), ("g;x=1/../y", "http://a/b/c/y"),
    ("g?y/./x", "http://a/b/c/g?y/./x"), ("g?y/../x", "http://a/b/c/g?y/../x"),
    ("g#s/./x", "http://a/b/c/g"), ("g#s/../x", "http://a/b/c/g"), ("http:g", "http://a/b/c/g"),
    # An explicit empty query replaces the base's (WHATWG and RFC 3986 5.2.2 agree).
    ("?", "http://a/b/c/d;p"), ("?#s", "http://a/b/c/d;p"),
])
def test_rfc3986_reference_resolution(url: str, expected: str | None) -> None:
    assert normalize_url(url, RFC_BASE) == expected


@pytest.mark.parametrize("url, base, expected", [
    ("https://other.example/x", "http://a/b", "https://other.example/x"),
    ("//other.example/x", "https://a/b", "https://other.example/x"),
    ("HTTP://A/x", "http://b/", "http://a/x"),
    ("g", "http://a", "http://a/g"),
    ("g", "http://a/b/../c/", "http://a/c/g"),
    ("g", "  http://a/b/c  ", "http://a/b/g"),
    ("  /padded  ", "http://a/b", "http://a/padded"),
    ("\t/x\n/y\r", "http://a/b", "http://a/x/y"),
    ("..\\x\\y", "http://a/b/c", "http://a/x/y"),
    ("/x?a=\\b", "http://a/", "http://a/x?a=%5Cb"),
    ("mailto:x@a", "http://a/b", None),
    ("javascript:void(0)", "http://a/b", None),
    ("page", "mailto:x@a", None),
    ("page", "relative/base", None),
    ("page", "http://[::1", None),
])
def test_join_against_base(url: str, base: str, expected: str | None) -> None:
    assert normalize_url(url, base) == expected


# Read as browsers read them (issue 16; the web-platform-tests suite is test_wpt_urls.py).
@pytest.mark.parametrize("url, base, expected", [
    # A scheme-relative link with an empty authority: the slashes are skipped, the host follows.
    ("///test", "http://example.org/", "http://test/"),
    ("///example.org/path", "http://example.org/", "http://example.org/path"),
    ("/\\/\\//example.org/../path", "http://example.org/", "http://example.org/path"),
    ("http:///path", None, "http://path/"),
    # A special scheme without "//": its own host when it is not the base's scheme (or no base).
    ("http:example.com/", None, "http://example.com/"),
    ("https:/example.com/", None, "https://example.com/"),
    ("https:example.com/", "http://example.org/foo", "https://example.com/"),
    ("https:g", "http://a/b", "https://g/"),
    ("http:a:b@www.example.com", None, "http://www.example.com/"),
    # A browser escapes "'" in an http(s) query: "?q='1'" and "?q=%271%27" are one URL.
    ("http://host/?q='1'", None, "http://host/?q=%271%27"),
    ("http://host/it's?q=%27", None, "http://host/it's?q=%27"),
    # Code points IDNA maps to nothing (zero-width ones, the soft hyphen) vanish from hosts.
    ("http://GOO\u200b\u2060\ufeffgoo.com", None, "http://googoo.com/"),
    ("https://a%C2%ADb/", None, "https://ab/"),
    # Credentials may hold what a host may not; they are dropped all the same.
    ("http://&a:foo(b]c@d:2/", None, "http://d:2/"),
    ("https://user:pass[\x7f@foo/bar", "http://example.org", "https://foo/bar"),
    # Port 0 is a URL (the fetch then fails, and the record says so).
    ("http://f:0/c", None, "http://f:0/c"),
    ("http://f:00000000000000/c", None, "http://f:0/c"),
    # Lone surrogates become U+FFFD, as a browser's USVString conversion does; pairs join.
    ("http://example.com/\ud800x?\udfff", None, "http://example.com/%EF%BF%BDx?%EF%BF%BD"),
    ("http://example.com/\ud83d\ude00", None, "http://example.com/%F0%9F%98%80"),
])
def test_read_as_browsers_do(url: str, base: str | None, expected: str) -> None:
    assert normalize_url(url, base) == expected
    if base is not None:
        assert normalize_link(url, normalize_url(base) or "") == expected


@pytest.mark.parametrize("url, expected", [
    ("http://Example.COM/a", "example.com"),
    ("http://example.com:80/", "example.com"),
    ("https://example.com:443/", "example.com"),
    ("https://example.com:8443/", "example.com:8443"),
    ("http://example.com:443/", "example.com:443"),
    ("http://user:pw@example.com/", "example.com"),
    ("http://[::1]:8080/", "[::1]:8080"),
    ("http://b\u00fccher.de/", "xn--bcher-kva.de"),
    ("mailto:x@example.com", ""),
    ("not a url", ""),
])
def test_url_host(url: str, expected: str) -> None:
    assert url_host(url) == expected


@pytest.mark.parametrize("url, expected", [
    ("http://example.com", True),
    ("HTTPS://example.com/x", True),
    ("ftp://example.com/", False),
    ("/relative", False),
    ("http://[::1", False),
    ("javascript:alert(1)", False),
])
def test_is_http_url(url: str, expected: bool) -> None:
    assert is_http_url(url) is expected


# Strings shaped like URLs reach far deeper into the parser than arbitrary text.
_URL_CHARS = st.sampled_from(
    [*"aZ09-._~%:/?#[]@!$&'()*+,;=\\ \t\nA\u00e9\u4f8b\ud800\x00\u200b\u00ad", "%2e", "%41", "%zz", "..",
     "%27", "\ud83d\ude00"]
)
url_like = st.builds(
    lambda prefix, rest: prefix + "".join(rest),
    st.sampled_from(["http://", "HTTPS://", "http://[", "//", "", "ftp://", "http:", "http://u:p@", "///",
                     "https:", "http:/", "http:\\\\"]),
    st.lists(_URL_CHARS, max_size=40),
)
any_url = st.one_of(st.text(max_size=80), url_like)
bases = st.one_of(
    st.none(), st.sampled_from(["http://a/b/c?q", "https://x.test:8443/", "mailto:a@b"]), any_url
)


@settings(max_examples=400, deadline=None)
@given(url=any_url, base=bases)
def test_property_never_raises_and_is_canonical(url: str, base: str | None) -> None:
    result = normalize_url(url, base)
    if result is not None:
        assert result.startswith(("http://", "https://"))
        assert "#" not in result
        assert result.isascii()
        assert normalize_url(result) == result  # idempotent


# Spellings a browser reads as one URL (WHATWG), which must stay one URL to the crawl.
_SEGMENTS = st.sampled_from(["a", "B", "~", "%7E", "%7e", "caf\u00e9", "caf%C3%A9", "it's", "a b", "%2F", ".", ".."])
_QUERIES = st.sampled_from(["", "q=1", "q='1'", "q=%271%27", "a[]=1&b=x y", "\ud83d\ude00"])
_HOSTS = st.sampled_from(["example.com", "b\u00fccher.de", "127.0.0.1", "[::1]", "h"])
_INVISIBLE = st.sampled_from(["\u00ad", "\u200b", "\u2060", "\ufeff"])


@st.composite
def browser_spellings(draw: st.DrawFn) -> tuple[str, str, str | None]:
    """A URL, another spelling of it a browser reads as the same URL, and the base to read it on."""
    scheme = draw(st.sampled_from(["http", "https"]))
    host = draw(_HOSTS)
    path = "/" + "/".join(draw(st.lists(_SEGMENTS, max_size=4)))
    query = draw(_QUERIES)
    plain = f"{scheme}://{host}{path}" + (f"?{query}" if query else "")
    if host[0].isalpha() and draw(st.booleans()):  # IDNA maps these to nothing in a domain name
        cut = draw(st.integers(0, len(host)))
        host = host[:cut] + draw(_INVISIBLE) + host[cut:]
    if draw(st.booleans()):
        host = "&a:foo(b]c@" + host
    if draw(st.booleans()):
        host += ":" + str(80 if scheme == "http" else 443)
    if draw(st.booleans()):
        path = path.replace("/", "\\")
    scheme = draw(st.sampled_from([scheme, scheme.upper()]))
    rest = f"{host}{path}" + (f"?{query}" if query else "") + draw(st.sampled_from(["", "#", "#f"]))
    base, start = draw(st.sampled_from([
        (None, f"{scheme}://"), (None, f"{scheme}:"), (None, f"{scheme}:///"),
        (f"{scheme.lower()}://other.test/x", "//"), (f"{scheme.lower()}://other.test/x", "///"),
        ("ftp://other.test/", f"{scheme}:"),
    ]))
    return plain, start + rest, base


@settings(max_examples=400, deadline=None)
@given(spellings=browser_spellings())
def test_property_spellings_a_browser_reads_as_one_are_one_url(
        spellings: tuple[str, str, str | None]) -> None:
    plain, spelling, base = spellings
    canonical = normalize_url(plain)
    assert canonical is not None
    assert normalize_url(spelling, base) == canonical
    if base is not None and base.startswith("http"):
        assert normalize_link(spelling, normalize_url(base) or "") == canonical


@settings(max_examples=300, deadline=None)
@given(url=any_url)
def test_property_host_key_never_raises(url: str) -> None:
    host = url_host(url)
    assert host == host.lower()
    assert is_http_url(url) is bool(host)


page_urls = st.sampled_from([
    "http://a/b/c?q", "http://a/b/c/", "https://x.test:8443/", "http://a/", "http://a/b/c/d;p?q=1",
])
hrefs = st.one_of(
    any_url,
    st.builds(lambda prefix, rest: prefix + "".join(rest),
              st.sampled_from(["", "./", "../", "/", "?", "#", "mailto:", "javascript:", "Http:", " ", "\t"]),
              st.lists(_URL_CHARS, max_size=20)),
)


@settings(max_examples=600, deadline=None)
@given(href=hrefs, base=page_urls)
def test_property_memoised_links_match_normalize_url(href: str, base: str) -> None:
    """normalize_link caches under part of the base: the answer must not change."""
    assert normalize_link(href, base) == normalize_url(href, base)


@settings(max_examples=600, deadline=None)
@given(href=st.text(alphabet="ab./-_~0", min_size=1, max_size=12),
       base=st.sampled_from(["http://a/b/c?q", "http://a/", "http://a/%C3%A9/y", "https://x.test:8443/b/"]))
def test_property_plain_paths_skip_the_cache_and_match_normalize_url(href: str, base: str) -> None:
    """Hrefs of unreserved characters and "/" are merged directly: the answer must not change."""
    assert normalize_link(href, base) == normalize_url(href, base)


@pytest.mark.parametrize("href", [
    "c/d", "../x", "./y?z", "g;x", "mailto:m@a", "javascript:void(0)", "http:g", "//h/p", "?q=2", "#f",
    "", " ?s", "\tg", "\\g", "/p/../q", "/\n/", "/\\x", "http\t:", "HTTP://", "http:///x",
    "/p#f", "?q#f", "//h#f", "#", "mailto:m#f", " #f", "c#f/../d", "0\x08#", "a #f",
])
def test_memoised_links_against_pages_of_one_directory(href: str) -> None:
    """Pages of one directory share cached answers; those must still be right for each page."""
    for base in ("http://a/b/c?q", "http://a/b/d", "http://a/b/"):
        assert normalize_link(href, base) == normalize_url(href, base), base
