"""One crawl, many workers: real `crawler crawl` processes sharing a crawl in a real redis-server.

Workers are killed with -9, Redis is killed and restarted; whatever happens, `crawler
export` holds every page of the site exactly once and every surviving worker ends by itself.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from crawler.config import MODES
from crawler.demo import DemoSiteProcess, DemoSpec, expected_urls, page_path

from ..redis_server import RedisServer
from .sites import counting_app, serve

ROOT = Path(__file__).resolve().parents[2]
# Slow enough (latency, and 8 requests at once for all workers) that a kill finds the crawl
# running, small enough to end in seconds.
SITE = DemoSpec(pages=300, latency_ms=50, seed=13)
SLOWER = ("--per-host", "3")
FAST = ("-c", "8", "-w", "8", "--per-host", "8", "-q")
# A request reaches the server a few ms after the core hands it out, by a varying amount
# (see test_politeness.py): gaps between starts may look that much shorter than the delay.
POLITENESS_TOLERANCE = 0.030
CRAWL = "site"


@pytest.fixture(scope="module")
def site() -> Iterator[DemoSiteProcess]:
    """The demo site the crawls of this module share."""
    with DemoSiteProcess(SITE) as running:
        yield running


def crawler(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `python -m crawler ARGS` to the end."""
    return subprocess.run([sys.executable, "-m", "crawler", *args], capture_output=True, text=True,
                          check=False, timeout=timeout, cwd=ROOT)


Spawn = Callable[..., "subprocess.Popen[str]"]


