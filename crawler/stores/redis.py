"""One crawl shared by many workers: a FrontierStore and Slots in Redis, with leases.

``crawler crawl URL --state redis://HOST:PORT/DB --crawl-id NAME`` on any number of
machines works on one crawl. Each worker:

* **claims** requests in batches (a Lua script takes them from the queue and records
  them as leased to the worker), never pops them: a request is held, not gone;
* **renews** its lease from a thread every third of ``lease_timeout``; a worker that
  stops renewing (killed, machine gone, network cut) has its requests put back at
  the front of the queue by the next worker that looks, and the redirect targets they
  reached are forgotten, so that redoing them follows the redirects again;
* **commits** a batch of records in one script: the links found are queued first, then
  each record whose lease the worker still holds is saved and its lease ended. A
  record whose lease was taken over is refused (``commit`` does not return it), so
  each page is saved once however late its first worker wakes up;
* shares **politeness**: each host's in-flight count, next start, delay (raised by
  Crawl-delay) and Retry-After pause live in Redis and are taken and given back
  atomically, on the server's clock; robots.txt is fetched by one worker per host and
  its text shared.

The crawl ends when nothing is queued and no worker holds a lease: a worker with
nothing to do asks again at most every ``IDLE_POLL`` seconds, then exits by itself.
Counters change only inside scripts, so none can go negative.

The seen-set keeps a 64-bit fingerprint (BLAKE2b) of each URL, not the URL: about
16 bytes a URL in Redis. Two of n URLs collide with odds of about n²/2⁶⁵ (3 in 100
million at a million URLs); a collision makes a new URL look seen. Dedup is exact in
Redis; a worker's own view (``seen``) knows the URLs it met, so a redirect to a page
another worker queued may fetch that page twice (its record is still saved once per
request).

Guarantees rest on Redis's: with ``appendonly yes`` a restart of Redis loses nothing
committed (``appendfsync everysec``: up to a second on power loss); a Redis without
persistence loses the whole crawl when it restarts.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import os
import socket
import sys
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import redis
from protego import Protego

from ..models import CrawlRequest, PageRecord, RecordTally
from ..robots import ALLOW_ALL, DISALLOW_ALL, RobotsRules
from ..urls import canonical_netloc
from . import redis_lua
from .sqlite import StateError

FORMAT = "1"
# Seconds a worker's claimed requests stay its own without a renewal (--lease-timeout).
DEFAULT_LEASE_TIMEOUT = 30.0
# Requests claimed per round trip beyond what the worker is short of.
DEFAULT_BATCH = 16
# Adds held back before a round trip queues them (a commit queues them sooner).
ADD_BATCH = 256
# How often a worker with nothing to do asks Redis again; how stale its view of the rest may be.
IDLE_POLL = 0.2
# A host at its limit in every worker is asked again after this long (a finish elsewhere frees it).
BUSY_POLL = 0.05
# How long a worker waits for another's robots.txt before asking Redis again.
ROBOTS_POLL = 0.2
# A slot free() took that no request started on within this long is given back (the
# host's requests turned out disallowed): held, it would keep other workers off the host.
UNUSED_SLOT = 0.5
# Backoff while Redis cannot be reached, doubling up to the last.
RETRY_WAITS = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0)
# URLs a worker remembers as seen (twice this at most), as the SQLite store does.
RECENT_SEEN = 100_000

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class WorkerStatus:
    """One live worker as Redis sees it."""

    name: str
    leased: int
    committed: int
    idle_s: float  # since it last renewed its lease


@dataclass(frozen=True, slots=True)
class CrawlStatus:
    """A snapshot of a shared crawl."""

    queued: int
    leased: int
    done: int
    errors: int
    seen: int
    workers: tuple[WorkerStatus, ...]


class RedisFrontier:
    """A FrontierStore in Redis that several worker processes share (see the module docstring).

    ::

        store = RedisFrontier.connect("redis://host:6379/0", "my-crawl", max_pages=config.max_pages)
        resume.begin(store, seeds, config)          # seeds join; other settings must match
        async with Crawler(config, store=store, sink=JsonLinesSink("part.jsonl", append=True)) as crawler:
            async for page in crawler.crawl(seeds): ...
        store.close()
    """

    def __init__(self, client: redis.Redis, crawl_id: str, *, url: str = "redis",
                 lease_timeout: float = DEFAULT_LEASE_TIMEOUT, worker: str | None = None,
                 batch: int = DEFAULT_BATCH, warn: Callable[[str], None] | None = None,
                 join: bool = True, max_pages: int | None = None) -> None:
        self.client = client
        self.crawl_id = crawl_id
        self.url = url
        self.lease_timeout = lease_timeout
        self.worker = worker or f"{socket.gethostname()}:{os.getpid()}"
        self.batch = batch
        self.max_pages = max_pages  # for the whole crawl: what every worker's records and leases add up to
        self._warn = warn or _to_stderr
        self._prefix = f"crawler:{{{crawl_id}}}:"
        self._scripts = {name: client.register_script(getattr(redis_lua, name)) for name in _SCRIPTS}
        self._lock = threading.RLock()  # the core's thread, the event loop's commits, the renewer
        self._local: OrderedDict[str, deque[CrawlRequest]] = OrderedDict()  # claimed, not started
        self._local_count = 0
        self._ids: dict[str, str] = {}  # origin URL of a held request -> its lease id
        self._ended: list[str] = []  # lease ids ended without a record, to end in Redis
        self._adds: list[list[Any]] = []
        self._queued_adds = 0
        self._recent: set[str] = set()
        self._older: set[str] = set()
        self._nonces = itertools.count()
        self._elsewhere = (0.0, 0, 0)  # (when asked, queued, held by others)
        self._next_claim = 0.0  # after a claim that came back short, not before this
        self._trouble: str | None = None
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        self._joined = join  # a worker; status and export only read
        if join:
            self._call("REGISTER", self.worker, self._lease_ms)

    @classmethod
    def connect(cls, url: str, crawl_id: str, **options: Any) -> RedisFrontier:
        """Join crawl crawl_id in the Redis at url (join=False: only read it); StateError at once when it cannot be reached."""
        try:
            client = redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30,
                                          health_check_interval=15, decode_responses=True)
            client.ping()
        except (redis.RedisError, ValueError) as exc:
            raise StateError(f"cannot reach Redis at {url}: {_reason(exc)}") from None
        return cls(client, crawl_id, url=url, **options)

    # ----- the crawl's identity ------------------------------------------------

    def begin(self, identity: dict[str, Any]) -> bool:
        """Add the seeds to the crawl and save its settings, or check they are the saved ones."""
        settings = json.loads(json.dumps({k: v for k, v in identity.items() if k != "seeds"}))
        key = self._prefix + "meta"
        if identity.get("seeds"):
            self._retry(lambda: self.client.sadd(self._prefix + "seeds", *identity["seeds"]))
        self._retry(lambda: self.client.hsetnx(key, "format", FORMAT))
        if self._retry(lambda: self.client.hsetnx(key, "identity", json.dumps(settings))):
            return False
        saved, fmt = self._retry(lambda: self.client.hmget(key, "identity", "format"))
        self._check_same(json.loads(str(saved)), settings, str(fmt))
        self._learn_seen(identity.get("seeds", ()))
        return True

    def exists(self) -> bool:
        """True when a crawl with this id was begun."""
        return bool(self._retry(lambda: self.client.hexists(self._prefix + "meta", "identity")))

    def seeds(self) -> list[str]:
        """The seeds every worker of the crawl was given."""
        return sorted(map(str, self._retry(lambda: self.client.smembers(self._prefix + "seeds"))))

    def time_left(self, limit: float | None) -> float | None:
        """What is left of a time limit for the whole crawl, counted from its first worker's start (0: spent)."""
        now, started = self._call("CLOCK")
        return None if limit is None else max(0.0, limit - (now - started) / 1000)

    def slots(self, per_host: int, delay: float) -> RedisSlots:
        """Politeness shared by every worker, in Redis."""
        return RedisSlots(self, per_host, delay)

    # ----- FrontierStore --------------------------------------------------------

    def seen(self, url: str) -> bool:
        """True when this worker met url (Redis dedups what every worker queues)."""
        return url in self._recent or url in self._older

    def add(self, url: str, request: CrawlRequest | None = None, via: str | None = None) -> None:
        """Queue request unless another worker queued url first (or anyway, when url was seen here)."""
        with self._lock:
            force = self.seen(url)
            self._remember(url)
            lease = self._ids.get(via, "") if via else ""
            if request is None:
                self._adds.append([_fingerprint(url), 0, "", "", lease])
            else:
                self._adds.append([_fingerprint(url), int(force), canonical_netloc(url),
                                   _encode(request), lease])
                self._queued_adds += 1
            if len(self._adds) >= ADD_BATCH:
                self._flush()

    def seen_urls(self) -> Iterable[str]:
        """None: Redis keeps fingerprints, not URLs."""
        return ()

    def pop(self, host: str) -> CrawlRequest | None:
        """Take a claimed request for host, claiming more when the host's have run out.

        The core drops the requests robots.txt forbids as it pops them: claiming here lets
        it get through a run of them in one go, not one claimed batch per wake-up.
        """
        with self._lock:
            queue = self._local.get(host)
            if not queue:
                self._claim()
                queue = self._local.get(host)
            if not queue:
                return None
            request = queue.popleft()
            if not queue:
                del self._local[host]
            self._local_count -= 1
            self._renew_from_now_on()
            return request

    def peek(self, host: str) -> CrawlRequest | None:
        """The request pop(host) would take."""
        queue = self._local.get(host)
        return queue[0] if queue else None

    def pending_hosts(self) -> Iterable[str]:
        """Hosts of the requests this worker claimed; claims more when it runs short."""
        with self._lock:
            if self._local_count < self.batch:
                self._claim()
            return list(self._local)

    def pending_count(self) -> int:
        """Requests claimed here, queued in Redis, or held by other workers (who may queue more)."""
        with self._lock:
            if self._local_count or self._queued_adds:
                return self._local_count + self._queued_adds
            asked, queued, elsewhere = self._elsewhere
            # A cached count may say "wait" for IDLE_POLL; only a fresh one may say "done".
            if time.monotonic() - asked > IDLE_POLL or not queued + elsewhere:
                queued, elsewhere = self._call("WORK_LEFT", self.worker, self._budget, self._lease_ms)
                self._elsewhere = (time.monotonic(), queued, elsewhere)
            return queued + elsewhere

    def seen_count(self) -> int:
        """URLs seen by the whole crawl."""
        return int(self._retry(lambda: self.client.hget(self._prefix + "n", "seen")) or 0)

    def record_done(self, request: CrawlRequest, record: PageRecord | None) -> None:
        """End the lease of a request that made no record (with the next commit)."""
        if record is None:
            with self._lock:
                lease = self._ids.pop(request.origin_url, None)
                if lease is not None:
                    self._ended.append(lease)

    def commit(self, records: Sequence[PageRecord] = ()) -> Sequence[PageRecord]:
        """Queue the links found, then save the records whose leases this worker still holds."""
        with self._lock:
            leases = [self._ids.pop(record.requested_url, "") for record in records]
            saved = self._flush([[lease, _line(record), _tally(record)] for lease, record in zip(leases, records)])
        refused = len(records) - sum(saved)
        if refused:
            self._warn(f"{refused} record(s) refused: another worker took their requests over "
                       "after this one's lease ran out")
        return [record for record, ok in zip(records, saved) if ok]

    def totals(self) -> dict[str, Any]:
        """The tally of the records the whole crawl saved."""
        raw = self._retry(lambda: self.client.hgetall(self._prefix + "tally"))
        tally = {str(k): int(v) for k, v in raw.items()}
        return RecordTally(
            tally.get("pages", 0), tally.get("ok", 0), tally.get("errors", 0), tally.get("bytes", 0),
            Counter(_counter(tally, "s:", int)), Counter(_counter(tally, "e:", str))).to_dict()

    def close(self) -> None:
        """Queue what is left to queue, give back every request still held, stop renewing."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join()
        if self._joined:
            with self._lock:
                self._flush()
                self._call("LEAVE", self.worker)
        self.client.close()

    # ----- the whole crawl's records, for export -------------------------------
    # (Not named as a Journal's: a worker's own output holds its records, not the crawl's.)

    def crawl_record_count(self) -> int:
        """How many records the crawl saved."""
        return int(self._retry(lambda: self.client.llen(self._prefix + "records")))

    def crawl_records(self, after: int = 0) -> Iterator[PageRecord]:
        """The saved records numbered after after (from 1), in commit order, a thousand at a time."""
        key = self._prefix + "records"
        start = after
        while chunk := self._retry(functools.partial(self.client.lrange, key, start, start + 999)):
            for line in chunk:
                yield PageRecord.from_dict(json.loads(line))
            start += len(chunk)

    def status(self) -> CrawlStatus:
        """Queued, leased, done, errors and seen, and each live worker."""
        P = self._prefix
        seconds, micros = self._retry(self.client.time)  # Redis's clock, as the scripts': no write
        now = seconds * 1000 + micros // 1000
        pipe = self.client.pipeline(transaction=False)
        pipe.hmget(P + "n", "queued", "seen")
        pipe.hlen(P + "req")
        pipe.hmget(P + "tally", "pages", "errors")
        pipe.zrange(P + "workers", 0, -1, withscores=True)
        (queued, seen), leased, (done, errors), workers = self._retry(pipe.execute)
        details = self.client.pipeline(transaction=False)
        for name, _ in workers:
            details.scard(P + "lease:" + name)
            details.hmget(P + "winfo:" + name, "committed", "renewed")
        counts = self._retry(details.execute) if workers else []
        live = tuple(
            WorkerStatus(name, counts[2 * i], int(counts[2 * i + 1][0] or 0),
                         max(0.0, round((now - int(counts[2 * i + 1][1] or now)) / 1000, 1)))
            for i, (name, _) in enumerate(workers))
        return CrawlStatus(int(queued or 0), leased, int(done or 0), int(errors or 0), int(seen or 0), live)

    # ----- helpers --------------------------------------------------------------

    @property
    def _lease_ms(self) -> int:
        return int(self.lease_timeout * 1000)

    @property
    def _budget(self) -> int:
        return -1 if self.max_pages is None else self.max_pages

    def _nonce(self) -> str:
        return f"{next(self._nonces)}"

    def _learn_seen(self, urls: Iterable[str]) -> None:
        """Remember which of urls the crawl has seen (a joining worker's seeds: a finished crawl says so)."""
        urls = list(urls)
        pipe = self.client.pipeline(transaction=False)
        for fingerprint in map(_fingerprint, urls):
            pipe.hexists(f"{self._prefix}s:{fingerprint[:4]}", fingerprint[4:])
        for url, seen in zip(urls, self._retry(pipe.execute)):
            if seen:
                self._remember(url)

    def _remember(self, url: str) -> None:
        """Keep url among the recently seen; the older half is dropped when the newer fills up."""
        self._recent.add(url)
        if len(self._recent) >= RECENT_SEEN:
            self._older, self._recent = self._recent, set()

    def _flush(self, records: list[list[Any]] | None = None) -> list[int]:
        """Queue the held-back adds, end the leases ended here, save records (under the lock).

        Returns a 1 (saved) or 0 (refused) per record.
        """
        batch = {"a": self._adds, "d": self._ended, "r": records or []}
        if not (batch["a"] or batch["d"] or batch["r"]):
            return []
        if batch["a"]:
            self._next_claim = 0.0  # there may be something to claim now
        self._adds, self._ended, self._queued_adds = [], [], 0
        return list(self._call("COMMIT", self.worker, self._nonce(), json.dumps(batch)))

    def _claim(self) -> None:
        """Lease more requests from Redis (under the lock), at most every IDLE_POLL when none come."""
        self._flush()  # this worker's own links may be all there is to claim; others wait on its leases
        if time.monotonic() < self._next_claim:
            return
        want = 2 * self.batch - self._local_count
        reply = self._call("CLAIM", self.worker, self._nonce(), want, self._budget, self._lease_ms)
        if reply == [-1]:
            self._rejoin()
            return
        if len(reply) < 2 * want:  # the queue ran dry: let it fill before asking again
            self._next_claim = time.monotonic() + IDLE_POLL
        for lease, raw in zip(reply[::2], reply[1::2]):
            request = _decode(raw)
            self._ids[request.origin_url] = lease
            self._remember(request.url)
            self._local.setdefault(canonical_netloc(request.url), deque()).append(request)
            self._local_count += 1

    def _rejoin(self) -> None:
        """Register again after the lease was taken over; the claimed requests went back to the queue."""
        self._warn(f"worker {self.worker} lost its lease (not renewed for {self.lease_timeout:g} s); "
                   "its requests went back to the queue, rejoining")
        for queue in self._local.values():
            for request in queue:
                self._ids.pop(request.origin_url, None)
        self._local.clear()
        self._local_count = 0
        self._call("REGISTER", self.worker, self._lease_ms)

    def _renew_from_now_on(self) -> None:
        """Start renewing the lease (once): from the first request started, not from connect.

        Until then claims renew it. A thread started earlier would keep the async driver
        from forking its parse pool (slow to start from a forkserver: 2.5-3.3 s for four
        workers on two cores, at half speed meanwhile; scripts/bench_redis.py).
        """
        if self._renewer is None:
            self._renewer = threading.Thread(target=self._renew_loop, name="lease-renewer", daemon=True)
            self._renewer.start()

    def _renew_loop(self) -> None:
        """Renew the lease, and give back the requests of workers whose leases ran out."""
        while not self._stop.wait(self.lease_timeout / 3):
            try:
                if not self._call("RENEW", self.worker, self._lease_ms, retry_until=self._stop):
                    with self._lock:
                        self._rejoin()
                self._call("REAP", retry_until=self._stop)
            except _Stopped:
                return

    def _call(self, script: str, *args: Any, retry_until: threading.Event | None = None) -> Any:
        """Run a Lua script, retrying with backoff while Redis cannot be reached."""
        return self._retry(lambda: self._scripts[script](keys=[self._prefix], args=args), retry_until)

    def _retry(self, action: Callable[[], T], until: threading.Event | None = None) -> T:
        """Do action, waiting out a lost connection (and saying so) until it succeeds."""
        for attempt in itertools.count():
            try:
                result = action()
            except (redis.ConnectionError, redis.TimeoutError) as exc:
                if self._trouble is None:
                    self._trouble = _reason(exc)
                    self._warn(f"lost Redis at {self.url} ({self._trouble}); retrying")
                wait = RETRY_WAITS[min(attempt, len(RETRY_WAITS) - 1)]
                if until is not None and until.wait(wait):
                    raise _Stopped from None
                if until is None:
                    time.sleep(wait)
                continue
            if self._trouble is not None:
                self._trouble = None
                self._warn(f"Redis at {self.url} is back")
            return result
        raise AssertionError("unreachable")

    def _check_same(self, saved: dict[str, Any], settings: dict[str, Any], fmt: str) -> None:
        """Refuse to join a crawl begun with other settings."""
        where = f"crawl {self.crawl_id!r} in {self.url}"
        if fmt != FORMAT:
            raise StateError(f"{where} has format {fmt}, not {FORMAT}: use another --crawl-id")
        for name, value in settings.items():
            if name in saved and saved[name] != value:
                raise StateError(f"{where} runs with {name}={saved[name]!r}, not {value!r}; "
                                 "use the same settings, or another --crawl-id")


class RedisSlots:
    """Slots whose counts live in Redis: each host's limit and delay hold across all workers.

    ``free`` takes the host's slot in Redis when it can (the core starts a request
    on a free host at once), so two workers cannot both take the last one; ``start``
    uses what ``free`` took. A host found busy is not asked again for BUSY_POLL, or
    until the wait Redis gave.
    """

    def __init__(self, store: RedisFrontier, per_host: int, delay: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.per_host = per_host
        self.delay = delay
        self._clock = clock
        self._origins: dict[str, str] = {}
        self._taken: dict[str, float] = {}  # host -> when free() took a slot no request started on yet
        self._busy_until: dict[str, float] = {}
        self._rules: dict[str, RobotsRules] = {}
        self._rules_asked: dict[str, float] = {}

    def open(self, url: str) -> str:
        """The host key of url."""
        host = canonical_netloc(url)
        if host not in self._origins:
            self._origins[host] = "/".join(url.split("/", 3)[:3])
        return host

    def origin(self, host: str) -> str:
        """The scheme://netloc the host was first seen with here."""
        return self._origins[host]

    def free(self, host: str, now: float) -> bool:
        """True when this worker took one of the host's slots in Redis (or holds one not started)."""
        self._give_back_unused()
        if host in self._taken:
            return True
        if now < self._busy_until.get(host, 0.0):
            return False
        wait = self._acquire(host, force=False)
        if wait == 0:
            self._taken[host] = self._clock()
            return True
        self._busy_until[host] = self._clock() + (BUSY_POLL if wait < 0 else wait / 1000)
        return False

    def free_at(self, host: str) -> float | None:
        """When to ask Redis about the host again."""
        return self._busy_until.get(host)

    def start(self, host: str, now: float) -> None:
        """A request starts on the slot free() took (or, unasked, on one taken now)."""
        if self._taken.pop(host, None) is None:
            self._acquire(host, force=True)

    def finish(self, host: str, sent: float) -> None:
        """Give the slot back; the delay runs from when the request was sent."""
        elapsed_ms = max(0, int((self._clock() - sent) * 1000))
        self.store._call("RELEASE", self.store.worker, host, elapsed_ms)
        self._busy_until.pop(host, None)

    def pause(self, host: str, until: float) -> None:
        """No worker starts anything on the host before until (Retry-After)."""
        self.store._call("PAUSE", host, max(0, int((until - self._clock()) * 1000)))
        self._busy_until[host] = until

    def rules(self, host: str) -> RobotsRules | None:
        """The host's robots.txt rules, as whichever worker fetched them settled them."""
        rules = self._rules.get(host)
        if rules is None and self._clock() - self._rules_asked.get(host, -ROBOTS_POLL) >= ROBOTS_POLL:
            self._rules_asked[host] = self._clock()
            coded = self.store._retry(lambda: self.store.client.hget(self.store._prefix + "robots", host))
            if coded is not None:
                rules = self._rules[host] = _decode_rules(str(coded))
        return rules

    def claim_robots(self, host: str) -> bool:
        """True for the one worker that fetches the host's robots.txt (again, if it died doing so)."""
        if self.rules(host) is not None:
            return False
        key = f"{self.store._prefix}rclaim:{host}"
        return bool(self.store._retry(
            lambda: self.store.client.set(key, self.store.worker, nx=True, px=self.store._lease_ms)))

    def settle_robots(self, host: str, rules: RobotsRules, crawl_delay: float | None) -> None:
        """Share the host's rules and Crawl-delay with every worker."""
        self._rules[host] = rules
        delay_ms = -1 if crawl_delay is None else int(crawl_delay * 1000)
        self.store._call("SETTLE_ROBOTS", host, _encode_rules(rules), delay_ms)

    def _give_back_unused(self) -> None:
        """Give back the slots free() took that no request started on for UNUSED_SLOT."""
        if self._taken:
            old = self._clock() - UNUSED_SLOT
            for host in [host for host, since in self._taken.items() if since < old]:
                del self._taken[host]
                self.store._call("RELEASE", self.store.worker, host, 0)

    def _acquire(self, host: str, *, force: bool) -> int:
        """Take one of the host's slots in Redis: 0, or -1 at the limit, or ms until its delay ends."""
        return int(self.store._call("ACQUIRE", self.store.worker, host, self.per_host,
                                    int(self.delay * 1000), int(force), self.store._lease_ms))


class _Stopped(Exception):
    """The store closed while waiting for Redis."""


_SCRIPTS = ("REGISTER", "RENEW", "REAP", "LEAVE", "CLAIM", "COMMIT", "WORK_LEFT",
            "ACQUIRE", "RELEASE", "PAUSE", "SETTLE_ROBOTS", "CLOCK")


def _fingerprint(url: str) -> str:
    """The URL's 64-bit fingerprint in hex: 4 digits pick the seen-set's bucket, 12 are kept."""
    return hashlib.blake2b(url.encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def _encode(request: CrawlRequest) -> str:
    """A request as compact JSON (it waits in Redis, maybe millions of them).

    Trailing defaults are left out, and a referrer on the URL's own origin keeps only its
    path: about 30 bytes less a request.
    """
    referrer = request.referrer
    origin = _origin(request.url)
    if referrer is not None and referrer.startswith(origin + "/"):
        referrer = referrer[len(origin):]
    fields = [request.url, request.depth, referrer, request.kind, request.requested_url,
              list(request.redirects), request.retries]
    defaults: list[Any] = [None, 0, None, "page", None, [], 0]
    while len(fields) > 2 and fields[-1] == defaults[len(fields) - 1]:
        fields.pop()
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"))


def _decode(raw: str) -> CrawlRequest:
    """A request from its compact JSON."""
    fields = json.loads(raw)
    url, depth, referrer, kind, requested_url, redirects, retries = fields + [None, "page", None, [], 0][len(fields) - 2:]
    if referrer is not None and referrer.startswith("/"):
        referrer = _origin(url) + referrer
    return CrawlRequest(url=url, depth=depth, referrer=referrer, kind=kind, requested_url=requested_url,
                        redirects=tuple(redirects), retries=retries)


def _origin(url: str) -> str:
    """scheme://netloc of an absolute URL."""
    return "/".join(url.split("/", 3)[:3])


def _line(record: PageRecord) -> str:
    """A record as the JSON line the journal keeps."""
    return json.dumps(record.to_dict(), ensure_ascii=False, separators=(",", ":"))


def _tally(record: PageRecord) -> dict[str, int]:
    """What a record adds to the crawl's tally: RecordTally's counts, as the tally hash's fields."""
    tally = RecordTally()
    tally.add(record)
    counts = tally.to_dict()
    fields = {name: counts[name] for name in ("pages", "ok", "errors", "bytes") if counts[name]}
    fields.update((f"s:{status}", n) for status, n in counts["statuses"].items())
    fields.update((f"e:{kind}", n) for kind, n in counts["error_kinds"].items())
    return fields


def _counter(tally: dict[str, int], prefix: str, key: Callable[[str], Any]) -> dict[Any, int]:
    """The tally's fields under prefix, keyed without it."""
    return {key(name[len(prefix):]): n for name, n in tally.items() if name.startswith(prefix)}


def _encode_rules(rules: RobotsRules) -> str:
    """Rules as Redis keeps them: the file's text, or allow all, or disallow all."""
    if rules.text is not None:
        return "T" + rules.text
    return "A" if rules.allow_all else "D"


def _decode_rules(coded: str) -> RobotsRules:
    """Rules from what Redis keeps."""
    if coded.startswith("T"):
        return RobotsRules(parser=Protego.parse(coded[1:]), text=coded[1:])
    return ALLOW_ALL if coded == "A" else DISALLOW_ALL


def _reason(exc: BaseException) -> str:
    """A short reason for a Redis error."""
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0].rstrip(".")


def _to_stderr(message: str) -> None:
    """Say something about the shared crawl on standard error."""
    print(f"crawler: {message}", file=sys.stderr, flush=True)


__all__ = ["CrawlStatus", "RedisFrontier", "RedisSlots", "WorkerStatus"]
