"""The in-memory FrontierStore: the default, for a crawl that need not survive its process."""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable, Sequence
from typing import Any

from ..fingerprints import FingerprintSet
from ..models import CrawlRequest, PageRecord
from ..slots import LocalSlots, Slots
from ..urls import canonical_netloc


class MemoryFrontier:
    """A FrontierStore in RAM: the seen URLs' fingerprints and one FIFO queue per host.

    The seen-set holds about 20 bytes a URL, not the URL (see :mod:`crawler.fingerprints`
    for how, and for the odds of a collision); so it lists no URLs (``seen_urls``): no
    crawl resumes from memory.
    """

    def __init__(self) -> None:
        self._seen = FingerprintSet()
        self._queues: OrderedDict[str, deque[CrawlRequest]] = OrderedDict()
        self._pending = 0

    def seen(self, url: str) -> bool:
        """True when url was added before."""
        return url in self._seen

    def add(self, url: str, request: CrawlRequest | None = None, via: str | None = None) -> None:
        """Remember url and queue request, if given (via matters only to durable stores)."""
        self._seen.add(url)
        if request is not None:
            self._push(request)

    def seen_urls(self) -> Iterable[str]:
        """None: the store keeps fingerprints, not URLs (see FrontierStore)."""
        return ()

    def _push(self, request: CrawlRequest) -> None:
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

    def peek(self, host: str) -> CrawlRequest | None:
        """The request pop(host) would take, left in place."""
        queue = self._queues.get(host)
        return queue[0] if queue else None

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

    def commit(self, records: Sequence[PageRecord] = ()) -> Sequence[PageRecord]:
        """Nothing to make durable: every record is saved as it is."""
        return records

    def slots(self, per_host: int, delay: float) -> Slots:
        """The slots of this process."""
        return LocalSlots(per_host, delay)

    def totals(self) -> dict[str, Any]:
        """No previous run: no counters."""
        return {}

    def close(self) -> None:
        """Nothing to release."""


__all__ = ["MemoryFrontier"]
