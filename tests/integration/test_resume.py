"""kill -9 (or Ctrl-C) the crawler mid-crawl, resume it, get an uninterrupted crawl's output: real processes."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from crawler.config import MODES
from crawler.demo import DemoSiteProcess, DemoSpec, expected_urls

from .sites import SITEMAP_PAGES, serve, sitemap_site_app

ROOT = Path(__file__).resolve().parents[2]
# Slow enough (latency) that a kill finds the crawl running, small enough to finish in seconds.
RESUME_SITE = DemoSpec(pages=400, latency_ms=40, seed=11)
FAST = ("-c", "16", "--per-host", "16", "-q")


@pytest.fixture(scope="module")
def site() -> Iterator[DemoSiteProcess]:
    """The demo site the crawls of this module share."""
    with DemoSiteProcess(RESUME_SITE) as running:
        yield running


@pytest.fixture(scope="module")
def uninterrupted(site: DemoSiteProcess, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    """The records of one crawl of the site that nothing interrupted, by URL."""
    out = tmp_path_factory.mktemp("uninterrupted") / "out.jsonl"
    result = crawler("crawl", site.url, "-o", str(out), *FAST)
    assert result.returncode == 0, result.stderr
    return {record["url"]: record for record in read_jsonl(out)}


def crawler(*args: str) -> subprocess.CompletedProcess[str]:
    """Run `python -m crawler ARGS` to the end."""
    return subprocess.run([sys.executable, "-m", "crawler", *args], capture_output=True, text=True,
                          check=False, timeout=60, cwd=ROOT)


def kill_after(lines: int, args: list[str], out: Path, sig: signal.Signals = signal.SIGKILL) -> int:
    """Start the crawler, send it sig once out holds at least lines lines (or it ends by itself).

    Checks that none of the processes it started (pool workers, their forkserver) outlives
    it, and returns its exit code.
    """
    process = subprocess.Popen([sys.executable, "-m", "crawler", *args], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while process.poll() is None and time.monotonic() < deadline:
        if out.exists() and out.read_bytes().count(b"\n") >= lines:
            break
        time.sleep(0.01)
    descendants = []
    if process.poll() is None:
        descendants = psutil.Process(process.pid).children(recursive=True)
        os.kill(process.pid, sig)
    code = process.wait(timeout=10)
    deadline = time.monotonic() + 10
    while (alive := [p for p in descendants if not ended(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive, f"processes outlived the killed crawl: {[p.cmdline() for p in alive]}"
    return code


def ended(process: psutil.Process) -> bool:
    """True once process has exited (a zombie has: only its exit status waits for a reaper)."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def read_jsonl(path: Path) -> list[dict]:
    """Every line of a JSON Lines file, parsed: fails on a torn or partial line."""
    data = path.read_bytes()
    assert not data or data.endswith(b"\n"), "the output ends in a partial line"
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


@pytest.mark.parametrize("mode", MODES)
def test_kill_9_and_ctrl_c_at_several_points_then_resume_gives_every_page_once(
        site: DemoSiteProcess, uninterrupted: dict[str, dict], tmp_path: Path, mode: str) -> None:
    out, state = tmp_path / "out.jsonl", tmp_path / "state"
    args = ["crawl", site.url, "-o", str(out), "--state", str(state), "--mode", mode, "-w", "16", *FAST]
    # 0: as soon as the output file exists, during start-up. SIGINT is Ctrl-C: a graceful stop.
    for lines, sig in ((0, signal.SIGKILL), (5, signal.SIGKILL), (40, signal.SIGINT), (120, signal.SIGKILL)):
        code = kill_after(lines, args, out, sig)
        assert code == (130 if sig == signal.SIGINT else -signal.SIGKILL)
        assert len(read_jsonl(out)) < RESUME_SITE.pages  # the kill came mid-crawl
    result = crawler(*args)
    assert result.returncode == 0, result.stderr
    assert "resuming: " in result.stderr and " done, " in result.stderr
    records = read_jsonl(out)
    urls = [record["url"] for record in records]
    assert len(urls) == len(set(urls)), "a page was written twice"
    assert set(urls) == set(uninterrupted) == expected_urls(RESUME_SITE, site.url)
    assert all(record["status"] == uninterrupted[record["url"]]["status"] for record in records)


