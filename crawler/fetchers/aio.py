"""The async fetcher: one aiohttp session, many requests in flight on one event loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Collection
from types import TracebackType
from typing import Self

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from ..config import CrawlConfig
from ..errors import ErrorKind
from ..models import CrawlRequest, ErrorInfo, Exchange, FetchResult
from ..outbound import Origin, Outbound
from .body import (
    CHUNK_SIZE,
    BodyReader,
    Stopwatch,
    check_url,
    describe,
    make_result,
    request_headers,
)
from .capture import capture, request_head
from .guard import AddressGuard, blocked_cause
from .tls import certificate_error, tls_context

_TRANSPORT_ERRORS = (aiohttp.ClientError, TimeoutError, OSError)


class AsyncFetcher:
    """Fetch one URL per call with aiohttp; never follows redirects, never raises for I/O.

    Use it as an async context manager: the session lives between enter and exit.
    ``connector_limit`` caps open connections in total (default: ``config.concurrency``).
    ``trusted_hosts`` are the seeds' hosts, exempt from the private-address guard
    (see :mod:`crawler.fetchers.guard`); ``seed_origins`` are where the seeds'
    credentials may go (see :mod:`crawler.outbound`).
    """

    def __init__(self, config: CrawlConfig, *, connector_limit: int | None = None,
                 trusted_hosts: Collection[str] = (), seed_origins: Collection[Origin] = ()) -> None:
        self._config = config
        self._limit = config.concurrency if connector_limit is None else connector_limit
        self._outbound = Outbound(config, request_headers(config.user_agent), seed_origins)
        self._guard = AddressGuard.for_config(config, trusted_hosts, self._outbound.proxy_hosts)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def open(self) -> None:
        """Create the session; must run inside the event loop that will use it."""
        if self._session is not None:
            return
        connector = aiohttp.TCPConnector(
            limit=self._limit, limit_per_host=0, ttl_dns_cache=300, enable_cleanup_closed=True,
            resolver=GuardedResolver(self._guard), ssl=tls_context(self._config) or True,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            # The proxy comes from Outbound, which reads the environment once for both fetchers.
            trust_env=False,
            # total bounds a server that drips bytes forever; sock_connect bounds the handshake.
            timeout=aiohttp.ClientTimeout(
                total=self._config.timeout, sock_connect=self._config.connect_timeout
            ),
            # Decompression is done by BodyReader, which bounds the decoded size.
            auto_decompress=False,
            # No cookies are kept, so none can follow a redirect to another host, and a
            # site cannot grow the jar without bound by setting a new one on every page.
            cookie_jar=aiohttp.DummyCookieJar(),
            # Only WARC output needs the server's address.
            response_class=PeerResponse if self._config.capture else aiohttp.ClientResponse,
        )

    async def close(self) -> None:
        """Close the session and its connections."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(self, request: CrawlRequest) -> FetchResult:
        """Make one request (GET, or HEAD for a link check) and describe what came back, errors included."""
        if self._session is None:
            raise RuntimeError("AsyncFetcher used outside 'async with' (or before open())")
        watch = Stopwatch()
        invalid = check_url(request.url) or self._guard.check_url(request.url)
        if invalid:
            return make_result(request.url, watch, error=invalid)
        proxy = self._outbound.proxy(request.url)
        headers = self._outbound.headers(request.url, request.cookie)
        if proxy is not None and proxy.headers and request.url.startswith("http:"):
            # aiohttp sends proxy_headers only on a CONNECT; a plain http request is the proxy's own.
            headers = {**headers, **proxy.headers}
        try:
            await self._lookup_first(request.url, proxy is not None)
            async with self._session.request(
                request.method, request.url, allow_redirects=False, headers=headers,
                proxy=proxy and proxy.url, proxy_headers=proxy and proxy.headers,
            ) as response:
                return await self._receive(request, response, watch)
        except (*_TRANSPORT_ERRORS, ValueError) as exc:
            return make_result(request.url, watch, error=self._classify(exc))

    async def _lookup_first(self, url: str, proxied: bool) -> None:
        """Resolve a guarded target the resolver will not see (a proxy's), raising BlockedAddress if private."""
        target = self._guard.lookup_first(url, proxied)
        if target is None:
            return
        host, port = target
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        self._guard.check_addresses(host, (str(info[4][0]) for info in infos))

    async def _receive(
        self, request: CrawlRequest, response: aiohttp.ClientResponse, watch: Stopwatch
    ) -> FetchResult:
        """Read the body of a response whose headers have arrived."""
        capturing = self._config.capture
        reader = BodyReader(self._config.max_body_bytes, response.headers.get("Content-Encoding"),
                            keep_raw=capturing)
        error = None
        try:
            await _read_body(response, reader)
        except _TRANSPORT_ERRORS as exc:
            error = self._classify(exc)
        if error or reader.done:
            # Unread body left on the wire: the connection cannot be reused.
            response.close()
        exchange = _exchange(request, response, reader, watch, error) if capturing else None
        return make_result(
            request.url,
            watch,
            status=response.status,
            headers=response.headers,
            reader=reader,
            error=error,
            # Kept only for the core's cookie jar; without it no cookie is kept at all.
            set_cookies=response.headers.getall("Set-Cookie", ()) if self._config.cookie_jar else (),
            exchange=exchange,
        )

    def _classify(self, exc: BaseException) -> ErrorInfo:
        """classify_error, naming the deadline when aiohttp's timeout carries no message."""
        untrusted = certificate_error(exc)
        if untrusted is not None:
            return untrusted
        blocked = blocked_cause(exc)
        if blocked is not None:
            return ErrorInfo(ErrorKind.BLOCKED_ADDRESS, str(blocked))
        if isinstance(exc, TimeoutError) and not str(exc):
            return ErrorInfo(ErrorKind.TIMEOUT, f"no complete response within {self._config.timeout} s")
        return classify_error(exc)


