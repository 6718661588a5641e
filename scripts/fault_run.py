"""Crawl a fault-injecting local site with the default retries and print what it took.

    python scripts/fault_run.py --pages 200 --mode async

The site (tests/integration/hostile_server.FaultSite, on 127.0.0.1) answers 503s
and 429s with and without Retry-After, resets connections mid-body, answers
slower than the timeout and cuts gzip bodies short, a planned 0-3 times per page
(seeded, so runs repeat), and has five pages that never answer. Every setting but
--timeout is the crawler's default. Prints pages, retries and give-ups, and
checks that each page was fetched exactly once.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from crawler import Crawler
from tests.integration.hostile_server import HOPELESS, FaultSite, ServerThread


async def crawl(root: str, mode: str, timeout: float) -> tuple[list, object]:
    """Crawl the site; return the records and the final statistics."""
    async with Crawler(mode=mode, timeout=timeout) as crawler:
        records = [record async for record in crawler.crawl(root + "/")]
        return records, crawler.statistics()


def figures(site: FaultSite, records: list, stats: object, elapsed: float) -> dict:
    """What the run shows: pages, retries, give-ups, and the exactly-once check."""
    good = [p for p in site.paths() if not p.startswith("/hopeless/")]
    requested = Counter(r.requested_url.split("/", 3)[3] for r in records)
    return {
        "pages_expected": len(site.paths()), "records": len(records),
        "ok": sum(r.ok for r in records), "duplicates": sum(n - 1 for n in requested.values()),
        "retries": stats.retries,  # type: ignore[attr-defined]
        "faults_injected": sum(a.fault != "ok" for attempts in site.attempts.values() for a in attempts),
        "faults_by_kind": dict(Counter(a.fault for v in site.attempts.values() for a in v if a.fault != "ok")),
        "given_up": {r.requested_url.split("/", 3)[3]: r.error.kind for r in records if r.error},
        "served_exactly_once": all(site.served(p) == 1 for p in good),
        "elapsed_s": round(elapsed, 2),
    }


def main() -> None:
    """Parse flags, serve the site, crawl it, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mode", default="async", choices=("async", "sync", "threaded", "process"))
    parser.add_argument("--timeout", type=float, default=2.0, help="per-request deadline (s)")
    args = parser.parse_args()
    site = FaultSite(pages=args.pages, seed=args.seed, slow_seconds=args.timeout + 1)
    server = ServerThread()
    root = f"http://127.0.0.1:{server.serve_app(site.app())}"
    started = time.monotonic()
    records, stats = asyncio.run(crawl(root, args.mode, args.timeout))
    result = figures(site, records, stats, time.monotonic() - started)
    server.stop()
    print(json.dumps({"mode": args.mode, "pages": args.pages, "seed": args.seed, **result}, indent=2))
    ok = result["served_exactly_once"] and not result["duplicates"] and len(result["given_up"]) == len(HOPELESS)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
