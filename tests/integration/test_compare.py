"""`crawler compare` run as a user runs it, on a tiny demo site, in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.cli import main

ROOT = Path(__file__).resolve().parents[2]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `python -m crawler ARGS` and capture its output."""
    return subprocess.run([sys.executable, "-m", "crawler", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, check=False)


def test_compare_with_a_sweep_on_a_tiny_demo_site_writes_a_full_report(tmp_path: Path) -> None:
    result = run_cli("compare", "--demo", "--demo-pages", "20", "--latency-ms", "5", "--repeat", "1",
                     "--sweep", "2,4", "--report", str(tmp_path))
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["same_pages"] is True and report["page_count"] == 20
    assert list(report["modes"]) == ["sync", "threaded", "process", "async"]
    for mode, figures in report["modes"].items():
        assert figures["pages"] == 20 and figures["errors"] == 0, mode
        assert figures["wall_s"] > 0 and figures["cpu_s"] > 0 and figures["peak_rss_mb"] > 10
        assert figures["pages_per_sec"] == pytest.approx(20 / figures["wall_s"])
        assert figures["width"] == (1 if mode == "sync" else 4)  # the table shows the widest point
    assert report["modes"]["sync"]["speedup"] == 1.0
    assert report["settings"]["demo"]["pages"] == 20
    sweep = report["sweep"]
    assert sweep["widths"] == [2, 4] and sweep["io_limit"] == pytest.approx([400, 800])
    assert all(len(rates) == 2 for rates in sweep["modes"].values())
    markdown = (tmp_path / "report.md").read_text()
    assert "| threaded ×4 | 20 |" in markdown and "## What the figures say" in markdown
    for chart in ("compare.png", "sweep.png"):
        assert (tmp_path / chart).read_bytes().startswith(PNG_SIGNATURE)
    assert "pages/s" in result.stdout and "Traceback" not in result.stderr


@pytest.mark.parametrize("args, message", [
    (["compare"], "give a URL or --demo"),
    (["compare", "--demo", "http://127.0.0.1:9/"], "give a URL or --demo"),
    (["compare", "--demo", "--modes", "sync,fibers"], "--modes takes"),
    (["compare", "--demo", "--sweep", "0,4"], "--sweep takes"),
    (["compare", "--demo", "--repeat", "0"], "--repeat must be positive"),
    (["compare", "--demo", "--page-kb", "big"], "--page-kb takes MIN,MAX"),
    (["compare", "--demo", "--links", "90,80"], "min_links <= max_links"),
    (["compare", "--demo", "-w", "0"], "workers must be positive"),
])
def test_compare_mistakes_get_one_line(args: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 2
    error = capsys.readouterr().err
    assert message in error and len(error.strip().splitlines()) == 1


def test_demo_compares_both_workloads_and_every_mode_scrapes_the_same_items(tmp_path: Path) -> None:
    result = run_cli("demo", "--pages", "20", "--latency-ms", "5", "-w", "4", "-c", "4", "--report", str(tmp_path))
    assert result.returncode == 0, result.stderr
    for workload in ("links", "soup"):
        report = json.loads((tmp_path / workload / "report.json").read_text())
        assert report["settings"]["workload"] == workload
        assert report["same_pages"] is True and report["item_differences"] == {}
        assert list(report["modes"]) == ["sync", "threaded", "process", "async"]
        for mode, figures in report["modes"].items():
            # The soup hook returns one item per HTML page, in every mode; links scrapes nothing.
            assert figures["pages"] == 20 and figures["items"] == (20 if workload == "soup" else 0), mode
        assert (tmp_path / workload / "compare.png").read_bytes().startswith(PNG_SIGNATURE)
    assert "scraped the same 20 items" in (tmp_path / "soup" / "report.md").read_text()
    lessons = result.stdout[result.stdout.index("What the two workloads teach"):]
    assert "links (I/O-bound)" in lessons and "overlapping the waits is what pays" in lessons
    assert "soup (CPU-bound)" in lessons and "using every core for it is what pays" in lessons


def test_compare_refuses_an_unknown_workload(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["compare", "--demo", "--workload", "xml"]) == 2
    assert "--workload" in capsys.readouterr().err
