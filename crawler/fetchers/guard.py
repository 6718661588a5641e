"""Which addresses a fetch may connect to: no internal networks for hosts reached by links.

A crawl that follows links to other hosts (``allow_domains``) must not let a page
steer it into the network it runs in (server-side request forgery): a link or a
redirect to ``http://169.254.169.254/`` would read a cloud's instance metadata,
one to ``http://10.0.0.1/`` an intranet page. So when other hosts are allowed and
``allow_private_addresses`` is off, a fetch is refused with error kind
``blocked_address`` if its host is, or resolves to, an address that is not public
unicast — private, loopback, link-local, CGNAT, unique-local, multicast, reserved.
The seeds' own hosts are trusted: the user chose them, so crawling a site on
127.0.0.1 keeps working.

Literal addresses are refused before any connection is attempted. Names are
checked on the very addresses the fetcher then connects to (the resolver's
answer), so DNS rebinding cannot swap another one in between check and connect;
a name with any non-public address is refused whole, since mixing a public and a
private answer is itself a rebinding trick.

Through a proxy, the fetcher connects to the proxy (whose own address is not
judged: a proxy on loopback is the usual case) and the proxy resolves the
target; so the target's name is resolved and checked here first
(:meth:`AddressGuard.lookup_first`). The proxy's own lookup could differ — it
sits in the network it chooses to serve.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection, Iterable
from urllib.parse import urlsplit

from ..config import CrawlConfig
from ..errors import ErrorKind
from ..models import ErrorInfo
from .body import wrapped_errors

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# RFC 6052 2.1: the NAT64 well-known prefix carries an IPv4 address in its last 32 bits.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
# Ranges Python 3.11 still counts as global: RFC 6890 IETF protocol assignments (it
# holds Oracle Cloud's 192.0.0.192 metadata service) and RFC 8215 local-use NAT64.
_ALSO_BLOCKED = (ipaddress.IPv4Network("192.0.0.0/24"), ipaddress.IPv6Network("64:ff9b:1::/48"))


class BlockedAddress(OSError):
    """A host is, or resolves to, an address this crawl may not connect to."""


def is_public_address(address: str | IPAddress) -> bool:
    """True for a public unicast address, looking through IPv4 embedded in IPv6."""
    ip = ipaddress.ip_address(address.split("%")[0] if isinstance(address, str) else address)
    if isinstance(ip, ipaddress.IPv6Address):
        # RFC 4291 2.5.5.2 (mapped), RFC 3056 (6to4) and NAT64 reach an IPv4 host.
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        ip = embedded or ip
    if any(ip in network for network in _ALSO_BLOCKED if network.version == ip.version):
        return False
    return ip.is_global and not ip.is_multicast


def literal_address(host: str) -> IPAddress | None:
    """The address a host names literally (IPv6 with or without brackets), or None."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


class AddressGuard:
    """Refuses non-public addresses for every host but the trusted (seed) ones."""

    def __init__(self, active: bool, trusted_hosts: Collection[str] = (),
                 proxy_hosts: Collection[str] = ()) -> None:
        self.active = active
        # Kept by reference: the crawl core's live set of seed hosts (canonical form).
        self._trusted = trusted_hosts
        self._proxies = frozenset(proxy_hosts)

    @classmethod
    def for_config(cls, config: CrawlConfig, trusted_hosts: Collection[str] = (),
                   proxy_hosts: Collection[str] = ()) -> AddressGuard:
        """On when the crawl may follow links to other hosts and private addresses are not allowed."""
        return cls(bool(config.allow_domains) and not config.allow_private_addresses, trusted_hosts,
                   proxy_hosts)

    def guards(self, host: str) -> bool:
        """True when the addresses of host must be checked."""
        if not self.active:
            return False
        host = host.lower()
        return host not in self._trusted and f"[{host}]" not in self._trusted

    def guards_connection(self, host: str) -> bool:
        """True when a connection to host must be checked: a guarded host that is not a proxy.

        A target whose name is a proxy's is checked before sending by lookup_first.
        """
        return self.guards(host) and host.lower() not in self._proxies

    def lookup_first(self, url: str, proxied: bool) -> tuple[str, int] | None:
        """The (host, port) to resolve and check before sending url, or None if the connection checks it.

        That is a guarded named host reached through a proxy (the proxy resolves it),
        or whose name is a proxy's (its connection is not checked).
        """
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        if not (proxied or host in self._proxies) or not self.guards(host) or literal_address(host):
            return None
        return host, parts.port or (443 if parts.scheme == "https" else 80)

    def check_url(self, url: str) -> ErrorInfo | None:
        """A blocked_address error for a URL naming a non-public address literally, else None."""
        host = urlsplit(url).hostname or ""
        if not self.guards(host):  # first: most crawls guard nothing, and parsing addresses costs
            return None
        address = literal_address(host)
        if address is None or is_public_address(address):
            return None
        return ErrorInfo(ErrorKind.BLOCKED_ADDRESS, _refusal(host, address))

    def check_addresses(self, host: str, addresses: Iterable[str], *, connecting: bool = False) -> None:
        """Raise BlockedAddress if host is guarded and any of its addresses is not public.

        connecting: host is what a connection is opened to, which may be a proxy.
        """
        if not (self.guards_connection(host) if connecting else self.guards(host)):
            return
        for address in addresses:
            if not is_public_address(address):
                raise BlockedAddress(_refusal(host, address))


def _refusal(host: str, address: str | IPAddress) -> str:
    """The message of a refused fetch."""
    return (f"{host} is at {address}, not a public address: refused for a host other than "
            "the seeds' (allow it with --allow-private)")


def blocked_cause(exc: BaseException) -> BlockedAddress | None:
    """The BlockedAddress behind an HTTP client's wrapping exceptions, if any."""
    return next((e for e in wrapped_errors(exc) if isinstance(e, BlockedAddress)), None)
