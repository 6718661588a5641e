"""The frontier's storage: the seen-set, the pending requests grouped by host, what is
in flight, the records saved and their tally. Storage only: every decision is the core's.

Only the crawl core changes the frontier. The one other caller is the record
writer's ``commit``, which runs on the event loop while a blocking driver may run
the core in a thread, so the durable store locks. Each call is whole on its own:
no call depends on which came before it. One contract, :class:`FrontierStore`, and
one test suite (tests/unit/test_stores.py) for every back end in :mod:`crawler.stores`:
memory, SQLite, Redis.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from .models import CrawlRequest, PageRecord
from .slots import Slots


class FrontierStore(Protocol):
    """Where the seen-set and pending requests live."""

    def seen(self, url: str) -> bool:
        """True when url was added before."""

    def add(self, url: str, request: CrawlRequest | None = None, via: str | None = None) -> None:
        """Remember url and queue request, if given, in the same step.

        url may be seen already: a trap guard may let a URL it refused through later.

        via is the in-flight request whose redirect reached url: a durable store forgets
        url again if that request has to be redone after a crash.
        """

    def seen_urls(self) -> Iterable[str]:
        """Every URL seen, in any order (a resumed crawl recounts its trap guards).

        A store no crawl resumes from (memory) may keep fingerprints only, and list none.
        """

    def pop(self, host: str) -> CrawlRequest | None:
        """Take the oldest pending request for host, if any."""

    def peek(self, host: str) -> CrawlRequest | None:
        """The request pop(host) would take, left in place."""

    def pending_hosts(self) -> Iterable[str]:
        """Hosts that have pending requests, oldest first."""

    def pending_count(self) -> int:
        """How many requests are pending."""

    def seen_count(self) -> int:
        """How many URLs have been seen."""

    def record_done(self, request: CrawlRequest, record: PageRecord | None) -> None:
        """Note that a popped request is finished; record is None when it ends without one.

        A durable store keeps a request with a record in flight until commit() saves the record.
        """

    def commit(self, records: Sequence[PageRecord] = ()) -> Sequence[PageRecord]:
        """Make the work so far durable, with records saved as the next ones, in order.

        Returns the records saved: all of them, but in a store shared by several workers,
        which refuses a record whose request another worker took over (its lease ran out).
        """

    def slots(self, per_host: int, delay: float) -> Slots:
        """Where the politeness of the crawl's hosts lives: this process, or every worker's store."""

    # Optional, for durable stores: ``mark(name)`` and ``save_mark(name, mark)`` keep where an
    # appending sink's output ended (WARC files), saved in the same commit as the records
    # written before it, so a resume can cut what was written after (see crawler.sinks.warc).

    def totals(self) -> dict[str, Any]:
        """The tally of records saved by earlier runs (RecordTally.to_dict()), or {} for none."""

    def close(self) -> None:
        """Release resources."""
