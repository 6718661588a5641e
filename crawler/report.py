"""The comparison report: figures summarised per mode, as report.json, report.md and a rich table.

``report.json`` (schema 1)::

    {"schema": 1,
     "same_pages": true,        # every run found the same set of (url, status)
     "comparable": true,        # false when --max-pages/--max-depth/--time-limit make
                                # the set depend on completion order (a difference then
                                # is reported but is not a failure)
     "differences": {"threaded": {"missing": [[url, status], ...], "extra": [...]}, ...},
     "settings": {"url": ..., "modes": [...], "repeat": R, "workers": N, "concurrency": N,
                  "per_host": N, "max_pages": N|null, "demo": {DemoSpec fields}|null,
                  "latency_ms": X|null, "cpus": N, "python": "3.11.7", ...},
     "modes": {"sync": {"width": 1, "runs": R, "pages": N, "records": N, "wall_s": X,
                        "pages_per_sec": X, "speedup": X|null, "cpu_s": X, "peak_rss_mb": X,
                        "latency_mean_ms": X, "latency_p95_ms": X, "errors": N,
                        "big_pages": N, "max_page_bytes": N,
                        "min": {same figures}, "max": {same figures}}, ...},
     "sweep": null | {"widths": [1, 2, ...], "io_limit": [X, ...] | null,
                      "modes": {"threaded": [pages_per_sec per width], ...}},
     "runs": [{"mode": ..., "width": N, figures...}, ...]}

``pages`` counts HTML pages fetched with status 200; figures in ``modes`` are
medians over the repeats, with ``min`` and ``max`` beside them; ``speedup`` is
pages/s over sync's (null without a sync run). With ``--sweep`` the ``modes``
figures are those of the largest width swept.

report.md adds a few sentences drawn from the figures (see :func:`explain`).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.table import Table

from .config import MODES
from .figures import CompareOptions, PageSetCheck, RunResult

Report = Mapping[str, Any]
Summary = Mapping[str, Any]

TITLE = "crawler compare: the same crawl, mode by mode"
# (heading, figure, format) of each table column after the mode.
_COLUMNS = (
    ("pages", "pages", "{:,.0f}"),
    ("wall s", "wall_s", "{:,.2f}"),
    ("pages/s", "pages_per_sec", "{:,.1f}"),
    ("vs sync", "speedup", "{:,.1f}×"),
    ("CPU s", "cpu_s", "{:,.2f}"),
    ("peak RSS MB", "peak_rss_mb", "{:,.0f}"),
    ("fetch ms mean", "latency_mean_ms", "{:,.1f}"),
    ("fetch ms p95", "latency_p95_ms", "{:,.1f}"),
    ("errors", "errors", "{:,.0f}"),
)
_FOOTNOTE = ("Medians over the repeats (min–max in brackets). CPU s is user + system time of the crawl's "
             "processes; peak RSS MB sums the resident memory of all of them (pages that processes "
             "share count once per process).")
# Figures summarised over a mode's runs.
FIGURES = ("wall_s", "pages_per_sec", "cpu_s", "peak_rss_mb", "latency_mean_ms", "latency_p95_ms",
           "pages", "records", "errors", "big_pages", "max_page_bytes")
# Figures whose spread over repeats the table shows.
_SPREAD = ("wall_s", "pages_per_sec", "cpu_s", "peak_rss_mb")


# ----- the document --------------------------------------------------------------------------


def build_report(options: CompareOptions, runs: Sequence[RunResult], check: PageSetCheck) -> dict[str, Any]:
    """The report.json document for finished runs and their page-set check."""
    modes = summarise_modes(runs, options.modes, max(options.sweep) if options.sweep else None)
    latency_s = site_latency_s(options, modes)
    config = options.config
    return {
        "schema": 1,
        "same_pages": check.same,
        "comparable": options.comparable,
        "reference": check.reference,
        "page_count": check.pages,
        "differences": check.differences,
        "settings": {
            "url": options.url, "modes": list(options.modes), "repeat": options.repeat,
            "workers": config.workers, "concurrency": config.concurrency, "per_host": config.per_host,
            "delay": config.delay, "max_pages": config.max_pages, "max_depth": config.max_depth,
            "parse_workers": config.effective_parse_workers, "parse_offload_bytes": config.parse_offload_bytes,
            "latency_ms": latency_s * 1000 if latency_s else None, "cpus": os.cpu_count(),
            "python": platform.python_version(), "platform": platform.platform(terse=True),
            **options.settings,
        },
        "modes": modes,
        "sweep": sweep_summary(runs, options, latency_s) if options.sweep else None,
        "runs": [run.figures() for run in runs],
    }


def summarise(runs: Sequence[RunResult]) -> dict[str, Any]:
    """Medians of each figure over a mode's runs, with their min and max."""
    table = {name: [run.figures()[name] for run in runs] for name in FIGURES}
    summary: dict[str, Any] = {"width": runs[0].width, "runs": len(runs)}
    summary |= {name: statistics.median(values) for name, values in table.items()}
    summary["min"] = {name: min(values) for name, values in table.items()}
    summary["max"] = {name: max(values) for name, values in table.items()}
    return summary


