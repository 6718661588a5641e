"""A minimal HTTP/1.1 server for the demo site: canned answers, a fixed latency, keep-alive.

The demo site stands in for servers that, in a real crawl, run on other
machines. It shares the benchmark's CPUs, so it must take as little of them as
it can: a full framework spends about 0.4 ms of CPU per request, which on two
cores is a tenth of what the crawler under test gets. This protocol answers
requests from a lookup table for about a quarter of that. It reads no
request bodies: a request with one is refused and the connection closed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from http import HTTPStatus
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

# A request head larger than this is refused: no crawler sends one.
MAX_HEAD_BYTES = 16 * 1024


class Answer(NamedTuple):
    """A response to send: status, Content-Type (charset included) and body."""

    status: int
    content_type: str
    body: bytes


class Handler(NamedTuple):
    """What the server asks of the site it serves."""

    # (method, decoded path, query) -> the answer and whether it counts as a site request.
    answer: Callable[[str, str, str], tuple[Answer, bool]]
    started: Callable[[str], None]  # a counted request began (its path and query)
    finished: Callable[[], None]  # a counted request was answered or abandoned
    delay: float  # seconds before each counted answer


class HttpConnection(asyncio.Protocol):
    """One client connection: requests answered in order, each after the handler's delay."""

    def __init__(self, handler: Handler, connections: set[HttpConnection]) -> None:
        self._handler = handler
        self._connections = connections
        self._transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._pending: asyncio.TimerHandle | None = None  # the answer being waited out
        self._counted = False  # whether the pending answer is a counted request

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Start reading requests."""
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._connections.add(self)

    def data_received(self, data: bytes) -> None:
        """Buffer what arrived; answer the next request once its head is complete."""
        self._buffer += data
        self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection; a request still waiting is abandoned."""
        self._connections.discard(self)
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
            if self._counted:
                self._handler.finished()
        self._transport = None

    def abort(self) -> None:
        """Drop the connection now (the server is stopping)."""
        if self._transport is not None:
            self._transport.abort()

    def _next(self) -> None:
        """Parse the next buffered request, unless one is being answered."""
        if self._pending is not None or self._transport is None:
            return
        end = self._buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self._buffer) > MAX_HEAD_BYTES:
                self._send(error_answer(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE), "GET", keep_alive=False)
            return
        head = bytes(self._buffer[:end])
        del self._buffer[: end + 4]
        request = _parse_head(head)
        if request is None:
            self._send(error_answer(HTTPStatus.BAD_REQUEST), "GET", keep_alive=False)
            return
        method, path, query, keep_alive, has_body = request
        if has_body:  # bodies are never read, so the connection could not go on
            self._send(error_answer(HTTPStatus.METHOD_NOT_ALLOWED), method, keep_alive=False)
            return
        answer, counted = self._handler.answer(method, path, query)
        self._counted = counted
        if counted:
            self._handler.started(f"{path}?{query}" if query else path)
        delay = self._handler.delay if counted else 0.0
        loop = asyncio.get_running_loop()
        self._pending = loop.call_later(delay, self._answer, answer, method, keep_alive)

    def _answer(self, answer: Answer, method: str, keep_alive: bool) -> None:
        """Send a waited-out answer, then go on to the next request."""
        self._pending = None
        if self._counted:
            self._handler.finished()
        self._send(answer, method, keep_alive)
        self._next()

    def _send(self, answer: Answer, method: str, keep_alive: bool) -> None:
        """Write one response; close the connection after it unless kept alive."""
        if self._transport is None:
            return
        reason = HTTPStatus(answer.status).phrase
        head = f"HTTP/1.1 {answer.status} {reason}\r\nContent-Type: {answer.content_type}\r\n"
        if answer.status != HTTPStatus.NO_CONTENT:  # RFC 9110 8.6: a 204 has no length
            head += f"Content-Length: {len(answer.body)}\r\n"
        if not keep_alive:
            head += "Connection: close\r\n"
        self._transport.write(head.encode("latin-1") + b"\r\n" + (b"" if method == "HEAD" else answer.body))
        if not keep_alive:
            self._transport.close()
            self._transport = None


def _parse_head(head: bytes) -> tuple[str, str, str, bool, bool] | None:
    """(method, decoded path, raw query, keep-alive, has a body) of a request head, or None if malformed."""
    try:
        lines = head.decode("latin-1").split("\r\n")
        method, target, version = lines[0].split(" ")
    except ValueError:
        return None
    if not version.startswith("HTTP/1."):
        return None
    if not target.startswith("/"):  # absolute-form, as sent to proxies
        parts = urlsplit(target)
        if not parts.scheme:
            return None
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    path, _, query = target.partition("?")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip().lower()
    connection = headers.get("connection", "")
    keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
    has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
    return method, unquote(path), query, keep_alive, has_body


def error_answer(status: HTTPStatus) -> Answer:
    """A plain-text answer for a request that will not be served."""
    return Answer(status, "text/plain; charset=utf-8", f"{status.value} {status.phrase}\n".encode())


__all__ = ["MAX_HEAD_BYTES", "Answer", "Handler", "HttpConnection", "error_answer"]
