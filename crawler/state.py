"""Durable crawl state: a FrontierStore in SQLite that a crawl resumes from after a crash.

``crawler crawl URL -o out.jsonl --state DIR`` keeps everything in ``DIR/state.sqlite3``:

=========  =====================================================================
table      holds
=========  =====================================================================
meta       the crawl's identity (seeds, scope settings) and its totals
seen       every URL ever queued or followed (the seen-set, on disk)
requests   pending and in-flight requests, indexed by (host, id) for ``pop``
done       the JSON Lines line of every finished page, by output sequence number
=========  =====================================================================

Exactly-once output. A request stays in ``requests`` (in flight) until
:meth:`SqliteFrontier.commit` saves its record's line in ``done`` and deletes it,
in one transaction with everything the core did before (the page's links are
queued before its record reaches the writer). The store writes the output file
itself: it commits a batch of records, then appends their lines, in sequence
order. So every line in the file is in ``done``; when the crawl resumes,
:meth:`~SqliteFrontier.open_output` cuts what the file holds beyond the last
whole saved line (a torn line) and re-appends the saved lines it lacks. On
reopening, in-flight requests (and the redirect targets they reached) go back to
pending: their pages are fetched again but written once. Pages are fetched at
least once and written exactly once.

Durability. WAL mode with ``synchronous=NORMAL``: a commit is in the WAL, which
the operating system keeps when the process dies (Ctrl-C, kill -9), but it is
fsynced only at checkpoints. After a power loss the database is still consistent
but its last commits may be rolled back; repair then cuts the output back to what
the store holds and the pages of the lost commits are fetched again. Output
lines are never fsynced. ``synchronous=FULL`` would fsync every commit and buy
nothing more for the output guarantee.

Limits: standard output (``-o -``) cannot be repaired: after a crash it lacks
the lines saved but not yet printed, and a resumed run prints only its own
pages. Retry counts and robots.txt rules start afresh on each run; the trap
guards count the seen URLs again (:meth:`SqliteFrontier.seen_urls`). The store
keeps every line, so it grows as the output does.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, Self

from .config import CrawlConfig
from .models import CrawlRequest, PageRecord
from .sinks import encode_record, with_filename
from .urls import canonical_netloc, normalize_url

DB_NAME = "state.sqlite3"
FORMAT = "1"
# Settings a resumed crawl may change: how fast and how long it runs, and how it checks
# certificates, not which URLs it visits.
# Every other setting (scope, depth, robots, trap guards, and any added later) must stay the same.
ADOPTED_SETTINGS = frozenset({
    "mode", "concurrency", "workers", "per_host", "delay", "max_pages", "timeout", "connect_timeout",
    "time_limit", "max_body_bytes", "retries", "backoff_base", "backoff_max", "max_retry_after",
    "parse_workers", "parse_offload_bytes", "verify_tls", "ca_file",
})
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


@dataclass(frozen=True, slots=True)
class ResumeInfo:
    """What :meth:`SqliteFrontier.begin` found: whether the crawl continues, and how far it got."""

    resumed: bool
    done: int
    pending: int
    finished: bool


class SqliteFrontier:
    """A FrontierStore in SQLite (WAL): the crawl survives Ctrl-C, kill -9 and power loss.

    ::

        with SqliteFrontier("state") as store:
            info = store.begin(seeds, config)          # refuses another crawl's state
            store.open_output("out.jsonl")             # repaired; the store writes it from now on
            async with Crawler(config, store=store) as crawler:
                async for page in crawler.crawl(seeds): ...
    """

    def __init__(self, directory: str | Path, *, fresh: bool = False) -> None:
        self.directory = Path(directory)
        self._db = _open(self.directory, fresh)
        # The writer commits on the event loop while blocking drivers run the core in a thread.
        self._lock = threading.Lock()
        self._in_flight: dict[str, int] = {}  # origin URL -> requests.id
        self._recent: set[str] = set()
        self._older: set[str] = set()
        self._output: BinaryIO | None = None
        self._unqueued: str | None = None  # see add_seen
        self._requeue_in_flight()
        self._hosts = self._load_host_counts()  # host -> pending count, oldest host first
        self._pending = sum(self._hosts.values())
        self._seen = self._db.execute("SELECT count(*) FROM seen").fetchone()[0]
        self._totals = self._load_totals()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # ----- the crawl's identity and the output ----------------------------------

    def begin(self, seeds: Iterable[str], config: CrawlConfig) -> ResumeInfo:
        """Start this crawl here, or check that it is the one saved and say how far it got."""
        urls = sorted({normalize_url(seed) or seed for seed in seeds})
        identity = _identity(urls, config)
        with self._lock:
            saved = self._meta("crawl")
            if saved is None:
                self._set_meta("crawl", json.dumps(identity))
            else:
                _check_same(json.loads(saved), identity, self.directory)
        done = self._totals["pages"]
        budget_spent = config.max_pages is not None and done >= config.max_pages
        # With sitemaps, an empty frontier may only mean they were not read yet (or list new
        # pages since): such a crawl runs again, and its sitemaps' known pages are seen already.
        drained = self._pending == 0 and self._all_seen(urls) and not config.sitemaps
        finished = saved is not None and (budget_spent or drained)
        return ResumeInfo(resumed=saved is not None, done=done, pending=self._pending, finished=finished)

    def open_output(self, path: str | Path) -> int:
        """Write the JSON Lines output to path from now on, repaired first; return lines re-appended.

        The file is made to hold exactly the saved lines: a torn last line (or lines a power
        loss took from the store) is cut off, saved lines it lacks are appended. A new crawl
        has no saved lines, so its file starts empty. Another crawl's file is refused.
        """
        path = Path(path)
        size = path.stat().st_size if path.exists() else 0
        with self._lock:
            keep, end = self._lines_within(size)
            output = open(path, "r+b" if path.exists() else "wb")  # noqa: SIM115 - open until close()
            try:
                if keep:
                    self._check_line(output, keep, end, path)
                output.truncate(end)
                output.seek(end)
                rows = self._db.execute("SELECT line FROM done WHERE seq > ? ORDER BY seq", (keep,))
                output.writelines(line for (line,) in rows)
                output.flush()
            except BaseException:
                output.close()
                raise
            self._output = output
        return self._totals["pages"] - keep

    def _lines_within(self, size: int) -> tuple[int, int]:
        """How many saved lines fit wholly in size bytes, and where the last one ends."""
        keep, end = self._totals["pages"], self._totals["line_bytes"]
        if size == 0:
            return 0, 0
        rows = self._db.execute("SELECT length(line) FROM done WHERE seq <= ? ORDER BY seq DESC",
                                (keep,))
        for (length,) in rows:
            if end <= size:
                break
            keep, end = keep - 1, end - length
        return keep, end

    def _check_line(self, output: BinaryIO, seq: int, end: int, path: Path) -> None:
        """Refuse a file whose line number seq is not the saved one (another crawl's output)."""
        (line,) = self._db.execute("SELECT line FROM done WHERE seq = ?", (seq,)).fetchone()
        output.seek(end - len(line))
        if output.read(len(line)) != line:
            raise StateError(f"{path} is not the output of the crawl in {self.directory}: "
                             "give another -o, or --fresh to start over")

    # ----- FrontierStore --------------------------------------------------------

    def add_seen(self, url: str, via: str | None = None) -> bool:
        """Remember url (reached by a redirect of request via, if given); True when new."""
        with self._lock:
            if url in self._recent or url in self._older or url == self._unqueued:
                return False
            self._remember(url)
            if self._db.execute("SELECT 1 FROM seen WHERE url = ?", (url,)).fetchone():
                return False
            self._save_unqueued()
            # The core queues a new URL right after this call, but a driver thread's commit
            # may come in between: saved as seen without its request, a crash would lose it.
            # So it is saved with its push, or with the next new URL if it was not queued.
            if via is None:
                self._unqueued = url
            else:
                self._db.execute("INSERT INTO seen VALUES (?, ?)", (url, via))
            self._seen += 1
        return True

    def seen_urls(self) -> Iterator[str]:
        """Every URL saved as seen (see FrontierStore), streamed: there may be millions."""
        with self._lock:
            rows = self._db.execute("SELECT url FROM seen")
        for (url,) in rows:
            yield url

    def push(self, request: CrawlRequest) -> None:
        """Queue a request behind the others of its host."""
        host = canonical_netloc(request.url)
        with self._lock:
            if request.url == self._unqueued:
                self._save_unqueued()
            self._db.execute(
                "INSERT INTO requests (host, url, depth, referrer, extra) VALUES (?, ?, ?, ?, ?)",
                (host, request.url, request.depth, request.referrer, _extra(request)))
            self._hosts[host] = self._hosts.get(host, 0) + 1
            self._pending += 1

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

    def commit(self, records: Sequence[PageRecord] = ()) -> None:
        """Make everything so far durable, with records as the next output lines, then write them."""
        with self._lock:
            lines = [self._save(record) for record in records]
            if lines:
                self._set_meta("totals", json.dumps(self._totals))
            self._db.commit()
            if self._output is not None and lines:
                # Only now: a line in the file must already be saved, or a resume would repeat it.
                # A write that fails part-way leaves a torn line, which a resume cuts off.
                try:
                    self._output.write(b"".join(lines))
                    self._output.flush()
                except OSError as exc:
                    raise with_filename(exc, self._output.name) from None

    def totals(self) -> dict[str, Any]:
        """The counters of the pages saved so far: pages, ok, errors, bytes, statuses, error_kinds."""
        return {**self._totals, "statuses": Counter(self._totals["statuses"]),
                "error_kinds": Counter(self._totals["error_kinds"])}

    def close(self) -> None:
        """Commit what the core did since the last commit; close the database and the output."""
        with self._lock:
            self._save_unqueued()
            self._db.commit()
            self._db.close()
            if self._output is not None:
                self._output.close()

    # ----- helpers --------------------------------------------------------------

    def _save_unqueued(self) -> None:
        """Save the newest seen URL, whether or not the core queued it (a trap, for one)."""
        if self._unqueued is not None:
            self._db.execute("INSERT INTO seen (url) VALUES (?)", (self._unqueued,))
            self._unqueued = None

    def _remember(self, url: str) -> None:
        """Keep url among the recently seen; the older half is dropped when the newer fills up."""
        self._recent.add(url)
        if len(self._recent) >= RECENT_SEEN:
            self._older, self._recent = self._recent, set()

    def _oldest(self, host: str) -> tuple[Any, ...] | None:
        """The row of host's oldest pending request, if any."""
        return self._db.execute(_OLDEST, (host,)).fetchone() if self._hosts.get(host) else None

    def _save(self, record: PageRecord) -> bytes:
        """Store a record's line as the next one, finish its request, and return the line."""
        line = encode_record(record).encode("utf-8")
        totals = self._totals
        totals["pages"] += 1
        totals["line_bytes"] += len(line)
        self._db.execute("INSERT INTO done (seq, line) VALUES (?, ?)", (totals["pages"], line))
        self._finish(record.requested_url)
        _tally(totals, record)
        return line

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

    def _load_totals(self) -> dict[str, Any]:
        """The saved counters, or zeros."""
        saved = self._meta("totals")
        totals = json.loads(saved) if saved else {}
        base: dict[str, Any] = {"pages": 0, "line_bytes": 0, "ok": 0, "errors": 0, "bytes": 0,
                                "statuses": {}, "error_kinds": {}}
        base.update(totals)
        base["statuses"] = {int(status): n for status, n in base["statuses"].items()}
        return base

    def _all_seen(self, urls: list[str]) -> bool:
        """True when every URL is in the seen-set."""
        query = "SELECT 1 FROM seen WHERE url = ?"
        return all(self._db.execute(query, (url,)).fetchone() for url in urls)

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


def _identity(urls: list[str], config: CrawlConfig) -> dict[str, Any]:
    """The seeds and the settings that decide a crawl's URLs, as JSON data."""
    settings = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
                if f.name not in ADOPTED_SETTINGS}
    return json.loads(json.dumps({"seeds": urls, **settings}))  # tuples become lists, as in meta


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


def _tally(totals: dict[str, Any], record: PageRecord) -> None:
    """Add a record to the saved counters."""
    totals["bytes"] += record.size
    if record.status is not None:
        totals["statuses"][record.status] = totals["statuses"].get(record.status, 0) + 1
    if record.error is None:
        totals["ok"] += 1
    else:
        totals["errors"] += 1
        kinds = totals["error_kinds"]
        kinds[record.error.kind] = kinds.get(record.error.kind, 0) + 1


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


__all__ = ["DB_NAME", "ResumeInfo", "SqliteFrontier", "StateError"]