def summarise_modes(runs: Sequence[RunResult], modes: Sequence[str], width: int | None = None) -> dict[str, Any]:
    """Per mode summaries (at one width, if given) with the speed-up over sync."""
    summaries = {}
    for mode in modes:
        chosen = [r for r in runs if r.mode == mode and (width is None or mode == "sync" or r.width == width)]
        if chosen:
            summaries[mode] = summarise(chosen)
    base = summaries.get("sync", {}).get("pages_per_sec")
    for summary in summaries.values():
        summary["speedup"] = summary["pages_per_sec"] / base if base else None
    return summaries


def sweep_summary(runs: Sequence[RunResult], options: CompareOptions, latency_s: float | None) -> dict[str, Any]:
    """Median pages/s per mode at each swept width, and the I/O limit width / latency."""
    modes = {}
    for mode in options.modes:
        rates = [statistics.median(r.pages_per_sec for r in runs if r.mode == mode and
                                   (mode == "sync" or r.width == width)) for width in options.sweep]
        modes[mode] = rates
    limit = [width / latency_s for width in options.sweep] if latency_s else None
    return {"widths": list(options.sweep), "io_limit": limit, "modes": modes}


def site_latency_s(options: CompareOptions, modes: Mapping[str, Any]) -> float | None:
    """The network round trip: the demo site's latency, else sync's measured mean fetch latency."""
    if options.latency_ms:
        return options.latency_ms / 1000
    measured = [m["latency_mean_ms"] for m in modes.values() if m["latency_mean_ms"] > 0]
    mean = modes["sync"]["latency_mean_ms"] if "sync" in modes else min(measured, default=0)
    return mean / 1000 if mean else None