class GuardedResolver(AbstractResolver):
    """aiohttp's default resolver, whose answers pass the address guard before any connect.

    aiohttp connects to exactly the addresses returned here, so what is checked is
    what is used. Literal IP hosts never reach a resolver: ``fetch`` checks those.
    """

    def __init__(self, guard: AddressGuard) -> None:
        self._guard = guard
        self._inner = aiohttp.DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """Resolve host; raise BlockedAddress (an OSError) if the guard refuses an answer."""
        addresses = await self._inner.resolve(host, port, family)
        self._guard.check_addresses(host, (address["host"] for address in addresses), connecting=True)
        return addresses

    async def close(self) -> None:
        """Release the inner resolver."""
        await self._inner.close()


class PeerResponse(aiohttp.ClientResponse):
    """A response that remembers the address it came from (for WARC-IP-Address).

    aiohttp gives a small response's connection back to the pool before the
    caller sees it, so the address is read when the response starts.
    """

    peer: str | None = None

    async def start(self, connection: aiohttp.connector.Connection) -> aiohttp.ClientResponse:
        """Note the peer's address, then read the status line and headers."""
        transport = connection.transport
        peer = transport.get_extra_info("peername") if transport is not None else None
        self.peer = str(peer[0]) if peer else None
        return await super().start(connection)


def _exchange(request: CrawlRequest, response: aiohttp.ClientResponse, reader: BodyReader,
              watch: Stopwatch, error: ErrorInfo | None) -> Exchange:
    """What WARC output keeps of this exchange: the headers as aiohttp sent and received them."""
    sent = request_head(request.url, response.request_info.headers.items())
    version = response.version
    protocol = f"HTTP/{version.major}.{version.minor}" if version else "HTTP/1.1"
    status_line = f"{protocol} {response.status} {response.reason or ''}".rstrip()
    received = ((name.decode("latin-1"), value.decode("latin-1"))
                for name, value in response.raw_headers)
    ip = getattr(response, "peer", None)
    return capture(request.url, sent, status_line, received, reader, ip, watch, error)


async def _read_body(response: aiohttp.ClientResponse, reader: BodyReader) -> None:
    """Feed raw chunks to the reader until the body ends or the reader has enough."""
    async for chunk in response.content.iter_chunked(CHUNK_SIZE):
        if not reader.feed(chunk):
            return


def classify_error(exc: BaseException) -> ErrorInfo:
    """Turn an aiohttp or socket exception into an error kind and message."""
    if isinstance(exc, TimeoutError):  # includes aiohttp's ServerTimeoutError
        return ErrorInfo(ErrorKind.TIMEOUT, describe(exc))
    if isinstance(exc, (aiohttp.InvalidURL, aiohttp.NonHttpUrlClientError)):
        return ErrorInfo(ErrorKind.INVALID_URL, describe(exc))
    if isinstance(exc, _TRANSPORT_ERRORS):
        return ErrorInfo(ErrorKind.CONNECTION, describe(exc))
    return ErrorInfo(ErrorKind.INVALID_URL, describe(exc))  # a URL the client cannot encode
