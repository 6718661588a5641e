"""``crawler compare``: the same crawl in every mode, each run in a fresh process, measured honestly.

Each run is a new Python process that crawls once and writes the fields of its
records that the comparison needs, and its figures, to files, so CPU time (user + system, its child processes included)
and memory belong to that run alone. Runs are interleaved (sync, threaded,
process, async, sync, ...) so a slow patch of the machine hurts every mode alike.

Figures per run: wall time of the crawl (pool start-up included, interpreter
start-up not), CPU seconds (``getrusage`` of the run and its children, over the
crawl), peak memory (the largest sum of RSS over the run's process tree, sampled
by the parent every 0.1 s; pages shared between processes count once per
process), and mean and p95 fetch latency from the records' ``elapsed_ms``.
Every run's set of (url, status) must match the others'. The report, and the
schema of report.json, are in :mod:`crawler.report`; the charts in :mod:`crawler.chart`.
"""

from __future__ import annotations

import dataclasses
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from rich.console import Console

from .config import MODES, CrawlConfig, config_from_mapping
from .core import CrawlCore
from .figures import CompareOptions, RunResult, check_runs, crawl_rounds, describe_differences
from .models import PageRecord
from .parsing import is_html
from .report import build_report, explain, rich_table, write_files
from .runners import run_blocking
from .workloads import workload_hook

# How often the parent samples the memory of a running crawl.
SAMPLE_SECONDS = 0.1
# A measured run is started with -c, not -m: a pool worker then has no main module to
# import again, which would charge the harness's imports to the process mode.
_CHILD_CODE = "import sys; from crawler.compare import run_child; run_child(sys.argv[1])"


class CompareError(RuntimeError):
    """A measured run failed; the message says which and why."""


# ----- the plan ---------------------------------------------------------------------


def plan(options: CompareOptions) -> list[tuple[str, int]]:
    """Every (mode, width) to run, in order: repeats interleaved, sync once per repeat."""
    widths = options.sweep or (None,)
    runs = []
    for _ in range(options.repeat):
        for width in widths:
            for mode in options.modes:
                if mode == "sync" and width not in (None, widths[0]):
                    continue  # sync has no width: one run per repeat is enough
                runs.append((mode, 1 if mode == "sync" else width or options.width(mode)))
    return runs


def mode_config(config: CrawlConfig, mode: str, width: int) -> CrawlConfig:
    """The config of one run: its mode, and its width as workers or concurrency."""
    if mode == "async":
        return config.replace(mode=mode, concurrency=width)
    return config.replace(mode=mode, workers=width)


# ----- measuring one run --------------------------------------------------------------


def measure(mode: str, width: int, options: CompareOptions, workdir: Path) -> RunResult:
    """Crawl once in a fresh process and return its figures."""
    config = mode_config(options.config, mode, width)
    paths = {name: workdir / f"run.{name}" for name in ("spec", "records", "figures", "stderr")}
    spec = {"config": _config_data(config), "seeds": [options.url], "workload": options.workload,
            "records": str(paths["records"]), "figures": str(paths["figures"])}
    paths["spec"].write_text(json.dumps(spec), encoding="utf-8")
    with open(paths["stderr"], "w+", encoding="utf-8") as errors:
        process = subprocess.Popen([sys.executable, "-c", _CHILD_CODE, str(paths["spec"])],
                                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=errors)
        try:
            peak_mb = watch_memory(process)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
        errors.seek(0)
        if process.returncode:
            tail = "\n".join(errors.read().strip().splitlines()[-5:])
            raise CompareError(f"the {mode} run exited with code {process.returncode}: {tail}")
    figures = json.loads(paths["figures"].read_text(encoding="utf-8"))
    records = [json.loads(line) for line in paths["records"].read_text(encoding="utf-8").splitlines()]
    return _result(mode, width, figures, records, max(peak_mb, figures["maxrss_mb"]), config)


