"""Benchmark the four modes on the demo site and check the targets of the comparison.

    python scripts/bench_compare.py                      # 2,000 pages, 50 ms, -w 64 / -c 64
    python scripts/bench_compare.py --repeat 3 --report /tmp/bench
    python scripts/bench_compare.py --pages 300 --sweep 1,2,4,8,16,32,64 --report benchmarks/sweep

Runs ``crawler compare --demo`` (each run in a fresh process, the demo site in
its own), writes report.json, report.md and compare.png into benchmarks/, prints
the figures, and exits 1 unless async reached 30x sync's pages/s, async beat
threaded, and every mode found the same pages. Sync alone takes 100 s or more.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from crawler.cli import main as crawler_main

ROOT = Path(__file__).resolve().parents[1]
TARGET_SPEEDUP = 30.0


def targets(report: dict) -> list[tuple[str, bool]]:
    """Each target of the benchmark and whether the report meets it."""
    modes = report["modes"]
    speedup = modes["async"]["speedup"] or 0.0
    rate, threads = modes["async"]["pages_per_sec"], modes["threaded"]["pages_per_sec"]
    return [
        (f"async at least {TARGET_SPEEDUP:g}x sync's pages/s (measured {speedup:.1f}x)", speedup >= TARGET_SPEEDUP),
        (f"async ahead of threaded ({rate:,.0f} vs {threads:,.0f} pages/s)", rate > threads),
        (f"every mode found the same {report['page_count']:,} pages", report["same_pages"]),
    ]


def main() -> int:
    """Run the comparison, then print whether each target was met."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--width", type=int, default=64, help="-w and -c")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--report", type=Path, default=ROOT / "benchmarks")
    parser.add_argument("--sweep", metavar="N,N,...", help="instead, sweep these widths (no targets checked)")
    args = parser.parse_args()
    sweep = ["--sweep", args.sweep] if args.sweep else []
    code = crawler_main([
        "compare", "--demo", "--demo-pages", str(args.pages), "--latency-ms", str(args.latency_ms),
        "-w", str(args.width), "-c", str(args.width), "--repeat", str(args.repeat), "--report", str(args.report),
        *sweep,
    ])
    if code or args.sweep:
        return code
    report = json.loads((args.report / "report.json").read_text(encoding="utf-8"))
    results = targets(report)
    for description, met in results:
        print(f"{'PASS' if met else 'FAIL'}  {description}")
    return 0 if all(met for _, met in results) else 1


if __name__ == "__main__":
    sys.exit(main())
