"""kill -9 the crawler at random moments, resume it each time, and check what the output holds.

    python scripts/kill_resume.py                         # 1,000 pages, 5 kills, every mode
    python scripts/kill_resume.py --pages 3000 --kills 10 --modes async

For each mode: runs `crawler crawl DEMO -o out.jsonl --state DIR` on the demo site
(its own process), SIGKILLs the CLI once during start-up and then once the output
reaches each of --kills - 1 random line counts, running the same command again
after each kill; then lets the last run finish.
Prints, per mode, the pages expected and found, duplicate lines, lines that
are not valid JSON, and processes left behind by the kills; exits 1 unless
every mode found every page exactly once with no bad line and no process left.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import psutil

from crawler.config import MODES
from crawler.demo import DemoSiteProcess, DemoSpec, expected_urls

ROOT = Path(__file__).resolve().parents[1]


def run_killed(command: list[str], out: Path, lines: int, rng: random.Random) -> tuple[bool, list[psutil.Process]]:
    """Run command, SIGKILL it once out holds lines lines; return (was killed, its descendants then).

    With lines 0 the kill comes during start-up (robots.txt, the pool), after up to half a second.
    """
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    not_before = time.monotonic() + (rng.uniform(0, 0.5) if lines == 0 else 0)
    while process.poll() is None:
        if time.monotonic() >= not_before and _line_count(out) >= lines:
            descendants = psutil.Process(process.pid).children(recursive=True)
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            return True, descendants
        time.sleep(0.005)
    return False, []


def _line_count(path: Path) -> int:
    """Lines in path so far (0 if it does not exist yet)."""
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def left_behind(processes: list[psutil.Process], grace_s: float = 10.0) -> int:
    """How many of processes are still running grace_s seconds from now (zombies have ended)."""
    deadline = time.monotonic() + grace_s
    while True:
        alive = [p for p in processes if _running(p)]
        if not alive or time.monotonic() > deadline:
            return len(alive)
        time.sleep(0.05)


def _running(process: psutil.Process) -> bool:
    """True while process runs (a zombie has exited: only its reaper is missing)."""
    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def check_output(path: Path, expected: set[str]) -> dict:
    """What the JSON Lines output holds: pages found, missing, duplicates, bad lines."""
    data = path.read_bytes() if path.exists() else b""
    *lines, tail = data.split(b"\n")
    urls, bad = [], int(tail != b"")  # a last line without its newline is torn, valid JSON or not
    for line in lines:
        try:
            urls.append(json.loads(line)["url"])
        except (ValueError, KeyError, TypeError):
            bad += 1
    counts = Counter(urls)
    return {"pages_expected": len(expected), "pages_found": len(set(urls) & expected),
            "missing": len(expected - set(urls)), "unexpected": len(set(urls) - expected),
            "duplicates": sum(n - 1 for n in counts.values()), "bad_lines": bad}


def trial(mode: str, site: DemoSiteProcess, spec: DemoSpec, kills: int, rng: random.Random,
          workdir: Path, workers: int) -> dict:
    """Crawl in mode through kills SIGKILLs and resumes; return the checked figures."""
    out, state = workdir / f"{mode}.jsonl", workdir / f"{mode}-state"
    command = [sys.executable, "-m", "crawler", "crawl", site.url, "-o", str(out), "--state", str(state),
               "--mode", mode, "-w", str(workers), "-c", str(workers), "--per-host", str(workers), "-q"]
    killed, leftovers, started = 0, 0, time.monotonic()
    # Kill points: start-up once, then at random line counts through the crawl.
    for lines in [0, *sorted(rng.sample(range(1, spec.pages), kills - 1))]:
        was_killed, descendants = run_killed(command, out, lines, rng)
        killed += was_killed
        leftovers += left_behind(descendants)
    final = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    return {"mode": mode, "kills": killed, "final_exit": final.returncode,
            **check_output(out, expected_urls(spec, site.url)), "processes_left": leftovers,
            "elapsed_s": round(time.monotonic() - started, 1)}


def passed(result: dict) -> bool:
    """Every page exactly once, every line valid, nothing left running, a clean last run."""
    return (result["final_exit"] == 0 and result["missing"] == 0 and result["duplicates"] == 0
            and result["bad_lines"] == 0 and result["processes_left"] == 0)


def main() -> int:
    """Parse flags, serve the demo site, run a trial per mode, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--workers", type=int, default=16, help="-w and -c of every run")
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--seed", type=int, default=1, help="seeds the kill times")
    args = parser.parse_args()
    spec = DemoSpec(pages=args.pages, latency_ms=args.latency_ms)
    rng, results = random.Random(args.seed), []
    with DemoSiteProcess(spec) as site, tempfile.TemporaryDirectory() as tmp:
        for mode in args.modes.split(","):
            results.append(trial(mode, site, spec, args.kills, rng, Path(tmp), args.workers))
            print(json.dumps({**results[-1], "pass": passed(results[-1])}), flush=True)
    return 0 if all(passed(r) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
