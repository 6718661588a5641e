"""The report's sentences against hand-made figures: each names what the figures show, nothing else."""

from __future__ import annotations

from typing import Any

import pytest

from crawler.figures import RunResult, check_items, crawl_rounds
from crawler.report import bound, explain, explain_sweep, io_limit, lesson, summarise_modes

SETTINGS = {"cpus": 2, "latency_ms": 50.0, "per_host": 64, "hosts": 1, "respect_robots": True,
            "parse_workers": 2, "parse_offload_bytes": 16384, "workload": "links"}


def run(mode: str, wall: float, cpu: float, width: int = 16, pages: int = 600, main_cpu: float | None = None,
        rounds: int = 40, shape_rounds: int = 11, first: float = 0.11) -> RunResult:
    """A made-up run of a 600-page site."""
    return RunResult(mode=mode, width=width, wall_s=wall, cpu_s=cpu, peak_rss_mb=100.0, pages=pages,
                     records=pages, errors=0, latency_mean_ms=50.0, latency_p95_ms=60.0, big_pages=pages,
                     max_page_bytes=60_000, main_cpu_s=cpu if main_cpu is None else main_cpu,
                     first_record_s=first, rounds=rounds, shape_rounds=shape_rounds)


def summary(*runs: RunResult) -> dict[str, Any]:
    """The per-mode summaries of some runs."""
    return summarise_modes(runs, ("sync", "threaded", "process", "async"))


