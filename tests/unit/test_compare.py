"""The pure parts of `crawler compare`: the run plan, the page-set check, summaries and sentences."""

from __future__ import annotations

import pytest

from crawler.compare import mode_list, plan
from crawler.config import CrawlConfig
from crawler.figures import CompareOptions, RunResult, check_page_sets, describe_differences
from crawler.report import explain, markdown, summarise_modes

SITE = frozenset({("http://s/", 200), ("http://s/a", 200), ("http://s/b", 404)})


def run(mode: str, wall: float, pages: int = 100, cpu: float = 1.0, width: int = 8,
        page_set: frozenset = SITE) -> RunResult:
    """A made-up run."""
    return RunResult(mode=mode, width=width, wall_s=wall, cpu_s=cpu, peak_rss_mb=100.0, pages=pages,
                     records=pages, errors=0, latency_mean_ms=50.0, latency_p95_ms=60.0, big_pages=0,
                     max_page_bytes=60_000, page_set=page_set)


def test_identical_page_sets_pass() -> None:
    check = check_page_sets([("sync", SITE), ("threaded", SITE), ("async", SITE)])
    assert check.same and check.differences == {} and check.pages == 3


def test_a_divergence_is_found_and_described_by_mode() -> None:
    missing_a = SITE - {("http://s/a", 200)}
    other_status = (SITE - {("http://s/b", 404)}) | {("http://s/b", 500), ("http://s/c", None)}
    check = check_page_sets([("sync", SITE), ("threaded", SITE), ("process", missing_a),
                             ("async", other_status), ("threaded", SITE)])
    assert not check.same and check.reference == "sync"
    assert check.differences == {
        "process": {"missing": [("http://s/a", 200)], "extra": []},
        "async": {"missing": [("http://s/b", 404)], "extra": [("http://s/b", 500), ("http://s/c", None)]},
    }
    text = "\n".join(describe_differences(check))
    assert "1 URL(s) not found by process" in text and "200  http://s/a" in text
    assert "2 URL(s) found only by async" in text and "error  http://s/c" in text
    assert "threaded" not in text


def test_a_repeat_that_differs_from_its_own_mode_counts_too() -> None:
    check = check_page_sets([("sync", SITE), ("sync", SITE | {("http://s/new", 200)})])
    assert not check.same and check.differences["sync"]["extra"] == [("http://s/new", 200)]


def test_long_differences_are_cut_short() -> None:
    many = frozenset((f"http://s/{i}", 200) for i in range(25))
    lines = describe_differences(check_page_sets([("sync", many), ("async", frozenset())]), limit=10)
    assert len(lines) == 1 + 10 + 1 and lines[-1] == "  ... and 15 more"


def test_plan_interleaves_repeats_and_runs_sync_once_per_sweep() -> None:
    options = CompareOptions(url="http://s/", config=CrawlConfig(workers=4, concurrency=6), repeat=2)
    assert plan(options) == [("sync", 1), ("threaded", 4), ("process", 4), ("async", 6)] * 2
    sweep = CompareOptions(url="http://s/", config=CrawlConfig(), modes=("sync", "async"), sweep=(1, 8))
    assert plan(sweep) == [("sync", 1), ("async", 1), ("async", 8)]


def test_summaries_take_medians_and_speedups_over_sync() -> None:
    runs = [run("sync", 10.0), run("async", 1.0), run("sync", 12.0), run("async", 2.0), run("sync", 20.0),
            run("async", 0.5)]
    modes = summarise_modes(runs, ("sync", "async"))
    assert modes["sync"]["wall_s"] == 12.0 and modes["sync"]["min"]["wall_s"] == 10.0
    assert modes["async"]["pages_per_sec"] == 100.0 and modes["async"]["max"]["pages_per_sec"] == 200.0
    assert modes["async"]["speedup"] == pytest.approx(100 / (100 / 12))


def test_sentences_come_from_the_figures() -> None:
    runs = [run("sync", 10.0, cpu=0.5, width=1), run("threaded", 1.0, cpu=0.9), run("process", 1.25, cpu=3.0),
            run("async", 0.5, cpu=0.4)]
    settings = {"cpus": 2, "latency_ms": 50.0, "parse_workers": 2, "parse_offload_bytes": 262144}
    report = {"modes": summarise_modes(runs, ("sync", "threaded", "process", "async")), "settings": settings,
              "same_pages": True, "comparable": True, "page_count": 3}
    text = " ".join(explain(report))
    assert "async fetched 200.0 pages/s, 20.0× sync, using 0.40 CPU-seconds" in text
    assert "sync spent 95% of its 10.0 s waiting" in text and "I/O-bound" in text
    assert "3.3× threaded's" in text and "0.80× threads' pace" in text
    assert "0 of 100 pages were that large" in text
    assert "same 3 URLs" in text


def test_markdown_has_the_table_and_spreads() -> None:
    runs = [run("sync", 10.0, width=1), run("sync", 11.0, width=1), run("sync", 30.0, width=1)]
    report = {"modes": summarise_modes(runs, ("sync",)), "same_pages": True, "comparable": True,
              "page_count": 3, "sweep": None,
              "settings": {"cpus": 2, "latency_ms": None, "parse_workers": 0, "parse_offload_bytes": 1,
                           "url": "http://s/", "workers": 8, "concurrency": 8, "per_host": 8, "repeat": 3,
                           "python": "3.11", "platform": "Linux"}}
    text = markdown(report, "compare.png", None)
    assert "| sync | 100 | 11.00 (10.00–30.00) | 9.1 (3.3–10.0) |" in text
    assert "![pages per second, CPU and memory by mode](compare.png)" in text


@pytest.mark.parametrize("text", ["", "sync,fibers", ",,"])
def test_bad_mode_lists_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="--modes"):
        mode_list(text)


def test_mode_lists_come_out_in_canonical_order() -> None:
    assert mode_list("async, sync,async") == ("sync", "async")
