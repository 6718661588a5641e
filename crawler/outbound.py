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

The settings are parsed by :mod:`crawler.http_settings`, as config validation parses them.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Collection, Mapping
from urllib.parse import urlsplit

from .config import CrawlConfig
from .http_settings import (
    CREDENTIAL_HEADERS,
    DEFAULT_PORTS,
    Proxy,
    basic_auth,
    env_list,
    load_netrc,
    netrc_path,
    parse_auth,
    parse_cookie,
    parse_header,
    proxies,
)

# (scheme, host, port): where a seed's credentials may go.
Origin = tuple[str, str, int]

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
        self._proxies = proxies(config.proxy, config.proxy_from_env, environ)
        self._no_proxy = (*config.no_proxy, *env_list(environ, "no_proxy"))

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


__all__ = ["Origin", "Outbound", "bypasses", "credential_origins", "origin"]
