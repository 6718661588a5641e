"""Durable crawl state: a FrontierStore in SQLite that a crawl resumes from after a crash.

``crawler crawl URL -o out.jsonl --state DIR`` keeps everything in ``DIR/state.sqlite3``:

=========  =====================================================================
table      holds
=========  =====================================================================
meta       the crawl's identity (seeds, scope settings) and the saved records' tally
seen       every URL ever queued or followed (the seen-set, on disk)
requests   pending and in-flight requests, indexed by (host, id) for ``pop``
done       every saved record (JSON), by sequence number: the journal sinks repair from
=========  =====================================================================

Exactly-once output. A request stays in ``requests`` (in flight) until
:meth:`SqliteFrontier.commit` saves its record in ``done`` and deletes it, in one
transaction with everything the core did before (the page's links are queued
before its record reaches the writer). Only then does a sink write the record, so
every record a sink holds is saved; when the crawl resumes, a durable sink
repairs itself from the saved records (:meth:`~SqliteFrontier.saved_records`,
see :mod:`crawler.sinks`). On reopening, in-flight requests (and the redirect
targets they reached) go back to pending: their pages are fetched again but
written once. Pages are fetched at least once and written exactly once.

Durability. WAL mode with ``synchronous=NORMAL``: a commit is in the WAL, which
the operating system keeps when the process dies (Ctrl-C, kill -9), but it is
fsynced only at checkpoints. After a power loss the database is still consistent
but its last commits may be rolled back; a sink's repair then cuts its output back
to what the store holds and the pages of the lost commits are fetched again.
``synchronous=FULL`` would fsync every commit and buy nothing more for the output
guarantee.

Storage only: which settings make a crawl the same one and whether it is finished
are decided in :mod:`crawler.resume`. Retry counts and robots.txt rules start
afresh on each run; the trap guards count the seen URLs again
(:meth:`SqliteFrontier.seen_urls`). The store keeps every record, so it grows as
the output does.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Self

from ..models import CrawlRequest, PageRecord, RecordTally
from ..slots import LocalSlots, Slots
from ..urls import canonical_netloc

DB_NAME = "state.sqlite3"
FORMAT = "1"
# SQLite's page cache; the OS page cache holds the rest without counting towards our RSS.
CACHE_KIB = 32 * 1024
# Recently seen URLs kept in RAM (twice this at most): most links on a page point to pages
# seen moments ago (navigation, popular pages), and a set lookup is far cheaper than SQL.
RECENT_SEEN = 100_000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS seen (url TEXT PRIMARY KEY, via TEXT) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_via ON seen (via) WHERE via IS NOT NULL;
CREATE TABLE IF NOT EXISTS requests (
    id INTEGER PRIMARY KEY, host TEXT NOT NULL, url TEXT NOT NULL, depth INTEGER NOT NULL,
    referrer TEXT, extra TEXT, in_flight INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS pending_by_host ON requests (host, id) WHERE in_flight = 0;
CREATE TABLE IF NOT EXISTS done (seq INTEGER PRIMARY KEY, line BLOB NOT NULL);
"""
_OLDEST = ("SELECT id, url, depth, referrer, extra FROM requests "
           "WHERE host = ? AND in_flight = 0 ORDER BY id LIMIT 1")


class StateError(Exception):
    """The state directory cannot be used for this crawl; the message says why in one line."""


