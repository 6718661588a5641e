"""What checking a site's links costs against crawling it: ``crawler check`` and ``crawler crawl``
side by side on the demo site, then a check of many links to other hosts.

    python scripts/bench_check.py --pages 2000 --latency-ms 50 -c 64 --repeat 3
    python scripts/bench_check.py --external-links 400 --hosts 8     # the external part only

Part 1 runs both commands on the same demo site (in a child process), alternating, each in a
fresh process, and reports wall time, CPU time (the command and its parse workers) and the URLs
each fetched (counted by the site). The demo site's external links name example.* hosts, which
a benchmark must not contact: the check runs with --no-external, and part 2 measures external
checks on loopback instead: a page linking to N URLs spread over H other hosts
(127.0.0.2, 127.0.0.3 ...) that answer after the same latency, checked with HEAD under the
per-host limit, against the time one request at a time would take.
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
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from aiohttp import web


def _stats(site_url: str) -> int:
    """Requests the demo site has answered so far."""
    with urllib.request.urlopen(site_url + "__stats__") as response:
        return int(json.load(response)["requests"])


def run(command: list[str]) -> tuple[float, float]:
    """Run a crawler command in a fresh process; return its wall and CPU seconds (children included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "crawler", *command], capture_output=True, text=True,
                          check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):
        raise SystemExit(f"crawler {' '.join(command)} failed ({done.returncode}): {done.stderr[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def demo_part(args: argparse.Namespace, out: Path) -> None:
    """crawl and check of the demo site, alternated, --repeat times each."""
    from crawler.demo import DemoSiteProcess, DemoSpec

    width = ["-c", str(args.concurrency), "--per-host", str(args.concurrency), "-q"]
    commands = {
        "crawl": lambda url: ["crawl", url, *width, "-o", str(out / "pages.jsonl")],
        "check": lambda url: ["check", url, *width, "--no-external", "--format", "json", "-o",
                              str(out / "report.json")],
    }
    figures: dict[str, list[tuple[float, float, int]]] = {name: [] for name in commands}
    with DemoSiteProcess(DemoSpec(pages=args.pages, latency_ms=args.latency_ms)) as site:
        for _ in range(args.repeat):
            for name, command in commands.items():
                served = _stats(site.url)
                wall, cpu = run(command(site.url))
                figures[name].append((wall, cpu, _stats(site.url) - served))
    report = json.loads((out / "report.json").read_text())
    print(f"demo site: {args.pages} pages, {args.latency_ms:g} ms latency, -c {args.concurrency}, "
          f"{args.repeat} alternated runs each (medians)")
    print(f"{'':8}{'wall s':>9}{'CPU s':>9}{'requests':>10}{'req/s':>9}{'CPU ms/req':>12}")
    medians = {}
    for name, runs in figures.items():
        wall, cpu, requests = (statistics.median(column) for column in zip(*runs, strict=True))
        medians[name] = (wall, cpu, requests)
        print(f"{name:8}{wall:9.2f}{cpu:9.2f}{requests:10.0f}{requests / wall:9.1f}{1000 * cpu / requests:12.2f}")
    (crawl_wall, crawl_cpu, _), (check_wall, check_cpu, _) = medians["crawl"], medians["check"]
    print(f"check / crawl: wall {check_wall / crawl_wall:.2f}x, CPU {check_cpu / crawl_cpu:.2f}x; "
          f"the check's report: {report['checked']} targets checked, {len(report['broken'])} broken")
    # On a shared machine a run can be slowed by others: the spread says how far to trust the medians,
    # and a check against the crawl run just before it compares runs that met the same load.
    for name, runs in figures.items():
        print(f"{name} runs, wall s: {' '.join(f'{wall:.2f}' for wall, _, _ in runs)}")
    pairs = [(check[0] / crawl[0], check[1] / crawl[1]) for crawl, check in zip(figures["crawl"], figures["check"], strict=True)]
    walls, cpus = zip(*pairs, strict=True)
    print(f"check / crawl run by run: wall median {statistics.median(walls):.2f}x ({min(walls):.2f}-{max(walls):.2f}), "
          f"CPU median {statistics.median(cpus):.2f}x ({min(cpus):.2f}-{max(cpus):.2f})")


@contextmanager
def serving(app: web.Application, addresses: list[str]) -> Iterator[int]:
    """Serve app on each address (one port for all) from a thread; yield the port."""
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, access_log=None)
    port: list[int] = []

    async def start() -> None:
        await runner.setup()
        await web.TCPSite(runner, addresses[0], 0).start()
        port.append(runner.addresses[0][1])
        for address in addresses[1:]:
            await web.TCPSite(runner, address, port[0]).start()

    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
    try:
        yield port[0]
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)


def _app(body: str, latency: float, content_type: str) -> web.Application:
    """An app answering every path with body after latency seconds."""
    async def handle(request: web.Request) -> web.Response:
        await asyncio.sleep(latency)
        return web.Response(text=body, content_type=content_type)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def external_part(args: argparse.Namespace, out: Path) -> None:
    """A check of N links to H slow loopback hosts: how concurrent are external checks?"""
    latency = args.latency_ms / 1000
    addresses = [f"127.0.0.{n}" for n in range(2, args.hosts + 2)]  # other hosts, all loopback
    with serving(_app("ok", latency, "text/plain"), addresses) as port:
        links = [f"http://{addresses[n % args.hosts]}:{port}/link/{n}" for n in range(args.external_links)]
        page = "<html><title>links</title>" + "".join(f'<a href="{link}">{n}</a>' for n, link in enumerate(links))
        with serving(_app(page, 0, "text/html"), ["127.0.0.1"]) as site_port:
            url = f"http://127.0.0.1:{site_port}/"
            report_file = out / "external.json"
            wall, cpu = run(["check", url, "--allow-private", "-q", "-c", str(args.concurrency),
                             "--per-host", str(args.per_host), "--format", "json", "-o", str(report_file)])
    report = json.loads(report_file.read_text())
    slots = min(args.concurrency, args.hosts * args.per_host)
    ideal = args.external_links / slots * latency
    print(f"external links: {args.external_links} links over {args.hosts} hosts, {args.latency_ms:g} ms latency, "
          f"-c {args.concurrency} --per-host {args.per_host}")
    print(f"checked {report['checked']} (broken {len(report['broken'])}) in {wall:.2f} s wall, {cpu:.2f} s CPU "
          f"(start-up included); one at a time: {args.external_links * latency:.1f} s; "
          f"{slots} at a time: {ideal:.2f} s")


def main() -> None:
    """Run the parts asked for and print their figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("-c", "--concurrency", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--external-links", type=int, default=400)
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--per-host", type=int, default=8)
    parser.add_argument("--part", choices=("demo", "external", "both"), default="both")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        if args.part in ("demo", "both"):
            demo_part(args, Path(directory))
        if args.part in ("external", "both"):
            external_part(args, Path(directory))


if __name__ == "__main__":
    main()
