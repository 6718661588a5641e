"""Where records go: JSON Lines files or stdout, or anything with write() and close()."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Protocol

import aiofiles

from ..models import PageRecord


class Sink(Protocol):
    """An async destination for records; each write stores one whole record."""

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
        self._mode = "a" if append else "w"
        self._file = None

    async def write(self, record: PageRecord) -> None:
        """Write one record as one line, flushed so a crash leaves whole lines behind."""
        if self._file is None:
            self._file = await aiofiles.open(self.path, self._mode, encoding="utf-8")
        await self._file.write(encode_record(record))
        await self._file.flush()

    async def close(self) -> None:
        """Close the file (creating it empty if nothing was written)."""
        if self._file is None:
            self._file = await aiofiles.open(self.path, self._mode, encoding="utf-8")
        await self._file.close()


class StdoutSink:
    """Writes records to standard output (``-o -``)."""

    async def write(self, record: PageRecord) -> None:
        """Write one record as one line and flush it."""
        sys.stdout.write(encode_record(record))
        sys.stdout.flush()

    async def close(self) -> None:
        """Flush standard output."""
        sys.stdout.flush()


class NullSink:
    """Discards records (for benchmarks and library users who only iterate)."""

    async def write(self, record: PageRecord) -> None:
        """Drop the record."""

    async def close(self) -> None:
        """Nothing to close."""


def open_sink(target: str | Path | None, *, append: bool = False) -> Sink:
    """The sink for an ``-o`` value: '-' is stdout, None discards, else a file path."""
    if target is None:
        return NullSink()
    if str(target) == "-":
        return StdoutSink()
    return JsonLinesSink(target, append=append)
