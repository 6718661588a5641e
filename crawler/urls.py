"""Canonical URLs: the one spelling of each address that the crawl dedups on (pure).

A link is read as a browser reads it: the WHATWG URL Standard, parsed by ada
(the parser Node.js uses, checked against the web-platform-tests suite). The
result is then made canonical for dedup, with RFC 3986 section 6.2
(syntax-based normalisation): fragment, credentials and an empty query
dropped, escapes normalised, session ids removed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

import ada_url

# RFC 9110 4.2.1 and 4.2.2: the default port of each scheme we crawl.
DEFAULT_PORTS = {"http": 80, "https": 443}

_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
# An http(s) URL with "//", and the character that starts its authority (if any).
_HTTP_AUTHORITY = re.compile(r"https?://(.?)", re.IGNORECASE)
# WHATWG 4.4 (scheme state): a scheme.
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
# Characters that cannot start a plain relative path or a host: what WHATWG strips or
# rewrites (controls, space, "\\"), delimiters, and the end of the string.
_NOT_A_PATH_START = frozenset(map(chr, range(0x21))) | {"", "/", "\\", "?", "#", "\x7f"}
# UTF-16 surrogates: in a str only when lone (or paired by hand), never in a page's text.
_SURROGATE = re.compile("[\ud800-\udfff]")

# RFC 3986 2.3: unreserved characters, whose escapes are decoded (6.2.2.2).
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# RFC 3986 3.3 and 3.4: a valid escape, or any character a path (pchar and "/") or
# a query (pchar, "/" and "?") may not hold literally, including a "%" that starts
# no valid escape. WHATWG leaves some of these raw ("|", "[", "%" ...); we escape them.
_PATH_FIXES = re.compile(r"%[0-9A-Fa-f]{2}|[^A-Za-z0-9\-._~!$&'()*+,;=:@/]")
_QUERY_FIXES = re.compile(r"%[0-9A-Fa-f]{2}|[^A-Za-z0-9\-._~!$&'()*+,;=:@/?]")

# A path-only reference of unreserved characters and "/": already in canonical form.
_PLAIN_PATH = re.compile(r"[A-Za-z0-9\-._~/]+\Z")

# Session ids carried in URLs (servlet ";jsessionid=", PHP "PHPSESSID=", classic ASP
# "ASPSESSIONIDxxxxxxxx=", "sid=" ...): a server that writes a fresh one into every link
# turns each page into endless URLs. Like Heritrix's StripSessionIDs canonicalisation,
# a parameter with such a name is dropped when its value looks like a token (16 or more
# letters, digits, "-", "_" or "."), so "?sid=42" (a series id, say) stays.
_SESSION_PARAM = (r"(?:jsessionid|phpsessid|aspsessionid[a-z]{8}|sessionid|session_id|sid)"
                  r"=[0-9a-z_.\-]{16,}")
_SESSION_IN_PATH = re.compile(rf";{_SESSION_PARAM}(?=[;/]|$)", re.IGNORECASE)
_SESSION_IN_QUERY = re.compile(rf"(?:^|&){_SESSION_PARAM}(?=&|$)", re.IGNORECASE)


def normalize_url(url: str, base: str | None = None) -> str | None:
    """Return the canonical absolute http(s) form of ``url`` joined to ``base``, or None."""
    try:
        return _normalize(url, base)
    except ValueError:  # ada's "Invalid URL"
        return None


def url_host(url: str) -> str:
    """Return the lowercased host[:port] key of ``url`` (port only if not default), or ""."""
    canonical = normalize_url(url)
    return canonical_netloc(canonical) if canonical else ""


def split_canonical(url: str) -> tuple[str, str, str]:
    """Split a URL already in canonical form into (scheme, host[:port], path?query), cheaply.

    The crawl core calls this for every link it sees, so it slices strings
    instead of parsing: canonical URLs always have an authority and a path.
    """
    scheme, _, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    return scheme, netloc, slash + path


def canonical_netloc(url: str) -> str:
    """The host[:port] of a canonical URL: the key for per-host politeness."""
    return split_canonical(url)[1]


def canonical_hostname(url: str) -> str:
    """The host of a canonical URL, without its port (IPv6 keeps its brackets)."""
    netloc = split_canonical(url)[1]
    if netloc.startswith("["):
        return netloc[: netloc.find("]") + 1]
    return netloc.partition(":")[0]


def link_normalizer(base: str) -> Callable[[str], str | None]:
    """normalize_url for the hrefs found on one page at canonical URL base, memoised.

    Sites repeat the same links (navigation, footers) on every page, so the
    answer is cached under the smallest part of base it can depend on: nothing
    for an absolute URL, the origin for "/path", the directory for "path".
    Both are worked out once per page.
    """
    scheme, netloc, _ = split_canonical(base)
    origin = f"{scheme}://{netloc}"
    # A relative path is merged with the base path up to its last "/" (RFC 3986 5.2.3):
    # the base's last segment and query cannot change the answer.
    directory = base.partition("?")[0].rpartition("/")[0] + "/"
    directory_path = directory[len(origin):]

    def normalize(href: str) -> str | None:
        if _TAB_OR_NEWLINE.search(href):  # WHATWG deletes these anywhere, which can change the href's kind
            return _normalize_cached(href, base)
        # The fragment is dropped anyway, and it changes nothing before it: "/a#x" and "/a#y"
        # share one cache entry, and "#x" (or "") is the page itself. (Unless what precedes
        # it ends in a space or control, which only the end of the whole href would strip.)
        head = href.partition("#")[0]
        if not head:
            return base
        if head[-1] > " ":
            href = head
        if _PLAIN_PATH.match(href) and href[:2] != "//":
            # Nothing to escape, strip or look up: merge and remove dot segments, as
            # normalize_url would (most links of most pages are like this).
            path = href if href[0] == "/" else directory_path + href
            return origin + (_remove_dot_segments(path) or "/")
        authority = _HTTP_AUTHORITY.match(href)
        if authority and authority.group(1) not in _NOT_A_PATH_START:
            return _normalize_cached(href, None)  # an authority of its own: the base plays no part
        first = href[:1]
        if first == "/" and href[1:2] not in ("/", "\\"):
            return _normalize_cached(href, origin)
        if first in _NOT_A_PATH_START:
            return _normalize_cached(href, base)
        scheme_match = _SCHEME.match(href)
        if scheme_match:
            # mailto:, javascript: ... are absolute. WHATWG reads "http:x" on an http page as
            # relative and "https:x" as https://x/; both go to ada with the page, to keep this simple.
            same_scheme = scheme_match.group(1).lower() in DEFAULT_PORTS
            return _normalize_cached(href, base if same_scheme else None)
        return _normalize_cached(href, directory)

    return normalize


def normalize_link(href: str, base: str) -> str | None:
    """normalize_url for one href found on a page at canonical URL base (see link_normalizer)."""
    return link_normalizer(base)(href)


@functools.lru_cache(maxsize=32768)
def _normalize_cached(href: str, base: str | None) -> str | None:
    """normalize_url behind an LRU cache."""
    return normalize_url(href, base)


def is_http_url(url: str) -> bool:
    """Return True if ``url`` is an absolute http or https URL that can be crawled."""
    return normalize_url(url) is not None


def _normalize(url: str, base: str | None) -> str | None:
    """Build the canonical URL, raising ValueError on malformed input."""
    href = _whatwg_href(_scalar_values(url), None if base is None else _scalar_values(base))
    scheme, _, rest = href.partition("://")
    if scheme not in DEFAULT_PORTS:
        return None
    # The fragment is dropped: it never reaches the server (RFC 3986 3.5).
    rest = rest.partition("#")[0]
    # A serialised http(s) URL always has a host and a path starting with "/"; any "/", "?",
    # "#" or "@" of the userinfo is escaped, and the default port is already gone.
    authority, _, path_and_query = rest.partition("/")
    # Userinfo is dropped: RFC 3986 3.2.1 deprecates passwords in URLs, and
    # credentials must not leak into records or split one page into many.
    host = authority.rpartition("@")[2]
    path, _, query = path_and_query.partition("?")
    # WHATWG has removed dot segments (and "%2e" ones), so decoding escapes forms no new ones.
    path = _PATH_FIXES.sub(_fix_escape, "/" + path)
    query = _QUERY_FIXES.sub(_fix_escape, query)
    path, query = _strip_session_ids(path, query)
    # An empty query ("?" alone) is dropped, as an empty fragment is: servers answer both alike.
    return f"{scheme}://{host}{path}?{query}" if query else f"{scheme}://{host}{path}"


def _whatwg_href(url: str, base: str | None) -> str:
    """The URL as a browser reads it (WHATWG URL Standard, parsed by ada), serialised."""
    return ada_url.URL(url).href if base is None else ada_url.join_url(base, url)


def _scalar_values(text: str) -> str:
    """Replace lone surrogates by U+FFFD, as browsers convert a string to a USVString."""
    if text.isascii() or not _SURROGATE.search(text):
        return text
    # Round-tripping through UTF-16 pairs up surrogates that form a character, as JavaScript would.
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _strip_session_ids(path: str, query: str) -> tuple[str, str]:
    """Remove session-id parameters from a path's segments and from a query."""
    if ";" in path:  # RFC 3986 3.3: segment parameters follow a ";"
        path = _SESSION_IN_PATH.sub("", path)
    if query and _SESSION_IN_QUERY.search(query):
        query = _SESSION_IN_QUERY.sub("", query).lstrip("&")
    return path, query


def _fix_escape(match: re.Match[str]) -> str:
    """Decode an unreserved escape, uppercase another, or percent-encode a character."""
    text = match.group()
    if len(text) == 3:  # a "%XX" escape: every other match is one character
        char = chr(int(text[1:], 16))
        return char if char in _UNRESERVED else text.upper()
    return f"%{ord(text):02X}"  # WHATWG has escaped all but ASCII


def _remove_dot_segments(path: str) -> str:
    """Resolve "." and ".." segments of an absolute path (RFC 3986 5.2.4)."""
    if "/." not in path:  # every segment follows a "/", so there is no dot segment
        return path
    segments = path.split("/")
    output: list[str] = []
    for segment in segments:
        if segment == "..":
            if len(output) > 1:  # output[0] is the empty root segment
                output.pop()
        elif segment != ".":
            output.append(segment)
    if segments[-1] in (".", ".."):
        output.append("")  # "/a/b/.." names the directory "/a/", keeping its slash
    return "/".join(output)


__all__ = [
    "DEFAULT_PORTS", "canonical_hostname", "canonical_netloc", "is_http_url", "link_normalizer", "normalize_link",
    "normalize_url", "split_canonical", "url_host",
]
