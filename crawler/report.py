"""The comparison report: figures summarised per mode, as report.json, report.md and a rich table.

``report.json`` (schema 1)::

    {"schema": 1,
     "same_pages": true,        # every run found the same set of (url, status)
     "comparable": true,        # false when --max-pages/--max-depth/--time-limit make
                                # the set depend on completion order (a difference then
                                # is reported but is not a failure)
     "differences": {"threaded": {"missing": [[url, status], ...], "extra": [...]}, ...},
     "item_differences": {"async": [url, ...], ...},  # pages whose hook items differ (workload soup)
     "settings": {"url": ..., "modes": [...], "repeat": R, "workers": N, "concurrency": N,
                  "per_host": N, "hosts": N, "max_pages": N|null, "demo": {DemoSpec fields}|null,
                  "workload": "links"|"soup", "latency_ms": X|null, "cpus": N, "python": "3.11.7", ...},
     "modes": {"sync": {"width": 1, "runs": R, "pages": N, "records": N, "wall_s": X,
                        "pages_per_sec": X, "speedup": X|null, "cpu_s": X, "peak_rss_mb": X,
                        "latency_mean_ms": X, "latency_p95_ms": X, "errors": N,
                        "big_pages": N, "max_page_bytes": N, "items": N,
                        "main_cpu_s": X, "first_record_s": X, "hosts": N, "rounds": N, "shape_rounds": N,
                        "min": {same figures}, "max": {same figures}}, ...},
     "sweep": null | {"widths": [1, 2, ...], "io_limit": [X, ...] | null,
                      "network_limit": [X, ...] | null,
                      "modes": {"threaded": [pages_per_sec per width], ...},
                      "bounds": {"threaded": [what held it back, per width], ...}},
     "runs": [{"mode": ..., "width": N, figures...}, ...]}

``pages`` counts HTML pages fetched with status 200; ``main_cpu_s`` is the crawling
process's own CPU time (its threads, not its child processes); ``first_record_s`` the
time to the first record; ``rounds`` the round trips the crawl needs at its width and
per-host cap when nothing but the network costs time, ``shape_rounds`` at any width
(see :func:`crawler.figures.crawl_rounds`). ``io_limit`` is min(width, per_host x hosts)
/ latency; ``network_limit`` is pages / (rounds x latency). Figures in ``modes`` are
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
           "pages", "records", "errors", "big_pages", "max_page_bytes", "items", "main_cpu_s",
           "first_record_s", "hosts", "rounds", "shape_rounds")
# Figures whose spread over repeats the table shows.
_SPREAD = ("wall_s", "pages_per_sec", "cpu_s", "peak_rss_mb")
# A mode that reached this share of what the network and the site's shape allow was held by them.
NETWORK_BOUND = 0.75
# CPUs busy, as a share of a whole one, that count as saturated ...
SATURATED = 0.85
# ... and as a share of all of them: the demo site and the system share the CPUs too.
ALL_SATURATED = 0.8
# Start-up that took this share of a run's wall time is what held it back.
STARTUP_BOUND = 0.3


# ----- the document --------------------------------------------------------------------------


def build_report(options: CompareOptions, runs: Sequence[RunResult], check: PageSetCheck) -> dict[str, Any]:
    """The report.json document for finished runs and their page-set check."""
    modes = summarise_modes(runs, options.modes, max(options.sweep) if options.sweep else None)
    latency_s = site_latency_s(options, modes)
    config = options.config
    settings = {
        "url": options.url, "modes": list(options.modes), "repeat": options.repeat,
        "workers": config.workers, "concurrency": config.concurrency, "per_host": config.per_host,
        "delay": config.delay, "max_pages": config.max_pages, "max_depth": config.max_depth,
        "parse_workers": config.effective_parse_workers, "parse_offload_bytes": config.parse_offload_bytes,
        "respect_robots": config.respect_robots, "workload": options.workload,
        "hosts": max((run.hosts for run in runs), default=1),
        "latency_ms": latency_s * 1000 if latency_s else None, "cpus": os.cpu_count(),
        "python": platform.python_version(), "platform": platform.platform(terse=True),
        **options.settings,
    }
    return {
        "schema": 1,
        "same_pages": check.same,
        "item_differences": check.item_differences,
        "comparable": options.comparable,
        "reference": check.reference,
        "page_count": check.pages,
        "differences": check.differences,
        "settings": settings,
        "modes": modes,
        "sweep": sweep_summary(runs, options, settings) if options.sweep else None,
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


def sweep_summary(runs: Sequence[RunResult], options: CompareOptions, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Median pages/s per mode at each swept width, what held each back, and the network's limits."""
    modes: dict[str, list[float]] = {}
    bounds: dict[str, list[str]] = {}
    network: list[float | None] = []
    for width in options.sweep:
        at_width = summarise_modes(runs, options.modes, width)
        for mode, summary in at_width.items():
            modes.setdefault(mode, []).append(summary["pages_per_sec"])
            bounds.setdefault(mode, []).append(bound(mode, summary, settings)[1])
        network.append(max((network_limit(s, settings) or 0 for m, s in at_width.items() if m != "sync"),
                           default=0) or None)
    limits = [io_limit(width, settings) for width in options.sweep]
    return {"widths": list(options.sweep), "io_limit": limits if all(limits) else None,
            "network_limit": network if all(network) else None, "modes": modes, "bounds": bounds}


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
        lines += [f"- {sentence}" for sentence in explain_sweep(report)]
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
    sentences = [_per_host_cap(modes, settings), _headline(modes), _sync(modes, settings),
                 _threads(modes, settings), _processes(modes, settings), _async(modes, settings), _pages_check(report)]
    sentences.append(f"The demo site ran in a process of its own on the same {settings['cpus']} CPUs; "
                     "its CPU time is not in the figures." if settings.get("demo") else None)
    return [sentence for sentence in sentences if sentence]


