"""A link check's report as text (for people), JSON (for scripts), Markdown (for pull requests)
and JUnit XML (for CI systems): one function each, ``FORMATS`` by name.

JUnit: one test suite, one test case per checked target (its URL as the name, its
host as the class), a ``<failure>`` for a broken one listing every page that links
to it, and a skipped test case per target robots.txt did not allow to ask. That is
the subset that Jenkins, GitLab, GitHub test reporters and Azure DevOps all read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from .report import CheckReport, Target

if TYPE_CHECKING:
    from xml.etree import ElementTree

# Characters XML 1.0 cannot hold (a link text may contain them): dropped from JUnit output.
# Left to re to compile (and cache) on first use: compiling it took 3 ms of every check's start.
_NOT_XML = "[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]"


def _outcome(target: Target) -> str:
    """What checking a target gave, in a few words."""
    parts = [str(target.status) if target.status is not None else "no response"]
    if target.error:
        parts.append(target.error)
    if target.final_url:
        parts.append(f"via redirect to {target.final_url}")
    return ", ".join(parts)


def _summary(report: CheckReport) -> str:
    """One line of totals."""
    disallowed = f", {len(report.disallowed)} not checked (robots.txt)" if report.disallowed else ""
    return (f"{len(report.checked)} links checked on {report.pages} pages: "
            f"{len(report.broken)} broken{disallowed}")


def to_text(report: CheckReport) -> str:
    """Each broken target with its referrers, then the disallowed ones, then the totals."""
    lines = []
    for target in report.broken:
        lines.append(f"BROKEN {target.url}  ({_outcome(target)})")
        lines += [f"    on {r.url}  \"{r.text}\"" for r in target.referrers]
    for target in report.disallowed:
        lines.append(f"NOT CHECKED {target.url}  ({target.error})")
        lines += [f"    on {r.url}  \"{r.text}\"" for r in target.referrers]
    lines.append(_summary(report))
    return "\n".join(lines) + "\n"


def to_json(report: CheckReport) -> str:
    """The report as JSON (see CheckReport.to_dict): a key a line, and a line per target in its lists.

    Only this outer layout is indented by hand: json.dumps with an indent runs Python's
    encoder instead of its C one, and took 30 ms for a report listing 1,500 targets.
    """
    fields = []
    for key, value in report.to_dict().items():
        if isinstance(value, list) and value:
            items = ",\n    ".join(_compact(item) for item in value)
            fields.append(f"  {_compact(key)}: [\n    {items}\n  ]")
        else:
            fields.append(f"  {_compact(key)}: {_compact(value)}")
    return "{\n" + ",\n".join(fields) + "\n}\n"


# One line of JSON through the C encoder (used when there is no indent). A report holds no
# cycles, so none is looked for: that took 8% of writing the demo check's.
_compact = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "), check_circular=False).encode


def _md(text: str) -> str:
    """Text safe inside a Markdown table cell: no column break, code span or raw HTML tag (a link text of <img>)."""
    return (text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("`", "\\`")
            .replace("<", "\\<"))


def to_markdown(report: CheckReport) -> str:
    """A heading, the totals and a table of broken links (one row per referring link)."""
    lines = ["## Link check", "", _summary(report), ""]
    for title, targets in (("Broken links", report.broken), ("Not checked (robots.txt)", report.disallowed)):
        if not targets:
            continue
        lines += [f"### {title}", "", "| target | result | linked from | link text |", "|---|---|---|---|"]
        for target in targets:
            referrers = target.referrers or ()
            rows = [(r.url, r.text) for r in referrers] or [("(seed)", "")]
            for page, text in rows:
                lines.append(f"| {_md(target.url)} | {_md(_outcome(target))} | {_md(page)} | {_md(text)} |")
        lines.append("")
    return "\n".join(lines)


def to_junit(report: CheckReport, elapsed: float = 0.0) -> str:
    """A JUnit XML document: a test case per checked target, failed when broken."""
    # Imported here: at the top, it took 3 ms of every check's start, whatever the format.
    from xml.etree import ElementTree

    broken = {target.url: target for target in report.broken}
    fragments = [t for t in report.broken if t.url not in {c.url for c in report.checked}]
    suite = ElementTree.Element("testsuite", {
        "name": "links", "tests": str(len(report.checked) + len(fragments) + len(report.disallowed)),
        "failures": str(len(report.broken)), "errors": "0", "skipped": str(len(report.disallowed)),
        "time": f"{elapsed:.3f}",
    })
    for target in (*report.checked, *fragments):
        case = _case(suite, target)
        failed = broken.get(target.url)
        if failed is not None:
            failure = ElementTree.SubElement(case, "failure", {"message": _xml(_outcome(failed)),
                                                               "type": "broken-link"})
            failure.text = _xml(_referrer_lines(failed))
    for target in report.disallowed:
        ElementTree.SubElement(_case(suite, target), "skipped", {"message": _xml(target.error or "")})
    root = ElementTree.Element("testsuites", {key: suite.get(key, "") for key in
                                              ("tests", "failures", "errors", "skipped", "time")})
    root.set("name", "crawler check")
    root.append(suite)
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="unicode") + "\n"


def _case(suite: ElementTree.Element, target: Target) -> ElementTree.Element:
    """A test case named after the target, classed by its host."""
    from xml.etree import ElementTree

    host = target.url.partition("://")[2].partition("/")[0]
    return ElementTree.SubElement(suite, "testcase", {"name": _xml(target.url), "classname": _xml(host),
                                                      "time": "0"})


def _referrer_lines(target: Target) -> str:
    """The pages linking to a target, one a line."""
    return "\n".join(f"linked from {r.url} (\"{r.text}\")" for r in target.referrers) or "a seed URL"


def _xml(text: str) -> str:
    """text without the characters XML cannot hold."""
    return re.sub(_NOT_XML, "\ufffd", text)


Formatter = Callable[[CheckReport], str]
FORMATS: dict[str, Formatter] = {"text": to_text, "json": to_json, "markdown": to_markdown, "junit": to_junit}

__all__ = ["FORMATS", "to_json", "to_junit", "to_markdown", "to_text"]