@pytest.fixture
def start_worker() -> Iterator[Spawn]:
    """start_worker(redis, out, *args): start one worker of the shared crawl, its records going to out.

    args come after the FAST flags, so they override them.

    Workers still running when the test ends are killed (a failed test must not leave them behind).
    """
    started: list[subprocess.Popen[str]] = []

    def start(redis: RedisServer, out: Path, *args: str) -> subprocess.Popen[str]:
        worker = subprocess.Popen(
            [sys.executable, "-m", "crawler", "crawl", *FAST, *args, "--state", redis.url, "--crawl-id", CRAWL,
             "-o", str(out)], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.poll() is None:
            worker.kill()
        worker.communicate()


def finish(worker: subprocess.Popen[str], timeout: float = 40) -> str:
    """Wait for a worker to end by itself; check it exits 0 without a traceback; return its stderr."""
    _, stderr = worker.communicate(timeout=timeout)
    assert worker.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr
    return stderr


def line_count(path: Path) -> int:
    """How many complete lines path holds (0 while it does not exist)."""
    return path.read_bytes().count(b"\n") if path.exists() else 0


def wait_for_busiest(outputs: Sequence[Path], lines: int, timeout: float = 20) -> int:
    """Wait until the outputs hold lines lines together; return the index of the one holding most.

    Which worker gets ahead is up to the machine's scheduler: a test that waited on one given
    worker would fail when a loaded machine started it late and the others did the crawl.
    """
    deadline = time.monotonic() + timeout
    while sum(counts := [line_count(out) for out in outputs]) < lines:
        assert time.monotonic() < deadline, f"the workers never wrote {lines} lines: {counts}"
        time.sleep(0.01)
    return counts.index(max(counts))


def read_jsonl(path: Path) -> list[dict]:
    """Every line of a JSON Lines file, parsed: fails on a torn or partial line."""
    data = path.read_bytes() if path.exists() else b""
    assert not data or data.endswith(b"\n"), f"{path} ends in a partial line"
    return [json.loads(line) for line in data.decode("utf-8").splitlines()]


def export(redis: RedisServer, tmp_path: Path, crawl_id: str = CRAWL) -> list[dict]:
    """The whole crawl, as `crawler export` writes it."""
    out = tmp_path / f"export-{crawl_id}.jsonl"
    result = crawler("export", "--state", redis.url, "--crawl-id", crawl_id, "-o", str(out))
    assert result.returncode == 0, result.stderr
    return read_jsonl(out)


def status(redis: RedisServer, crawl_id: str = CRAWL) -> dict:
    """The crawl's status, as `crawler status --json` gives it."""
    result = crawler("status", "--state", redis.url, "--crawl-id", crawl_id, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def assert_every_page_once(records: Sequence[dict], site: DemoSiteProcess) -> None:
    """records hold each page of the site exactly once."""
    urls = [record["url"] for record in records]
    assert len(urls) == len(set(urls)), "a page was saved twice"
    assert set(urls) == expected_urls(SITE, site.url)


def union(outputs: Sequence[Path]) -> list[dict]:
    """The records of every worker's own output, together."""
    return [record for out in outputs for record in read_jsonl(out)]


@pytest.mark.parametrize("mode", MODES)
def test_three_workers_crawl_every_page_once_and_end_by_themselves(
        site: DemoSiteProcess, redis_server: RedisServer, start_worker: Spawn, tmp_path: Path, mode: str) -> None:
    outputs = [tmp_path / f"worker{i}.jsonl" for i in range(3)]
    # The first worker brings the seed; the others join the crawl with no URL of their own.
    workers = [start_worker(redis_server, outputs[0], site.url, "--mode", mode)]
    wait_for_busiest(outputs[:1], 1)
    workers += [start_worker(redis_server, out, "--mode", mode) for out in outputs[1:]]
    for worker in workers:
        finish(worker)
    records = export(redis_server, tmp_path)
    assert_every_page_once(records, site)
    assert sorted(r["url"] for r in union(outputs)) == sorted(r["url"] for r in records)
    assert all(read_jsonl(out) for out in outputs), "a worker did no work"


def test_a_worker_killed_with_9_loses_nothing_and_joins_again(
        site: DemoSiteProcess, redis_server: RedisServer, start_worker: Spawn, tmp_path: Path) -> None:
    outputs = [tmp_path / f"worker{i}.jsonl" for i in range(3)]
    # Three at once on the host (~60 pages/s): the crawl lasts seconds, so the kill comes mid-crawl
    # even when a loaded machine starts one worker well after the others.
    args = (site.url, "--lease-timeout", "2", *SLOWER)
    workers = [start_worker(redis_server, out, *args) for out in outputs]
    victim = wait_for_busiest(outputs, 20)
    running = status(redis_server)
    workers[victim].send_signal(signal.SIGKILL)
    assert workers[victim].wait(timeout=10) == -signal.SIGKILL
    assert read_jsonl(outputs[victim]), "the killed worker had committed nothing"
    assert 20 <= running["done"] < SITE.pages and running["workers"]  # the kill came mid-crawl
    # Its leases run out in 2 s; the others take its requests over and finish the crawl.
    for worker in workers[:victim] + workers[victim + 1:]:
        finish(worker)
    assert_every_page_once(export(redis_server, tmp_path), site)
    restarted = start_worker(redis_server, outputs[victim], "--lease-timeout", "2")
    finish(restarted)
    records = export(redis_server, tmp_path)
    assert_every_page_once(records, site)
    # A worker killed between a commit and its write may lack a record; none is written twice.
    written = [r["url"] for r in union(outputs)]
    assert len(written) == len(set(written)) and set(written) <= {r["url"] for r in records}


def test_a_worker_restarted_at_once_takes_part_again(
        site: DemoSiteProcess, redis_server: RedisServer, start_worker: Spawn, tmp_path: Path) -> None:
    outputs = [tmp_path / f"worker{i}.jsonl" for i in range(3)]
    workers = [start_worker(redis_server, out, site.url, "--lease-timeout", "2", *SLOWER) for out in outputs]
    victim = wait_for_busiest(outputs, 10)
    workers[victim].send_signal(signal.SIGKILL)
    workers[victim].wait(timeout=10)
    before = len(read_jsonl(outputs[victim]))
    assert sum(len(read_jsonl(out)) for out in outputs) < SITE.pages  # the kill came mid-crawl
    workers[victim] = start_worker(redis_server, outputs[victim], "--lease-timeout", "2", *SLOWER)
    for worker in workers:
        finish(worker)
    assert_every_page_once(export(redis_server, tmp_path), site)
    assert len(read_jsonl(outputs[victim])) >= before  # its -o is appended to, not started over


def test_redis_killed_and_restarted_mid_crawl_loses_nothing_committed(
        site: DemoSiteProcess, redis_server: RedisServer, start_worker: Spawn, tmp_path: Path) -> None:
    outputs = [tmp_path / f"worker{i}.jsonl" for i in range(3)]
    workers = [start_worker(redis_server, out, site.url) for out in outputs]
    wait_for_busiest(outputs, 20)
    redis_server.kill()
    committed = {r["url"] for r in union(outputs)}  # every record a worker wrote was committed first
    assert len(committed) < SITE.pages  # the kill came mid-crawl
    time.sleep(1)
    redis_server.start()
    errors = [finish(worker) for worker in workers]
    records = export(redis_server, tmp_path)
    assert committed <= {r["url"] for r in records}
    assert_every_page_once(records, site)
    assert all("lost Redis" in stderr and "is back" in stderr for stderr in errors), errors
    assert all(len(stderr.splitlines()) < 10 for stderr in errors), errors


def test_status_while_running_and_after_adds_up(
        site: DemoSiteProcess, redis_server: RedisServer, start_worker: Spawn, tmp_path: Path) -> None:
    outputs = [tmp_path / f"worker{i}.jsonl" for i in range(2)]
    workers = [start_worker(redis_server, out, site.url) for out in outputs]
    wait_for_busiest(outputs, 10)
    running = status(redis_server)
    assert running["crawl_id"] == CRAWL and 1 <= len(running["workers"]) <= 2
    assert running["done"] >= 10 and running["seen"] >= running["done"] + running["queued"]
    assert all(w["idle_s"] >= 0 and w["leased"] >= 0 for w in running["workers"])
    for worker in workers:
        finish(worker)
    after = status(redis_server)
    assert after["done"] == len(export(redis_server, tmp_path)) == len(expected_urls(SITE, site.url))
    assert (after["queued"], after["leased"], after["workers"]) == (0, 0, [])
    assert sum(len(read_jsonl(out)) for out in outputs) == after["done"]
    table = crawler("status", "--state", redis_server.url, "--crawl-id", CRAWL)
    assert table.returncode == 0 and "done" in table.stdout and "live workers: 0" in table.stdout


def test_export_to_stdout_is_in_commit_order(
        site: DemoSiteProcess, redis_server: RedisServer, start_worker: Spawn, tmp_path: Path) -> None:
    outputs = [tmp_path / f"worker{i}.jsonl" for i in range(3)]
    for worker in [start_worker(redis_server, out, site.url) for out in outputs]:
        finish(worker)
    result = crawler("export", "--state", redis_server.url, "--crawl-id", CRAWL)
    assert result.returncode == 0 and result.stderr == ""
    exported = [json.loads(line) for line in result.stdout.splitlines()]
    assert exported == export(redis_server, tmp_path)
    assert_every_page_once(exported, site)
    order = {record["url"]: i for i, record in enumerate(exported)}
    for out in outputs:  # each worker wrote its records in the order it committed them
        positions = [order[record["url"]] for record in read_jsonl(out)]
        assert positions == sorted(positions)
    result = crawler("export", "--state", redis_server.url, "--crawl-id", CRAWL, "-o", "/nonexistent/all.jsonl")
    assert (result.returncode, result.stderr) == (2, "crawler: error: -o /nonexistent/all.jsonl: no such directory\n")


@pytest.mark.parametrize("limit, delay", [(2, 0.0), (8, 0.15)])
def test_politeness_holds_for_all_workers_together_at_the_server(
        redis_server: RedisServer, start_worker: Spawn, tmp_path: Path, limit: int, delay: float) -> None:
    app, log = counting_app(pages=9 if delay else 24, latency=0.05)
    outputs = [tmp_path / f"worker{i}.jsonl" for i in range(3)]
    with serve(app) as url:
        workers = [start_worker(redis_server, out, url, "--per-host", str(limit), "--delay", str(delay))
                   for out in outputs]
        for worker in workers:
            finish(worker)
    assert len(union(outputs)) == len(log.paths) - 1  # every page once; robots.txt once, shared
    assert log.paths.count("/robots.txt") == 1
    assert log.peak_in_flight == (1 if delay else limit)  # 3 workers at -c 8 would send 24 at once
    if delay:  # three processes, each of which alone would start at once: one gap, kept in Redis
        assert min(log.gaps()) >= delay - POLITENESS_TOLERANCE


def test_a_crawl_begun_with_other_settings_is_refused(
        site: DemoSiteProcess, redis_server: RedisServer, start_worker: Spawn, tmp_path: Path) -> None:
    finish(start_worker(redis_server, tmp_path / "a.jsonl", site.url, "--max-depth", "1"))
    result = crawler("crawl", site.url, "--state", redis_server.url, "--crawl-id", CRAWL, "--max-depth", "2")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "max_depth" in result.stderr and "--crawl-id" in result.stderr


def test_a_later_workers_seeds_join_the_crawl(
        site: DemoSiteProcess, redis_server: RedisServer, start_worker: Spawn, tmp_path: Path) -> None:
    later = site.url.rstrip("/") + page_path(7)
    finish(start_worker(redis_server, tmp_path / "a.jsonl", site.url, "--max-depth", "0"))
    finish(start_worker(redis_server, tmp_path / "b.jsonl", later, "--max-depth", "0"))
    assert [(r["url"], r["status"]) for r in read_jsonl(tmp_path / "b.jsonl")] == [(later, 200)]
    assert {r["url"] for r in export(redis_server, tmp_path)} == {site.url, later}


def test_a_worker_given_other_seeds_still_follows_links_on_the_crawls_sites(
        site: DemoSiteProcess, redis_server: RedisServer, start_worker: Spawn, tmp_path: Path) -> None:
    finish(start_worker(redis_server, tmp_path / "a.jsonl", site.url, "--max-pages", "1"))
    seen = status(redis_server)["seen"]  # the home page and the links it queued
    other_host = site.url.replace("127.0.0.1", "localhost") + page_path(7).lstrip("/")
    finish(start_worker(redis_server, tmp_path / "b.jsonl", other_host, "--max-pages", "3"))
    fetched = {r["url"] for r in read_jsonl(tmp_path / "b.jsonl")}
    assert any(url.startswith(site.url) for url in fetched)  # b took over a page of the first seed's site
    # ... and queued the new links found there: its scope is every seed of the crawl, not only its own.
    assert status(redis_server)["seen"] > seen + 1  # not only its own seed


def test_max_pages_holds_for_the_whole_crawl(
        site: DemoSiteProcess, redis_server: RedisServer, start_worker: Spawn, tmp_path: Path) -> None:
    outputs = [tmp_path / f"worker{i}.jsonl" for i in range(3)]
    for worker in [start_worker(redis_server, out, site.url, "--max-pages", "40") for out in outputs]:
        finish(worker)
    assert len(export(redis_server, tmp_path)) == len(union(outputs)) == 40


def test_time_limit_counts_from_the_crawls_first_start(
        site: DemoSiteProcess, redis_server: RedisServer, start_worker: Spawn, tmp_path: Path) -> None:
    started = time.monotonic()
    finish(start_worker(redis_server, tmp_path / "first.jsonl", site.url, "--max-pages", "5"))
    time.sleep(max(0.0, 1.5 - (time.monotonic() - started)))
    # The whole crawl's second has passed: a worker joining with --time-limit 1 starts nothing.
    late = tmp_path / "late.jsonl"
    said = finish(start_worker(redis_server, late, "--max-pages", "50", "--time-limit", "1"))
    assert "is past its --time-limit: nothing to do" in said
    assert read_jsonl(late) == [] and len(export(redis_server, tmp_path)) == 5


def test_joining_a_crawl_that_does_not_exist_is_refused(redis_server: RedisServer) -> None:
    result = crawler("crawl", "--state", redis_server.url, "--crawl-id", "nobody-began-it")
    assert result.returncode == 2
    assert result.stderr == f"crawler: error: no crawl 'nobody-began-it' in {redis_server.url}: " \
                            "give seed URLs to start it\n"
    for command in ("export", "status"):
        result = crawler(command, "--state", redis_server.url, "--crawl-id", "nobody-began-it")
        assert result.returncode == 2 and result.stderr.startswith("crawler: error: no crawl")


def _closed_port() -> int:
    """A port nothing listens on (just freed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.parametrize("command", [
    ["crawl", "http://127.0.0.1:9/"], ["crawl"], ["export"], ["status"]])
def test_an_unreachable_redis_is_one_line_and_exit_2(command: list[str]) -> None:
    url = f"redis://127.0.0.1:{_closed_port()}/0"
    result = crawler(*command, "--state", url, "--crawl-id", CRAWL)
    assert result.returncode == 2
    assert result.stderr.startswith(f"crawler: error: cannot reach Redis at {url}: ")
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("args, message", [
    (["crawl", "http://127.0.0.1:9/", "--state", "redis://127.0.0.1:1/0"], "needs --crawl-id"),
    (["crawl", "http://127.0.0.1:9/", "--crawl-id", "x"], "--crawl-id needs --state redis://"),
    (["crawl", "http://127.0.0.1:9/", "--lease-timeout", "5"], "--lease-timeout needs --state redis://"),
    (["crawl", "--state", "redis://127.0.0.1:1/0", "--crawl-id", "x", "--lease-timeout", "0"],
     "--lease-timeout must be a positive number"),
    (["crawl", "--state", "redis://127.0.0.1:1/0", "--crawl-id", "x", "--lease-timeout", "nan"],
     "--lease-timeout must be a positive number"),
    (["crawl", "--state", "redis://127.0.0.1:1/0", "--crawl-id", "x", "--fresh"], "use another --crawl-id"),
    (["crawl", "--state", "redis://127.0.0.1:1/0", "--crawl-id", "a{b}"], "cannot hold { or }"),
    (["crawl", "--state", "redis://127.0.0.1:1/0", "--crawl-id", "x", "--warc", "w"], "--warc is not offered"),
    (["export", "--state", "some/dir", "--crawl-id", "x"], "--state must be a Redis URL"),
    (["status", "--crawl-id", "x"], "required: --state"),
    (["export", "--state", "redis://127.0.0.1:1/0"], "required: --crawl-id"),
    (["check", "http://127.0.0.1:9/", "--state", "redis://127.0.0.1:1/0"], "keeps its state in a directory"),
])
def test_usage_mistakes_are_one_line(args: list[str], message: str) -> None:
    result = crawler(*args)
    assert result.returncode == 2
    assert message in result.stderr and result.stderr.count("\n") == 1
