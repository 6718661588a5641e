"""URLs as browsers read them: the web-platform-tests URL suite through our normalisation.

The data is ``url/resources/urltestdata.json`` of web-platform-tests
(https://github.com/web-platform-tests/wpt, 3-Clause BSD licence), the suite
browsers and URL libraries (rust-url, ada, WebKit's) run. It is vendored
unchanged as ``data/urltestdata.json``: WPT's master as copied byte for byte by
ada-url/ada's ``tools/update-wpt.sh`` into ada commit c4f3af64 of 2026-07-11
(ada's ``tests/wpt/urltestdata.json``; sha256 checked below). To refresh it, copy
the file from a newer WPT checkout and update ``_SHA256``.

Every case whose input, base or result is an http(s) URL runs through
``normalize_url`` and the link normaliser. Where a browser reads an http(s) URL,
we must return that URL with the project's documented deviations applied (the
small functions in ``DEVIATIONS``, also listed in the README); everywhere else
(a parse failure, another scheme) we must return None. No case is skipped or
expected to fail: beyond ``DEVIATIONS`` we read every one as a browser does.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest

from crawler.urls import link_normalizer, normalize_url

_DATA = Path(__file__).parent / "data" / "urltestdata.json"
_SHA256 = "355c9f1e5f34aae66ba8adfabf3c853f5cd30ea22964ef7a53eb292e7975d81e"
_HTTP = ("http:", "https:")
_HEX = "0123456789ABCDEFabcdef"
# RFC 3986 2.3 and 3.3/3.4: unreserved characters, and what else a path or a query may hold raw.
_UNRESERVED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PATH_CHARS = _UNRESERVED | set("!$&'()*+,;=:@/")
_QUERY_CHARS = _PATH_CHARS | {"?"}
# WHATWG strips leading C0 controls and spaces before it looks for a scheme.
_LEADING_JUNK = "".join(map(chr, range(0x21)))


@dataclass(frozen=True)
class BrowserURL:
    """The parts of a URL as a browser serialises it (its ``href``)."""

    scheme: str
    userinfo: str
    hostport: str
    path: str
    query: str | None
    fragment: str | None

    @classmethod
    def from_href(cls, href: str) -> BrowserURL:
        """Split a WHATWG-serialised http(s) href, whose delimiters are never escaped away."""
        scheme, _, rest = href.partition("://")
        rest, hash_sign, fragment = rest.partition("#")
        rest, question, query = rest.partition("?")
        authority, slash, path = rest.partition("/")
        userinfo, _, hostport = authority.rpartition("@")
        return cls(scheme, userinfo, hostport, slash + path,
                   query if question else None, fragment if hash_sign else None)

    def href(self) -> str:
        """Serialise again, WHATWG-style."""
        userinfo = f"{self.userinfo}@" if self.userinfo else ""
        query = "" if self.query is None else f"?{self.query}"
        fragment = "" if self.fragment is None else f"#{self.fragment}"
        return f"{self.scheme}://{userinfo}{self.hostport}{self.path}{query}{fragment}"


# The project's deliberate deviations from a browser's reading, each one small function.
# (Default ports are dropped by browsers too, so they need none.)

def drop_fragment(url: BrowserURL) -> BrowserURL:
    """The fragment never reaches the server (RFC 3986 3.5): "/a#x" and "/a" are one page."""
    return replace(url, fragment=None)


def drop_credentials(url: BrowserURL) -> BrowserURL:
    """Userinfo must not leak into records, nor split one page into many."""
    return replace(url, userinfo="")


def drop_empty_query(url: BrowserURL) -> BrowserURL:
    """An empty query ("/a?") is the page without one to every server we know (as in w3lib, Heritrix)."""
    return replace(url, query=url.query or None)


def normalise_escapes(url: BrowserURL) -> BrowserURL:
    """RFC 3986 6.2.2: unreserved escapes decoded, others uppercased, what RFC 3986 forbids escaped."""
    query = None if url.query is None else normalise_escapes_in(url.query, query=True)
    return replace(url, path=normalise_escapes_in(url.path, query=False), query=query)


def normalise_escapes_in(text: str, *, query: bool) -> str:
    """The RFC 3986 6.2.2 escape normalisation of one (ASCII, browser-escaped) path or query."""
    allowed, out, i = (_QUERY_CHARS if query else _PATH_CHARS), [], 0
    while i < len(text):
        escape = text[i + 1:i + 3]
        if text[i] == "%" and len(escape) == 2 and all(c in _HEX for c in escape):
            char = chr(int(escape, 16))
            out.append(char if char in _UNRESERVED else "%" + escape.upper())
            i += 3
            continue
        out.append(text[i] if text[i] in allowed else f"%{ord(text[i]):02X}")
        i += 1
    return "".join(out)


DEVIATIONS = (drop_fragment, drop_credentials, drop_empty_query, normalise_escapes)


def expected_canonical(case: dict[str, Any]) -> str | None:
    """What normalize_url must return for a WPT case: the browser's reading, with DEVIATIONS."""
    href = case.get("href")
    if case.get("failure") or not href or not href.startswith(_HTTP):
        return None
    url = BrowserURL.from_href(href)
    for deviation in DEVIATIONS:
        url = deviation(url)
    return url.href()


def _is_http(text: str | None) -> bool:
    """True if ``text`` (as WHATWG would read it) starts with an http(s) scheme."""
    return text is not None and text.lstrip(_LEADING_JUNK).lower().startswith(_HTTP)


def _http_cases() -> list[Any]:
    """Every WPT case whose input, base or result is an http(s) URL, as pytest params."""
    cases = [case for case in json.loads(_DATA.read_text(encoding="utf-8")) if isinstance(case, dict)]
    chosen = [case for case in cases
              if _is_http(case.get("href")) or _is_http(case["input"]) or _is_http(case.get("base"))]
    return [pytest.param(case, id=f"{n}:{ascii(case['input'])[:50]}") for n, case in enumerate(chosen)]


HTTP_CASES = _http_cases()
# Those that name a page the link could be found on (an http(s) base that is a URL).
LINK_CASES = [param for param in HTTP_CASES if normalize_url(param.values[0].get("base") or "")]


def test_vendored_suite_is_unchanged_and_large() -> None:
    assert hashlib.sha256(_DATA.read_bytes()).hexdigest() == _SHA256
    assert len(HTTP_CASES) >= 480  # 482 in this copy: the selection did not silently shrink


@pytest.mark.parametrize("case", HTTP_CASES)
def test_normalize_url_reads_urls_as_browsers_do(case: dict[str, Any]) -> None:
    assert normalize_url(case["input"], case.get("base")) == expected_canonical(case)


@pytest.mark.parametrize("case", LINK_CASES)
def test_link_normalizer_reads_urls_as_browsers_do(case: dict[str, Any]) -> None:
    """The memoised normaliser of a page's links, on the page at the (canonical) base."""
    page = normalize_url(case["base"])
    assert page is not None
    assert link_normalizer(page)(case["input"]) == expected_canonical(case)


@pytest.mark.parametrize("href, canonical", [
    ("http://u:p@h/a?#f", "http://h/a"),
    ("https://h/%7e%2f|%?%27[%4a", "https://h/~%2F%7C%25?%27%5BJ"),
    ("http://h/a?q", "http://h/a?q"),
])
def test_deviations_applied_to_a_browser_href(href: str, canonical: str) -> None:
    assert expected_canonical({"href": href}) == canonical
