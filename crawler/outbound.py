"""What each request carries and which way it goes: headers, credentials, proxy (pure, shared by both fetchers).

The rules, written once:

- ``headers`` (``--header 'Name: value'``) go on every request, to every host,
  and replace a default header of the same name (User-Agent, Accept ...).
- *Credentials* — ``cookies`` (``--cookie``), ``auth`` (``--auth``, or the
  seeds' ``~/.netrc`` entries with ``netrc``), and any ``Authorization``,
  ``Proxy-Authorization`` or ``Cookie`` given with ``--header`` — go only to the
  seeds' *origins*: the same scheme, host and port as a seed, plus the https
  upgrade of an http seed on the default port. Never to another host, nor to
  another port or plain http of a seed's host (curl's CVE-2022-27774 class),
  whatever led there: a link or a redirect, since each redirect target is a new
  request judged here again (wget, Scrapy, requests and curl have each leaked
  credentials across redirects to other hosts).
- The proxy: ``proxy`` (``--proxy``) for every URL, else with
  ``proxy_from_env`` the standard ``HTTP_PROXY``/``HTTPS_PROXY`` of the URL's
  scheme; hosts listed in ``no_proxy`` or ``NO_PROXY`` go direct.

Parsing of the settings lives here too, so that config validation and the
fetchers read them the same way.
"""

from __future__ import annotations

import base64
import ipaddress
import netrc as netrc_module
import os
import re
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, NamedTuple
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from .config import CrawlConfig

# (scheme, host, port): where a seed's credentials may go.
Origin = tuple[str, str, int]

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


def origin(url: str) -> Origin:
    """The (scheme, host, port) of an absolute URL, the port made explicit."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    return scheme, (parts.hostname or "").lower(), parts.port or DEFAULT_PORTS.get(scheme, 0)


def credential_origins(url: str) -> set[Origin]:
    """Where a seed's credentials may go: its origin, and its https upgrade if it is http on port 80."""
    scheme, host, port = origin(url)
    origins = {(scheme, host, port)}
    if (scheme, port) == ("http", 80):
        origins.add(("https", host, 443))
    return origins


def netrc_path(environ: Mapping[str, str] | None = None) -> str:
    """The netrc file to read: $NETRC, else ~/.netrc (as curl and requests do)."""
    environ = os.environ if environ is None else environ
    return environ.get("NETRC") or os.path.join(os.path.expanduser("~"), ".netrc")


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


class Outbound:
    """Decides, per URL, the headers a request carries and the proxy it goes through.

    ``defaults`` are the fetcher's own headers (User-Agent, Accept ...), which
    ``headers`` settings of the same name replace.
    ``seed_origins`` is kept by reference: the crawl's live set of credential
    origins (see :func:`credential_origins`), which grows as seeds are added.
    """

    def __init__(self, config: CrawlConfig, defaults: Mapping[str, str],
                 seed_origins: Collection[Origin] = (), environ: Mapping[str, str] | None = None) -> None:
        environ = os.environ if environ is None else environ
        self._origins = seed_origins
        public, private = _split_headers(config.headers)
        self._everywhere = _merge(defaults, public)
        cookies = "; ".join(f"{n}={v}" for n, v in map(parse_cookie, config.cookies))
        self._auth = basic_auth(*parse_auth(config.auth)) if config.auth else None
        self._cookies = cookies or None
        self._private = private
        self._netrc = load_netrc(netrc_path(environ)) if config.netrc and not config.auth else None
        self._proxies = _proxies(config, environ)
        self._no_proxy = (*config.no_proxy, *_env_list(environ, "no_proxy"))

    @property
    def proxy_hosts(self) -> set[str]:
        """The hosts of every proxy a request may go through."""
        return {proxy.host for proxy in self._proxies.values()}

    def headers(self, url: str, cookie: str | None = None) -> dict[str, str]:
        """Every header of a request for url; cookie is the cookie jar's Cookie value for it, if any."""
        secrets = self._credentials(url) if self._origins else {}
        if cookie:  # the jar keeps each host's own cookies: they go back to that host only
            secrets["Cookie"] = f"{secrets['Cookie']}; {cookie}" if "Cookie" in secrets else cookie
        return _merge(self._everywhere, secrets) if secrets else self._everywhere

    def _credentials(self, url: str) -> dict[str, str]:
        """The credential headers url may carry: none unless it is at a seed's origin."""
        target = origin(url)
        if target not in self._origins:
            return {}
        secrets: dict[str, str] = {}
        auth = self._auth or self._netrc_auth(target[1])
        if auth:
            secrets["Authorization"] = auth
        if self._cookies:
            secrets["Cookie"] = self._cookies
        return _merge(secrets, self._private)

    def _netrc_auth(self, host: str) -> str | None:
        """Basic auth from the netrc entry for host (or its default entry), if any."""
        entry = self._netrc.authenticators(host) if self._netrc else None
        if entry is None:
            return None
        login, _, password = entry
        return basic_auth(login, password or "")

    def proxy(self, url: str) -> Proxy | None:
        """The proxy a request for url goes through, or None to go direct."""
        if not self._proxies:
            return None
        chosen = self._proxies.get(url.partition(":")[0].lower())
        if chosen is None or not self._no_proxy:
            return chosen
        _, host, port = origin(url)
        return None if any(bypasses(entry, host, port) for entry in self._no_proxy) else chosen


def bypasses(entry: str, host: str, port: int) -> bool:
    """True when a NO_PROXY entry covers host:port, as curl reads it.

    ``*`` covers all; a domain covers itself and its subdomains (a leading dot is
    optional); ``host:port`` only that port; an address or CIDR range the addresses in it.
    """
    entry = entry.strip().lower()
    if entry == "*":
        return True
    name, _, entry_port = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
    if entry_port and entry_port != str(port):
        return False
    address = host.strip("[]")
    try:
        return ipaddress.ip_address(address) in ipaddress.ip_network(name.strip("[]"), strict=False)
    except ValueError:
        pass
    name = name.lstrip(".")
    return bool(name) and (host == name or host.endswith("." + name))


def _split_headers(texts: Collection[str]) -> tuple[dict[str, str], dict[str, str]]:
    """The --header values split into those for every host and credentials for the seeds' only."""
    public: dict[str, str] = {}
    private: dict[str, str] = {}
    for name, value in map(parse_header, texts):
        (private if name.lower() in CREDENTIAL_HEADERS else public)[name] = value
    return public, private


def _merge(base: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """base with extra's headers added, each replacing one of the same name in any case."""
    replaced = {name.lower() for name in extra}
    return {**{n: v for n, v in base.items() if n.lower() not in replaced}, **extra}


def _env_list(environ: Mapping[str, str], name: str) -> list[str]:
    """A comma-separated environment variable (lower case first, as curl reads it) as a list."""
    value = environ.get(name) or environ.get(name.upper()) or ""
    return [part.strip() for part in value.split(",") if part.strip()]


def _proxies(config: CrawlConfig, environ: Mapping[str, str]) -> dict[str, Proxy]:
    """The proxy for each URL scheme: the configured one, else the environment's."""
    if config.proxy:
        proxy = Proxy.from_url(check_proxy(config.proxy))
        return {"http": proxy, "https": proxy}
    if not config.proxy_from_env:
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
    "CREDENTIAL_HEADERS", "Origin", "Outbound", "Proxy", "SettingError", "basic_auth", "bypasses", "check_proxy",
    "credential_origins", "load_netrc", "netrc_path", "origin", "parse_auth", "parse_cookie",
    "parse_header",
]
