"""Benchmark the crawl shared through Redis: a 1,000,000-URL frontier's memory, and 1, 2, 4 workers' speed.

    python scripts/bench_redis.py memory --urls 1000000
    python scripts/bench_redis.py throughput --latency-ms 200 -c 8 --workers 1,2,4

memory: a fresh redis-server (no persistence); one worker adds --urls distinct
demo-like URLs, each with its request, as the core does, so that all are seen and
queued; prints Redis's used_memory before and after, bytes a URL, and whether it
meets the target (at most 150 MB). Then it claims and commits --done of them, as
a crawl does (seen stays, the queue shrinks, records grow), and prints it again.

throughput: the demo site at --latency-ms in a child process, a redis-server with
AOF on (as a crawl that must survive a restart runs); for each N in --workers, a
fresh crawl id and N worker processes (the library: RedisFrontier, resume.begin,
Crawler), each ``-c`` requests in flight, crawling the whole site together. Prints
pages/s (from the workers' common start, imports left out, to the last one's end),
the speed-up against the first N (target: 4 workers at least 3.5x one), the mean
fetch time and how busy the workers' slots were (fetch time over N x c x wall),
and per page: round trips to Redis (counted in the workers), commands Redis ran
(scripts' own included), scripts run, CPU of the workers (parse pools included)
and of Redis; then checks that every page was committed exactly once. The site
has 2,000 pages: a crawl from one seed needs a second or two whatever N (robots.txt,
then the home page, then its links fill the slots; the last worker's exit), which
weighs on a short run with 4 workers. --repeat keeps each N's fastest run.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis

ROOT = Path(__file__).resolve().parents[1]
TARGET_MB = 150
TARGET_SPEEDUP = 3.5
DEMO_ORIGIN = "http://127.0.0.1:8080"
CRAWL_ID = "bench"
PREFIX = f"crawler:{{{CRAWL_ID}}}:"  # where the crawl's keys live (see crawler/stores/redis_lua.py)


def start_redis(directory: str, *, appendonly: bool) -> Any:
    """A fresh redis-server on a free port (the tests' RedisServer)."""
    sys.path.insert(0, str(ROOT))  # the tests' helper, not a copy of it
    from tests.redis_server import RedisServer

    return RedisServer(Path(directory) / "redis", appendonly=appendonly).start()


def used_memory(client: redis.Redis) -> int:
    """Redis's used_memory in bytes (INFO memory)."""
    return int(client.info("memory")["used_memory"])


# ----- memory ---------------------------------------------------------------------


def demo_url(i: int) -> str:
    """The i-th demo-like URL (the demo site's /page/N on one host)."""
    return f"{DEMO_ORIGIN}/page/{i}"


def long_url(i: int) -> str:
    """The i-th URL of scripts/bench_frontier_memory.py: 100 hosts, about 70 characters."""
    return f"http://host{i % 100:03d}.example.test/articles/{i // 1000}/item-{i}-a-longer-slug.html"


def fill(store: Any, urls: int, url_of: Callable[[int], str]) -> float:
    """Add urls new URLs with their requests, as the core does; return seconds taken.

    Each is linked from a page of its own host found a hundred URLs earlier.
    """
    from crawler.models import CrawlRequest

    started = time.perf_counter()
    for i in range(1, urls + 1):
        url = url_of(i)
        store.add(url, CrawlRequest(url=url, depth=1 + i.bit_length() // 4, referrer=url_of(max(0, i - 100))))
    store.commit()
    return time.perf_counter() - started


def settle(store: Any, count: int, commit_every: int) -> float:
    """Claim count requests and commit a record for each, as a crawl does; return seconds taken."""
    started = time.perf_counter()
    done = 0
    while done < count:
        records: list[Any] = []
        for host in list(store.pending_hosts()):
            while len(records) < min(commit_every, count - done) and (request := store.pop(host)):
                records.append(demo_record(request.url, request.depth, request.referrer))
        if not records:
            break
        store.commit(records)
        done += len(records)
    return time.perf_counter() - started


def demo_record(url: str, depth: int, referrer: str | None, links: int = 0) -> Any:
    """The record of a fetched demo page with as many links (the benchmark saves none)."""
    from crawler.models import PageRecord

    return PageRecord(
        url=url, requested_url=url, status=200, depth=depth, referrer=referrer,
        content_type="text/html; charset=utf-8", size=45_000, title=f"Demo page {url.rsplit('/', 1)[1]}",
        links=[demo_url(700_000 + i) for i in range(links)], redirects=[], retries=0, elapsed_ms=203.4,
        fetched_at="2026-12-02T15:30:00.123456+00:00")


def record_bytes(url_of: Callable[[int], str], links: int) -> int:
    """The length of a record's JSON line, with as many links."""
    record = demo_record(url_of(500_000), 6, url_of(499_900), links)
    return len(json.dumps(record.to_dict(), separators=(",", ":")))


def biggest_keys(client: redis.Redis, top: int = 5) -> list[tuple[str, int]]:
    """The crawl's largest keys by MEMORY USAGE: the seen-set's 65,536 buckets as one, every host's queue as one."""
    sizes: Counter[str] = Counter()
    for key in client.scan_iter(match=PREFIX + "*", count=1000):
        name = key.decode().removeprefix(PREFIX)
        group = {"s:": "s:XXXX", "q:": "q:HOST"}.get(name[:2], name)
        sizes[group] += int(client.memory_usage(key, samples=0) or 0)
    return sizes.most_common(top)


def print_memory(client: redis.Redis, store: Any, before: int) -> int:
    """Print the crawl's counts, Redis's used_memory and its largest keys; return used_memory."""
    status, used = store.status(), used_memory(client)
    print(f"  seen {status.seen:,}, queued {status.queued:,}, leased {status.leased:,}, done {status.done:,}")
    print(f"  used_memory {used / 2**20:.1f} MB ({(used - before) / 2**20:+.1f} MB); largest keys:")
    for key, size in biggest_keys(client):
        print(f"  {size / 2**20:8.1f} MB  {key}")
    return used


def bench_memory(args: argparse.Namespace) -> int:
    """Fill a frontier in a fresh Redis, print its memory, then settle part of it and print again."""
    from crawler.stores.redis import RedisFrontier

    with tempfile.TemporaryDirectory(prefix="bench-redis-") as directory:
        server = start_redis(directory, appendonly=False)
        client = server.client()
        try:
            before = used_memory(client)
            print(f"fresh redis-server: used_memory {before / 2**20:.1f} MB")
            store = RedisFrontier.connect(server.url, CRAWL_ID, batch=args.claim_batch)
            url_of = long_url if args.long_urls else demo_url
            seconds = fill(store, args.urls, url_of)
            print(f"added {args.urls:,} URLs with their requests in {seconds:.1f} s ({args.urls / seconds:,.0f}/s), "
                  f"like {url_of(args.urls // 2)}")
            filled = print_memory(client, store, before)
            print(f"  {(filled - before) / args.urls:.1f} bytes a URL seen and queued")
            if args.done:
                seconds = settle(store, args.done, args.commit_every)
                print(f"claimed and committed {args.done:,} in {seconds:.1f} s ({args.done / seconds:,.0f}/s), "
                      f"records of {record_bytes(url_of, 0)} bytes (with a demo page's 60 links: {record_bytes(url_of, 60):,})")
                settled = print_memory(client, store, before)
                print(f"  {(settled - filled) / args.done:+.1f} bytes a page done (its record, less its request)")
            store.close()
        finally:
            client.close()
            server.stop()
    met = filled <= TARGET_MB * 2**20
    print(f"{'PASS' if met else 'FAIL'}  at most {TARGET_MB} MB for {args.urls:,} URLs seen and queued "
          f"(measured {filled / 2**20:.1f} MB)")
    return 0 if met else 1


# ----- throughput -----------------------------------------------------------------


def count_round_trips(client: redis.Redis) -> itertools.count[int]:
    """Count every command the client sends (each is a round trip: the store pipelines none in a crawl)."""
    sent = itertools.count()
    execute = client.execute_command

    def counted(*args: Any, **options: Any) -> Any:
        next(sent)
        return execute(*args, **options)

    client.execute_command = counted  # type: ignore[method-assign]
    return sent


def cpu_seconds(who: int) -> float:
    """User plus system CPU seconds of who (resource.RUSAGE_SELF or RUSAGE_CHILDREN)."""
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def live_children_cpu_seconds() -> float:
    """CPU seconds of this process's live children and of the children they reaped (Linux).

    A crawl running another thread (the lease renewer) starts its parse pool from a
    forkserver, which outlives the crawl: the pool's workers are its children.
    """
    ticks = 0
    for task in Path("/proc/self/task").iterdir():
        for pid in (task / "children").read_text().split():
            stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += sum(map(int, stat[11:15]))  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def wait_for_all(client: redis.Redis, crawl_id: str, workers: int) -> None:
    """Start crawling when every worker of the run is ready, so that their imports are not timed."""
    ready, go = f"bench:{crawl_id}:ready", f"bench:{crawl_id}:go"
    if client.incr(ready) == workers:
        client.rpush(go, *range(workers))
    client.blpop([go])


async def crawl_as_worker(args: argparse.Namespace) -> dict[str, Any]:
    """One worker of the shared crawl, through the library; its figures."""
    from crawler.api import Crawler
    from crawler.config import CrawlConfig
    from crawler.resume import begin
    from crawler.stores.redis import RedisFrontier

    config = CrawlConfig(concurrency=args.concurrency, per_host=args.per_host, parse_workers=args.parse_workers)
    store = RedisFrontier.connect(args.redis, args.crawl_id, batch=max(args.concurrency, args.of))
    begin(store, [args.seed], config)
    seeds = sorted({args.seed} | set(store.seeds()))
    wait_for_all(store.client, args.crawl_id, args.of)
    trips = count_round_trips(store.client)
    cpu, started = cpu_seconds(resource.RUSAGE_SELF), time.time()
    pages = 0
    async with Crawler(config, store=store) as crawler:
        async for _ in crawler.crawl(seeds):
            pages += 1
    ended = time.time()
    store.close()
    cpu = cpu_seconds(resource.RUSAGE_SELF) - cpu + cpu_seconds(resource.RUSAGE_CHILDREN) + live_children_cpu_seconds()
    return {"pages": pages, "started": started, "ended": ended, "cpu_s": cpu, "round_trips": next(trips)}


def server_counters(client: redis.Redis) -> dict[str, float]:
    """Commands Redis ran (inside scripts too), scripts called, and its CPU seconds."""
    stats, commands, cpu = client.info("stats"), client.info("commandstats"), client.info("cpu")
    return {"commands": stats["total_commands_processed"],
            "scripts": commands.get("cmdstat_evalsha", {}).get("calls", 0),
            "cpu_s": cpu["used_cpu_user"] + cpu["used_cpu_sys"]}


def run_workers(args: argparse.Namespace, server: Any, seed: str, n: int) -> dict[str, Any]:
    """Crawl the site with n worker processes on a fresh crawl id; the run's figures."""
    crawl_id = f"bench-{n}-{time.time_ns()}"
    command = [sys.executable, __file__, "worker", "--redis", server.url, "--crawl-id", crawl_id, "--seed", seed,
               "-c", str(args.concurrency), "--per-host", str(args.per_host), "--of", str(n)]
    if args.parse_workers is not None:
        command += ["--parse-workers", str(args.parse_workers)]
    client = server.client()
    before = server_counters(client)
    workers = [subprocess.Popen(command, stdout=subprocess.PIPE, text=True) for _ in range(n)]
    reports = [json.loads(worker.communicate()[0]) for worker in workers]
    if any(worker.returncode for worker in workers):
        raise SystemExit(f"a worker failed: exit codes {[worker.returncode for worker in workers]}")
    after = server_counters(client)
    client.close()
    pages = sum(report["pages"] for report in reports)
    seconds = max(r["ended"] for r in reports) - min(r["started"] for r in reports)
    return {"workers": n, "pages": pages, "seconds": seconds, "pages_per_s": pages / seconds,
            "per_worker": [r["pages"] for r in reports],
            "round_trips": sum(r["round_trips"] for r in reports) / pages,
            "commands": (after["commands"] - before["commands"]) / pages,
            "scripts": (after["scripts"] - before["scripts"]) / pages,
            "worker_cpu_ms": 1000 * sum(r["cpu_s"] for r in reports) / pages,
            "redis_cpu_ms": 1000 * (after["cpu_s"] - before["cpu_s"]) / pages,
            **journal_figures(server.url, crawl_id, pages, n * args.concurrency * seconds)}


def fastest(args: argparse.Namespace, server: Any, seed: str, n: int) -> dict[str, Any]:
    """The fastest of --repeat runs with n workers (a noisy machine only ever slows a run down)."""
    return min((run_workers(args, server, seed, n) for _ in range(args.repeat)), key=lambda run: run["seconds"])


def journal_figures(url: str, crawl_id: str, pages: int, slot_seconds: float) -> dict[str, Any]:
    """Check the crawl's journal holds each page once, as many as the workers wrote (exit if not); time fetching."""
    from crawler.stores.redis import RedisFrontier

    reader = RedisFrontier.connect(url, crawl_id, join=False)
    records = list(reader.crawl_records())
    reader.close()
    urls = Counter(record.requested_url for record in records)
    twice = sum(1 for n in urls.values() if n > 1)
    once = f"{len(records):,} records, {len(urls):,} URLs, {twice} saved twice, workers wrote {pages:,}"
    if twice or len(records) != pages:
        raise SystemExit(f"FAIL  not every page committed exactly once: {once}")
    fetching = sum(record.elapsed_ms for record in records) / 1000
    return {"exactly_once": once, "fetch_ms": 1000 * fetching / pages, "busy": fetching / slot_seconds}


def bench_throughput(args: argparse.Namespace) -> int:
    """Crawl the demo site with each number of workers; print the figures and the target."""
    from crawler.demo import DemoSpec
    from crawler.demo.site import DemoSiteProcess

    counts = [int(n) for n in args.workers.split(",")]
    spec = DemoSpec(pages=args.pages, latency_ms=args.latency_ms)
    with tempfile.TemporaryDirectory(prefix="bench-redis-") as directory, DemoSiteProcess(spec) as site:
        server = start_redis(directory, appendonly=True)
        try:
            print(f"demo site: {args.pages:,} pages, {args.latency_ms:g} ms latency; each worker -c "
                  f"{args.concurrency}, --per-host {args.per_host} (shared); redis-server with AOF")
            rows = [fastest(args, server, site.url, n) for n in counts]
        finally:
            server.stop()
    print_rows(rows)
    if counts[0] != 1 or counts[-1] != 4:
        return 0  # the target compares 4 workers with 1
    speedup = rows[-1]["pages_per_s"] / rows[0]["pages_per_s"]
    met = speedup >= TARGET_SPEEDUP
    print(f"{'PASS' if met else 'FAIL'}  4 workers at least {TARGET_SPEEDUP:g}x one (measured {speedup:.2f}x)")
    return 0 if met else 1


def print_rows(rows: list[dict[str, Any]]) -> None:
    """The figures, one line per number of workers, then the exactly-once checks."""
    base = rows[0]["pages_per_s"]
    print(f"{'workers':>7} {'pages':>6} {'s':>6} {'pages/s':>8} {'speed-up':>8} {'fetch ms':>8} {'busy':>5} {'trips/pg':>8} "
          f"{'cmds/pg':>8} {'evals/pg':>8} {'wCPU ms/pg':>10} {'rCPU ms/pg':>10}  pages per worker")
    for r in rows:
        print(f"{r['workers']:>7} {r['pages']:>6} {r['seconds']:>6.1f} {r['pages_per_s']:>8.1f} "
              f"{r['pages_per_s'] / base:>7.2f}x {r['fetch_ms']:>8.1f} {r['busy']:>5.0%} {r['round_trips']:>8.1f} {r['commands']:>8.1f} "
              f"{r['scripts']:>8.1f} {r['worker_cpu_ms']:>10.2f} {r['redis_cpu_ms']:>10.2f}  {r['per_worker']}")
    for r in rows:
        print(f"exactly once with {r['workers']}: {r['exactly_once']}")


def main() -> int:
    """Run the benchmark named on the command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    memory = commands.add_parser("memory", help="Redis memory of a frontier of --urls URLs")
    memory.add_argument("--urls", type=int, default=1_000_000, help="distinct URLs to queue")
    memory.add_argument("--long-urls", action="store_true",
                        help="URLs of 100 hosts, ~70 characters (default: the demo's, ~33)")
    memory.add_argument("--done", type=int, help="then claim and commit this many (default: half)")
    memory.add_argument("--commit-every", type=int, default=64, help="records a commit saves")
    memory.add_argument("--claim-batch", type=int, default=256, help="requests claimed a round trip")
    throughput = commands.add_parser("throughput", help="pages/s of 1, 2, 4 workers on the demo site")
    throughput.add_argument("--pages", type=int, default=2000, help="pages on the demo site")
    throughput.add_argument("--latency-ms", type=float, default=200.0)
    throughput.add_argument("-c", "--concurrency", type=int, default=8, help="requests in flight a worker")
    throughput.add_argument("--per-host", type=int, default=64, help="shared by all workers")
    throughput.add_argument("--workers", default="1,2,4", help="numbers of workers, the first the baseline")
    throughput.add_argument("--repeat", type=int, default=1, help="runs of each, the fastest kept")
    throughput.add_argument("--parse-workers", type=int, help="parse processes a worker (default: the crawler's)")
    worker = commands.add_parser("worker")  # one worker of a throughput run, started by it
    for name in ("--redis", "--crawl-id", "--seed"):
        worker.add_argument(name, required=True)
    worker.add_argument("-c", "--concurrency", type=int, required=True)
    worker.add_argument("--per-host", type=int, required=True)
    worker.add_argument("--of", type=int, required=True, help="workers in the run")
    worker.add_argument("--parse-workers", type=int)
    args = parser.parse_args()
    if args.command == "worker":
        print(json.dumps(asyncio.run(crawl_as_worker(args))))
        return 0
    if args.command == "memory":
        args.done = args.urls // 2 if args.done is None else args.done
        return bench_memory(args)
    return bench_throughput(args)


if __name__ == "__main__":
    sys.exit(main())
