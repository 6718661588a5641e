"""The blocking fetcher: urllib3, for the sync, threaded and process modes.

One :class:`BlockingFetcher` is shared by the threads of a crawl (urllib3's pool
manager is thread-safe); the process mode builds one per worker process.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Collection, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import urlsplit

import urllib3
from urllib3.exceptions import (
    HTTPError,
    InsecureRequestWarning,
    LocationValueError,
    NameResolutionError,
    NewConnectionError,
)
from urllib3.response import BaseHTTPResponse

from ..config import CrawlConfig
from ..errors import ErrorKind
from ..http_settings import Proxy
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
from .connections import POOL_CLASSES_BY_SCHEME, Served, serving
from .guard import AddressGuard, blocked_cause
from .tls import certificate_error, tls_context

_TRANSPORT_ERRORS = (HTTPError, OSError)
_Manager = TypeVar("_Manager", bound=urllib3.PoolManager)


class BlockingFetcher:
    """Fetch one URL per call with urllib3; never follows redirects, never raises for I/O.

    ``maxsize`` is how many connections are kept per host (default: ``config.workers``,
    so every thread of the threaded mode can keep one). ``trusted_hosts`` are the
    seeds' hosts, exempt from the private-address guard (see :mod:`crawler.fetchers.guard`);
    ``seed_origins`` are where the seeds' credentials may go (see :mod:`crawler.outbound`);
    ``environ`` is where proxy variables and $NETRC are read (default: this process's).
    urllib3 keeps no cookies: the core's jar, if any, comes in on each request.
    """

    def __init__(self, config: CrawlConfig, *, maxsize: int | None = None,
                 trusted_hosts: Collection[str] = (), seed_origins: Collection[Origin] = (),
                 environ: Mapping[str, str] | None = None) -> None:
        self._config = config
        self._outbound = Outbound(config, request_headers(config.user_agent), seed_origins, environ)
        self._guard = AddressGuard.for_config(config, trusted_hosts, self._outbound.proxy_hosts)
        context = tls_context(config)
        tls: dict[str, Any] = {} if context is None else {"ssl_context": context, "cert_reqs": context.verify_mode}
        if not config.verify_tls:  # asked for: no warning on every request
            urllib3.disable_warnings(InsecureRequestWarning)
        self._pool_options: dict[str, Any] = {
            "maxsize": config.workers if maxsize is None else maxsize, "retries": False, **tls,
        }
        self._pool = self._manager(urllib3.PoolManager(**self._pool_options))
        # One manager per proxy, made on first use; the lock keeps threads from making two.
        self._proxied: dict[str, urllib3.ProxyManager] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _manager(manager: _Manager) -> _Manager:
        """manager with connections that check addresses and stop at the total deadline (see .connections)."""
        manager.pool_classes_by_scheme = POOL_CLASSES_BY_SCHEME
        return manager

    def _through(self, proxy: Proxy | None) -> urllib3.PoolManager:
        """The pool manager that sends requests through proxy (or directly when None)."""
        if proxy is None:
            return self._pool
        with self._lock:
            manager = self._proxied.get(proxy.url)
            if manager is None:
                manager = self._proxied[proxy.url] = self._manager(urllib3.ProxyManager(
                    proxy.url, proxy_headers=dict(proxy.headers), **self._pool_options))
        return manager

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close every pooled connection."""
        for manager in (self._pool, *self._proxied.values()):
            manager.clear()

    def fetch(self, request: CrawlRequest) -> FetchResult:
        """Make one request (GET, or HEAD for a link check) and describe what came back, errors included."""
        watch = Stopwatch()
        invalid = check_url(request.url) or self._guard.check_url(request.url)
        if invalid:
            return make_result(request.url, watch, error=invalid)
        proxy = self._outbound.proxy(request.url)
        with serving(self._guard, self._config.timeout) as served:
            try:
                self._lookup_first(request.url, proxy is not None)
                response = self._send(request, proxy)
            except (*_TRANSPORT_ERRORS, ValueError) as exc:
                return make_result(request.url, watch, error=self._classify(exc, served))
        try:
            if served.watchdog.expired:
                # The shutdown ended the header block early: what arrived is not a response.
                response.close()
                return make_result(request.url, watch, error=self._deadline_error())
            return self._receive(request, response, watch)
        finally:
            response.release_conn()

    def _lookup_first(self, url: str, proxied: bool) -> None:
        """Resolve a guarded target no connection will check (a proxy's), raising BlockedAddress if private."""
        target = self._guard.lookup_first(url, proxied)
        if target is not None:
            host, port = target
            try:
                infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except socket.gaierror as exc:
                raise NameResolutionError(host, None, exc) from exc  # type: ignore[arg-type]
            self._guard.check_addresses(host, (str(info[4][0]) for info in infos))

    def _send(self, request: CrawlRequest, proxy: Proxy | None) -> BaseHTTPResponse:
        """Send the request (GET, or HEAD for a link check); read the status line and headers, not the body."""
        return self._through(proxy).request(
            request.method,
            request.url,
            headers=self._outbound.headers(request.url, request.cookie),
            redirect=False,
            retries=False,
            timeout=self._timeout(),
            preload_content=False,
            decode_content=False,
        )

    def _timeout(self) -> urllib3.Timeout:
        """Connect and per-read limits; the watchdog and _read_body enforce the total deadline."""
        total = self._config.timeout
        # Each read is bounded by what the connect left over, but http.client reads
        # headers line by line with no overall deadline: the watchdog of serving() ends
        # a fetch whose headers are still dripping in when the deadline passes.
        return urllib3.Timeout(total=total, connect=min(self._config.connect_timeout, total))

    def _classify(self, exc: BaseException, served: Served) -> ErrorInfo:
        """classify_error, knowing that a watchdog shutdown or a guard refusal caused exc."""
        if served.watchdog.expired:
            return self._deadline_error()
        blocked = blocked_cause(exc)
        if blocked is not None:
            return ErrorInfo(ErrorKind.BLOCKED_ADDRESS, str(blocked))
        return certificate_error(exc) or classify_error(exc)

    def _deadline_error(self) -> ErrorInfo:
        """The error of a fetch whose headers were still arriving at the deadline."""
        return ErrorInfo(ErrorKind.TIMEOUT, f"no complete response headers within {self._config.timeout} s")

    def _receive(
        self, request: CrawlRequest, response: BaseHTTPResponse, watch: Stopwatch
    ) -> FetchResult:
        """Read the body of a response whose headers have arrived."""
        capturing = self._config.capture
        reader = BodyReader(self._config.max_body_bytes, response.headers.get("Content-Encoding"),
                            keep_raw=capturing)
        ip = _peer_address(response) if capturing else None  # before the connection goes back
        error = None
        try:
            self._read_body(response, reader, watch)
        except _TRANSPORT_ERRORS as exc:
            error = classify_error(exc)
        if error or reader.done:
            # Unread body left on the wire: the connection cannot be reused.
            response.close()
        exchange = self._exchange(request, response, reader, ip, watch, error) if capturing else None
        return make_result(
            request.url,
            watch,
            status=response.status,
            headers=response.headers,
            reader=reader,
            error=error,
            # Kept only for the core's cookie jar; without it no cookie is kept at all.
            set_cookies=response.headers.getlist("Set-Cookie") if self._config.cookie_jar else (),
            exchange=exchange,
        )

    def _exchange(self, request: CrawlRequest, response: BaseHTTPResponse, reader: BodyReader,
                  ip: str | None, watch: Stopwatch, error: ErrorInfo | None) -> Exchange:
        """What WARC output keeps of this exchange: http.client's view of the response head."""
        host = urlsplit(request.url).netloc
        headers = self._outbound.headers(request.url, request.cookie)  # as _send sent them
        sent = request_head(request.url, [("Host", host), *headers.items()])
        original = getattr(response, "_original_response", None)  # http.client's response
        if original is None:
            received: list[tuple[str, str]] = list(response.headers.items())
            status_line = f"HTTP/1.1 {response.status} {response.reason or ''}"
        else:
            # raw_items: every field as parsed, in order, duplicates and spelling kept.
            received = list(original.msg.raw_items())
            protocol = "HTTP/1.0" if original.version == 10 else "HTTP/1.1"
            status_line = f"{protocol} {original.status} {original.reason}"
        return capture(request.url, sent, status_line.rstrip(), received, reader, ip, watch, error)

    def _read_body(self, response: BaseHTTPResponse, reader: BodyReader, watch: Stopwatch) -> None:
        """Feed raw chunks to the reader, enforcing the total deadline between reads."""
        while True:
            remaining = watch.remaining(self._config.timeout)
            if remaining <= 0:
                raise TimeoutError(f"body not complete within {self._config.timeout} s")
            _set_read_timeout(response, remaining)
            # read1 returns what one socket read brings; read(amt) would wait for
            # amt bytes and let a dripping server slip past the deadline check.
            chunk = response.read1(CHUNK_SIZE)
            if not chunk or not reader.feed(chunk):
                return


def _peer_address(response: BaseHTTPResponse) -> str | None:
    """The address of the server that answered, read from the response's socket."""
    sock = getattr(response.connection, "sock", None)
    try:
        return str(sock.getpeername()[0]) if sock is not None else None
    except OSError:
        return None


def _set_read_timeout(response: BaseHTTPResponse, seconds: float) -> None:
    """Make the next socket read give up when the fetch's deadline passes."""
    connection = response.connection
    sock = getattr(connection, "sock", None)
    if sock is not None:
        sock.settimeout(seconds)


def classify_error(exc: BaseException) -> ErrorInfo:
    """Turn a urllib3 or socket exception into an error kind and message."""
    if isinstance(exc, LocationValueError):
        return ErrorInfo(ErrorKind.INVALID_URL, describe(exc))
    # NewConnectionError subclasses ConnectTimeoutError in urllib3, but means refused.
    if isinstance(exc, NewConnectionError):
        return ErrorInfo(ErrorKind.CONNECTION, describe(exc))
    if isinstance(exc, (urllib3.exceptions.TimeoutError, TimeoutError)):
        return ErrorInfo(ErrorKind.TIMEOUT, describe(exc))
    if isinstance(exc, _TRANSPORT_ERRORS):
        return ErrorInfo(ErrorKind.CONNECTION, describe(exc))
    return ErrorInfo(ErrorKind.INVALID_URL, describe(exc))  # a URL the client cannot encode
