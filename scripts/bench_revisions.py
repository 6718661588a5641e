"""Compare modes across git revisions, side by side: which commit moved a figure?

    python scripts/bench_revisions.py e70ad15 8409ec9 9385dd9 HEAD
    python scripts/bench_revisions.py e70ad15 HEAD --widths 1,2,4 --modes threaded,async --rounds 3

Each revision's ``crawler`` package is taken with ``git archive`` into a directory of
its own and ``crawler compare --demo`` runs from there (each run in a fresh process,
the demo site in its own), revisions interleaved round by round so a slow patch of
the machine hurts them alike. Prints pages/s per revision, mode and width, the
median over the rounds. Run it under the shared lock: it measures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def checkout(revision: str, directory: Path) -> Path:
    """The revision's crawler package, unpacked under directory; returns where to run from."""
    target = directory / revision
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "crawler"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def measure(where: Path, args: argparse.Namespace, report: Path) -> list[dict]:
    """One comparison run from a revision's directory; its runs' figures."""
    command = [sys.executable, "-m", "crawler", "compare", "--demo", "--demo-pages", str(args.pages),
               "--latency-ms", str(args.latency_ms), "--sweep", args.widths, "--modes", args.modes,
               "--report", str(report), "-q"]
    subprocess.run(command, cwd=where, check=True)  # cwd first on sys.path: that revision's package
    return json.loads((report / "report.json").read_text(encoding="utf-8"))["runs"]


def main() -> int:
    """Measure every revision, interleaved, and print the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revisions", nargs="+")
    parser.add_argument("--widths", default="8,16")
    parser.add_argument("--modes", default="threaded,async")
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    rates: dict[tuple[str, str, int], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-revisions-") as tmp:
        places = {revision: checkout(revision, Path(tmp)) for revision in args.revisions}
        for round_ in range(args.rounds):
            for revision, where in places.items():
                for run in measure(where, args, Path(tmp) / f"report-{revision}-{round_}"):
                    rates.setdefault((revision, run["mode"], run["width"]), []).append(run["pages_per_sec"])
    widths = [int(width) for width in args.widths.split(",")]
    modes = args.modes.split(",")
    print("revision  " + "  ".join(f"{mode} x{width}" for width in widths for mode in modes))
    for revision in args.revisions:
        cells = [f"{statistics.median(rates[(revision, mode, width)]):8.1f}" for width in widths for mode in modes]
        print(f"{revision:9} " + "  ".join(cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
