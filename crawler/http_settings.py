"""What requests may carry, as settings: headers, cookies, credentials, proxies — parsed and checked.

Values only: :mod:`crawler.config` checks settings with these parsers, and
:mod:`crawler.outbound` decides with them which request carries what.
"""

from __future__ import annotations

import base64
import netrc as netrc_module
import os
import re
from collections.abc import Mapping
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
PROXY_SCHEMES = ("http", "https")
# Headers that identify the user: given with --header, they are credentials (curl treats them so).
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
# RFC 9110 5.1: a field name is a token.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# RFC 6265 4.1.1: a cookie value is cookie-octets (no controls, space, '"', ',', ';' or '\').
_COOKIE_VALUE = re.compile(r'[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*')
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class SettingError(ValueError):
    """A header, cookie, credential or proxy setting is malformed; the message is one line."""


def parse_header(text: str) -> tuple[str, str]:
    """'Name: value' as (name, value); SettingError if there is no colon, a bad name or a line break."""
    name, colon, value = text.partition(":")
    if not colon:
        raise SettingError(f"header {text!r} has no colon: give it as 'Name: value'")
    name, value = name.strip(), value.strip()
    if not _TOKEN.fullmatch(name):
        raise SettingError(f"header {text!r}: {name!r} is not a valid header name")
    if _CONTROL.search(value):
        raise SettingError(f"header {name!r}: the value holds a line break or control character")
    return name, value


def parse_cookie(text: str) -> tuple[str, str]:
    """'name=value' as (name, value); SettingError if malformed."""
    name, equals, value = text.partition("=")
    name, value = name.strip(), value.strip()
    if not equals or not _TOKEN.fullmatch(name):
        raise SettingError(f"cookie {text!r} is not name=value")
    if not _COOKIE_VALUE.fullmatch(value):
        raise SettingError(f"cookie {name!r}: the value may not hold spaces, quotes, commas, semicolons "
                           "or backslashes")
    return name, value


def parse_auth(text: str) -> tuple[str, str]:
    """'user:password' as (user, password); SettingError without a colon."""
    user, colon, password = text.partition(":")
    if not colon or not user:
        raise SettingError("auth must be USER:PASSWORD")
    if _CONTROL.search(text):
        raise SettingError("auth holds a line break or control character")
    return user, password


def check_proxy(url: str) -> str:
    """The proxy URL if it is http(s)://host[:port]; SettingError otherwise."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port validates it
    except ValueError as exc:
        raise SettingError(f"proxy {url!r} is not a valid URL: {exc}") from None
    if parts.scheme.lower() not in PROXY_SCHEMES:
        scheme = parts.scheme or "none"
        raise SettingError(f"proxy {url!r}: scheme {scheme!r} is not supported (give http:// or https://)")
    if not parts.hostname or parts.path not in ("", "/") or parts.query:
        raise SettingError(f"proxy {url!r} must be http(s)://HOST[:PORT]")
    return url


def basic_auth(user: str, password: str) -> str:
    """The Authorization value of HTTP Basic auth (RFC 7617, UTF-8)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def netrc_path(environ: Mapping[str, str] | None = None) -> str:
    """The netrc file to read: $NETRC, else ~/.netrc (as curl and requests do)."""
    environ = os.environ if environ is None else environ
    return environ.get("NETRC") or os.path.join(environ.get("HOME") or os.path.expanduser("~"), ".netrc")


def load_netrc(path: str) -> netrc_module.netrc:
    """Parse a netrc file; SettingError if it cannot be read or parsed."""
    try:
        return netrc_module.netrc(path)
    except FileNotFoundError:
        raise SettingError(f"netrc: no file {path} (set NETRC to use another)") from None
    except (OSError, netrc_module.NetrcParseError) as exc:
        raise SettingError(f"netrc: cannot use {path}: {exc}") from None


class Proxy(NamedTuple):
    """A proxy to send requests through: its URL without credentials, and the headers it is sent."""

    url: str
    headers: Mapping[str, str]

    @classmethod
    def from_url(cls, url: str) -> Proxy:
        """Split http(s)://user:password@host:port into the bare URL and a Proxy-Authorization header."""
        parts = urlsplit(url)
        bare = f"{parts.scheme.lower()}://{parts.netloc.rpartition('@')[2]}"
        if parts.username is None:
            return cls(bare, {})
        return cls(bare, {"Proxy-Authorization": basic_auth(unquote(parts.username),
                                                             unquote(parts.password or ""))})

    @property
    def host(self) -> str:
        """The proxy's host name or address."""
        return (urlsplit(self.url).hostname or "").lower()


def env_list(environ: Mapping[str, str], name: str) -> list[str]:
    """A comma-separated environment variable (lower case first, as curl reads it) as a list."""
    value = environ.get(name) or environ.get(name.upper()) or ""
    return [part.strip() for part in value.split(",") if part.strip()]


def proxies(proxy: str | None, from_env: bool, environ: Mapping[str, str]) -> dict[str, Proxy]:
    """The proxy for each URL scheme: the one given, else (from_env) the environment's."""
    if proxy:
        chosen = Proxy.from_url(check_proxy(proxy))
        return {"http": chosen, "https": chosen}
    if not from_env:
        return {}
    found: dict[str, Proxy] = {}
    for scheme in DEFAULT_PORTS:
        names = [f"{scheme}_proxy", f"{scheme.upper()}_PROXY"]
        if scheme == "http" and "REQUEST_METHOD" in environ:
            # Under CGI a request's Proxy header arrives as HTTP_PROXY (httpoxy, CVE-2016-5385).
            names.pop()
        value = next((environ[n] for n in names if environ.get(n)), None)
        if value:
            found[scheme] = Proxy.from_url(check_proxy(value if "://" in value else f"http://{value}"))
    return found


__all__ = [
    "CREDENTIAL_HEADERS", "DEFAULT_PORTS", "Proxy", "SettingError", "basic_auth", "check_proxy", "env_list",
    "load_netrc", "netrc_path", "parse_auth", "parse_cookie", "parse_header", "proxies",
]
