"""What ``crawler check`` adds to a crawl: its settings, a sink that feeds the report, and the report's output.

The crawl is the ordinary one (same scope, robots.txt, politeness, limits, drivers,
progress display and ``--state`` resume) with ``check_links`` set; its records feed a
:class:`~crawler.check.report.ReportBuilder`. Under ``--state DIR`` they are also
saved, exactly once, to ``DIR/records.jsonl``, which a resumed check reads back
whole, so its report covers the pages of every run. ``crawler.cli`` runs it.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..models import PageRecord
from .formats import FORMATS, to_junit
from .report import CheckReport, ReportBuilder

EXIT_BROKEN = 1
RECORDS_FILE = "records.jsonl"


class ReportSink:
    """A sink that hands every record to a report builder."""

    def __init__(self, builder: ReportBuilder) -> None:
        self.builder = builder

    async def write(self, record: PageRecord) -> None:
        """Add one record to the report."""
        self.builder.add(record)

    async def write_many(self, records: Sequence[PageRecord]) -> None:
        """Add records to the report."""
        self.builder.add_all(records)

    async def close(self) -> None:
        """Nothing to close."""


def check_settings(no_external: bool, check_fragments: bool) -> dict[str, Any]:
    """The settings a check sets over the crawl's: nofollow links are checked too (they can break)."""
    settings: dict[str, Any] = {"check_links": True, "follow_nofollow": True}
    if no_external:
        settings["check_external"] = False
    if check_fragments:
        settings["check_fragments"] = True
    return settings


def records_path(state: str | Path) -> Path:
    """Where a check under --state DIR keeps its records."""
    return Path(state) / RECORDS_FILE


def read_records(path: Path) -> Iterator[PageRecord]:
    """The records of a JSON Lines file (none if it does not exist)."""
    if not path.exists():
        return
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            yield PageRecord.from_dict(json.loads(line))


def write_report(report: CheckReport, fmt: str, output: str | None, elapsed: float) -> None:
    """Write the report in its format to output (stdout when None or '-'); OSError names the file."""
    text = to_junit(report, elapsed) if fmt == "junit" else FORMATS[fmt](report)
    if output in (None, "-"):
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        Path(output).write_text(text, encoding="utf-8")


def exit_code(report: CheckReport) -> int:
    """0 when nothing is broken, 1 when something is."""
    return 0 if report.ok else EXIT_BROKEN


__all__ = ["EXIT_BROKEN", "RECORDS_FILE", "ReportBuilder", "ReportSink", "check_settings", "exit_code", "read_records",
           "records_path", "write_report"]