def iter_modes(report: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """The report's per-mode summaries in the canonical order."""
    for mode in MODES:  # the order modes run in, and appear in every table
        if mode in report["modes"]:
            yield mode, report["modes"][mode]


# ----- rendering -------------------------------------------------------------------------------


def cell(summary: Summary, figure: str, fmt: str, spread: bool = True) -> str:
    """One table cell: the median, and min-max when there were repeats."""
    value = summary.get(figure)
    if value is None:
        return "–"
    text = fmt.format(value)
    if spread and summary["runs"] > 1 and figure in _SPREAD:
        text += f" ({fmt.format(summary['min'][figure])}–{fmt.format(summary['max'][figure])})"
    return text


def rows(report: Report, spread: bool = True) -> list[list[str]]:
    """The table's rows: mode with its width, then each column's cell."""
    return [[_mode_label(mode, s)] + [cell(s, figure, fmt, spread) for _, figure, fmt in _COLUMNS]
            for mode, s in iter_modes(report)]


def rich_table(report: Report) -> Table:
    """The comparison as a rich table for the terminal (medians; the spread is in report.md)."""
    table = Table(title=TITLE, title_justify="left")
    table.add_column("mode", style="bold", no_wrap=True)
    for heading, _, _ in _COLUMNS:
        table.add_column(heading, justify="right")
    for row in rows(report, spread=False):
        table.add_row(*row)
    return table


def markdown(report: Report, chart: str | None, sweep_chart: str | None) -> str:
    """report.md: settings, the table, what the figures say, and the charts."""
    headings = ["mode"] + [heading for heading, _, _ in _COLUMNS]
    lines = [f"# {TITLE}", "", _settings_line(report), "",
             "| " + " | ".join(headings) + " |", "|" + "---|" * len(headings)]
    lines += ["| " + " | ".join(row) + " |" for row in rows(report)]
    lines += ["", _FOOTNOTE, ""]
    lines += ["## What the figures say", ""] + [f"- {sentence}" for sentence in explain(report)]
    if chart:
        lines += ["", f"![pages per second, CPU and memory by mode]({chart})"]
    if report.get("sweep"):
        lines += ["", "## Throughput against workers / concurrency", "", *_sweep_table(report["sweep"]), ""]
        lines += [f"- {sentence}" for sentence in explain_sweep(report["sweep"])]
        if sweep_chart:
            lines += ["", f"![pages per second against workers]({sweep_chart})"]
    return "\n".join(lines) + "\n"


def write_files(report: Report, directory: Path, chart: str | None, sweep_chart: str | None) -> None:
    """Write report.json and report.md into directory."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (directory / "report.md").write_text(markdown(report, chart, sweep_chart), encoding="utf-8")


# ----- sentences from the figures --------------------------------------------------------


def explain(report: Report) -> list[str]:
    """A few plain sentences explaining the measured figures."""
    modes, settings = report["modes"], report["settings"]
    sentences = [_headline(modes), _bound(modes, settings), _threads(modes, settings),
                 _processes(modes), _async(modes, settings), _pages_check(report)]
    sentences.append(f"The demo site ran in a process of its own on the same {settings['cpus']} CPUs; "
                     "its CPU time is not in the figures." if settings.get("demo") else None)
    return [sentence for sentence in sentences if sentence]


def explain_sweep(sweep: Mapping[str, Any]) -> list[str]:
    """Where each mode stopped scaling as workers / concurrency grew."""
    sentences = []
    widths, limits = sweep["widths"], sweep["io_limit"]
    for mode, rates in sweep["modes"].items():
        if mode == "sync" or not rates:
            continue
        peak = max(rates)
        knee = next(i for i, rate in enumerate(rates) if rate >= 0.9 * peak)
        sentence = f"{mode} peaked at {peak:,.0f} pages/s and reached 90% of that at {widths[knee]}"
        if limits:
            sentence += f", where the I/O limit is {limits[knee]:,.0f} pages/s"
        sentences.append(sentence + ".")
    if "sync" in sweep["modes"]:
        sentences.append(f"sync fetches one page at a time whatever the setting: {sweep['modes']['sync'][0]:,.1f} pages/s.")
    return sentences


def _headline(modes: Mapping[str, Summary]) -> str | None:
    """The fastest mode's rate, speed-up, CPU and memory."""
    if not modes:
        return None
    mode, best = max(modes.items(), key=lambda item: item[1]["pages_per_sec"])
    text = f"{mode} fetched {best['pages_per_sec']:,.1f} pages/s"
    if best["speedup"] and mode != "sync":
        text += f", {best['speedup']:,.1f}× sync"
    return text + f", using {best['cpu_s']:,.2f} CPU-seconds and {best['peak_rss_mb']:,.0f} MB at its peak."


def _bound(modes: Mapping[str, Summary], settings: Mapping[str, Any]) -> str | None:
    """Whether the crawl is I/O- or CPU-bound, judged by how busy the sync run kept its CPU."""
    sync = modes.get("sync")
    if not sync or not sync["wall_s"] or not sync["pages"]:
        return None
    busy = sync["cpu_s"] / sync["wall_s"]
    per_page = sync["cpu_s"] / sync["pages"] * 1000
    text = (f"sync spent {1 - busy:.0%} of its {sync['wall_s']:,.1f} s waiting for responses and "
            f"{busy:.0%} computing ({per_page:,.1f} ms of CPU per page")
    latency = settings.get("latency_ms")
    text += f" against a {latency:,.0f} ms round trip): " if latency else "): "
    if busy < 0.5:
        return text + "this crawl is I/O-bound, so overlapping requests is what pays."
    return text + "this crawl is CPU-bound: parsing, not the network, sets the pace, so only more cores help."


def _io_limit(width: int, settings: Mapping[str, Any]) -> float | None:
    """Pages/s that width requests in flight allow at the site's latency."""
    latency = settings.get("latency_ms")
    return width / (latency / 1000) if latency else None


def _threads(modes: Mapping[str, Summary], settings: Mapping[str, Any]) -> str | None:
    """What the GIL did to the threaded mode."""
    threaded = modes.get("threaded")
    if not threaded or not threaded["wall_s"]:
        return None
    cores = threaded["cpu_s"] / threaded["wall_s"]
    text = (f"threaded kept {cores:.1f} of {settings['cpus']} CPUs busy with {threaded['width']} threads: "
            "the GIL lets one thread run Python code at a time, so threads overlap their network "
            "waits (and lxml's C parsing) but not the rest of the work")
    limit = _io_limit(threaded["width"], settings)
    if limit:
        share = threaded["pages_per_sec"] / limit
        verdict = "the GIL, not the network, capped them" if share < 0.7 and cores > 0.8 else "enough here"
        text += f"; they reached {share:.0%} of the {limit:,.0f} pages/s the network allows ({verdict})"
    return text + "."


def _processes(modes: Mapping[str, Summary]) -> str | None:
    """What worker processes cost, and whether it bought anything, against threads."""
    process, threaded = modes.get("process"), modes.get("threaded")
    if not process or not threaded or not threaded["cpu_s"] or not threaded["peak_rss_mb"]:
        return None
    cpu, rss = process["cpu_s"] / threaded["cpu_s"], process["peak_rss_mb"] / threaded["peak_rss_mb"]
    text = (f"process paid for {process['width']} worker processes: {process['cpu_s']:,.2f} CPU-seconds "
            f"({cpu:.1f}× threaded's) and {process['peak_rss_mb']:,.0f} MB ({rss:.1f}× threaded's), "
            "for starting interpreters and pickling every request and result between processes")
    pace = process["pages_per_sec"] / threaded["pages_per_sec"] if threaded["pages_per_sec"] else 1.0
    if pace > 1.1:
        return text + f"; free of the GIL, it still outran threads {pace:.1f}×: parsing is the bottleneck."
    if pace < 0.9:
        return text + f"; with parsing this cheap, that overhead left it at {pace:.2f}× threads' pace."
    return text + "; it kept pace with threads."


def _async(modes: Mapping[str, Summary], settings: Mapping[str, Any]) -> str | None:
    """The event loop's CPU per page, what bound it, and what the parse pool did."""
    aio = modes.get("async")
    if not aio or not aio["pages"] or not aio["wall_s"]:
        return None
    per_page = aio["cpu_s"] / aio["pages"] * 1000
    text = (f"async ran up to {aio['width']} requests on one event loop in one thread at "
            f"{per_page:,.2f} ms of CPU per page")
    threaded = modes.get("threaded")
    if threaded and threaded["pages"]:
        text += f" (threads: {threaded['cpu_s'] / threaded['pages'] * 1000:,.2f} ms)"
    limit = _io_limit(aio["width"], settings)
    if limit:
        text += (f"; it reached {aio['pages_per_sec'] / limit:.0%} of the {limit:,.0f} pages/s the network "
                 f"allows, with {aio['cpu_s'] / aio['wall_s']:.1f} CPUs busy")
    return text + ". " + _parse_pool(aio, settings)


def _parse_pool(aio: Summary, settings: Mapping[str, Any]) -> str:
    """What the async mode's parse pool did with the pages of this crawl."""
    workers, offload = settings["parse_workers"], settings["parse_offload_bytes"]
    if not workers:
        return "It parsed every page inline (no parse pool)."
    big, largest = aio["big_pages"], aio["max_page_bytes"] / 1024
    text = (f"It sends pages of {offload / 1024:,.0f} KiB or more to a pool of {workers} parse processes; "
            f"{big:,.0f} of {aio['pages']:,.0f} pages were that large (largest {largest:,.0f} KiB), ")
    if big:
        return text + "so their parsing ran on other CPUs, out of the event loop's way."
    return text + "so every page was parsed inline, on the event loop's thread."


def _pages_check(report: Report) -> str:
    """Whether every mode found the same pages."""
    if report["same_pages"]:
        return f"Every run of every mode found the same {report['page_count']:,} URLs with the same statuses."
    if not report["comparable"]:
        return ("The modes found different pages, as a page or depth limit allows: which pages fit "
                "under it depends on the order fetches complete in.")
    return "The modes found DIFFERENT pages: see `differences` in report.json."


# ----- small pieces ---------------------------------------------------------------------------


def _mode_label(mode: str, summary: Summary) -> str:
    """The mode with its width: 'threaded ×64'."""
    return mode if mode == "sync" else f"{mode} ×{summary['width']}"


def _settings_line(report: Report) -> str:
    """One line saying what was crawled, how, and on what."""
    s = report["settings"]
    demo = s.get("demo")
    site = (f"the demo site ({demo['pages']:,} pages of {demo['min_kb']}–{demo['max_kb']} KiB with "
            f"{demo['min_links']}–{demo['max_links']} links, {demo['latency_ms']:g} ms latency)"
            if demo else s["url"])
    return (f"Crawl of {site}; -w {s['workers']} / -c {s['concurrency']}, per host {s['per_host']}; "
            f"{s['repeat']} run(s) per mode, each in a fresh process; {s['cpus']} CPUs, "
            f"Python {s['python']} on {s['platform']}.")


def _sweep_table(sweep: Mapping[str, Any]) -> list[str]:
    """The sweep as a markdown table: pages/s per mode at each width."""
    modes = list(sweep["modes"])
    limits = sweep["io_limit"]
    head = ["workers / concurrency", *modes] + (["I/O limit"] if limits else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for i, width in enumerate(sweep["widths"]):
        cells = [str(width)] + [f"{sweep['modes'][mode][i]:,.1f}" for mode in modes]
        cells += [f"{limits[i]:,.0f}"] if limits else []
        lines.append("| " + " | ".join(cells) + " |")
    return lines
