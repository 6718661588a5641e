"""Per-host politeness slots: what a host has in flight, when it may take the next request.

A slot holds one host's concurrency count, the earliest time its next request may
start, its delay (``--delay``, raised by robots.txt's Crawl-delay), a Retry-After
pause, and its robots.txt rules, with whether they are being fetched. The core asks
the slots and tells them what started and finished; it never reaches into one.
:class:`LocalSlots` serves one process; a store shared by several processes (Redis)
fills the same :class:`Slots` contract, as Scrapy's downloader slots are per domain.

Hosts are keyed by :func:`~crawler.urls.canonical_netloc`. Times come from the
core's injected clock: the slots read no clock themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .robots import RobotsRules
from .urls import canonical_netloc


class Slots(Protocol):
    """The politeness state of every host the crawl has met."""

    def open(self, url: str) -> str:
        """The host key of url; its slot is made on first sight."""

    def origin(self, host: str) -> str:
        """The scheme://netloc the host was first seen with (where its robots.txt lives)."""

    def free(self, host: str, now: float) -> bool:
        """True when the host is under its concurrency limit and past its delay and pause."""

    def free_at(self, host: str) -> float | None:
        """When the host frees up by time alone, or None when only a finished request can free it."""

    def start(self, host: str, now: float) -> None:
        """A request to the host starts now: one more in flight; the next waits out the delay."""

    def finish(self, host: str, sent: float) -> None:
        """A request to the host, sent at sent, is over: one fewer in flight; the delay runs from sent."""

    def pause(self, host: str, until: float) -> None:
        """Start nothing more on the host before until (Retry-After)."""

    def rules(self, host: str) -> RobotsRules | None:
        """The host's robots.txt rules, or None while unknown."""

    def claim_robots(self, host: str) -> bool:
        """True once for a host whose rules are unknown: the caller fetches its robots.txt."""

    def settle_robots(self, host: str, rules: RobotsRules, crawl_delay: float | None) -> None:
        """Set the host's rules; a Crawl-delay longer than its delay replaces it."""


@dataclass(slots=True)
class _Slot:
    """One host's politeness state."""

    origin: str
    delay: float
    active: int = 0
    next_start: float = 0.0
    rules: RobotsRules | None = None
    robots_claimed: bool = False


class LocalSlots:
    """The Slots of one process, in a dict."""

    def __init__(self, per_host: int, delay: float) -> None:
        self.per_host = per_host
        self.delay = delay
        self._slots: dict[str, _Slot] = {}

    def open(self, url: str) -> str:
        """The host key of url; its slot is made on first sight."""
        host = canonical_netloc(url)
        if host not in self._slots:
            self._slots[host] = _Slot(origin="/".join(url.split("/", 3)[:3]), delay=self.delay)
        return host

    def origin(self, host: str) -> str:
        """The scheme://netloc the host was first seen with."""
        return self._slots[host].origin

    def free(self, host: str, now: float) -> bool:
        """True when the host is under its concurrency limit and past its delay and pause."""
        slot = self._slots[host]
        return slot.active < self.per_host and now >= slot.next_start

    def free_at(self, host: str) -> float | None:
        """When the host frees up by time alone, or None when only a finished request can free it."""
        slot = self._slots.get(host)
        return slot.next_start if slot is not None and slot.active < self.per_host else None

    def start(self, host: str, now: float) -> None:
        """A request to the host starts now."""
        slot = self._slots[host]
        slot.active += 1
        slot.next_start = now + slot.delay

    def finish(self, host: str, sent: float) -> None:
        """A request to the host is over; the delay runs from when it really left."""
        slot = self._slots[host]
        slot.active -= 1
        if slot.delay:
            slot.next_start = max(slot.next_start, sent + slot.delay)

    def pause(self, host: str, until: float) -> None:
        """Start nothing more on the host before until."""
        slot = self._slots[host]
        slot.next_start = max(slot.next_start, until)

    def rules(self, host: str) -> RobotsRules | None:
        """The host's robots.txt rules, or None while unknown."""
        return self._slots[host].rules

    def claim_robots(self, host: str) -> bool:
        """True once for a host whose rules are unknown."""
        slot = self._slots[host]
        if slot.rules is not None or slot.robots_claimed:
            return False
        slot.robots_claimed = True
        return True

    def settle_robots(self, host: str, rules: RobotsRules, crawl_delay: float | None) -> None:
        """Set the host's rules; a longer Crawl-delay replaces its delay."""
        slot = self._slots[host]
        slot.rules = rules
        slot.robots_claimed = False
        if crawl_delay is not None:
            slot.delay = max(slot.delay, crawl_delay)


__all__ = ["LocalSlots", "Slots"]