def explain_sweep(report: Report) -> list[str]:
    """Where each mode stopped scaling as workers / concurrency grew, and why async trailed threads."""
    sweep = report["sweep"]
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
    sentences += _async_behind(sweep)
    if "sync" in sweep["modes"]:
        sentences.append(f"sync fetches one page at a time whatever the setting: {sweep['modes']['sync'][0]:,.1f} pages/s.")
    return sentences


def _async_behind(sweep: Mapping[str, Any]) -> list[str]:
    """At each width where async trailed threads by more than the noise, what held each back."""
    aio, threads = sweep["modes"].get("async"), sweep["modes"].get("threaded")
    if not aio or not threads:
        return []
    return [f"At {width}, async ({a:,.0f} pages/s) trailed threaded ({t:,.0f}): async was held back by "
            f"{sweep['bounds']['async'][i]}; threaded by {sweep['bounds']['threaded'][i]}; each request slot "
            f"turned over every {1000 * width / a:,.1f} ms against threads' {1000 * width / t:,.1f} ms."
            for i, (width, a, t) in enumerate(zip(sweep["widths"], aio, threads)) if a and a < 0.95 * t]


# ----- what held a mode back ---------------------------------------------------------------


def in_flight(width: int, settings: Mapping[str, Any]) -> int:
    """Requests that can be in flight at once: the width, unless the per-host cap allows fewer."""
    cap = settings.get("per_host")
    return min(width, cap * settings.get("hosts", 1)) if cap else width


def io_limit(width: int, settings: Mapping[str, Any]) -> float | None:
    """Pages/s the network allows: min(width, per_host x hosts) / latency."""
    latency = settings.get("latency_ms")
    return in_flight(width, settings) / (latency / 1000) if latency else None


def network_limit(summary: Summary, settings: Mapping[str, Any]) -> float | None:
    """Pages/s the network allows this crawl, counting the round trips the site's shape needs too."""
    latency, rounds = settings.get("latency_ms"), summary.get("rounds")
    if latency and rounds:
        return summary["pages"] / (rounds * latency / 1000)
    return io_limit(summary["width"], settings)