class SqliteFrontier:
    """A FrontierStore in SQLite (WAL): the crawl survives Ctrl-C, kill -9 and power loss.

    ::

        with SqliteFrontier("state") as store:
            info = resume.begin(store, seeds, config)  # refuses another crawl's state
            async with Crawler(config, store=store, sink=JsonLinesSink("out.jsonl")) as crawler:
                async for page in crawler.crawl(seeds): ...  # the sink is repaired first
    """

    def __init__(self, directory: str | Path, *, fresh: bool = False) -> None:
        self.directory = Path(directory)
        self._db = _open(self.directory, fresh)
        # The writer commits on the event loop while blocking drivers run the core in a thread.
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}  # origin URL -> requests.id
        self._recent: set[str] = set()
        self._older: set[str] = set()
        self._requeue_in_flight()
        self._hosts = self._load_host_counts()  # host -> pending count, oldest host first
        self._pending = sum(self._hosts.values())
        self._seen = self._db.execute("SELECT count(*) FROM seen").fetchone()[0]
        self._tally = RecordTally.from_dict(json.loads(self._meta("totals") or "{}"))

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ----- the crawl's identity ------------------------------------------------

    def begin(self, identity: dict[str, Any]) -> bool:
        """Save the crawl's identity here, or check it is the one saved; True when it was saved before."""
        identity = json.loads(json.dumps(identity))  # tuples become lists, as in meta
        with self._lock:
            saved = self._meta("crawl")
            if saved is None:
                self._set_meta("crawl", json.dumps(identity))
            else:
                _check_same(json.loads(saved), identity, self.directory)
        return saved is not None

    # ----- FrontierStore --------------------------------------------------------

    def seen(self, url: str) -> bool:
        """True when url was added before."""
        with self._lock:
            if url in self._recent or url in self._older:
                return True
            if self._db.execute("SELECT 1 FROM seen WHERE url = ?", (url,)).fetchone() is None:
                return False
            self._remember(url)
            return True

    def add(self, url: str, request: CrawlRequest | None = None, via: str | None = None) -> None:
        """Remember url and queue request, if given, in the same transaction."""
        with self._lock:
            self._remember(url)
            if self._db.execute("INSERT OR IGNORE INTO seen VALUES (?, ?)", (url, via)).rowcount:
                self._seen += 1
            if request is not None:
                self._push(request)

    def seen_urls(self) -> Iterator[str]:
        """Every URL saved as seen (see FrontierStore), streamed: there may be millions."""
        with self._lock:
            rows = self._db.execute("SELECT url FROM seen")
        for (url,) in rows:
            yield url

    def pop(self, host: str) -> CrawlRequest | None:
        """Take the oldest pending request for host and mark it in flight."""
        with self._lock:
            row = self._oldest(host)
            if row is None:
                return None
            self._db.execute("UPDATE requests SET in_flight = 1 WHERE id = ?", (row[0],))
            request = _request(*row[1:])
            self._in_flight[request.origin_url] = row[0]
            self._pending -= 1
            if self._hosts[host] == 1:
                del self._hosts[host]
            else:
                self._hosts[host] -= 1
        return request

    def peek(self, host: str) -> CrawlRequest | None:
        """The request pop(host) would take, left in place."""
        with self._lock:
            row = self._oldest(host)
        return _request(*row[1:]) if row else None

    def pending_hosts(self) -> Iterable[str]:
        """Hosts that have pending requests, oldest first."""
        with self._lock:
            return list(self._hosts)

    def pending_count(self) -> int:
        """How many requests are pending."""
        return self._pending

    def seen_count(self) -> int:
        """How many URLs have been seen."""
        return self._seen

    def record_done(self, request: CrawlRequest, record: PageRecord | None) -> None:
        """Drop a request that ended without a record; one with a record waits for commit()."""
        if record is None:
            with self._lock:
                self._finish(request.origin_url)

    def commit(self, records: Sequence[PageRecord] = ()) -> Sequence[PageRecord]:
        """Make everything so far durable, with records saved as the next ones, in order."""
        with self._lock:
            for record in records:
                self._save(record)
            if records:
                self._set_meta("totals", json.dumps(self._tally.to_dict()))
            self._db.commit()
        return records

    def slots(self, per_host: int, delay: float) -> Slots:
        """The slots of this process: one crawl uses the database at a time."""
        return LocalSlots(per_host, delay)

    def mark(self, name: str) -> str | None:
        """The journal mark an appending sink saved last (see save_mark), or None."""
        with self._lock:
            return self._meta(f"mark:{name}")

    def save_mark(self, name: str, mark: str) -> None:
        """Save where sink name's output ends, in the next commit: a resume cuts it back there."""
        with self._lock:
            self._set_meta(f"mark:{name}", mark)

    def totals(self) -> dict[str, Any]:
        """The tally of the records saved so far (RecordTally.to_dict())."""
        return self._tally.to_dict()

    # ----- the journal durable sinks repair from (see crawler.sinks.Journal) ----

    def saved_count(self) -> int:
        """How many records are saved."""
        return self._tally.pages

    def saved_records(self, after: int = 0) -> Iterator[PageRecord]:
        """The saved records numbered after after (from 1), in order."""
        with self._lock:
            rows = self._db.execute("SELECT line FROM done WHERE seq > ? ORDER BY seq", (after,)).fetchall()
        for (line,) in rows:
            yield PageRecord.from_dict(json.loads(line))

    def close(self) -> None:
        """Commit what the core did since the last commit; close the database."""
        with self._lock:
            self._db.commit()
            self._db.close()

    # ----- helpers --------------------------------------------------------------

    def _push(self, request: CrawlRequest) -> None:
        """Queue a request behind the others of its host (under the lock)."""
        host = canonical_netloc(request.url)
        self._db.execute(
            "INSERT INTO requests (host, url, depth, referrer, extra) VALUES (?, ?, ?, ?, ?)",
            (host, request.url, request.depth, request.referrer, _extra(request)))
        self._hosts[host] = self._hosts.get(host, 0) + 1
        self._pending += 1

    def _remember(self, url: str) -> None:
        """Keep url among the recently seen; the older half is dropped when the newer fills up."""
        self._recent.add(url)
        if len(self._recent) >= RECENT_SEEN:
            self._older, self._recent = self._recent, set()

    def _oldest(self, host: str) -> tuple[Any, ...] | None:
        """The row of host's oldest pending request, if any."""
        return self._db.execute(_OLDEST, (host,)).fetchone() if self._hosts.get(host) else None

    def _save(self, record: PageRecord) -> None:
        """Save a record as the next one and finish its request."""
        line = json.dumps(record.to_dict(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self._tally.add(record)
        self._db.execute("INSERT INTO done (seq, line) VALUES (?, ?)", (self._tally.pages, line))
        self._finish(record.requested_url)

    def _finish(self, origin_url: str) -> None:
        """Delete the in-flight request whose origin is origin_url."""
        request_id = self._in_flight.pop(origin_url, None)
        if request_id is not None:
            self._db.execute("DELETE FROM requests WHERE id = ?", (request_id,))

    def _requeue_in_flight(self) -> None:
        """Put requests a crash left in flight back in line, and unsee their redirect targets."""
        self._db.execute("DELETE FROM seen WHERE via IN (SELECT url FROM requests WHERE in_flight = 1)")
        self._db.execute("UPDATE requests SET in_flight = 0 WHERE in_flight = 1")
        self._db.commit()

    def _load_host_counts(self) -> dict[str, int]:
        """Pending requests per host, hosts with the oldest request first."""
        rows = self._db.execute("SELECT host, count(*) FROM requests WHERE in_flight = 0 "
                                "GROUP BY host ORDER BY min(id)")
        return dict(rows.fetchall())

    def _meta(self, key: str) -> str | None:
        """A meta value, or None."""
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> None:
        """Set a meta value (in the open transaction)."""
        self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))


