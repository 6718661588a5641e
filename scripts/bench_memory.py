"""Measure a crawl's memory: peak RSS per process and summed over the hostile shapes, and bytes per URL of each store.

    python scripts/bench_memory.py                          # this checkout, both parts
    python scripts/bench_memory.py --before /tmp/old-main   # side by side with another checkout
    python scripts/bench_memory.py --part stores --urls 1000000

crawl: ``crawler crawl`` with default settings (a subprocess, async mode, its parse pool)
against tests/integration/hostile_server.memory_app on 127.0.0.1: a 10 MB page of dense
markup, a page of 200,000 links, 100,000 levels of nesting, and a trap yielding 300,000
URLs. Every process of the crawl is sampled from /proc every 20 ms: the peak RSS
of each (its VmHWM) and the peak of their sum. --max-pages bounds code without a trap guard.

stores: each store in a fresh child process. "seen" feeds --urls distinct URLs (about 80
characters) to the store's add alone: the seen-set's bytes per URL. "queued" feeds them through
CrawlCore.add_url, 50 links per referring page: seen-set plus pending request per URL.

With --before DIR the same measurements run on the code in DIR (a git worktree of an
older commit), alternating with this checkout's: compare figures measured side by side.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

HOSTS = 100


# ----- the crawl's processes ----------------------------------------------------


def _status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM of a process, in KiB (empty if it is gone)."""
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    return {k: int(v.split()[0]) for k, _, v in (line.partition(":") for line in lines)
            if k in ("VmRSS", "VmHWM")}


def _descendants(pid: int) -> list[int]:
    """pid and every process below it."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rpartition(")")[2].split()[1])
            parents.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo += parents.get(current, [])
    return found


def crawl_memory(code: Path, max_pages: int, time_limit: float) -> dict[str, object]:
    """Crawl the memory site with the code in code; return peak RSS per process and summed (MB)."""
    sys.path.insert(0, str(ROOT))  # here, not in a store's child: that one measures the code given
    from tests.integration.hostile_server import ServerThread, memory_app

    server = ServerThread()
    try:
        port = server.serve_app(memory_app())
        with tempfile.TemporaryDirectory() as tmp:
            command = [sys.executable, "-m", "crawler", "crawl", f"http://127.0.0.1:{port}/", "-q",
                       "-o", f"{tmp}/out.jsonl", "--max-pages", str(max_pages), "--time-limit", str(time_limit)]
            env = {**os.environ, "PYTHONPATH": str(code)}
            started = time.monotonic()
            child = subprocess.Popen(command, env=env, cwd=tmp)
            peaks, peak_sum = _sample(child)
            elapsed = time.monotonic() - started
            pages = len(Path(f"{tmp}/out.jsonl").read_bytes().splitlines())
    finally:
        server.stop()
    workers = sorted((kib for pid, kib in peaks.items() if pid != child.pid), reverse=True)
    return {"pages": pages, "elapsed_s": round(elapsed, 1), "crawl_peak_mb": _mb(peaks.get(child.pid, 0)),
            "worker_peaks_mb": [_mb(k) for k in workers], "summed_peak_mb": _mb(peak_sum)}


def _sample(child: subprocess.Popen[bytes]) -> tuple[dict[int, int], int]:
    """Sample the child's process tree until it ends: peak VmHWM per pid, peak summed VmRSS (KiB)."""
    peaks: dict[int, int] = {}
    peak_sum = 0
    while child.poll() is None:
        total = 0
        for pid in _descendants(child.pid):
            status = _status(pid)
            total += status.get("VmRSS", 0)
            peaks[pid] = max(peaks.get(pid, 0), status.get("VmHWM", 0))
        peak_sum = max(peak_sum, total)
        time.sleep(0.02)
    return peaks, peak_sum


def _mb(kib: int) -> float:
    """KiB as MB, one decimal."""
    return round(kib * 1024 / 1e6, 1)


# ----- the stores ---------------------------------------------------------------


def url_of(i: int) -> str:
    """The i-th synthetic URL: 100 hosts, about 80 characters."""
    return f"http://host{i % HOSTS:03d}.example.test/articles/{i // 1000}/item-{i}-a-longer-slug.html"


def store_memory(store_name: str, how: str, urls: int) -> dict[str, object]:
    """In this process: bytes per URL of a store fed urls URLs (how: seen or queued)."""
    from crawler.config import CrawlConfig
    from crawler.core import CrawlCore
    from crawler.stores.memory import MemoryFrontier
    from crawler.stores.sqlite import SqliteFrontier

    directory = tempfile.mkdtemp(prefix="bench-memory-")
    store = SqliteFrontier(directory) if store_name == "sqlite" else MemoryFrontier()
    core = CrawlCore(CrawlConfig(respect_robots=False), store)
    core.add_seeds(f"http://host{h:03d}.example.test/" for h in range(HOSTS))
    remember = getattr(store, "add_seen", None) or store.add  # add_seen: the contract before the seams
    before = _status(os.getpid())["VmRSS"]
    referrer = url_of(0)
    for i in range(urls):
        if how == "seen":
            remember(url_of(i))
        else:
            if i % 50 == 0:
                referrer = url_of(i // 50)  # one page's links share its URL as referrer
            core.add_url(url_of(i), depth=1, referrer=referrer)
        if i % 10_000 == 9_999:
            store.commit()
    store.commit()
    after = _status(os.getpid())
    store.close()
    return {"bytes_per_url": round((after["VmRSS"] - before) * 1024 / urls),
            "rss_mb": _mb(after["VmRSS"]), "peak_rss_mb": _mb(after["VmHWM"])}


def _in_child(code: Path, *args: str) -> dict[str, object]:
    """Run this script's child part with the code in code; return its JSON answer."""
    env = {**os.environ, "PYTHONPATH": str(code)}
    result = subprocess.run([sys.executable, __file__, "--child", *args], env=env, check=True,
                            capture_output=True, text=True)
    return json.loads(result.stdout)  # type: ignore[no-any-return]


# ----- main -----------------------------------------------------------------------


def main() -> None:
    """Measure each part for each checkout, alternating, and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="another checkout to measure side by side")
    parser.add_argument("--part", choices=("crawl", "stores", "both"), default="both")
    parser.add_argument("--urls", type=int, default=1_000_000, help="URLs fed to each store")
    parser.add_argument("--max-pages", type=int, default=4000, help="bound on the crawl's pages")
    parser.add_argument("--time-limit", type=float, default=120.0, help="bound on the crawl's seconds")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        store, how, urls = args.child
        print(json.dumps(store_memory(store, how, int(urls))))
        return
    codes = {"before": args.before.resolve(), "after": ROOT} if args.before else {"this": ROOT}
    if args.part in ("crawl", "both"):
        for name, code in codes.items():
            figures = crawl_memory(code, args.max_pages, args.time_limit)
            print(f"crawl  {name:6} " + "  ".join(f"{k}={v}" for k, v in figures.items()), flush=True)
    if args.part in ("stores", "both"):
        for store in ("memory", "sqlite"):
            for how in ("seen", "queued"):
                for name, code in codes.items():
                    figures = _in_child(code, store, how, str(args.urls))
                    print(f"store  {name:6} {store:6} {how:6} {args.urls:,} URLs  "
                          + "  ".join(f"{k}={v}" for k, v in figures.items()), flush=True)


if __name__ == "__main__":
    main()
