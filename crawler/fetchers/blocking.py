"""The blocking fetcher: urllib3, for the sync, threaded and process modes.

One :class:`BlockingFetcher` is shared by the threads of a crawl (urllib3's pool
manager is thread-safe); the process mode builds one per worker process.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

import urllib3
from urllib3.exceptions import HTTPError, LocationValueError, NewConnectionError
from urllib3.response import BaseHTTPResponse

from ..config import CrawlConfig
from ..models import CrawlRequest, ErrorInfo, FetchResult
from .body import (
    CHUNK_SIZE,
    CONNECTION,
    INVALID_URL,
    TIMEOUT,
    BodyReader,
    Stopwatch,
    check_url,
    describe,
    make_result,
    request_headers,
)

_TRANSPORT_ERRORS = (HTTPError, OSError)


class BlockingFetcher:
    """Fetch one URL per call with urllib3; never follows redirects, never raises for I/O.

    ``maxsize`` is how many connections are kept per host (default: ``config.workers``,
    so every thread of the threaded mode can keep one).
    """

    def __init__(self, config: CrawlConfig, *, maxsize: int | None = None) -> None:
        self._config = config
        self._pool = urllib3.PoolManager(
            maxsize=config.workers if maxsize is None else maxsize,
            headers=request_headers(config.user_agent),
            retries=False,
        )

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
        self._pool.clear()

    def fetch(self, request: CrawlRequest) -> FetchResult:
        """Make one GET request and describe what came back, errors included."""
        watch = Stopwatch()
        invalid = check_url(request.url)
        if invalid:
            return make_result(request.url, watch, error=invalid)
        try:
            response = self._pool.request(
                "GET",
                request.url,
                redirect=False,
                retries=False,
                timeout=self._timeout(),
                preload_content=False,
                decode_content=False,
            )
        except (*_TRANSPORT_ERRORS, ValueError) as exc:
            return make_result(request.url, watch, error=classify_error(exc))
        try:
            return self._receive(request, response, watch)
        finally:
            response.release_conn()

    def _timeout(self) -> urllib3.Timeout:
        """Connect and header-wait limits; the body deadline is enforced in _read_body."""
        total = self._config.timeout
        # With total set, urllib3 gives the read that waits for headers what the
        # connect left over. A server dripping its headers is still only bounded per
        # read: http.client reads headers line by line with no overall deadline.
        return urllib3.Timeout(total=total, connect=min(self._config.connect_timeout, total))

    def _receive(
        self, request: CrawlRequest, response: BaseHTTPResponse, watch: Stopwatch
    ) -> FetchResult:
        """Read the body of a response whose headers have arrived."""
        reader = BodyReader(self._config.max_body_bytes, response.headers.get("Content-Encoding"))
        error = None
        try:
            self._read_body(response, reader, watch)
        except _TRANSPORT_ERRORS as exc:
            error = classify_error(exc)
        if error or reader.done:
            # Unread body left on the wire: the connection cannot be reused.
            response.close()
        return make_result(
            request.url,
            watch,
            status=response.status,
            headers=response.headers,
            reader=reader,
            error=error,
        )

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


def _set_read_timeout(response: BaseHTTPResponse, seconds: float) -> None:
    """Make the next socket read give up when the fetch's deadline passes."""
    connection = response.connection
    sock = getattr(connection, "sock", None)
    if sock is not None:
        sock.settimeout(seconds)


def classify_error(exc: BaseException) -> ErrorInfo:
    """Turn a urllib3 or socket exception into an error kind and message."""
    if isinstance(exc, LocationValueError):
        return ErrorInfo(INVALID_URL, describe(exc))
    # NewConnectionError subclasses ConnectTimeoutError in urllib3, but means refused.
    if isinstance(exc, NewConnectionError):
        return ErrorInfo(CONNECTION, describe(exc))
    if isinstance(exc, (urllib3.exceptions.TimeoutError, TimeoutError)):
        return ErrorInfo(TIMEOUT, describe(exc))
    if isinstance(exc, _TRANSPORT_ERRORS):
        return ErrorInfo(CONNECTION, describe(exc))
    return ErrorInfo(INVALID_URL, describe(exc))  # a URL the client cannot encode