def bound(mode: str, summary: Summary, settings: Mapping[str, Any]) -> tuple[str, str]:
    """What held a mode back, named from its measured figures: (kind, words).

    Kinds: ``startup`` (a third of the run passed before the first page); ``shape``,
    ``per_host``, ``width`` (the network: the mode reached most of what it allows); ``cores`` (every CPU busy); ``one_core`` (one CPU busy in
    the crawling process: the GIL, the event loop, the coordinator); ``none``.
    """
    wall, cpus = summary["wall_s"] or 1e-9, settings["cpus"]
    startup = _startup_s(summary, settings)
    if startup >= STARTUP_BOUND * wall:
        return "startup", f"start-up ({startup:,.2f} s of its {wall:,.2f} s passed before its first page)"
    limit = network_limit(summary, settings)
    if limit and summary["pages_per_sec"] >= NETWORK_BOUND * limit:
        return _network_bound(summary, settings)
    busy, own = summary["cpu_s"] / wall, summary.get("main_cpu_s", 0.0) / wall
    if busy >= ALL_SATURATED * cpus:
        return "cores", f"the CPUs ({busy:.1f} of {cpus} busy)"
    if own >= SATURATED and mode != "sync":
        return "one_core", f"one core ({own:.1f} CPUs busy in {_ONE_CORE[mode]})"
    share = f"{summary['pages_per_sec'] / limit:.0%} of what it allows" if limit else "an unknown share"
    text = f"nothing saturated (the CPUs {busy:.1f} of {cpus} busy, the network at {share})"
    latency = settings.get("latency_ms")
    if latency and summary["latency_mean_ms"] > 1.2 * latency:
        return "none", text + (f"; its fetches took {summary['latency_mean_ms']:,.0f} ms on average "
                               f"against the site's {latency:,.0f} ms")
    return "none", text + ": time went to waits between fetches"


_ONE_CORE = {"threaded": "its threads, which the GIL lets run Python one at a time",
             "process": "the coordinating process", "async": "the event loop's thread"}


def _network_bound(summary: Summary, settings: Mapping[str, Any]) -> tuple[str, str]:
    """Which part of the network's limit held a mode: the site's shape, the per-host cap or the width."""
    latency, width = settings["latency_ms"], summary["width"]
    rounds, shape = summary.get("rounds") or 0, summary.get("shape_rounds") or 0
    if shape and shape >= 0.8 * rounds and width > 1:
        return "shape", (f"the site's shape (a crawl of it needs {shape} round trips of {latency:,.0f} ms "
                         "whatever the width)")
    flight = in_flight(width, settings)
    if flight < width:
        return "per_host", (f"the per-host cap ({settings['per_host']} per host x {settings.get('hosts', 1)} "
                            f"host(s): {flight} in flight, not {width})")
    return "width", f"the width ({width} in flight ÷ {latency:,.0f} ms)"


def _startup_s(summary: Summary, settings: Mapping[str, Any]) -> float:
    """Time before the first page beyond its round trips (robots.txt, then the seed)."""
    latency = (settings.get("latency_ms") or 0) / 1000
    trips = 2 if settings.get("respect_robots", True) else 1
    return max(0.0, summary.get("first_record_s", 0.0) - trips * latency)


# ----- the sentences --------------------------------------------------------------------------


def _per_host_cap(modes: Mapping[str, Summary], settings: Mapping[str, Any]) -> str | None:
    """Up front: when the per-host cap, not the width, limits requests in flight."""
    widths = [s["width"] for mode, s in modes.items() if mode != "sync"]
    if not widths or not settings.get("per_host") or in_flight(max(widths), settings) >= max(widths):
        return None
    flight, hosts = in_flight(max(widths), settings), settings.get("hosts", 1)
    text = (f"The per-host cap binds: {settings['per_host']} requests per host x {hosts} host(s) allow "
            f"{flight} in flight, fewer than the width of {max(widths)}")
    limit = io_limit(max(widths), settings)
    return text + (f", so the network allows at most {limit:,.0f} pages/s whatever the width (--per-host raises it)."
                   if limit else " (--per-host raises it).")


def _headline(modes: Mapping[str, Summary]) -> str | None:
    """The fastest mode's rate, speed-up, CPU and memory."""
    if not modes:
        return None
    mode, best = max(modes.items(), key=lambda item: item[1]["pages_per_sec"])
    text = f"{mode} fetched {best['pages_per_sec']:,.1f} pages/s"
    if best["speedup"] and mode != "sync":
        text += f", {best['speedup']:,.1f}× sync"
    return text + f", using {best['cpu_s']:,.2f} CPU-seconds and {best['peak_rss_mb']:,.0f} MB at its peak."


