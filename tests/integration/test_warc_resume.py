"""kill -9 a crawl writing WARC files, resume it: every page's response is in them exactly once."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.config import MODES
from crawler.demo import DemoSiteProcess, expected_urls

from .test_resume import (  # noqa: F401 - site is a fixture
    FAST,
    RESUME_SITE,
    crawler,
    crawler_on_a_small_disk,
    kill_after,
    read_jsonl,
    site,
)


def responses(directory: Path) -> Counter[str]:
    """How many response or revisit records each target URI has, over every file (all must parse)."""
    found: Counter[str] = Counter()
    for path in sorted(directory.glob("*.warc.gz")):
        with path.open("rb") as stream:
            for record in ArchiveIterator(stream, check_digests=True):
                if record.rec_type in ("response", "revisit"):
                    found[record.rec_headers.get_header("WARC-Target-URI")] += 1
    return found


@pytest.mark.parametrize("mode", MODES)
def test_kill_9_then_resume_writes_every_response_once(site: DemoSiteProcess, tmp_path: Path,  # noqa: F811
                                                       mode: str) -> None:
    out, state, warcs = tmp_path / "out.jsonl", tmp_path / "state", tmp_path / "warcs"
    args = ["crawl", site.url, "-o", str(out), "--state", str(state), "--warc", str(warcs),
            "--warc-max-size", "300K", "--mode", mode, "-w", "16", *FAST]
    runs = 1
    for lines, sig in ((0, signal.SIGKILL), (30, signal.SIGKILL), (150, signal.SIGINT)):
        code = kill_after(lines, args, out, sig)
        assert code == (130 if sig == signal.SIGINT else -signal.SIGKILL)
        runs += 1
    result = crawler(*args)
    assert result.returncode == 0, result.stderr
    found = responses(warcs)
    pages = {record["url"] for record in read_jsonl(out)}
    assert pages == expected_urls(RESUME_SITE, site.url)
    robots = site.url.rstrip("/") + "/robots.txt"
    assert 1 <= found.pop(robots) <= runs  # fetched afresh by each run that got that far
    assert set(found) == pages and set(found.values()) == {1}, "a response missing or written twice"
    check = warcio_check(warcs)
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_full_disk_keeps_whole_records_and_the_same_command_resumes(site: DemoSiteProcess,  # noqa: F811
                                                                      tmp_path: Path) -> None:
    state, warcs = tmp_path / "state", tmp_path / "warcs"
    args = ["crawl", site.url, "--state", str(state), "--warc", str(warcs), *FAST]
    full = crawler_on_a_small_disk(1_000_000, *args)
    assert full.returncode == 1 and len(full.stderr.splitlines()) == 1, full.stderr
    # Which file fills first, a WARC file or the state's write-ahead log, varies from run to run.
    assert "the same command resumes" in full.stderr
    assert warcio_check(warcs).returncode == 0  # the failed write was undone: whole records only
    assert len(responses(warcs)) < RESUME_SITE.pages
    result = crawler(*args)
    assert result.returncode == 0 and "resuming: " in result.stderr, result.stderr
    found = responses(warcs)
    assert found.pop(site.url.rstrip("/") + "/robots.txt") == 2  # once per run
    assert set(found.values()) == {1} and set(found) == expected_urls(RESUME_SITE, site.url)
    assert warcio_check(warcs).returncode == 0


def warcio_check(directory: Path) -> subprocess.CompletedProcess[str]:
    """warcio check over every file in directory."""
    return subprocess.run([sys.executable, "-m", "warcio.cli", "check", *map(str, directory.iterdir())],
                          capture_output=True, text=True, check=False, timeout=60)