def test_a_finished_crawl_says_so_and_fresh_starts_over(site: DemoSiteProcess, tmp_path: Path) -> None:
    out, state = tmp_path / "out.jsonl", tmp_path / "state"
    args = ["crawl", site.url, "-o", str(out), "--state", str(state), *FAST, "--max-pages", "30"]
    assert crawler(*args).returncode == 0
    first = out.read_bytes()

    again = crawler(*args)
    assert again.returncode == 0
    assert again.stderr == "crawl already finished: 30 pages; --fresh starts over\n"
    assert out.read_bytes() == first

    out.unlink()  # the output is derived again from the state
    assert crawler(*args).returncode == 0 and out.read_bytes() == first

    more = crawler(*args[:-1], "50")  # a bigger budget continues the crawl
    assert more.returncode == 0 and "resuming: 30 done" in more.stderr
    assert len(read_jsonl(out)) == 50

    fresh = crawler(*args, "--fresh")
    assert fresh.returncode == 0 and "resuming" not in fresh.stderr
    assert len(read_jsonl(out)) == 30


def test_a_rerun_with_sitemaps_reads_them_again_and_writes_nothing_twice(tmp_path: Path) -> None:
    out, state = tmp_path / "out.jsonl", tmp_path / "state"
    with serve(sitemap_site_app()) as url:
        args = ["crawl", url, "-o", str(out), "--state", str(state), "--sitemaps", *FAST]
        assert crawler(*args).returncode == 0
        first = out.read_bytes()
        again = crawler(*args)  # a sitemap may list new pages since: it is read again
    assert again.returncode == 0 and "resuming: 5 done, 0 pending" in again.stderr
    assert out.read_bytes() == first
    assert {"/" + record["url"].removeprefix(url) for record in read_jsonl(out)} == {"/", "/linked"} | SITEMAP_PAGES


def test_a_resume_keeps_the_seeds_and_scope(site: DemoSiteProcess, tmp_path: Path) -> None:
    args = ["crawl", site.url, "--state", str(tmp_path / "state"), "--max-pages", "3", *FAST]
    assert crawler(*args).returncode == 0
    for change, message in [(["--max-depth", "2"], "holds a crawl with max_depth=None, not 2"),
                            (["--exclude", "/page/1"], "with exclude=[], not ['/page/1']")]:
        result = crawler(*args, *change)
        assert result.returncode == 2 and message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    other = crawler(*args[:1], site.url + "page/1", *args[2:])
    assert other.returncode == 2 and "other seed URLs" in other.stderr


def crawler_on_a_small_disk(limit: int, *args: str) -> subprocess.CompletedProcess[str]:
    """crawler(ARGS) in a process that may write no file beyond limit bytes: a disk that fills up."""
    def small_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return subprocess.run([sys.executable, "-m", "crawler", *args], capture_output=True, text=True,
                          check=False, timeout=60, cwd=ROOT, preexec_fn=small_disk)


def test_a_full_disk_ends_the_crawl_in_one_line_leaving_whole_lines(site: DemoSiteProcess,
                                                                      tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    result = crawler_on_a_small_disk(50_000, "crawl", site.url, "-o", str(out), *FAST)
    assert result.returncode == 1
    assert result.stderr == f"crawler: error: {out}: File too large\n"
    assert 0 < len(read_jsonl(out)) < RESUME_SITE.pages  # the lines before the failed write, whole


def test_a_full_disk_under_state_is_resumed_once_there_is_room(site: DemoSiteProcess,
                                                                tmp_path: Path) -> None:
    out, state = tmp_path / "out.jsonl", tmp_path / "state"
    args = ["crawl", site.url, "-o", str(out), "--state", str(state), *FAST]
    full = crawler_on_a_small_disk(200_000, *args)
    assert full.returncode == 1 and len(full.stderr.splitlines()) == 1
    assert "the same command resumes once that is fixed" in full.stderr
    assert len(read_jsonl(out)) < RESUME_SITE.pages
    result = crawler(*args)
    assert result.returncode == 0 and "resuming: " in result.stderr
    urls = [record["url"] for record in read_jsonl(out)]
    assert len(urls) == len(set(urls)) and set(urls) == expected_urls(RESUME_SITE, site.url)


def test_fresh_needs_state() -> None:
    result = crawler("crawl", "http://127.0.0.1:9/", "--fresh")
    assert result.returncode == 2 and "--fresh needs --state DIR" in result.stderr