def _sync(modes: Mapping[str, Summary], settings: Mapping[str, Any]) -> str | None:
    """How sync's time split between waiting and computing, and what that says about the crawl."""
    sync = modes.get("sync")
    if not sync or not sync["wall_s"] or not sync["pages"]:
        return None
    busy = sync["cpu_s"] / sync["wall_s"]
    per_page = sync["cpu_s"] / sync["pages"] * 1000
    text = (f"sync spent {1 - busy:.0%} of its {sync['wall_s']:,.1f} s waiting for responses and "
            f"{busy:.0%} computing ({per_page:,.1f} ms of CPU per page")
    latency = settings.get("latency_ms")
    text += f" against a {latency:,.0f} ms round trip)" if latency else ")"
    widest = max((s["width"] for s in modes.values()), default=1)
    limit = io_limit(widest, settings)
    if limit and per_page / 1000 * limit > settings["cpus"]:
        return text + (f": at the network's {limit:,.0f} pages/s with {in_flight(widest, settings)} in flight, "
                       f"that CPU would keep {per_page / 1000 * limit:,.1f} CPUs busy, more than the "
                       f"{settings['cpus']} there are, so overlapping requests pays until the CPUs are full.")
    if busy < 0.5:
        return text + ": this crawl is I/O-bound, so overlapping requests is what pays."
    return text + ": this crawl is CPU-bound: parsing, not the network, sets the pace, so only more cores help."


def _mode_pace(mode: str, summary: Summary, settings: Mapping[str, Any]) -> str:
    """'reached 78% of the 320 pages/s the network allows; held back by ...'."""
    limit = network_limit(summary, settings)
    text = (f"reached {summary['pages_per_sec'] / limit:.0%} of the {limit:,.0f} pages/s the network allows "
            f"with {in_flight(summary['width'], settings)} in flight over "
            f"{summary['rounds']:.0f} round trips; " if limit and summary.get("rounds") else "")
    return text + f"held back by {bound(mode, summary, settings)[1]}"


def _threads(modes: Mapping[str, Summary], settings: Mapping[str, Any]) -> str | None:
    """What held the threaded mode back, and whether that was the GIL."""
    threaded = modes.get("threaded")
    if not threaded or not threaded["wall_s"]:
        return None
    cores = threaded["cpu_s"] / threaded["wall_s"]
    text = (f"threaded kept {cores:.1f} of {settings['cpus']} CPUs busy with {threaded['width']} threads and "
            + _mode_pace("threaded", threaded, settings))
    if bound("threaded", threaded, settings)[0] == "one_core":
        text += ": threads overlap their network waits (and lxml's C parsing) but not the rest of the work"
    return text + "."


def _processes(modes: Mapping[str, Summary], settings: Mapping[str, Any]) -> str | None:
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
        text += f"; free of the GIL, it outran threads {pace:.1f}×"
    elif pace < 0.9:
        text += f"; that overhead left it at {pace:.2f}× threads' pace"
    else:
        text += "; it kept pace with threads"
    return text + f", held back by {bound('process', process, settings)[1]}."


def _async(modes: Mapping[str, Summary], settings: Mapping[str, Any]) -> str | None:
    """The event loop's CPU per page, what held async back, and what the parse pool did."""
    aio = modes.get("async")
    if not aio or not aio["pages"] or not aio["wall_s"]:
        return None
    per_page = aio["cpu_s"] / aio["pages"] * 1000
    text = (f"async ran up to {aio['width']} requests on one event loop in one thread at "
            f"{per_page:,.2f} ms of CPU per page")
    threaded = modes.get("threaded")
    if threaded and threaded["pages"]:
        text += f" (threads: {threaded['cpu_s'] / threaded['pages'] * 1000:,.2f} ms)"
    own = aio.get("main_cpu_s", 0.0)
    text += (f", {aio['cpu_s'] / aio['wall_s']:.1f} CPUs busy ({own:,.2f} CPU-s in the crawling process, "
             f"{max(0.0, aio['cpu_s'] - own):,.2f} in its parse workers); it " + _mode_pace("async", aio, settings))
    return text + ". " + (_hook_place(aio, settings) if settings.get("workload", "links") != "links"
                          else _parse_pool(aio, settings))


