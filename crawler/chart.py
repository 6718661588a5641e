"""Charts of a comparison report, drawn with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # before pyplot: files only, never a window

import matplotlib.pyplot as plt

from .report import iter_modes

COLORS = {"sync": "#7f7f7f", "threaded": "#1f77b4", "process": "#ff7f0e", "async": "#2ca02c"}
# (figure, axis title) of each panel of the mode chart.
_PANELS = (("pages_per_sec", "pages / s"), ("cpu_s", "CPU seconds"), ("peak_rss_mb", "peak RSS (MB)"))


def draw_modes(report: Mapping[str, Any], path: Path) -> None:
    """Bars of pages/s, CPU seconds and peak memory per mode, with min-max whiskers."""
    modes = list(iter_modes(report))
    names = [mode for mode, _ in modes]
    figure, axes = plt.subplots(1, len(_PANELS), figsize=(12, 4))
    for axis, (key, title) in zip(axes, _PANELS):
        values = [s[key] for _, s in modes]
        spread = [[v - s["min"][key] for v, (_, s) in zip(values, modes)],
                  [s["max"][key] - v for v, (_, s) in zip(values, modes)]]
        whiskers = spread if report["settings"]["repeat"] > 1 else None
        bars = axis.bar(names, values, yerr=whiskers, capsize=3, color=[COLORS[m] for m in names])
        axis.bar_label(bars, fmt="{:,.0f}" if key != "cpu_s" else "{:,.1f}", padding=2, fontsize=8)
        axis.set_title(title)
        axis.margins(y=0.15)
    figure.suptitle(_caption(report))
    _save(figure, path)


def draw_sweep(report: Mapping[str, Any], path: Path) -> None:
    """Pages/s against workers / concurrency for every mode, with the I/O limit for reference."""
    sweep = report["sweep"]
    widths = sweep["widths"]
    figure, axis = plt.subplots(figsize=(8, 5))
    for mode, rates in sweep["modes"].items():
        if mode == "sync":  # one page at a time whatever the setting: a flat line
            axis.plot(widths, [rates[0]] * len(widths), "--", color=COLORS[mode], label="sync (no workers)")
        else:
            axis.plot(widths, rates, "o-", color=COLORS[mode], label=mode)
    latency = report["settings"]["latency_ms"]
    if sweep["io_limit"]:
        axis.plot(widths, sweep["io_limit"], ":", color="black",
                  label=f"I/O limit: min(width, per host × hosts) ÷ {latency:,.0f} ms")
    if sweep.get("network_limit"):
        axis.plot(widths, sweep["network_limit"], "-.", color="#9467bd",
                  label="... and the round trips the site's shape needs")
    axis.set_xscale("log", base=2)
    axis.set_yscale("log")
    axis.set_xticks(widths, [str(w) for w in widths])
    axis.set_xlabel("workers (threaded, process) / concurrency (async)")
    axis.set_ylabel("pages / s")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    axis.set_title(_caption(report))
    _save(figure, path)


def _caption(report: Mapping[str, Any]) -> str:
    """A short description of the crawl for a chart's title."""
    s = report["settings"]
    demo = s.get("demo")
    site = f"demo site, {demo['pages']:,} pages, {demo['latency_ms']:g} ms latency" if demo else s["url"]
    runs = f"median of {s['repeat']} runs" if s["repeat"] > 1 else "one run per mode"
    workload = f", workload {s['workload']}" if s.get("workload", "links") != "links" else ""
    return f"{site}{workload} — {s['cpus']} CPUs, {runs}"


def _save(figure: Any, path: Path) -> None:
    """Write the figure as PNG and free it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(path, format="png", dpi=110)
    plt.close(figure)