def watch_memory(process: subprocess.Popen[Any]) -> float:
    """Wait for a process to end, sampling the summed RSS of its tree; return the peak in MB."""
    import psutil

    root, peak = psutil.Process(process.pid), 0
    while process.poll() is None:
        try:
            tree = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        peak = max(peak, sum(_rss(member) for member in tree))
        time.sleep(SAMPLE_SECONDS)
    return peak / 2**20


def _rss(process: Any) -> int:
    """A process's resident set size, or 0 if it has just ended."""
    try:
        return process.memory_info().rss
    except Exception:  # noqa: BLE001 - psutil.NoSuchProcess, AccessDenied: it is gone
        return 0


def _config_data(config: CrawlConfig) -> dict[str, Any]:
    """A config as JSON data that config_from_mapping turns back into the same config."""
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(config)}


def _result(mode: str, width: int, figures: dict[str, Any], records: list[dict[str, Any]],
            peak_mb: float, config: CrawlConfig) -> RunResult:
    """A run's figures from what its process measured and the records it wrote."""
    html = [r for r in records if r["status"] == 200 and is_html(r["content_type"])]
    latencies = [r["elapsed_ms"] for r in records if r["status"] is not None]
    fetches = [(r["url"], r["referrer"]) for r in records]
    robots = 1 if config.respect_robots and records else 0  # robots.txt is fetched before any page
    return RunResult(
        mode=mode, width=width, wall_s=figures["wall_s"], cpu_s=figures["cpu_s"], peak_rss_mb=peak_mb,
        pages=len(html), records=len(records), errors=sum(1 for r in records if r["error"]),
        latency_mean_ms=statistics.fmean(latencies) if latencies else 0.0,
        latency_p95_ms=_p95(latencies),
        big_pages=sum(1 for r in html if r["size"] >= config.parse_offload_bytes),
        max_page_bytes=max((r["size"] for r in html), default=0),
        items=sum(len(r["items"]) for r in records),
        main_cpu_s=figures["main_cpu_s"], first_record_s=figures["first_record_s"],
        hosts=len({urlsplit(url).hostname for url, _ in fetches}) or 1,
        rounds=robots + crawl_rounds(fetches, width, config.per_host),
        shape_rounds=robots + crawl_rounds(fetches),
        page_set=frozenset((r["url"], r["status"]) for r in records),
        page_items={r["url"]: json.dumps(r["items"], sort_keys=True) for r in records},
    )


def _p95(values: Sequence[float]) -> float:
    """The 95th percentile (0 for no values)."""
    if len(values) < 2:
        return values[0] if values else 0.0
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


# ----- inside a measured run's process --------------------------------------------------


def run_child(spec_path: str) -> None:
    """Crawl once as a measured run and write its records and figures (a run's entry point)."""
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    core = CrawlCore(config_from_mapping(spec["config"]))
    core.add_seeds(spec["seeds"])
    hook = workload_hook(spec["workload"])
    first: list[float] = []
    with open(spec["records"], "w", encoding="utf-8") as out:

        def write(records: list[PageRecord]) -> None:
            if not first:
                first.append(time.perf_counter())
            out.writelines(json.dumps(measured_fields(record)) + "\n" for record in records)

        own_before, cpu_before, started = _cpu_seconds(children=False), _cpu_seconds(), time.perf_counter()
        run_blocking(core, write, hook)
        wall = time.perf_counter() - started
        main_cpu = _cpu_seconds(children=False) - own_before
    _stop_forkserver()
    figures = {"wall_s": wall, "cpu_s": _cpu_seconds() - cpu_before, "main_cpu_s": main_cpu,
               "first_record_s": (first[0] if first else started + wall) - started, "maxrss_mb": _maxrss_mb()}
    Path(spec["figures"]).write_text(json.dumps(figures), encoding="utf-8")