def _hook_place(aio: Summary, settings: Mapping[str, Any]) -> str:
    """Where the async mode's page hook ran, as its CPU time shows."""
    own, workers = aio.get("main_cpu_s", 0.0), max(0.0, aio["cpu_s"] - aio.get("main_cpu_s", 0.0))
    if settings["parse_workers"] and workers > own:
        return (f"Its page hook ran with the parse in its {settings['parse_workers']} parse workers, on every "
                f"CPU: {workers:,.2f} CPU-s there against {own:,.2f} in the crawling process.")
    return (f"Its page hook ran in the crawling process, on one core: {own:,.2f} CPU-s there against "
            f"{workers:,.2f} in its parse workers.")


def _parse_pool(aio: Summary, settings: Mapping[str, Any]) -> str:
    """What the async mode's parse pool did with the pages of this crawl."""
    workers, offload = settings["parse_workers"], settings["parse_offload_bytes"]
    if not workers:
        return "It parsed every page inline (no parse pool)."
    big, largest = aio["big_pages"], aio["max_page_bytes"] / 1024
    text = (f"It sends pages of {offload / 1024:,.0f} KiB or more to a pool of {workers} parse processes; "
            f"{big:,.0f} of {aio['pages']:,.0f} pages were that large (largest {largest:,.0f} KiB), ")
    if big:
        return text + "so their link extraction ran on other CPUs, out of the event loop's way."
    return text + "so every page's links were extracted inline, on the event loop's thread."


def _pages_check(report: Report) -> str:
    """Whether every mode found the same pages."""
    if report["same_pages"]:
        text = f"Every run of every mode found the same {report['page_count']:,} URLs with the same statuses"
        items = {s.get("items", 0) for s in report["modes"].values()}
        if report["settings"].get("workload", "links") != "links" and items:
            text += f" and its page hook scraped the same {max(items):,} items from them"
        return text + "."
    if report.get("item_differences"):
        return "The modes' page hooks scraped DIFFERENT items: see `item_differences` in report.json."
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


# ----- what a workload teaches ----------------------------------------------------------------


def lesson(report: Report) -> str:
    """One sentence: what this workload's figures teach (overlap the waits, or use every core)."""
    modes, settings = report["modes"], report["settings"]
    workload = settings.get("workload", "links")
    if not modes:
        return f"{workload}: no runs."
    name, best = max(modes.items(), key=lambda item: item[1]["pages_per_sec"])
    sync = modes.get("sync")
    if workload == "links":
        waited = f"sync waited for responses {1 - sync['cpu_s'] / sync['wall_s']:.0%} of its time, so " if sync else ""
        pace = f" and went {best['speedup']:,.1f}× sync" if best.get("speedup") else ""
        return (f"links (I/O-bound): {waited}overlapping the waits is what pays: {name} kept up to "
                f"{best['width']} requests in flight{pace}.")
    per_page = (sync or best)["cpu_s"] / max(1, (sync or best)["pages"]) * 1000
    busy = {mode: s["cpu_s"] / s["wall_s"] for mode, s in modes.items() if s["wall_s"]}
    text = (f"{workload} (CPU-bound): each page costs {per_page:,.1f} ms of CPU, so once requests overlap "
            f"the parse sets the pace and using every core for it is what pays: ")
    threaded = modes.get("threaded")
    against = (f", against threads' {busy['threaded']:.1f} CPUs and {threaded['pages_per_sec']:,.0f} pages/s"
               if threaded and name != "threaded" else "")
    if busy.get(name, 0) >= 1.2:
        return text + (f"{name} kept {busy[name]:.1f} of {settings['cpus']} CPUs busy for "
                       f"{best['pages_per_sec']:,.0f} pages/s{against}.")
    return text[:-2] + (f"; here no mode kept more than {max(busy.values()):.1f} of {settings['cpus']} CPUs "
                        f"busy, so the fastest, {name}, reached {best['pages_per_sec']:,.0f} pages/s{against}.")
