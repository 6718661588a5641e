"""The frontier's storage: the seen-set and the pending requests, grouped by host.

Only the crawl core touches a store, so stores need no locks. The interface is
small so that a disk-backed store (SQLite) can stand in for the memory one.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Iterable, Protocol

from .models import CrawlRequest, PageRecord
from .urls import canonical_netloc


class FrontierStore(Protocol):
    """Where the seen-set and pending requests live."""

    def add_seen(self, url: str) -> bool:
        """Remember url; True when it was not seen before."""

    def push(self, request: CrawlRequest) -> None:
        """Queue a request (already deduplicated by the caller)."""

    def pop(self, host: str) -> CrawlRequest | None:
        """Take the oldest pending request for host, if any."""

    def pending_hosts(self) -> Iterable[str]:
        """Hosts that have pending requests, oldest first."""

    def pending_count(self) -> int:
        """How many requests are pending."""

    def seen_count(self) -> int:
        """How many URLs have been seen."""

    def record_done(self, request: CrawlRequest, record: PageRecord | None) -> None:
        """Note that a popped request is finished (a durable store keeps the record)."""

    def close(self) -> None:
        """Release resources."""


class MemoryFrontier:
    """A FrontierStore in RAM: a set and one FIFO queue per host."""

    def __init__(self) -> None:
        self._seen: set[str] = set()
        self._queues: OrderedDict[str, deque[CrawlRequest]] = OrderedDict()
        self._pending = 0

    def add_seen(self, url: str) -> bool:
        """Remember url; True when it was not seen before."""
        if url in self._seen:
            return False
        self._seen.add(url)
        return True

    def push(self, request: CrawlRequest) -> None:
        """Queue a request at the back of its host's queue."""
        self._queues.setdefault(canonical_netloc(request.url), deque()).append(request)
        self._pending += 1

    def pop(self, host: str) -> CrawlRequest | None:
        """Take the oldest pending request for host, if any."""
        queue = self._queues.get(host)
        if not queue:
            return None
        request = queue.popleft()
        if not queue:
            del self._queues[host]
        self._pending -= 1
        return request

    def pending_hosts(self) -> Iterable[str]:
        """Hosts that have pending requests, oldest first."""
        return list(self._queues)

    def pending_count(self) -> int:
        """How many requests are pending."""
        return self._pending

    def seen_count(self) -> int:
        """How many URLs have been seen."""
        return len(self._seen)

    def record_done(self, request: CrawlRequest, record: PageRecord | None) -> None:
        """Nothing to keep: memory does not survive a crash anyway."""

    def close(self) -> None:
        """Nothing to release."""