def measured_fields(record: PageRecord) -> dict[str, Any]:
    """What the parent needs of a record: little, so writing it costs the run little."""
    return {"url": record.url, "status": record.status, "content_type": record.content_type,
            "size": record.size, "elapsed_ms": record.elapsed_ms, "error": record.error is not None,
            "referrer": record.referrer, "items": record.items}


def _cpu_seconds(children: bool = True) -> float:
    """User + system CPU time of this process and (unless told not to) of its ended, reaped children."""
    usages = [resource.getrusage(resource.RUSAGE_SELF)]
    usages += [resource.getrusage(resource.RUSAGE_CHILDREN)] if children else []
    return sum(usage.ru_utime + usage.ru_stime for usage in usages)


def _maxrss_mb() -> float:
    """Peak RSS of this process plus the largest of its children's (a floor for the tree's)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return (own.ru_maxrss + children.ru_maxrss) / 1024  # Linux reports KiB


def _stop_forkserver() -> None:
    """End the forkserver, if one started, so its workers' CPU time reaches RUSAGE_CHILDREN.

    Pool workers are the forkserver's children, not ours: their time is counted in
    ours only once the forkserver itself has ended and been reaped. multiprocessing
    offers no public way to stop it, hence the private ``_stop``.
    """
    from multiprocessing import forkserver

    server = getattr(forkserver, "_forkserver", None)
    if server is not None and getattr(server, "_forkserver_pid", None) is not None:
        server._stop()


# ----- the whole comparison -------------------------------------------------------------


def run_all(options: CompareOptions, progress: Any = None) -> list[RunResult]:
    """Run the plan, calling progress(index, total, result) after each run."""
    results = []
    steps = plan(options)
    with tempfile.TemporaryDirectory(prefix="crawler-compare-") as tmp:
        for index, (mode, width) in enumerate(steps, start=1):
            results.append(measure(mode, width, options, Path(tmp)))
            if progress is not None:
                progress(index, len(steps), results[-1])
    return results


def mode_list(text: str) -> tuple[str, ...]:
    """Parse ``sync,async``: known modes, no repeats, in the canonical order."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in MODES]
    if unknown or not names:
        raise ValueError(f"--modes takes a comma-separated list of {', '.join(MODES)}, not {text!r}")
    return tuple(mode for mode in MODES if mode in names)


def run_compare(options: CompareOptions, report_dir: Path, quiet: bool = False) -> int:
    """Run the comparison, write the report and print it; 1 when the modes' pages differ."""
    from .chart import draw_modes, draw_sweep  # matplotlib loads only when a report is drawn

    stdout, stderr = Console(), Console(stderr=True, highlight=False)
    if not stdout.is_terminal:
        stdout = Console(width=130)  # a file or a pipe: no need to squeeze the table into 80 columns
    runs = run_all(options, None if quiet else lambda i, n, run: stderr.print(_progress_line(i, n, run)))
    check = check_runs(runs)
    document = build_report(options, runs, check)
    draw_modes(document, report_dir / "compare.png")
    if document["sweep"]:
        draw_sweep(document, report_dir / "sweep.png")
    write_files(document, report_dir, "compare.png", "sweep.png" if document["sweep"] else None)
    if not quiet:
        stdout.print(rich_table(document))
        for sentence in explain(document):
            stdout.print(f"• {sentence}")
        stderr.print(f"report: {report_dir / 'report.md'}, report.json and charts in {report_dir}")
    for line in describe_differences(check):
        stderr.print(line, markup=False)
    return 1 if not document["same_pages"] and document["comparable"] else 0


def _progress_line(index: int, total: int, run: RunResult) -> str:
    """One line per finished run."""
    width = "" if run.mode == "sync" else f" ×{run.width}"
    return (f"[dim]run {index}/{total}[/dim]  {run.mode}{width}: {run.pages:,} pages in {run.wall_s:,.2f} s, "
            f"{run.pages_per_sec:,.1f} pages/s, {run.cpu_s:,.2f} CPU s, {run.peak_rss_mb:,.0f} MB")
