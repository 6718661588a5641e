"""Where records go: JSON Lines files or stdout, or anything with write() and close()."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol

import aiofiles
from aiofiles.threadpool.text import AsyncTextIOWrapper

from ..models import PageRecord


class Sink(Protocol):
    """An async destination for records; each write stores one whole record.

    A sink may also define ``async write_many(records)``: the crawler then hands it
    each batch of records that arrived together, to store in one go.
    """

    async def write(self, record: PageRecord) -> None:
        """Store one record."""

    async def close(self) -> None:
        """Flush and release the destination."""


def encode_record(record: PageRecord) -> str:
    """One JSON Lines line (with its newline) for a record."""
    return json.dumps(record.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n"


class JsonLinesSink:
    """Appends records to a JSON Lines file through aiofiles, one whole line per write."""

    def __init__(self, path: str | Path, *, append: bool = False) -> None:
        self.path = Path(path)
        self._mode: Literal["a", "w"] = "a" if append else "w"
        self._file: AsyncTextIOWrapper | None = None

    async def write(self, record: PageRecord) -> None:
        """Write one record as one line, flushed so a crash leaves whole lines behind."""
        await self.write_many((record,))

    async def write_many(self, records: Sequence[PageRecord]) -> None:
        """Write records as lines with one write and one flush (each a trip to aiofiles' thread)."""
        file = await self._open()
        await file.write("".join(map(encode_record, records)))
        await file.flush()

    async def close(self) -> None:
        """Close the file (creating it empty if nothing was written)."""
        await (await self._open()).close()

    async def _open(self) -> AsyncTextIOWrapper:
        """The output file, opened on first use."""
        if self._file is None:
            self._file = await aiofiles.open(self.path, self._mode, encoding="utf-8")
        return self._file


class StdoutSink:
    """Writes records to standard output (``-o -``)."""

    async def write(self, record: PageRecord) -> None:
        """Write one record as one line and flush it."""
        await self.write_many((record,))

    async def write_many(self, records: Sequence[PageRecord]) -> None:
        """Write records as lines and flush them."""
        sys.stdout.write("".join(map(encode_record, records)))
        sys.stdout.flush()

    async def close(self) -> None:
        """Flush standard output."""
        sys.stdout.flush()


class NullSink:
    """Discards records (for benchmarks and library users who only iterate)."""

    async def write(self, record: PageRecord) -> None:
        """Drop the record."""

    async def write_many(self, records: Sequence[PageRecord]) -> None:
        """Drop the records."""

    async def close(self) -> None:
        """Nothing to close."""


def open_sink(target: str | Path | None, *, append: bool = False) -> Sink:
    """The sink for an ``-o`` value: '-' is stdout, None discards, else a file path."""
    if target is None:
        return NullSink()
    if str(target) == "-":
        return StdoutSink()
    return JsonLinesSink(target, append=append)
