"""Sinks: JSON Lines files take batches whole, and a sink with only write() still gets every record."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import crawler
from crawler.demo import expected_urls
from crawler.models import PageRecord

from ..conftest import SMALL_SITE
from ..unit.test_stores import record


def _record(n: int) -> PageRecord:
    """A record whose title needs UTF-8."""
    return dataclasses.replace(record(f"http://a.test/{n}"), title=f"é {n}")


async def test_json_lines_sink_writes_batches_and_single_records_in_order(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    sink = crawler.JsonLinesSink(path)
    await sink.write_many([_record(1), _record(2)])
    await sink.write(_record(3))
    await sink.write_many([])
    await sink.close()
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["title"] for line in lines] == ["é 1", "é 2", "é 3"]


async def test_json_lines_sink_appends_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    path.write_text(json.dumps({"old": True}) + "\n", encoding="utf-8")
    sink = crawler.JsonLinesSink(path, append=True)
    await sink.write(_record(1))
    await sink.close()
    assert len(path.read_text(encoding="utf-8").splitlines()) == 2


class WriteOnlySink:
    """A user's sink that knows nothing of batches."""

    def __init__(self) -> None:
        self.records: list[PageRecord] = []
        self.closed = False

    async def write(self, record: PageRecord) -> None:
        self.records.append(record)

    async def close(self) -> None:
        self.closed = True


async def test_a_sink_with_only_write_gets_every_record(small_site: Any) -> None:
    sink = WriteOnlySink()
    async with crawler.Crawler(sink=sink, parse_workers=0) as c:
        yielded = [record async for record in c.crawl(small_site.url)]
    assert sink.closed
    assert sink.records == yielded
    assert {r.url for r in sink.records} == expected_urls(SMALL_SITE, small_site.url)
