"""The link check's pure parts: what it checks, what is broken, the report and its formats."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from crawler.check.formats import to_json, to_junit, to_markdown, to_text
from crawler.check.report import CheckReport, ReportBuilder
from crawler.config import CrawlConfig
from crawler.core import CrawlCore
from crawler.linkcheck import checks_outside, fragment_found, head_refused, is_broken
from crawler.models import ErrorInfo, FetchResult, LinkRefs, PageRecord, ParseResult
from crawler.parsing import parse_for_anchors, parse_for_check, parse_page

from .test_core import Clock

ROOT = "http://site.test/"
EXT = "http://other.test/"
JUNIT_XSD = Path(__file__).parent.parent / "data" / "junit.xsd"


# ----- policy -------------------------------------------------------------------

@pytest.mark.parametrize(("status", "refused"), [(200, False), (301, False), (403, True), (404, True),
                                                 (405, True), (501, True), (429, False), (None, False)])
def test_head_refused_means_ask_with_get(status: int | None, refused: bool) -> None:
    assert head_refused(status) is refused


@pytest.mark.parametrize(("status", "kind", "broken"), [
    (200, None, False), (301, None, False), (404, None, True), (500, "http_status", True),
    (None, "connection", True), (None, "timeout", True), (None, "tls", True), (302, "redirect_loop", True),
    (301, "too_many_redirects", True), (None, "robots_disallowed", False), (None, "blocked_address", False),
    (200, "body_too_large", False),
])
def test_what_is_broken(status: int | None, kind: str | None, broken: bool) -> None:
    assert is_broken(status, kind) is broken


def test_fragments() -> None:
    anchors = frozenset({"intro", "café"})
    assert fragment_found("intro", anchors) and fragment_found("café", anchors)
    assert fragment_found("", anchors) and fragment_found("top", anchors) and fragment_found("TOP", anchors)
    assert not fragment_found("Intro", anchors) and not fragment_found("missing", anchors)


def test_only_other_hosts_are_checked_outside_the_crawl() -> None:
    config = CrawlConfig(check_links=True)
    assert checks_outside(config, "other_host")
    assert not checks_outside(config, "excluded") and not checks_outside(config, "url_too_long")
    assert not checks_outside(config.replace(check_external=False), "other_host")
    assert not checks_outside(CrawlConfig(), "other_host")


# ----- parsing ------------------------------------------------------------------

PAGE = b"""<html><head><title>T</title><link rel="stylesheet" href="/s.css">
<link rel="preconnect" href="https://cdn.test/"><script src="/a.js"></script></head><body>
<a href="/x#Part%201">  Read
  <b>more</b> </a> <a href="/x" title="Titled"></a> <img src="/i.png" alt="Logo"> <img src="/j.png">
