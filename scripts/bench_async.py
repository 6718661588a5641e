"""Benchmark the async driver on the demo site: pages/s and peak RSS, with and without the parse pool.

    python scripts/bench_async.py --pages 2000 --latency-ms 50 -c 64
    python scripts/bench_async.py --offload-bytes 0 16384 1000000   # compare offload thresholds
    python scripts/bench_async.py --warc --repeat 3    # the cost of WARC output, runs alternated
    python scripts/bench_async.py --warc 0 2 --repeat 3   # ... at two compression levels

The demo site runs in a child process so it does not share the crawler's GIL.
Each configuration runs in a fresh child process so peak RSS is its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def crawl_once(url: str, concurrency: int, parse_workers: int, offload: int, warc: int = -1) -> dict:
    """Crawl url in this process and return figures (run in a fresh child)."""
    import psutil

    # Before the clock starts: the package loads its parts lazily.
    from crawler import Crawler
    from crawler.sinks.warc import WarcSink

    async def run(directory: str | None) -> list:
        sink = WarcSink(directory, gzip_level=warc) if directory else None
        async with Crawler(warc=sink, concurrency=concurrency, per_host=concurrency,
                           parse_workers=parse_workers, parse_offload_bytes=offload) as crawler:
            return [page async for page in crawler.crawl(url)]

    with tempfile.TemporaryDirectory(prefix="bench-warc-") as directory:
        started = time.perf_counter()
        cpu_started = time.process_time()
        pages = asyncio.run(run(directory if warc >= 0 else None))
        wall = time.perf_counter() - started
        warc_mb = sum(path.stat().st_size for path in Path(directory).iterdir()) / 2**20
    children_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {
        "pages": len(pages), "ok": sum(p.ok for p in pages), "wall_s": round(wall, 2),
        "pages_per_sec": round(len(pages) / wall, 1),
        "cpu_s": round(time.process_time() - cpu_started, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "children_peak_rss_mb": round(children_rss, 1),
        "rss_now_mb": round(psutil.Process().memory_info().rss / 2**20, 1),
        "warc_mb": round(warc_mb, 1),
    }


def main() -> None:
    """Start the demo site, then crawl it once per configuration and print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("-c", "--concurrency", type=int, default=64)
    parser.add_argument("--parse-workers", type=int, default=2, help="pool size for the pool run")
    parser.add_argument("--offload-bytes", type=int, nargs="+", default=[16 * 1024],
                        help="parse_offload_bytes values to try with the pool (0: offload every page)")
    parser.add_argument("--warc", type=int, nargs="*", metavar="LEVEL",
                        help="also run each pool configuration with WARC output at these isal levels (0-3) "
                             "(none given: the default), side by side")
    parser.add_argument("--repeat", type=int, default=1, help="rounds, runs alternated within each")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, workers, offload, warc = args.child.split(",")
        print(json.dumps(crawl_once(url, args.concurrency, int(workers), int(offload), int(warc))))
        return

    from crawler.demo import DemoSiteProcess, DemoSpec
    from crawler.sinks.warc import GZIP_LEVEL

    levels = [] if args.warc is None else (args.warc or [GZIP_LEVEL])
    runs = []
    for o in args.offload_bytes:
        runs.append((f"pool of {args.parse_workers}, offload >= {o} B", args.parse_workers, o, -1))
        runs.extend((f"  the same + WARC, isal level {level}", args.parse_workers, o, level)
                    for level in levels)
    if not levels:
        runs.append(("inline (--parse-workers 0)", 0, 0, -1))
    rates: dict[str, list[float]] = {name: [] for name, *_ in runs}
    with DemoSiteProcess(DemoSpec(pages=args.pages, latency_ms=args.latency_ms)) as site:
        print(f"demo site: {args.pages} pages, {args.latency_ms:g} ms latency, -c {args.concurrency}")
        print(f"{'configuration':36} {'pages':>6} {'wall s':>7} {'pages/s':>8} {'cpu s':>6} "
              f"{'peak RSS MB':>12} {'WARC MB':>8}")
        for _ in range(args.repeat):
            for name, workers, offload, warc in runs:
                child = [sys.executable, __file__, "-c", str(args.concurrency),
                         "--child", f"{site.url},{workers},{offload},{warc}"]
                result = json.loads(subprocess.run(child, check=True, capture_output=True, text=True).stdout)
                rss = result["peak_rss_mb"] + result["children_peak_rss_mb"]
                rates[name].append(result["pages_per_sec"])
                print(f"{name:36} {result['pages']:>6} {result['wall_s']:>7} {result['pages_per_sec']:>8} "
                      f"{result['cpu_s']:>6} {rss:>12.1f} {result['warc_mb']:>8}")
    for name, _, _, level in runs:
        if level >= 0:
            plain = statistics.median(rates[runs[0][0]])
            with_warc = statistics.median(rates[name])
            print(f"isal level {level}: median {with_warc:.0f} pages/s against {plain:.0f} without "
                  f"WARC ({(1 - with_warc / plain) * 100:.1f}% slower)")


if __name__ == "__main__":
    main()
