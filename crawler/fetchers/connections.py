"""urllib3 connections that keep the blocking fetcher's promises: a total deadline and the address guard.

urllib3 gives every socket operation its own timeout, and http.client reads the
status line and headers one line at a time with no overall limit, so a server
that drips its headers a byte at a time is never cut off by timeouts alone. A
:class:`Watchdog` therefore shuts the fetch's socket down when the deadline
passes, which ends any read blocked on it at once.

Both need to know the fetch being served; a fetch runs wholly in one thread, so
:func:`serving` publishes it in a thread-local for the connections of this module.
"""

from __future__ import annotations

import heapq
import itertools
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError
from urllib3.response import HTTPResponse
from urllib3.util.connection import allowed_gai_family

from .guard import AddressGuard


class Watchdog:
    """Shuts down the socket it watches once a deadline passes, ending any blocked read."""

    def __init__(self, seconds: float) -> None:
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._seconds = seconds
        self.expired = False
        self.done = False

    def start(self) -> None:
        """Start counting down."""
        _reaper.arm(time.monotonic() + self._seconds, self)

    def cancel(self) -> None:
        """Stop counting down; the socket is left alone from now on."""
        with self._lock:
            self.done = True
            self._sock = None

    def watch(self, sock: socket.socket | None) -> None:
        """Watch sock (the connection now in use); shut it at once if the deadline has passed."""
        with self._lock:
            self._sock = sock
            if self.expired:
                _shutdown(sock)

    def expire(self) -> None:
        """The deadline passed: end the fetch's I/O, unless it has finished."""
        with self._lock:
            if self.done:
                return
            self.expired = True
            _shutdown(self._sock)


class _Reaper:
    """One daemon thread firing every watchdog whose deadline passes.

    A threading.Timer per fetch would start a thread each time (about 0.5 ms);
    arming this one costs a heap push.
    """

    def __init__(self) -> None:
        self._wake = threading.Condition()
        self._due: list[tuple[float, int, Watchdog]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, when: float, watchdog: Watchdog) -> None:
        """Fire watchdog at monotonic time when, unless it is cancelled by then."""
        with self._wake:
            while self._due and self._due[0][2].done:
                heapq.heappop(self._due)  # cancelled ones: keep the heap as small as the fetches in flight
            heapq.heappush(self._due, (when, next(self._order), watchdog))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="crawler-watchdog", daemon=True)
                self._thread.start()
            if self._due[0][2] is watchdog:
                self._wake.notify()

    def _run(self) -> None:
        """Sleep until the earliest deadline, fire what is due, repeat."""
        with self._wake:
            while True:
                now = time.monotonic()
                while self._due and (self._due[0][2].done or self._due[0][0] <= now):
                    heapq.heappop(self._due)[2].expire()
                self._wake.wait(self._due[0][0] - now if self._due else None)


_reaper = _Reaper()


def _new_reaper() -> None:
    """Start over in a forked child, which has none of its parent's threads."""
    global _reaper
    _reaper = _Reaper()


os.register_at_fork(after_in_child=_new_reaper)


def _shutdown(sock: socket.socket | None) -> None:
    """Shut a socket down both ways; a blocked recv then returns at once."""
    if sock is None:
        return
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # not connected yet (connect has its own timeout) or already closed


@dataclass(slots=True)
class Served:
    """The fetch a thread is serving: its address guard and deadline watchdog."""

    guard: AddressGuard
    watchdog: Watchdog


_local = threading.local()


@contextmanager
def serving(guard: AddressGuard, seconds: float) -> Iterator[Served]:
    """Publish a fetch to this thread's connections and run its watchdog for its duration."""
    served = Served(guard, Watchdog(seconds))
    _local.served = served
    served.watchdog.start()
    try:
        yield served
    finally:
        served.watchdog.cancel()
        _local.served = None


def _served() -> Served | None:
    """The fetch this thread is serving, if any."""
    return getattr(_local, "served", None)


class GuardedHTTPConnection(HTTPConnection):
    """An HTTP connection that connects only where the guard allows, under the fetch's watchdog."""

    def _new_conn(self) -> socket.socket:
        """Resolve, check and connect (only to checked addresses when the host is guarded)."""
        served = _served()
        if served is None:
            return super()._new_conn()
        if served.guard.guards_connection(self._dns_host.rstrip(".")):
            sock = self._connect_checked(served.guard)
        else:
            sock = super()._new_conn()
        served.watchdog.watch(sock)  # a TLS handshake can drip too
        return sock

    def _connect_checked(self, guard: AddressGuard) -> socket.socket:
        """Connect to the first reachable address of a host whose every address the guard allows."""
        name = self._dns_host
        try:
            infos = socket.getaddrinfo(name, self.port, allowed_gai_family(), socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise NameResolutionError(name, self, exc) from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        guard.check_addresses(name.rstrip("."), addresses, connecting=True)
        failure: ConnectTimeoutError | None = None
        try:
            for address in addresses:
                # urllib3 connects to _dns_host: point it at the checked address, so no
                # second lookup can answer differently (DNS rebinding).
                self._dns_host = address
                try:
                    return super()._new_conn()
                except ConnectTimeoutError as exc:  # NewConnectionError too: try the next one
                    failure = exc
        finally:
            self._dns_host = name
        assert failure is not None  # getaddrinfo never answers with no address
        raise failure

    def getresponse(self) -> HTTPResponse:  # type: ignore[override]
        """Read the status line and headers under the watchdog (a pooled socket may be reused)."""
        served = _served()
        if served is not None:
            served.watchdog.watch(self.sock)
        return super().getresponse()


class GuardedHTTPSConnection(GuardedHTTPConnection, HTTPSConnection):
    """An HTTPS connection under the address guard and the deadline watchdog."""


class GuardedHTTPConnectionPool(HTTPConnectionPool):
    """A pool of GuardedHTTPConnection."""

    ConnectionCls = GuardedHTTPConnection


class GuardedHTTPSConnectionPool(HTTPSConnectionPool):
    """A pool of GuardedHTTPSConnection."""

    ConnectionCls = GuardedHTTPSConnection


POOL_CLASSES_BY_SCHEME = {"http": GuardedHTTPConnectionPool, "https": GuardedHTTPSConnectionPool}
