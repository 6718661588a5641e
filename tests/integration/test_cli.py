"""The command line, run as a user runs it: in a subprocess, against a real local site."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from urllib.request import urlopen

import psutil
import pytest

from crawler.demo import DemoSiteProcess, DemoSpec, expected_urls

from ..conftest import SLOW_SITE, SMALL_SITE

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `python -m crawler ARGS` and capture its output."""
    return subprocess.run([sys.executable, "-m", "crawler", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, check=False)


def read_jsonl(path: Path) -> list[dict]:
    """Every line of a JSON Lines file, parsed (fails on a torn line)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_crawl_writes_every_page_once(small_site, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    result = run_cli("crawl", small_site.url, "-o", str(out), "-c", "8", "--per-host", "8")
    assert result.returncode == 0, result.stderr
    records = read_jsonl(out)
    assert {r["url"] for r in records} == expected_urls(SMALL_SITE, small_site.url)
    assert len(records) == SMALL_SITE.pages
    assert "crawl summary" in result.stderr and "Traceback" not in result.stderr


def test_output_to_stdout_with_config_file(small_site) -> None:
    result = run_cli("crawl", small_site.url, "-o", "-", "-q", "--max-pages", "5",
                     "--config", str(ROOT / "config" / "default.toml"))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 5 and all(json.loads(line)["status"] == 200 for line in lines)
    assert result.stderr == ""


@pytest.mark.parametrize("args, message", [
    (["crawl", "not a url"], "not a crawlable http(s) URL"),
    (["crawl", "ftp://example.org/"], "not a crawlable http(s) URL"),
    (["crawl"], "no seed URLs"),
    (["crawl", "http://127.0.0.1:9/", "--bogus"], "unrecognized arguments"),
    (["crawl", "http://127.0.0.1:9/", "-c", "0"], "concurrency must be positive"),
    (["crawl", "http://127.0.0.1:9/", "-c", "many"], "invalid int value"),
    (["crawl", "http://127.0.0.1:9/", "--include", "("], "not a valid regular expression"),
    (["crawl", "http://127.0.0.1:9/", "--config", "/nonexistent.toml"], "cannot read config file"),
    (["crawl", "http://127.0.0.1:9/", "--seeds-file", "/nonexistent.txt"], "cannot read seeds file"),
    (["crawl", "https://127.0.0.1:9/", "--ca-file", "/nonexistent.pem"], "is not a file"),
    (["crawl", "https://127.0.0.1:9/", "--ca-file", str(ROOT / "pyproject.toml")], "holds no usable CA"),
    (["frobnicate"], "invalid choice"),
    (["crawl", "http://127.0.0.1:9/", "-H", "X-Token abc"], "has no colon"),
    (["crawl", "http://127.0.0.1:9/", "--proxy", "socks5://127.0.0.1:1080"], "scheme 'socks5' is not supported"),
    (["crawl", "http://127.0.0.1:9/", "--proxy", "gopher://127.0.0.1:70"], "scheme 'gopher' is not supported"),
    (["crawl", "http://127.0.0.1:9/", "--cookie", "session"], "is not name=value"),
    (["crawl", "http://127.0.0.1:9/", "--auth", "ann"], "auth must be USER:PASSWORD"),
    (["crawl", "http://127.0.0.1:9/", "--timeout", "nan"], "timeout must be a finite number, not nan"),
    (["crawl", "http://127.0.0.1:9/", "--delay", "inf"], "delay must be a finite number, not inf"),
    (["demo-site", "--latency-ms", "nan"], "--latency-ms a number 0 or more"),
    (["demo", "--latency-ms", "inf"], "latency_ms must be a number, 0 or more, not inf"),
    # Where output goes, refused before anything is fetched rather than after.
    (["crawl", "http://127.0.0.1:9/", "--state", "pyproject.toml"], "--state pyproject.toml: is a file, not a "),
    (["check", "http://127.0.0.1:9/", "--state", "pyproject.toml"], "--state pyproject.toml: is a file, not a "),
    (["crawl", "http://127.0.0.1:9/", "--warc", "pyproject.toml"], "--warc pyproject.toml: is a file, not a "),
    (["crawl", "http://127.0.0.1:9/", "-o", "/nonexistent/out.jsonl"], "-o /nonexistent/out.jsonl: no such dir"),
    (["crawl", "http://127.0.0.1:9/", "-o", "tests"], "-o tests: is a directory, not a file"),
    (["check", "http://127.0.0.1:9/", "-o", "tests"], "-o tests: is a directory, not a file"),
    (["compare", "--demo", "--report", "pyproject.toml"], "--report pyproject.toml: is a file, not a dir"),
    (["export", "--state", "redis://127.0.0.1:9/0", "--crawl-id", "x", "-o", "/nonexistent/all.jsonl"],
     "-o /nonexistent/all.jsonl: no such directory"),
])
def test_mistakes_get_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = run_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_netrc_mistakes_get_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "NETRC": str(tmp_path / "missing")}
    result = subprocess.run([sys.executable, "-m", "crawler", "crawl", "http://127.0.0.1:9/", "--netrc"],
                            capture_output=True, text=True, timeout=60, cwd=ROOT, env=env, check=False)
    assert result.returncode == 2 and result.stderr.strip().count("\n") == 0
    assert "netrc: no file" in result.stderr


@pytest.mark.parametrize("command", ["crawl", "compare", "demo", "demo-site"])
def test_help_shows_every_options_default(command: str) -> None:
    result = run_cli(command, "--help")
    assert result.returncode == 0
    options = result.stdout.split("options:")[1].split("\n  -")[1:]
    without = [o.split("\n")[0] for o in options if "default" not in o and not o.startswith("h, --help")]
    assert without == []
    if command == "crawl":
        flat = " ".join(result.stdout.split())
        assert "--per-host N requests in flight at once per host (default: 8)" in flat
        assert "-c N, --concurrency N requests in flight at once (async) (default: 16)" in flat


def test_a_one_host_crawl_wider_than_per_host_says_so_once(small_site) -> None:
    result = run_cli("crawl", small_site.url, "-c", "32", "--max-pages", "3", "-o", "-")
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "at most 8 requests run at once per host" in notes[0] and "-c 32" in notes[0]
    for quiet_enough in (["-c", "8"], ["-c", "32", "--per-host", "32"], ["-c", "32", "-q"], []):
        result = run_cli("crawl", small_site.url, "--max-pages", "3", "-o", "-", *quiet_enough)
        assert "note:" not in result.stderr


def test_bad_config_key_and_value(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("[crawl]\nconcurency = 4\n")
    result = run_cli("crawl", "http://127.0.0.1:9/", "--config", str(config))
    assert result.returncode == 2 and "unknown setting 'concurency'" in result.stderr
    config.write_text("[crawl]\ndelay = 'slow'\n")
    result = run_cli("crawl", "http://127.0.0.1:9/", "--config", str(config))
    assert result.returncode == 2 and "delay must be a number" in result.stderr
    config.write_text("[crawl\n")
    result = run_cli("crawl", "http://127.0.0.1:9/", "--config", str(config))
    assert result.returncode == 2 and "not valid TOML" in result.stderr
    config.write_text("concurrency = 4\n[crawl]\nmax_pages = 3\n")
    result = run_cli("crawl", "http://127.0.0.1:9/", "--config", str(config))
    assert result.returncode == 2 and "'concurrency' is outside the [crawl] table" in result.stderr


def test_seeds_file(small_site, tmp_path: Path) -> None:
    seeds = tmp_path / "seeds.txt"
    seeds.write_text(f"# a comment\n{small_site.url}page/3\n\n{small_site.url}page/4\n")
    out = tmp_path / "out.jsonl"
    result = run_cli("crawl", "--seeds-file", str(seeds), "--max-depth", "0", "-o", str(out), "-q")
    assert result.returncode == 0, result.stderr
    assert {r["url"] for r in read_jsonl(out)} == {small_site.url + "page/3", small_site.url + "page/4"}


def test_sigint_stops_gracefully_with_valid_output(slow_site, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "crawler", "crawl", slow_site.url, "-o", str(out), "-c", "8", "-q"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not out.exists() or out.read_text().count("\n") < 20):
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    started = time.monotonic()
    _, stderr = process.communicate(timeout=15)
    assert time.monotonic() - started < 5
    assert process.returncode == 130, stderr
    records = read_jsonl(out)
    assert 20 <= len(records) < SLOW_SITE.pages
    assert len({r["url"] for r in records}) == len(records)
    assert "Traceback" not in stderr


def test_a_second_sigint_stops_at_once_without_a_traceback(tmp_path: Path) -> None:
    # Every answer takes 5 s, so the first Ctrl-C's graceful stop (2 s for in-flight requests) is under way.
    with DemoSiteProcess(DemoSpec(pages=10, latency_ms=5000, seed=3)) as site:
        process = subprocess.Popen([sys.executable, "-m", "crawler", "crawl", site.url, "-q",
                                    "--state", str(tmp_path / "state")],
                                   cwd=ROOT, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and json.loads(urlopen(site.url + "__stats__").read())["requests"] < 1:
            time.sleep(0.05)  # robots.txt asked: the crawl's Ctrl-C handler is in place
        process.send_signal(signal.SIGINT)
        time.sleep(0.3)
        process.send_signal(signal.SIGINT)
        started = time.monotonic()
        _, stderr = process.communicate(timeout=15)
    assert time.monotonic() - started < 4.5  # the 5 s answers were not waited for
    assert process.returncode == 130, stderr
    assert stderr.strip() == ("interrupted again: stopped at once, the last records may be missing from the output; "
                              "rerun to resume")


def test_sigterm_ends_a_parse_worker_and_the_crawl_goes_on(slow_site, tmp_path: Path) -> None:
    # A forked worker inherits the crawl's SIGTERM handler; it must not make SIGTERM do nothing.
    out = tmp_path / "out.jsonl"
    process = subprocess.Popen([sys.executable, "-m", "crawler", "crawl", slow_site.url, "-o", str(out),
                                "-c", "8", "-q"], cwd=ROOT, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not out.exists() or out.read_text().count("\n") < 10):
        time.sleep(0.1)
    workers = psutil.Process(process.pid).children()
    assert workers, "the crawl runs a parse pool"
    for worker in workers:
        worker.terminate()
    _, alive = psutil.wait_procs(workers, timeout=5)
    assert not alive
    lines = out.read_text().count("\n")
    while time.monotonic() < deadline and out.read_text().count("\n") < lines + 10:
        time.sleep(0.1)  # a new pool parses the pages from now on
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=15)
    assert process.returncode == 130 and "Traceback" not in stderr, stderr
    assert len(read_jsonl(out)) >= lines + 10


def test_a_host_whose_robots_txt_fails_is_named_not_left_silent() -> None:
    # Nothing listens there: no page is crawled (RFC 9309), and the crawl says why instead of ending quietly.
    result = run_cli("crawl", "http://127.0.0.1:9/", "-q", "--retries", "0")
    assert result.returncode == 0
    assert result.stderr == ("note: the robots.txt of 1 host could not be fetched (no answer, or 5xx/429, through "
                             "every retry): none of its pages were crawled, as RFC 9309 asks; --no-robots crawls "
                             "them anyway\n")


def test_version_and_module_entry() -> None:
    result = run_cli("--version")
    assert result.returncode == 0 and result.stdout.startswith("crawler ")


def test_ctrl_c_while_the_command_loads_is_one_line() -> None:
    # The crawler command's entry point, interrupted 10 ms in: while crawler.cli loads (0.1-0.3 s).
    code = ("import os, signal, sys, threading\n"
            "from crawler.__main__ import main\n"
            "threading.Timer(0.01, os.kill, (os.getpid(), signal.SIGINT)).start()\n"
            "sys.argv[1:] = ['--version']\n"
            "sys.exit(main())\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, cwd=ROOT,
                            check=False)
    assert (result.returncode, result.stderr) == (130, "crawler: interrupted\n")
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert scripts["crawler"] == "crawler.__main__:main"


def test_a_reader_that_stops_early_ends_the_crawl_quietly(slow_site) -> None:
    # `crawler crawl URL -o - | head -1`: exit as a tool that SIGPIPE ended, with no message.
    process = subprocess.Popen([sys.executable, "-m", "crawler", "crawl", slow_site.url, "-o", "-", "-q"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stderr is not None
    assert json.loads(process.stdout.readline())["url"] == slow_site.url
    process.stdout.close()
    assert process.wait(timeout=60) == 141
    assert process.stderr.read() == ""
