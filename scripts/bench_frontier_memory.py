"""Grow a frontier to 1,000,000 URLs and print peak RSS and rates, SQLite store against memory.

    python scripts/bench_frontier_memory.py                 # 1,000,000 URLs, both stores
    python scripts/bench_frontier_memory.py --urls 200000 --stores sqlite

A synthetic feed goes through CrawlCore.add_url, as links found on pages do:
scope, dedup, trap guards, then the store. Every new URL is followed by a
duplicate of an earlier one (links repeat), and the feed commits every
--batch URLs, as the record writer does. Then --pops requests are taken back,
host by host. Each store runs in a fresh child process, so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HOSTS = 100


def url_of(i: int) -> str:
    """The i-th synthetic URL: 100 hosts, realistic length (about 80 characters)."""
    return f"http://host{i % HOSTS:03d}.example.test/articles/{i // 1000}/item-{i}-a-longer-slug.html"


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def grow(store_name: str, urls: int, batch: int, pops: int) -> dict:
    """Feed urls new URLs (and as many duplicates) through a core on the store; return figures."""
    from crawler.config import CrawlConfig
    from crawler.core import CrawlCore
    from crawler.stores.memory import MemoryFrontier
    from crawler.stores.sqlite import SqliteFrontier

    directory = tempfile.mkdtemp(prefix="bench-frontier-")
    store = SqliteFrontier(directory) if store_name == "sqlite" else MemoryFrontier()
    core = CrawlCore(CrawlConfig(respect_robots=False), store)
    core.add_seeds(f"http://host{h:03d}.example.test/" for h in range(HOSTS))
    rss_before = peak_rss_mb()
    rng = random.Random(1)
    started = time.perf_counter()
    for i in range(urls):
        core.add_url(url_of(i), depth=1, referrer=url_of(i // 2))
        core.add_url(url_of(rng.randrange(i + 1)), depth=1)  # a link seen before
        if i % batch == batch - 1:
            store.commit()
    store.commit()
    feed_s = time.perf_counter() - started
    stats = core.statistics()
    pop_s = time_pops(store, pops)
    figures = {
        "store": store_name, "urls_fed": 2 * urls, "queued": stats.queued, "seen": stats.seen,
        "duplicates": stats.duplicates, "feed_s": round(feed_s, 1),
        "add_url_per_s": round(2 * urls / feed_s), "new_urls_per_s": round(urls / feed_s),
        "pops_per_s": round(pops / pop_s) if pops else None,
        "rss_before_feed_mb": rss_before, "peak_rss_mb": peak_rss_mb(),
        "disk_mb": round(sum(f.stat().st_size for f in Path(directory).iterdir()) / 2**20, 1),
    }
    store.close()
    return figures


def time_pops(store: object, pops: int) -> float:
    """Seconds to pop pops requests, host after host, committing every 1000."""
    started = time.perf_counter()
    hosts = list(store.pending_hosts())  # type: ignore[attr-defined]
    for i in range(pops):
        store.pop(hosts[i % len(hosts)])  # type: ignore[attr-defined]
        if i % 1000 == 999:
            store.commit()  # type: ignore[attr-defined]
    return time.perf_counter() - started


def main() -> None:
    """Run each store in a child process and print its figures as a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", type=int, default=1_000_000, help="new URLs to queue")
    parser.add_argument("--batch", type=int, default=10_000, help="URLs between commits")
    parser.add_argument("--pops", type=int, default=100_000, help="requests to pop afterwards")
    parser.add_argument("--stores", default="sqlite,memory", help="stores to measure, in order")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(grow(args.child, args.urls, args.batch, args.pops)))
        return
    rows = []
    for name in args.stores.split(","):
        command = [sys.executable, __file__, "--child", name, "--urls", str(args.urls),
                   "--batch", str(args.batch), "--pops", str(args.pops)]
        child = subprocess.run(command, check=True, capture_output=True, text=True)
        rows.append(json.loads(child.stdout))
    print_table(rows)


def print_table(rows: list[dict]) -> None:
    """The figures, one column per store."""
    print(f"{'':22}" + "".join(f"{row['store']:>14}" for row in rows))
    for key in rows[0]:
        if key != "store":
            print(f"{key:22}" + "".join(f"{row[key]!s:>14}" for row in rows))


if __name__ == "__main__":
    main()
