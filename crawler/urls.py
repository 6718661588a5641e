"""Canonical URLs: the one spelling of each address that the crawl dedups on (pure).

The output follows RFC 3986 section 6.2 (syntax-based normalisation) plus the
scheme-based rules for http and https; the input is read with the leniencies of
the WHATWG URL Standard that browsers apply to hrefs found in real pages.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Callable
from urllib.parse import SplitResult, unquote, urlsplit

from yarl import URL

# RFC 9110 4.2.1 and 4.2.2: the default port of each scheme we crawl.
DEFAULT_PORTS = {"http": 80, "https": 443}

# WHATWG URL parsing removes leading and trailing C0 controls and spaces.
_C0_AND_SPACE = "".join(map(chr, range(0x21)))
_QUERY_OR_FRAGMENT = re.compile(r"[?#]")
_TAB_OR_NEWLINE = re.compile(r"[\t\n\r]")
# An http(s) URL with "//", and the character that starts its authority (if any).
_HTTP_AUTHORITY = re.compile(r"https?://(.?)", re.IGNORECASE)
# RFC 3986 3.1: a scheme, as urlsplit recognises one.
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
# Characters that cannot start a plain relative path or a host: what WHATWG strips or
# rewrites (controls, space, "\\"), delimiters, and the end of the string.
_NOT_A_PATH_START = frozenset(map(chr, range(0x21))) | {"", "/", "\\", "?", "#", "\x7f"}

# RFC 3986 2.3: unreserved characters, whose escapes are decoded (6.2.2.2).
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# RFC 3986 3.3 and 3.4: a valid escape, or any character a path (pchar and "/") or
# a query (pchar, "/" and "?") may not hold literally, including a "%" that starts
# no valid escape.
_PATH_FIXES = re.compile(r"%[0-9A-Fa-f]{2}|[^A-Za-z0-9\-._~!$&'()*+,;=:@/]")
_QUERY_FIXES = re.compile(r"%[0-9A-Fa-f]{2}|[^A-Za-z0-9\-._~!$&'()*+,;=:@/?]")

# A path-only reference of unreserved characters and "/": already in canonical form.
_PLAIN_PATH = re.compile(r"[A-Za-z0-9\-._~/]+\Z")

# WHATWG forbidden domain code points: C0 controls, space, DEL and URL delimiters.
_FORBIDDEN_HOST = re.compile(r"[\x00-\x20\x7f#%/:<>?@\[\\\]^|]")

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
    except ValueError:  # urlsplit, int, ipaddress and IDNA all signal bad input this way
        return None


def url_host(url: str) -> str:
    """Return the lowercased host[:port] key of ``url`` (port only if not default), or ""."""
    canonical = normalize_url(url)
    return urlsplit(canonical).netloc if canonical else ""


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
            # mailto:, javascript: ... are absolute; "http:x" alone reads as relative (RFC 3986 5.2.2).
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
    """Build the canonical URL, raising ValueError on some malformed input."""
    cleaned = _clean(url)
    reference = urlsplit(cleaned)  # lowercases the scheme
    if base is None:
        scheme, netloc, path, query = reference[:4]
    else:
        scheme, netloc, path, query = _resolve(reference, cleaned, base)
    if scheme not in DEFAULT_PORTS:
        return None
    authority = _authority(netloc, DEFAULT_PORTS[scheme])
    if authority is None:
        return None
    # RFC 3986 6.2.2: normalise escapes first, since a decoded %2E can form a dot segment.
    path = _remove_dot_segments(_PATH_FIXES.sub(_fix_escape, path)) or "/"
    query = _QUERY_FIXES.sub(_fix_escape, query)
    path, query = _strip_session_ids(path, query)
    # The fragment is dropped: it never reaches the server (RFC 3986 3.5).
    return f"{scheme}://{authority}{path}?{query}" if query else f"{scheme}://{authority}{path}"


def _clean(url: str) -> str:
    """Strip what WHATWG strips and read backslashes before the query as slashes."""
    # WHATWG also removes every ASCII tab or newline, wherever it is.
    url = url.strip(_C0_AND_SPACE).replace("\t", "").replace("\n", "").replace("\r", "")
    if "\\" in url:  # WHATWG treats "\" as "/" in the authority and path of http(s) URLs
        match = _QUERY_OR_FRAGMENT.search(url)
        cut = match.start() if match else len(url)
        url = url[:cut].replace("\\", "/") + url[cut:]
    return url


def _resolve(reference: SplitResult, cleaned: str, base: str) -> tuple[str, str, str, str]:
    """Return (scheme, authority, path, query) of ``reference`` resolved against ``base``.

    RFC 3986 5.2.2, in its non-strict form (a reference repeating the base's scheme
    without an authority is relative, as WHATWG also reads it for http); dot
    segments are removed later, after escapes are normalised.  This is urljoin
    without its re-parsing, which matters at ~60 links per page.
    """
    scheme, netloc, path, query = reference[:4]
    target = urlsplit(_clean(base))  # cached by urlsplit: one base serves a whole page
    if scheme and (scheme != target.scheme or netloc):
        return scheme, netloc, path, query
    if netloc:
        return target.scheme, netloc, path, query
    if not path:
        # urlsplit cannot tell "?" (an empty query) from no query at all.
        explicit_query = query or cleaned.startswith("?")
        return target.scheme, target.netloc, target.path, query if explicit_query else target.query
    if not path.startswith("/"):
        # RFC 3986 5.2.3: merge with the base path up to its last "/".
        path = (target.path.rpartition("/")[0] if target.path else "") + "/" + path
    return target.scheme, target.netloc, path, query


@functools.lru_cache(maxsize=4096)
def _authority(netloc: str, default_port: int) -> str | None:
    """Return "host[:port]" without credentials or default port, or None if invalid.

    Memoised: a page's links share a few hosts, and IDNA or IPv4 parsing is not cheap.
    """
    # Userinfo is dropped: RFC 3986 3.2.1 deprecates passwords in URLs, and
    # credentials must not leak into records or split one page into many.
    hostport = netloc.rpartition("@")[2]
    if hostport.startswith("["):
        literal, bracket, port = hostport[1:].partition("]")
        if not bracket or (port and not port.startswith(":")):
            return None
        host = _ipv6_host(literal)
        port = port[1:]
    else:
        raw_host, _, port = hostport.partition(":")
        host = _domain_host(raw_host)
    if host is None or not (port == "" or (port.isascii() and port.isdigit())):
        return None
    number = int(port) if port else default_port
    if not 0 < number <= 65535:  # RFC 6335 6: port 0 is reserved, no server can listen on it
        return None
    return host if number == default_port else f"{host}:{number}"


def _ipv6_host(literal: str) -> str | None:
    """Return "[address]" in RFC 5952 canonical text form, or None."""
    if "%" in literal:  # WHATWG rejects zone identifiers in URLs
        return None
    return f"[{ipaddress.IPv6Address(literal).compressed}]"


def _domain_host(raw: str) -> str | None:
    """Return the lowercased ASCII (punycode) form of a host name, or None."""
    host = unquote(raw, errors="strict")  # WHATWG percent-decodes the host first
    if not host.isascii():
        # yarl applies UTS #46 IDNA processing, as WHATWG specifies.
        host = URL.build(scheme="http", host=host).raw_host or ""
    host = host.lower()
    if not host or _FORBIDDEN_HOST.search(host):
        return None
    if _ends_in_a_number(host):
        return _ipv4_host(host)
    return host


def _ends_in_a_number(host: str) -> bool:
    """WHATWG "ends in a number": then the host is an IPv4 address, or invalid."""
    labels = host.split(".")
    if labels[-1] == "" and len(labels) > 1:
        labels.pop()
    last = labels[-1]
    return (last.isascii() and last.isdigit()) or _ipv4_number(last) is not None


def _ipv4_host(host: str) -> str | None:
    """WHATWG IPv4 parsing: 2130706433, 0x7f.1 and 0177.0.0.1 all read as 127.0.0.1; None if invalid.

    Browsers and inet_aton() accept these spellings, so a canonical URL must not
    keep them: one address would become many pages, and one fetcher would connect
    where another refused.
    """
    labels = host.split(".")
    if labels[-1] == "" and len(labels) > 1:
        labels.pop()
    numbers: list[int] = []
    for label in labels:
        number = _ipv4_number(label)
        if number is None:
            return None
        numbers.append(number)
    *leading, last = numbers
    # Every part but the last is one byte; the last fills the bytes left over.
    if len(numbers) > 4 or any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        return None
    address = last + sum(n << (8 * (3 - i)) for i, n in enumerate(leading))
    return str(ipaddress.IPv4Address(address))


def _ipv4_number(label: str) -> int | None:
    """One part of a WHATWG IPv4 address: decimal, 0x-hex or 0-octal; None if it is not one."""
    if not label:
        return None
    radix = 10
    if label[:2] in ("0x", "0X"):
        label, radix = label[2:], 16
    elif len(label) > 1 and label[0] == "0":
        label, radix = label[1:], 8
    if not label:
        return 0
    if not label.isascii() or not label.isalnum():  # int() would also take "_", "+" and spaces
        return None
    try:
        return int(label, radix)
    except ValueError:
        return None


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
    # surrogatepass keeps lone surrogates (legal in str) encodable instead of raising.
    return "".join(f"%{byte:02X}" for byte in text.encode("utf-8", "surrogatepass"))


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
