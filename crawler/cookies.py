"""The opt-in cookie jar (``cookie_jar``, ``--cookies``): each host's cookies go back to that host only.

Pure: the crawl core keeps one jar, fills it from the ``Set-Cookie`` headers of
each response and hands every request the ``Cookie`` value for its URL, so every
mode, the process mode's workers too, sees one session.

Stricter than a browser, on purpose (RFC 6265 with these departures): cookies are
keyed by host *and port* — RFC 6265 8.5 does not isolate ports, but a crawler has
no reason to carry a session to another service — and ``Domain`` is ignored, so a
cookie never reaches a subdomain or a parent domain. ``Path`` is matched,
``Secure`` cookies go over https only (and are refused from plain http),
``Max-Age`` and ``Expires`` delete a cookie when they say it has expired.
A hostile site cannot grow the jar without bound: at most ``MAX_PER_HOST``
cookies of ``MAX_COOKIE_BYTES`` each per host, and ``MAX_HOSTS`` hosts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

MAX_PER_HOST = 50
MAX_COOKIE_BYTES = 4096
MAX_HOSTS = 10_000


@dataclass(frozen=True, slots=True)
class Cookie:
    """One stored cookie: what is sent, and where it may go."""

    name: str
    value: str
    path: str
    secure: bool


@dataclass(frozen=True, slots=True)
class _SetCookie:
    """One parsed Set-Cookie header."""

    cookie: Cookie
    expired: bool


class CookieJar:
    """Cookies by host and port, from Set-Cookie headers, back to the same host and port only."""

    def __init__(self) -> None:
        self._hosts: dict[str, dict[tuple[str, str], Cookie]] = {}

    def update(self, url: str, set_cookies: Iterable[str], now: float) -> None:
        """Store (or delete) the cookies a response for url set; now is its wall-clock time."""
        parts = urlsplit(url)
        key = _host_key(parts.hostname, parts.port, parts.scheme)
        for header in set_cookies:
            parsed = parse_set_cookie(header, _default_path(parts.path), now)
            if parsed is None or (parsed.cookie.secure and parts.scheme != "https"):
                continue
            self._store(key, parsed)

    def _store(self, key: str, parsed: _SetCookie) -> None:
        """Add, replace or delete one cookie of a host, within the bounds."""
        cookies = self._hosts.get(key)
        name = (parsed.cookie.name, parsed.cookie.path)
        if parsed.expired:
            if cookies:
                cookies.pop(name, None)
            return
        if cookies is None:
            if len(self._hosts) >= MAX_HOSTS:
                del self._hosts[next(iter(self._hosts))]  # the host seen longest ago
            cookies = self._hosts[key] = {}
        cookies.pop(name, None)  # a replaced cookie counts as new: it goes last
        if len(cookies) >= MAX_PER_HOST:
            del cookies[next(iter(cookies))]
        cookies[name] = parsed.cookie

    def header(self, url: str) -> str | None:
        """The Cookie header value for a request to url, or None."""
        parts = urlsplit(url)
        cookies = self._hosts.get(_host_key(parts.hostname, parts.port, parts.scheme))
        if not cookies:
            return None
        path = parts.path or "/"
        https = parts.scheme == "https"
        chosen = [c for c in cookies.values() if _path_matches(path, c.path) and (https or not c.secure)]
        # RFC 6265 5.4: longer paths first; otherwise in the order they were set.
        chosen.sort(key=lambda c: -len(c.path))
        return "; ".join(f"{c.name}={c.value}" for c in chosen) or None


def parse_set_cookie(header: str, default_path: str, now: float) -> _SetCookie | None:
    """One Set-Cookie header (RFC 6265 5.2), or None if it is to be ignored."""
    if len(header) > MAX_COOKIE_BYTES:
        return None
    pair, *attributes = header.split(";")
    name, equals, value = pair.partition("=")
    name, value = name.strip(), value.strip()
    if not equals or not name:
        return None
    path, secure, expired, max_age_seen = default_path, False, False, False
    for attribute in attributes:
        key, _, argument = attribute.partition("=")
        key, argument = key.strip().lower(), argument.strip()
        if key == "path" and argument.startswith("/"):
            path = argument
        elif key == "secure":
            secure = True
        elif key == "max-age" and argument.lstrip("-").isdigit():
            max_age_seen, expired = True, int(argument) <= 0  # Max-Age wins over Expires
        elif key == "expires" and not max_age_seen:
            expired = _in_the_past(argument, now)
    return _SetCookie(Cookie(name, value, path, secure), expired)


def _in_the_past(date: str, now: float) -> bool:
    """True when an Expires date is before now (an unreadable date is ignored)."""
    try:
        return parsedate_to_datetime(date).timestamp() <= now
    except (TypeError, ValueError, IndexError, OverflowError):
        return False


def _host_key(host: str | None, port: int | None, scheme: str) -> str:
    """The jar's key: host and port, the default port made explicit."""
    return f"{(host or '').lower()}:{port or (443 if scheme == 'https' else 80)}"


def _default_path(path: str) -> str:
    """RFC 6265 5.1.4: the directory of the request path."""
    if not path.startswith("/") or path.count("/") == 1:
        return "/"
    return path[: path.rfind("/")]


def _path_matches(request_path: str, cookie_path: str) -> bool:
    """RFC 6265 5.1.4 path-match."""
    if request_path == cookie_path:
        return True
    if not request_path.startswith(cookie_path):
        return False
    return cookie_path.endswith("/") or request_path[len(cookie_path)] == "/"


__all__ = ["MAX_COOKIE_BYTES", "MAX_HOSTS", "MAX_PER_HOST", "Cookie", "CookieJar", "parse_set_cookie"]