<area href="/area" alt="Region"> <iframe src="/frame"></iframe> <a href="mailto:a@b.test">mail</a>
<h2 id="sec">S</h2><a name="old">old</a></body></html>"""


def test_a_crawl_parse_is_unchanged() -> None:
    parsed = parse_page(PAGE, ROOT)
    assert parsed.links == (ROOT + "x", ROOT + "area", ROOT + "frame")
    assert parsed.refs is None and parsed.anchors is None


def test_a_check_parse_takes_every_link_with_its_text_and_fragment() -> None:
    parsed = parse_for_check(PAGE, ROOT)
    assert parsed.links == tuple(ROOT + p for p in ("s.css", "a.js", "x", "i.png", "j.png", "area", "frame"))
    assert parsed.refs and tuple(parsed.refs.rows()) == (
        (ROOT + "s.css", "", "", "link"), (ROOT + "a.js", "", "", "script"),
        (ROOT + "x", "Part 1", "Read more", "a"), (ROOT + "x", "", "Titled", "a"),
        (ROOT + "i.png", "", "Logo", "img"), (ROOT + "j.png", "", "", "img"),
        (ROOT + "area", "", "Region", "area"), (ROOT + "frame", "", "", "iframe"),
    )
    assert parsed.anchors is None
    assert parse_for_anchors(PAGE, ROOT).anchors == frozenset({"sec", "old"})


# ----- the core in check mode ---------------------------------------------------

def drive(core: CrawlCore, site: dict[str, Any]) -> list[Any]:
    """Run the core to the end as a driver does, answering each request from site (404 if absent)."""
    records = []
    while not core.finished:
        request = core.next_request()
        if request is None:
            records += core.drain()  # made without a fetch (robots.txt forbids the URL)
            assert core.finished, "the core waits, but nothing here needs a clock"
            break
        answer = site.get(request.url) or FetchResult(url=request.url, status=404)
        answer = answer(request) if callable(answer) else answer
        fetch, parsed = answer if isinstance(answer, tuple) else (answer, None)
        records += core.complete(request, fetch, parsed if core.needs_parse(request, fetch) else None)
    return records + core.drain()

def page(url: str, *targets: str) -> tuple[FetchResult, ParseResult]:
    """A fetched HTML page whose check parse found a link (without text) to each target."""
    fetch = FetchResult(url=url, status=200, content_type="text/html", body=b"<html>", size=6)
    refs = LinkRefs(targets, ("",) * len(targets), ("",) * len(targets), ("a",) * len(targets))
    return fetch, ParseResult(links=tuple(dict.fromkeys(targets)), refs=refs, title="t", anchors=frozenset({"here"}))


def check_core(**settings: Any) -> CrawlCore:
    """A check-mode core over a fake clock."""
    settings = {"respect_robots": False, "check_links": True, **settings}
    return CrawlCore(CrawlConfig(**settings), clock=Clock(), rng=random.Random(0))


def test_external_links_are_checked_once_with_head_never_crawled() -> None:
    core = check_core()
    core.add_seeds([ROOT])
    asked: list[tuple[str, str]] = []

    def answer(status: int) -> Any:
        def respond(request: Any) -> FetchResult:
            asked.append((request.method, request.url))
            return FetchResult(url=request.url, status=405 if request.method == "HEAD" else status)
        return respond

    site = {ROOT: page(ROOT, EXT + "a", EXT + "b", ROOT + "p"),
            ROOT + "p": page(ROOT + "p", EXT + "a"), EXT + "a": answer(200), EXT + "b": answer(404)}
    records = {r.url: r for r in drive(core, site)}
    assert sorted(asked) == [("GET", EXT + "a"), ("GET", EXT + "b"), ("HEAD", EXT + "a"), ("HEAD", EXT + "b")]
    assert records[EXT + "a"].status == 200 and records[EXT + "b"].status == 404
    assert records[EXT + "a"].refs is None and records[ROOT].refs  # checks read no links


def test_no_external_leaves_other_hosts_alone() -> None:
    core = check_core(check_external=False)
    core.add_seeds([ROOT])
    records = drive(core, {ROOT: page(ROOT, EXT + "a")})
    assert [r.url for r in records] == [ROOT]


def test_robots_disallowed_links_get_a_record_saying_so() -> None:
    core = check_core(respect_robots=True)
    core.add_seeds([ROOT])
    robots = FetchResult(url=ROOT + "robots.txt", status=200, body=b"User-agent: *\nDisallow: /private\n")
    records = {r.url: r for r in drive(core, {ROOT + "robots.txt": robots,
                                               ROOT: page(ROOT, ROOT + "private/x")})}
    assert records[ROOT + "private/x"].error.kind == "robots_disallowed"  # type: ignore[union-attr]


def test_a_redirect_out_of_the_site_is_checked_not_crawled() -> None:
    core = check_core()
    core.add_seeds([ROOT])
    moved = FetchResult(url=ROOT + "old", status=301, location=EXT + "new")
    records = drive(core, {ROOT: page(ROOT, ROOT + "old"), ROOT + "old": moved,
                           EXT + "new": page(EXT + "new", EXT + "deeper")})
    final = next(r for r in records if r.requested_url == ROOT + "old")
    assert final.url == EXT + "new" and final.status == 200 and final.refs is None
    assert EXT + "deeper" not in {r.url for r in records}


# ----- the report -----------------------------------------------------------------

def record(url: str, status: int | None = 200, *, requested: str | None = None, error: str | None = None,
           links: list[str] | None = None, refs: list[list[str]] | None = None, depth: int = 1,
           anchors: list[str] | None = None, redirects: list[str] | None = None) -> PageRecord:
    """A record with what the report reads; refs as [url, fragment, text, tag] rows."""
    return PageRecord(url=url, requested_url=requested or url, status=status, depth=depth, referrer=None,
                      content_type=None, size=0, title=None, links=links or [], redirects=redirects or [],
                      retries=0, elapsed_ms=0.0, fetched_at="", error=ErrorInfo(error, f"{error}!") if error else None,
                      refs=LinkRefs(*zip(*refs, strict=True)) if refs else None,
                      anchors=None if anchors is None else frozenset(anchors))


def sample_report(check_fragments: bool = False) -> CheckReport:
    """A small site: a 404 linked twice, a redirect to a 404, a dead host, a disallowed page."""
    records = [
        record(ROOT, depth=0, anchors=["a"], refs=[
            [ROOT + "gone", "", "Gone", "a"], [ROOT + "moved", "", "", "img"], [EXT, "", "Dead", "a"],
            [ROOT + "private", "", "P", "a"], [ROOT + "ok", "x", "Ok x", "a"], [ROOT + "ok", "a", "Ok a", "a"],
            [ROOT + "again", "", "Again", "a"]]),
        record(ROOT + "ok", anchors=["a"], refs=[[ROOT + "gone", "", "Gone | again", "a"]]),
        record(ROOT + "gone", 404),
        record(ROOT + "new", 404, requested=ROOT + "moved", redirects=[ROOT + "moved"]),
        record(ROOT + "again", 301, links=[ROOT + "moved"]),  # stopped: its target was seen already
        record(EXT, None, error="connection"),
        record(ROOT + "private", None, error="robots_disallowed"),
    ]
    return ReportBuilder(check_fragments=check_fragments).add_all(records).build()


def test_report_lists_every_broken_target_with_every_referrer() -> None:
    report = sample_report()
    broken = {t.url: t for t in report.broken}
    assert set(broken) == {ROOT + "gone", ROOT + "moved", ROOT + "again", EXT}
    assert [(r.url, r.text) for r in broken[ROOT + "gone"].referrers] == [(ROOT, "Gone"), (ROOT + "ok", "Gone | again")]
    assert broken[ROOT + "moved"].status == 404 and broken[ROOT + "moved"].final_url == ROOT + "new"
    assert broken[ROOT + "moved"].referrers[0].text == "<img>"
    assert broken[ROOT + "again"].status == 404  # resolved through the redirect the crawl did not follow
    assert broken[EXT].status is None and broken[EXT].error == "connection!"
    assert [t.url for t in report.disallowed] == [ROOT + "private"]
    assert len(report.checked) == 6 and report.pages == 2 and not report.ok
    assert [t.referrers for t in report.checked if t not in report.broken] == [(), ()]  # fine: not listed


def test_fragments_are_judged_only_when_asked() -> None:
    broken = {t.url: t for t in sample_report(check_fragments=True).broken}
    assert broken[ROOT + "ok#x"].error == "no anchor #x on the page"
    assert ROOT + "ok#a" not in broken and ROOT + "ok#x" not in {t.url for t in sample_report().broken}


def test_json_has_the_documented_shape() -> None:
    report = sample_report()
    data = json.loads(to_json(report))
    assert data == report.to_dict() and data["checked"] == 6 and data["pages"] == 2
    for entry in data["broken"] + data["disallowed"]:
        assert set(entry) == {"url", "status", "error", "referrers"}
        assert all(set(r) == {"url", "text"} for r in entry["referrers"])
    gone = next(e for e in data["broken"] if e["url"] == ROOT + "gone")
    assert gone == {"url": ROOT + "gone", "status": 404, "error": None, "referrers": [
        {"url": ROOT, "text": "Gone"}, {"url": ROOT + "ok", "text": "Gone | again"}]}


def test_text_and_markdown_name_every_target_and_referrer() -> None:
    report = sample_report()
    text, markdown = to_text(report), to_markdown(report)
    assert f"BROKEN {ROOT}gone  (404)" in text and f'on {ROOT}ok  "Gone | again"' in text
    assert "6 links checked on 2 pages: 4 broken, 1 not checked (robots.txt)" in text
    assert f"| {ROOT}gone | 404 | {ROOT}ok | Gone \\| again |" in markdown
    # An image's placeholder text is not raw HTML to a Markdown renderer (an empty <img> tag)
    assert f"| {ROOT}moved | 404, via redirect to {ROOT}new | {ROOT} | \\<img> |" in markdown
    assert "### Not checked (robots.txt)" in markdown


def test_junit_is_valid_for_ci_and_counts_add_up() -> None:
    report = sample_report(check_fragments=True)
    document = to_junit(report, 1.5).encode()
    root = etree.fromstring(document)
    schema = etree.XMLSchema(etree.parse(str(JUNIT_XSD)))
    schema.assertValid(root)
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert int(suite.get("tests")) == len(cases) == len(report.checked) + 1 + len(report.disallowed)
    assert int(suite.get("failures")) == len(suite.findall("testcase/failure")) == len(report.broken)
    assert int(suite.get("skipped")) == len(suite.findall("testcase/skipped")) == 1
    failure = root.find(f"testsuite/testcase[@name='{ROOT}gone']/failure")
    assert failure.get("message") == "404" and f"linked from {ROOT}ok" in failure.text


def test_junit_drops_what_xml_cannot_hold() -> None:
    records = [record(ROOT, depth=0, refs=[[ROOT + "x", "", "bad \x01 text", "a"]]), record(ROOT + "x", 404)]
    document = to_junit(ReportBuilder().add_all(records).build())
    assert "\x01" not in document
    etree.XMLSchema(etree.parse(str(JUNIT_XSD))).assertValid(etree.fromstring(document.encode()))
