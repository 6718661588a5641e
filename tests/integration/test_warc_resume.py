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

from .test_resume import FAST, RESUME_SITE, crawler, kill_after, read_jsonl, site  # noqa: F401 - a fixture


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
    check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", *map(str, warcs.iterdir())],
                           capture_output=True, text=True, check=False, timeout=60)
    assert check.returncode == 0, check.stdout + check.stderr
