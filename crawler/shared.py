"""The command line's side of a crawl shared by workers through Redis (``--state redis://...``).

``crawler.cli`` parses the flags and runs the crawl; this module connects to the
crawl's store, gives each worker its own output, and answers ``crawler export`` and
``crawler status``. The store itself is :mod:`crawler.stores.redis`.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .models import PageRecord
from .sinks import encode_record
from .stores.sqlite import StateError

if TYPE_CHECKING:
    from rich.table import Table

    from .stores.redis import CrawlStatus, RedisFrontier

# The URL schemes redis-py connects with: TCP, TLS, a Unix socket.
SCHEMES = ("redis://", "rediss://", "unix://")


def is_shared(state: str | None) -> bool:
    """True when a --state value names a Redis rather than a directory."""
    return state is not None and state.startswith(SCHEMES)


def connect(url: str, crawl_id: str, *, join: bool = True, lease_timeout: float | None = None,
            max_pages: int | None = None, batch: int | None = None) -> RedisFrontier:
    """The store of crawl crawl_id in the Redis at url (StateError, one line, when unreachable).

    join: as a worker, which holds leases (export and status only read); max_pages: the
    page budget of the whole crawl, which every worker's records and leases count against;
    batch: requests claimed a round trip, the worker's width.
    """
    from .stores.redis import DEFAULT_BATCH, DEFAULT_LEASE_TIMEOUT, RedisFrontier

    return RedisFrontier.connect(url, crawl_id, join=join, lease_timeout=lease_timeout or DEFAULT_LEASE_TIMEOUT,
                                 max_pages=max_pages, batch=batch or DEFAULT_BATCH)


def require_crawl(store: RedisFrontier, hint: str = "no worker has begun it") -> None:
    """Refuse a crawl id that no worker has begun (a typo, or another Redis database)."""
    if not store.exists():
        raise StateError(f"no crawl {store.crawl_id!r} in {store.url}: {hint}")


def export(records: Iterable[PageRecord], output: str) -> int:
    """Write records as JSON Lines to output ('-' for stdout), streamed; return how many.

    A file is written beside its name and renamed at the end, so an interrupted export
    never leaves a partial file under the name asked for.
    """
    if output == "-":
        return _write_lines(records, sys.stdout)
    path = Path(output)
    partial = path.with_name(path.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8") as file:
            count = _write_lines(records, file)
        partial.replace(path)
    except OSError as exc:  # a missing directory or a full disk: say so of the file asked for
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    finally:
        partial.unlink(missing_ok=True)
    return count


def _write_lines(records: Iterable[PageRecord], file: Any) -> int:
    """Write each record as one line; return how many."""
    count = 0
    for record in records:
        file.write(encode_record(record))
        count += 1
    file.flush()
    return count


def status_document(crawl_id: str, status: CrawlStatus) -> dict[str, Any]:
    """The crawl's status as a JSON object."""
    return {"crawl_id": crawl_id, **dataclasses.asdict(status)}


def status_tables(document: dict[str, Any]) -> tuple[Table, Table]:
    """The crawl's counts, and its live workers, as two rich tables."""
    from rich.table import Table

    counts = Table(title=f"crawl {document['crawl_id']}", show_header=False, title_justify="left")
    counts.add_column(style="bold")
    counts.add_column(justify="right")
    for name in ("queued", "leased", "done", "errors", "seen"):
        counts.add_row(name, f"{document[name]:,}")
    workers = Table(title=f"live workers: {len(document['workers'])}", title_justify="left")
    for heading in ("worker", "leases held", "pages committed", "last renewed"):
        workers.add_column(heading, justify="left" if heading == "worker" else "right")
    for worker in document["workers"]:
        workers.add_row(worker["name"], f"{worker['leased']:,}", f"{worker['committed']:,}",
                        f"{worker['idle_s']:.1f} s ago")
    return counts, workers
