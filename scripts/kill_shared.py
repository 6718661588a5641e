"""kill -9 workers of a crawl shared through Redis, and Redis itself, at random moments; check the export.

    python scripts/kill_shared.py                       # 1,000 pages, 3 workers, 5 kills, async
    python scripts/kill_shared.py --kills 8 --modes async,threaded,process,sync

Serves the demo site and starts a fresh redis-server with AOF on; runs --workers
`crawler crawl` processes on one crawl id (each -q, -c and -w --concurrency,
--lease-timeout, its own -o; the modes of --modes in turn). As the workers' outputs
reach random line counts it SIGKILLs a random worker --kills times, starting a
replacement each time (with no URL: it joins the crawl; a new -o), and SIGKILLs
redis-server once, starting it again on the same port after --redis-down seconds.
Then it waits for every worker to end by itself and checks: those not killed exit 0
(or 2, in one line, when Redis was down as they started: a replacement started just before
the Redis kill), no worker printed a traceback, `crawler export` holds every page of the site once
and no bad line, the workers' -o files together hold no record twice and nothing the
export lacks (a killed worker's last batch may be missing, or its last line torn),
`crawler status` shows nothing queued or leased and no live worker, and no process
(parse pools, the process mode's workers) outlives its worker.
Prints the figures and a PASS or FAIL line per check; exits 1 on any FAIL.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
from bench_redis import start_redis  # this directory's: the tests' RedisServer
from kill_resume import check_output, left_behind

from crawler.demo import DemoSiteProcess, DemoSpec, expected_urls

ROOT = Path(__file__).resolve().parents[1]
CRAWL_ID = "kill"
# How often the driver looks at the outputs (and notes the workers' children).
TICK = 0.02
DESCENDANTS_EVERY = 0.25
# A worker started this long before Redis went down may not have connected yet (a loaded
# machine takes seconds to import): finding Redis down at its start, it exits 2.
STARTUP_S = 10.0
# A worker's warning that records it fetched were saved by another (crawler/stores/redis.py).
REFUSED = re.compile(r"(\d+) record\(s\) refused")


@dataclass
class Worker:
    """One `crawler crawl` process of the shared crawl, its output and its stderr."""

    process: subprocess.Popen[bytes]
    mode: str
    out: Path
    err: Path
    killed: bool = False
    started: float = field(default_factory=time.monotonic)

    @property
    def stderr(self) -> str:
        """What it printed on stderr so far."""
        return self.err.read_text(errors="replace")


@dataclass
class Run:
    """The shared crawl under test: its workers, and what was done to them."""

    args: argparse.Namespace
    spec: DemoSpec
    redis: Any  # tests.redis_server.RedisServer
    seed: str
    workdir: Path
    workers: list[Worker] = field(default_factory=list)
    descendants: set[psutil.Process] = field(default_factory=set)
    redis_restarts: int = 0
    lines_at_restart: int | None = None
    redis_down: tuple[float, float] | None = None  # when it was killed, when it was back
    stalled: bool = False  # no record came for --stall seconds: the workers were stopped

    def start_worker(self, *urls: str) -> Worker:
        """Start a worker in the next mode of --modes; with no URL it joins the crawl."""
        modes = self.args.modes.split(",")
        n = len(self.workers)
        mode, out, err = modes[n % len(modes)], self.workdir / f"w{n}.jsonl", self.workdir / f"w{n}.err"
        command = [sys.executable, "-m", "crawler", "crawl", *urls, "--state", self.redis.url, "--crawl-id", CRAWL_ID,
                   "-o", str(out), "-q", "--mode", mode, "-c", str(self.args.concurrency), "-w",
                   str(self.args.concurrency), "--lease-timeout", str(self.args.lease_timeout)]
        with err.open("wb") as stderr:  # a file, not a pipe: nobody drains a pipe while the crawl runs
            process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr)
        self.workers.append(Worker(process, mode, out, err))
        return self.workers[-1]

    def refused_at_start(self, worker: Worker) -> bool:
        """True when worker found Redis down as it started, and so ended as it must: exit 2, one line."""
        if self.redis_down is None or worker.process.returncode != 2:
            return False
        killed, back = self.redis_down
        lines = worker.stderr.strip().splitlines()
        return killed - STARTUP_S <= worker.started <= back and len(lines) == 1 and "cannot reach Redis" in lines[0]

    def live(self) -> list[Worker]:
        """The workers still running."""
        return [w for w in self.workers if w.process.poll() is None]

    def lines(self) -> int:
        """Lines in all the workers' outputs so far: how far the crawl has come."""
        return sum(w.out.read_bytes().count(b"\n") for w in self.workers if w.out.exists())

    def note_descendants(self) -> None:
        """Remember every child of every live worker, to check at the end that none outlives it."""
        for worker in self.live():
            try:
                self.descendants.update(psutil.Process(worker.process.pid).children(recursive=True))
            except psutil.NoSuchProcess:
                pass

    def kill_worker(self, rng: random.Random) -> None:
        """SIGKILL a random live worker and start a replacement that joins with no URL."""
        victim = rng.choice(self.live())
        self.note_descendants()
        victim.process.kill()
        victim.process.wait()
        victim.killed = True
        self.start_worker()

    def kill_redis(self, down_s: float) -> None:
        """SIGKILL redis-server, then start it again on the same port with its AOF after down_s seconds."""
        killed = time.monotonic()
        self.redis.kill()
        time.sleep(down_s)
        self.redis.start()
        self.redis_down = (killed, time.monotonic())
        self.redis_restarts += 1
        self.lines_at_restart = self.lines()


