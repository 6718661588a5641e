"""crawler check against a site with known broken links, in every mode and every format."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from lxml import etree

from crawler import Crawler, PageRecord
from crawler.check.command import ReportBuilder, check_settings
from crawler.cli import main
from crawler.config import MODES

from .check_site import (
    EXPECTED_BROKEN,
    EXPECTED_BROKEN_FRAGMENTS,
    EXPECTED_DISALLOWED,
    EXPECTED_OK,
    CheckSites,
    check_sites,
)
from .sites import serve

JUNIT_XSD = Path(__file__).parent.parent / "data" / "junit.xsd"
QUICK = ["--allow-private", "--retries", "0", "--timeout", "5", "-q"]


@pytest.fixture(scope="module")
def sites() -> Iterator[CheckSites]:
    """The site with broken links and the external site beside it."""
    with check_sites() as served:
        yield served


def check(sites: CheckSites, tmp_path: Path, *flags: str) -> tuple[int, dict[str, Any]]:
    """Run crawler check on the site with a JSON report; return the exit code and the report."""
    sites.requests.clear()
    report = tmp_path / "report.json"
    code = main(["check", sites.site + "/", *QUICK, "--format", "json", "-o", str(report), *flags])
    return code, json.loads(report.read_text())


def expected(sites: CheckSites, entries: set[tuple[Any, ...]]) -> set[tuple[Any, ...]]:
    """The expected broken entries with full URLs."""
    return {(sites.url(path), status, tuple((sites.url(page), text) for page, text in referrers))
            for path, status, _, referrers in entries}


def found(report: dict[str, Any]) -> set[tuple[Any, ...]]:
    """The broken entries of a JSON report, comparable with expected()."""
    return {(entry["url"], entry["status"], tuple((r["url"], r["text"]) for r in entry["referrers"]))
            for entry in report["broken"]}


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_reports_the_same_broken_links(sites: CheckSites, tmp_path: Path, mode: str) -> None:
    code, report = check(sites, tmp_path, "--mode", mode, "--check-fragments")
    assert code == 1
    assert found(report) == expected(sites, EXPECTED_BROKEN | EXPECTED_BROKEN_FRAGMENTS)
    assert {entry["url"] for entry in report["disallowed"]} == {sites.url(p) for p in EXPECTED_DISALLOWED}
    assert report["checked"] == 1 + len(EXPECTED_OK) + len(EXPECTED_BROKEN)  # the seed, the fine, the broken
    errors = {entry["url"]: entry["error"] for entry in report["broken"]}
    assert "already passed through" in errors[sites.url("EXT/loop/1")]
    assert errors[sites.url("/anchors#absent")] == "no anchor #absent on the page"
    # Fragment checks read external pages with GET, and follow none of their links.
    assert sites.requests[("GET", "/ok")] == 1 and not sites.requests[("GET", "/never-crawled")]
    assert not sites.requests[("GET", "/secret")] and not sites.requests[("HEAD", "/secret")]


def test_external_links_are_asked_once_with_head_then_get_when_refused(sites: CheckSites, tmp_path: Path) -> None:
    code, report = check(sites, tmp_path)
    assert code == 1 and found(report) == expected(sites, EXPECTED_BROKEN)
    # Linked twice, asked once; HEAD refused (405) or failing: asked again with GET, which decides.
    assert sites.requests[("HEAD", "/ok")] == 1 and not sites.requests[("GET", "/ok")]
    assert sites.requests[("HEAD", "/head-refused")] == sites.requests[("GET", "/head-refused")] == 1
    assert sites.requests[("GET", "/gone")] == 1
    assert not any(path == "/never-crawled" for _, path in sites.requests)


def test_no_external_checks_only_the_site(sites: CheckSites, tmp_path: Path) -> None:
    code, report = check(sites, tmp_path, "--no-external")
    assert code == 1
    # (/away is a redirect to another host's broken page: not asked either)
    internal = {entry for entry in EXPECTED_BROKEN if entry[0].startswith("/") and entry[0] != "/away"}
    assert found(report) == expected(sites, internal)
    assert not sites.requests


def page_title(page: PageRecord, soup: Any) -> list[Any]:
    """A module-level page hook: it runs where pages are parsed (a parse worker in async mode)."""
    return [soup.title.string if soup.title else None]


async def test_a_check_with_a_page_hook_reports_the_same_in_every_mode(sites: CheckSites, mode: str) -> None:
    settings = {**check_settings(no_external=True, check_fragments=False), "mode": mode, "parse_workers": 1,
                "workers": 2, "allow_private_addresses": True, "retries": 0, "timeout": 5}
    async with Crawler(on_page=page_title, **settings) as session:
        records = [record async for record in session.crawl(sites.site + "/")]
    report = ReportBuilder().add_all(records).build()
    internal = {entry for entry in EXPECTED_BROKEN if entry[0].startswith("/") and entry[0] != "/away"}
    assert found(report.to_dict()) == expected(sites, internal)
    assert records[0].items == ["Home"]


def test_text_markdown_and_junit_reports(sites: CheckSites, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", sites.site + "/", *QUICK, "--check-fragments"]) == 1  # text to stdout
    text = capsys.readouterr().out
    assert f"BROKEN {sites.site}/missing  (404)" in text
    assert f'on {sites.site}/ok  "Missing again"' in text
    assert f"NOT CHECKED {sites.site}/private/report" in text
    assert text.endswith("20 links checked on 2 pages: 12 broken, 2 not checked (robots.txt)\n")

    markdown = tmp_path / "report.md"
    assert main(["check", sites.site + "/", *QUICK, "--format", "markdown", "-o", str(markdown)]) == 1
    assert f"| {sites.site}/missing | 404 | {sites.site}/ok | Missing again |" in markdown.read_text()

    junit = tmp_path / "junit.xml"
    assert main(["check", sites.site + "/", *QUICK, "--format", "junit", "-o", str(junit)]) == 1
    root = etree.parse(str(junit))
    etree.XMLSchema(etree.parse(str(JUNIT_XSD))).assertValid(root)
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("tests") == "22" and suite.get("failures") == "10" and suite.get("skipped") == "2"
    failure = root.find(f"testsuite/testcase[@name='{sites.site}/missing']/failure")
    assert failure is not None and failure.get("message") == "404"
    assert f"linked from {sites.site}/ok (\"Missing again\")" in (failure.text or "")


def test_state_resumes_and_reports_on_every_run(sites: CheckSites, tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    check(sites, tmp_path, "--state", state, "--max-pages", "4")
    code, report = check(sites, tmp_path, "--state", state)  # resumed: every page of both runs counts
    assert code == 1 and found(report) == expected(sites, EXPECTED_BROKEN)
    again_code, again = check(sites, tmp_path, "--state", state)  # finished: reported again, nothing fetched
    assert again_code == 1 and again == report and not sites.requests


def clean_site() -> web.Application:
    """Two pages linking to each other: nothing broken."""
    async def handle(request: web.Request) -> web.Response:
        other = "/b" if request.path == "/" else "/"
        return web.Response(text=f'<html><title>t</title><a href="{other}">next</a></html>',
                            content_type="text/html")

    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    return app


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """crawler in a subprocess."""
    return subprocess.run([sys.executable, "-m", "crawler", *args], check=False, capture_output=True, text=True, timeout=60)


def test_exit_codes(sites: CheckSites) -> None:
    with serve(clean_site()) as url:
        clean = run_cli("check", url, "-q")
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout == "2 links checked on 2 pages: 0 broken\n"
    broken = run_cli("check", sites.site + "/", *QUICK, "--no-external", "--format", "json")
    assert broken.returncode == 1 and json.loads(broken.stdout)["broken"]
    for mistake in (["--format", "xml"], ["--max-pages", "0"], []):
        usage = run_cli("check", *([sites.site] if mistake else []), *mistake)
        assert usage.returncode == 2 and usage.stderr.startswith("crawler: error:") and "Traceback" not in usage.stderr