def binary_tree(pages: int, host: str = "s") -> list[tuple[str, str | None]]:
    """(url, referrer) of a site whose page i links to pages 2i+1 and 2i+2, as the demo site does."""
    url = [f"http://{host}/page/{i}" for i in range(pages)]
    return [(url[i], url[(i - 1) // 2] if i else None) for i in range(pages)]


# ----- the figures the sentences rest on ---------------------------------------------------------


def test_a_binary_tree_of_600_pages_needs_ten_round_trips_whatever_the_width() -> None:
    tree = binary_tree(600)
    assert crawl_rounds(tree) == crawl_rounds(tree, width=512) == 10
    assert crawl_rounds(tree, width=1) == 600
    assert crawl_rounds(tree, width=16) == 1 + 1 + 1 + 1 + 1 + 2 + 4 + 8 + 16 + 6  # 2^d pages at depth d


def test_rounds_count_the_per_host_cap() -> None:
    two_hosts = binary_tree(300, "a") + binary_tree(300, "b")
    assert crawl_rounds(two_hosts, width=64, per_host=8) > crawl_rounds(two_hosts, width=64)
    assert crawl_rounds(two_hosts, width=16, per_host=8) == crawl_rounds(two_hosts, width=16)


def test_the_io_limit_counts_the_per_host_cap() -> None:
    one_host = {**SETTINGS, "per_host": 8, "latency_ms": 22.3}
    assert io_limit(16, one_host) == pytest.approx(359, abs=1)  # not 717: 8 in flight, not 16
    assert io_limit(16, {**one_host, "hosts": 3}) == pytest.approx(717, abs=1)
    assert io_limit(16, {**one_host, "per_host": None}) == pytest.approx(717, abs=1)


def test_items_that_differ_are_found_by_mode() -> None:
    same, other = {"http://s/": '[{"links": 3}]'}, {"http://s/": '[{"links": 4}]'}
    assert check_items([("sync", same), ("threaded", same)]) == {}
    assert check_items([("sync", same), ("async", other), ("async", {})]) == {"async": ["http://s/"]}


# ----- what held a mode back -----------------------------------------------------------------------


def test_the_per_host_cap_is_said_up_front_with_the_limit_it_sets() -> None:
    settings = {**SETTINGS, "per_host": 8, "latency_ms": 22.3}
    modes = summary(run("threaded", 2.0, 0.5, rounds=80), run("async", 2.0, 0.5, rounds=80))
    sentences = explain({"modes": modes, "settings": settings, "same_pages": True, "comparable": True,
                         "page_count": 600})
    assert sentences[0].startswith("The per-host cap binds: 8 requests per host x 1 host(s) allow 8 in flight, "
                                   "fewer than the width of 16, so the network allows at most 359 pages/s")
    assert "717" not in " ".join(sentences)


def test_no_word_about_the_cap_when_it_does_not_bind() -> None:
    modes = summary(run("async", 2.0, 0.5))
    text = " ".join(explain({"modes": modes, "settings": SETTINGS, "same_pages": True, "comparable": True,
                             "page_count": 600}))
    assert "per-host cap" not in text


def test_threads_at_under_one_cpu_are_not_called_gil_bound() -> None:
    # 0.8 of 2 CPUs busy, far below the network's limit: not the GIL, and not the network either.
    modes = summary(run("threaded", 10.0, 8.0))
    kind, words = bound("threaded", modes["threaded"], SETTINGS)
    assert kind == "none" and "nothing saturated (the CPUs 0.8 of 2 busy" in words
    text = " ".join(explain({"modes": modes, "settings": SETTINGS, "same_pages": True, "comparable": True,
                             "page_count": 600}))
    assert "GIL" not in text


def test_threads_with_one_core_busy_are_gil_bound() -> None:
    modes = summary(run("threaded", 10.0, 9.5))
    kind, words = bound("threaded", modes["threaded"], SETTINGS)
    assert kind == "one_core" and "the GIL" in words
    text = " ".join(explain({"modes": modes, "settings": SETTINGS, "same_pages": True, "comparable": True,
                             "page_count": 600}))
    assert "threads overlap their network waits" in text


def test_every_core_busy_is_named() -> None:
    modes = summary(run("process", 10.0, 19.0, main_cpu=2.0))
    assert bound("process", modes["process"], SETTINGS) == ("cores", "the CPUs (1.9 of 2 busy)")


def test_the_event_loop_on_one_core_is_named() -> None:
    modes = summary(run("async", 10.0, 12.0, main_cpu=9.0))
    kind, words = bound("async", modes["async"], SETTINGS)
    assert kind == "one_core" and "the event loop's thread" in words


def test_the_sites_shape_is_named_when_the_round_trips_it_needs_set_the_pace() -> None:
    # 600 pages over 11 round trips of 50 ms allow 1,091 pages/s; the run reached 1,000.
    modes = summary(run("async", 0.6, 0.5, width=512, rounds=11, shape_rounds=11))
    kind, words = bound("async", modes["async"], SETTINGS)
    assert kind == "shape" and "needs 11 round trips of 50 ms whatever the width" in words


def test_the_width_is_named_when_the_network_allows_no_more_at_that_width() -> None:
    modes = summary(run("threaded", 2.2, 0.4, width=16, rounds=40, shape_rounds=11))
    assert bound("threaded", modes["threaded"], SETTINGS) == ("width", "the width (16 in flight ÷ 50 ms)")


def test_the_per_host_cap_is_named_when_it_binds() -> None:
    settings = {**SETTINGS, "per_host": 8}
    modes = summary(run("async", 4.2, 0.4, width=16, rounds=80, shape_rounds=11))
    kind, words = bound("async", modes["async"], settings)
    assert kind == "per_host" and "8 in flight, not 16" in words


def test_start_up_is_named_when_it_takes_much_of_the_run() -> None:
    modes = summary(run("process", 2.0, 1.0, width=64, first=1.1))
    kind, words = bound("process", modes["process"], SETTINGS)
    assert kind == "startup" and "1.00 s of its 2.00 s passed before its first page" in words


# ----- the sweep, and what a workload teaches --------------------------------------------------------


def test_the_sweep_says_why_wherever_async_trailed_threads() -> None:
    report = {"sweep": {"widths": [8, 16], "io_limit": [160, 320], "modes": {
        "threaded": [135.0, 240.0], "async": [106.0, 238.0]}, "bounds": {
        "threaded": ["the width (8 in flight ÷ 50 ms)", "x"], "async": [("one core (0.9 CPUs busy in the event "
                                                                       "loop's thread)"), "y"]}}}
    sentences = explain_sweep(report)
    behind = [s for s in sentences if s.startswith("At ")]
    assert behind == [("At 8, async (106 pages/s) trailed threaded (135): async was held back by one core "
                      "(0.9 CPUs busy in the event loop's thread); threaded by the width (8 in flight ÷ 50 ms); "
                       "each request slot turned over every 75.5 ms against threads' 59.3 ms.")]


def test_the_links_lesson_is_to_overlap_the_waits() -> None:
    modes = summary(run("sync", 30.0, 1.8, width=1), run("async", 1.0, 1.5, width=64))
    text = lesson({"modes": modes, "settings": SETTINGS})
    assert text == ("links (I/O-bound): sync waited for responses 94% of its time, so overlapping the waits is "
                    "what pays: async kept up to 64 requests in flight and went 30.0× sync.")


def test_the_soup_lesson_is_to_use_every_core() -> None:
    modes = summary(run("sync", 40.0, 9.0, width=1), run("threaded", 9.0, 9.0, width=64),
                    run("async", 5.0, 9.5, width=64))
    text = lesson({"modes": modes, "settings": {**SETTINGS, "workload": "soup"}})
    assert text == ("soup (CPU-bound): each page costs 15.0 ms of CPU, so once requests overlap the parse sets "
                    "the pace and using every core for it is what pays: async kept 1.9 of 2 CPUs busy for "
                    "120 pages/s, against threads' 1.0 CPUs and 67 pages/s.")


def test_the_soup_lesson_says_so_when_no_mode_used_more_than_one_core() -> None:
    modes = summary(run("sync", 40.0, 9.0, width=1), run("threaded", 5.0, 5.0, width=64),
                    run("async", 4.7, 4.5, width=64))
    text = lesson({"modes": modes, "settings": {**SETTINGS, "workload": "soup"}})
    assert text.endswith("using every core for it is what pays; here no mode kept more than 1.0 of 2 CPUs busy, "
                         "so the fastest, async, reached 128 pages/s, against threads' 1.0 CPUs and 120 pages/s.")


@pytest.mark.parametrize("own, where", [(0.3, ("ran with the parse in its 2 parse workers, on every CPU: 4.70 CPU-s "
                                              "there against 0.30")),
                                        (4.2, "ran in the crawling process, on one core: 4.20 CPU-s there")])
def test_where_async_ran_the_page_hook_comes_from_its_cpu_split(own: float, where: str) -> None:
    modes = summary(run("async", 3.0, 5.0, width=64, main_cpu=own))
    text = " ".join(explain({"modes": modes, "settings": {**SETTINGS, "workload": "soup"}, "same_pages": True,
                             "comparable": True, "page_count": 600}))
    assert f"Its page hook {where}" in text and "link extraction" not in text