def plan(args: argparse.Namespace, rng: random.Random) -> list[tuple[int, str]]:
    """The output line counts at which to kill a worker, and the one at which to kill Redis."""
    pages = args.pages
    kills = [(lines, "worker") for lines in rng.sample(range(pages // 20, pages * 9 // 10), args.kills)]
    return sorted([*kills, (rng.randrange(pages // 4, pages * 3 // 4), "redis")])


def drive(run: Run, rng: random.Random) -> None:
    """Start the workers, carry out the plan as the crawl comes, then wait for every worker to end."""
    events = plan(run.args, rng)
    for _ in range(run.args.workers):
        run.start_worker(run.seed)  # each with the seed: none waits for another to begin the crawl
    noted = moved = time.monotonic()
    lines = 0
    while run.live() and time.monotonic() - moved < run.args.stall:
        if (now := run.lines()) > lines:
            lines, moved = now, time.monotonic()
        if events and lines >= events[0][0]:
            if events.pop(0)[1] == "worker":
                run.kill_worker(rng)
            else:
                run.kill_redis(rng.uniform(0, run.args.redis_down))
        if time.monotonic() - noted > DESCENDANTS_EVERY:
            run.note_descendants()
            noted = time.monotonic()
        time.sleep(TICK)
    run.stalled = bool(run.live())
    for worker in run.live():  # a FAIL, but nothing is left running
        worker.process.kill()
        worker.process.wait()


def crawler(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m crawler ARGS` to the end."""
    return subprocess.run([sys.executable, "-m", "crawler", *args], cwd=ROOT, capture_output=True, text=True,
                          check=False, timeout=120)


def outputs(run: Run) -> tuple[Counter[str], int, int]:
    """The workers' -o lines together (counted), torn last lines of killed workers, and other bad lines."""
    lines: Counter[str] = Counter()
    torn = bad = 0
    for worker in run.workers:
        *whole, tail = worker.out.read_text().split("\n") if worker.out.exists() else [""]
        if tail:
            torn += worker.killed
            bad += not worker.killed
        for line in whole:
            try:
                json.loads(line)
            except ValueError:
                bad += 1
            else:
                lines[line] += 1
    return lines, torn, bad


def figures(run: Run, started: float) -> tuple[dict[str, Any], list[tuple[bool, str]]]:
    """Export and check the crawl; its figures and each check as (passed, what)."""
    state = ["--state", run.redis.url, "--crawl-id", CRAWL_ID]
    everything = run.workdir / "all.jsonl"
    exported = crawler("export", *state, "-o", str(everything))
    status = crawler("status", *state, "--json")
    found = check_output(everything, expected_urls(run.spec, run.seed))
    export_lines = set(everything.read_text().splitlines(keepends=False)) if everything.exists() else set()
    lines, torn, bad = outputs(run)
    stderrs = [w.stderr for w in run.workers]
    finished = [w for w in run.workers if not w.killed]
    counts = json.loads(status.stdout) if status.returncode == 0 else {}
    refused = [w for w in finished if run.refused_at_start(w)]
    failed = [w for w in finished if w.process.returncode != 0 and w not in refused]
    table = {
        "pages expected": found["pages_expected"], "exported": found["pages_found"],
        "duplicates": found["duplicates"], "missing": found["missing"], "unexpected": found["unexpected"],
        "bad export lines": found["bad_lines"], "-o records": sum(lines.values()),
        "-o records twice": sum(n - 1 for n in lines.values()), "-o records not exported": len(set(lines) - export_lines),
        "-o torn last lines (killed)": torn, "-o bad lines": bad, "workers": len(run.workers),
        "kills done": sum(w.killed for w in run.workers), "redis restarts": run.redis_restarts,
        "refused-records warnings": sum(e.count("record(s) refused") for e in stderrs),
        "records refused": sum(int(n) for e in stderrs for n in REFUSED.findall(e)),
        "lost Redis warnings": sum(e.count("lost Redis") for e in stderrs),
        "refused at start (Redis down)": len(refused),
        "processes left": left_behind(list(run.descendants)), "seconds": round(time.monotonic() - started, 1)}
    checks = [
        (not run.stalled, f"the crawl ended by itself (no {run.args.stall:g} s without a record)"),
        (not failed, "workers not killed exit 0, or 2 in one line if Redis was down as they started "
         f"({', '.join(f'{w.mode} {w.process.returncode}' for w in finished)})"
         + "".join(f"\n      {w.mode} {w.process.returncode}: {w.stderr.strip()[-300:]}" for w in failed)),
        (not any("Traceback" in e for e in stderrs), "no traceback on any worker's stderr"),
        (exported.returncode == 0 and found["missing"] == found["duplicates"] == found["unexpected"] == 0
         and found["bad_lines"] == 0, "export: every page of the site exactly once, no other, no bad line"),
        (table["-o records twice"] == table["-o records not exported"] == bad == 0,
         "workers' -o files: no record twice, all in the export, whole lines (a killed worker's last aside)"),
        (counts.get("queued") == 0 and counts.get("leased") == 0 and counts.get("workers") == [],
         f"status: queued 0, leased 0, no live worker ({status.stdout.strip() or status.stderr.strip()})"),
        (run.redis_restarts == 1 and run.lines_at_restart is not None and sum(lines.values()) > run.lines_at_restart,
         f"workers went on after Redis restarted ({run.lines_at_restart} -o lines then)"),
        (table["processes left"] == 0, "no process left behind"),
    ]
    return table, checks


def main() -> int:
    """Parse flags, serve the demo site and Redis, run the killed crawl, print the figures and checks."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000, help="pages on the demo site")
    parser.add_argument("--latency-ms", type=float, default=200.0, help="the demo site's delay before a response")
    parser.add_argument("--workers", type=int, default=3, help="workers running at once")
    parser.add_argument("--kills", type=int, default=5, help="workers SIGKILLed (each replaced)")
    parser.add_argument("--modes", default="async", help="modes of the workers in turn, e.g. async,threaded,process,sync")
    parser.add_argument("-c", "--concurrency", type=int, default=8, help="-c and -w of every worker")
    parser.add_argument("--lease-timeout", type=float, default=2.0)
    parser.add_argument("--redis-down", type=float, default=3.0, help="most seconds Redis stays down")
    parser.add_argument("--stall", type=float, default=30.0,
                        help="stop the workers (a FAIL) when no record came for this many seconds")
    parser.add_argument("--seed", type=int, default=1, help="seeds the kill times and victims")
    args = parser.parse_args()
    rng, started = random.Random(args.seed), time.monotonic()
    spec = DemoSpec(pages=args.pages, latency_ms=args.latency_ms)
    with DemoSiteProcess(spec) as site, \
            tempfile.TemporaryDirectory(prefix="kill-shared-") as tmp:
        redis = start_redis(tmp, appendonly=True)
        try:
            run = Run(args, spec, redis, site.url, Path(tmp))
            drive(run, rng)
            table, checks = figures(run, started)
        finally:
            redis.stop()
    print(f"demo site: {args.pages:,} pages, {args.latency_ms:g} ms latency; {args.workers} workers at once "
          f"({args.modes}), -c {args.concurrency}, --lease-timeout {args.lease_timeout:g}; redis-server with AOF")
    width = max(map(len, table))
    for name, value in table.items():
        print(f"{name:<{width}}  {value:>8}")
    for ok, what in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {what}")
    return 0 if all(ok for ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