def _open(directory: Path, fresh: bool) -> sqlite3.Connection:
    """The state database in directory, created (or emptied, when fresh) as needed."""
    db = None
    try:
        directory.mkdir(parents=True, exist_ok=True)
        db = _connect(directory / DB_NAME)
        if fresh:
            _wipe(db)
        db.executescript(_SCHEMA)
        _check_format(db, directory)
        return db
    except BaseException as exc:
        if db is not None:
            db.close()  # and with it the lock
        if isinstance(exc, sqlite3.Error):
            raise StateError(f"cannot use state {directory}: {_reason(exc)}") from None
        raise


def _check_format(db: sqlite3.Connection, directory: Path) -> None:
    """Stamp a new database with the format; refuse one written in another format."""
    row = db.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
    if row is None:
        db.execute("INSERT INTO meta VALUES ('format', ?)", (FORMAT,))
        db.commit()
    elif row[0] != FORMAT:
        raise StateError(f"state {directory} has format {row[0]}, not {FORMAT}: use --fresh")


def _connect(path: Path) -> sqlite3.Connection:
    """Open the database in WAL mode, locked against a second crawl using it at once."""
    db = sqlite3.connect(path, check_same_thread=False)
    db.execute("PRAGMA busy_timeout = 0")
    # EXCLUSIVE: the lock is taken by the first write and held until close (the OS drops it on kill -9).
    db.execute("PRAGMA locking_mode = EXCLUSIVE")
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = NORMAL")  # see the module docstring
    db.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
    db.execute("BEGIN IMMEDIATE")  # take the lock now, or fail now
    db.commit()
    return db


def _wipe(db: sqlite3.Connection) -> None:
    """Drop every table (for --fresh), so the next open starts an empty crawl."""
    tables = [name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        db.execute(f'DROP TABLE "{table}"')
    db.commit()
    db.execute("VACUUM")


def _reason(exc: sqlite3.Error) -> str:
    """A short explanation of a database error."""
    if "locked" in str(exc):
        return "another crawl is using it"
    return str(exc)


def _check_same(saved: dict[str, Any], identity: dict[str, Any], directory: Path) -> None:
    """Refuse to continue a crawl with other seeds or scope settings."""
    hint = "use the same ones, --fresh to start over, or another --state"
    if saved["seeds"] != identity["seeds"]:
        seeds = ", ".join(saved["seeds"][:3]) + (" ..." if len(saved["seeds"]) > 3 else "")
        raise StateError(f"state {directory} holds a crawl of other seed URLs ({seeds}); {hint}")
    for name, value in identity.items():
        # A setting newer than the saved crawl is not held against it.
        if name in saved and saved[name] != value:
            raise StateError(f"state {directory} holds a crawl with {name}={saved[name]!r}, "
                             f"not {value!r}; {hint}")


def _extra(request: CrawlRequest) -> str | None:
    """A request's rarely set fields as JSON, or None when they all have their defaults."""
    if request.kind == "page" and request.requested_url is None and not request.redirects \
            and not request.retries:
        return None
    return json.dumps([request.kind, request.requested_url, list(request.redirects), request.retries])


def _request(url: str, depth: int, referrer: str | None, extra: str | None) -> CrawlRequest:
    """A request rebuilt from its row."""
    if extra is None:
        return CrawlRequest(url=url, depth=depth, referrer=referrer)
    kind, requested_url, redirects, retries = json.loads(extra)
    return CrawlRequest(url=url, depth=depth, referrer=referrer, kind=kind,
                        requested_url=requested_url, redirects=tuple(redirects), retries=retries)


__all__ = ["DB_NAME", "SqliteFrontier", "StateError"]
