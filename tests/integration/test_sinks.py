"""Sinks: one contract for every sink, one for every durable sink; JSON Lines files take batches
whole, and a sink with only write() still gets every record."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import crawler
from crawler.demo import expected_urls
from crawler.models import CrawlRequest, PageRecord
from crawler.sinks import Sink, encode_record
from crawler.stores.sqlite import SqliteFrontier

from ..conftest import SMALL_SITE
from ..unit.test_stores import record


def _record(n: int) -> PageRecord:
    """A record whose title needs UTF-8."""
    return dataclasses.replace(record(f"http://a.test/{n}"), title=f"é {n}")


@pytest.fixture(params=["json_lines", "stdout"])
def sink(request: pytest.FixtureRequest, tmp_path: Path,
         capsys: pytest.CaptureFixture[str]) -> tuple[Sink, Callable[[], str]]:
    """Each sink in turn, with a function that reads back what it wrote."""
    if request.param == "stdout":
        return crawler.StdoutSink(), lambda: capsys.readouterr().out
    path = tmp_path / "out.jsonl"
    return crawler.JsonLinesSink(path), lambda: path.read_text(encoding="utf-8")


async def test_every_sink_writes_each_record_once_in_order(sink: tuple[Sink, Callable[[], str]]) -> None:
    target, written = sink
    await target.write_many([_record(1), _record(2)])  # type: ignore[attr-defined]
    await target.write(_record(3))
    await target.close()
    assert written() == "".join(encode_record(_record(n)) for n in (1, 2, 3))


# Each durable sink (one that can repair itself from a store's journal), and how to read it back.
DURABLE: dict[str, tuple[Callable[[Path], Any], Callable[[Path], list[dict[str, Any]]]]] = {
    "json_lines": (crawler.JsonLinesSink,
                   lambda path: [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]),
}


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[SqliteFrontier]:
    """A SQLite store that saved five records."""
    store = SqliteFrontier(tmp_path / "state")
    records = []
    for n in range(5):
        store.add(f"http://a.test/{n}", CrawlRequest(url=f"http://a.test/{n}"))
        records.append(_record(n))
        store.pop("a.test")
    store.commit(records)
    yield store
    store.close()


@pytest.mark.parametrize("name", DURABLE)
@pytest.mark.parametrize("written_before", [0, 3, 5])
async def test_a_durable_sink_repaired_from_a_journal_holds_each_saved_record_once(
        name: str, written_before: int, journal: SqliteFrontier, tmp_path: Path) -> None:
    make, read = DURABLE[name]
    path = tmp_path / "out"
    first = make(path)
    await first.write_many([_record(n) for n in range(written_before)])  # then a crash
    await first.close()
    again = make(path)
    assert await again.repair(journal) == 5 - written_before
    await again.write(_record(5))  # the resumed crawl goes on
    await again.close()
    assert read(path) == [_record(n).to_dict() for n in range(6)]


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
