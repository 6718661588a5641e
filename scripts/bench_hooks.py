"""Benchmark a scraper's page hook: where it runs decides how fast a CPU-bound crawl goes.

    python scripts/bench_hooks.py                        # 2,000 demo pages, 50 ms, -c 64, per host 64
    python scripts/bench_hooks.py --repeat 3             # interleaved rounds, medians

Side by side in one run, each crawl in a fresh interpreter (the demo site in a
child process of its own): threaded with the hook (in its worker threads), async
with the hook in the parse pool (2 workers, then 1, to show how it scales with
CPUs), async with the hook pinned to the crawling process (inline on the event
loop, as before hooks ran in the pool), and async without a hook.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any


def scrape(page: Any, soup: Any) -> list[dict[str, Any]]:
    """The issue's hook: a scraper's typical searches of the whole document."""
    heads = [h.get_text(" ", strip=True) for h in soup.select("h1, h2, h3")]
    return [{"headings": heads, "links": len(soup.find_all("a", href=True))}]


# key -> (label, mode, hook placement: "pool", "pinned" or None, parse workers)
RUNS: dict[str, tuple[str, str, str | None, int]] = {
    "threaded": ("threaded, hook in its threads", "threaded", "pool", 0),
    "pool": ("async, hook in the pool (2 workers)", "async", "pool", 2),
    "pool1": ("async, hook in the pool (1 worker)", "async", "pool", 1),
    "inline": ("async, hook inline (pinned)", "async", "pinned", 2),
    "nohook": ("async, no hook", "async", None, 2),
}


def crawl_once(url: str, run: str, width: int) -> dict[str, Any]:
    """Crawl url in this process with one configuration and return figures (run in a fresh child)."""
    import crawler

    _, mode, placement, parse_workers = RUNS[run]
    hook = {"pool": scrape, "pinned": crawler.in_crawl_process(scrape), None: None}[placement]
    started, cpu_started = time.perf_counter(), time.process_time()
    pages = crawler.crawl(url, mode=mode, on_page=hook, concurrency=width, workers=width, per_host=width,
                          parse_workers=parse_workers)
    wall = time.perf_counter() - started
    children = os.times()
    return {"pages": len(pages), "items": sum(len(p.items) for p in pages),
            "errors": sum(not p.ok for p in pages), "pages_per_sec": len(pages) / wall,
            "cpu_s": time.process_time() - cpu_started + children.children_user + children.children_system}


def main() -> None:
    """Start the demo site, crawl it with each configuration (interleaved rounds), print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("-c", "--width", type=int, default=64, help="concurrency, threads and per-host cap")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--runs", default=",".join(RUNS), help=f"which, comma-separated (default: {','.join(RUNS)})")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(crawl_once(args.child[0], args.child[1], args.width)))
        return

    from crawler.demo import DemoSiteProcess, DemoSpec

    runs = args.runs.split(",")
    if not set(runs) <= set(RUNS):
        parser.error(f"--runs takes {', '.join(RUNS)}")
    results: dict[str, list[dict[str, Any]]] = {run: [] for run in runs}
    with DemoSiteProcess(DemoSpec(pages=args.pages, latency_ms=args.latency_ms)) as site:
        for _ in range(args.repeat):
            for run in runs:
                child = [sys.executable, __file__, "-c", str(args.width), "--child", site.url, run]
                output = subprocess.run(child, check=True, capture_output=True, text=True).stdout
                results[run].append(json.loads(output))
    report(results, args)


def report(results: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    """Print each configuration's median pages/s, its range, CPU time, and the ratios the issue targets."""
    print(f"demo site: {args.pages} pages, {args.latency_ms:g} ms latency, -c {args.width}, per host "
          f"{args.width}, {os.cpu_count()} CPUs, {args.repeat} interleaved round(s)")
    print(f"{'configuration':38} {'pages':>6} {'items':>6} {'pages/s':>8} {'range':>13} {'cpu s':>6}")
    median = {run: statistics.median(r["pages_per_sec"] for r in runs) for run, runs in results.items()}
    for run, runs in results.items():
        rates = [r["pages_per_sec"] for r in runs]
        print(f"{RUNS[run][0]:38} {runs[0]['pages']:>6} {runs[0]['items']:>6} {median[run]:>8.0f} "
              f"{min(rates):>6.0f}-{max(rates):<6.0f} {statistics.median(r['cpu_s'] for r in runs):>6.1f}")
    if "pool" in median:
        ratios = [f"{median['pool'] / median[other]:.2f}x {RUNS[other][0]}"
                  for other in ("threaded", "inline", "pool1") if other in median]
        print("async, hook in the pool (2 workers):", "; ".join(ratios))


if __name__ == "__main__":
    main()
