"""Where records go: JSON Lines files or stdout, or anything with write() and close()."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol

import aiofiles
from aiofiles.threadpool.binary import AsyncFileIO

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
    """Appends records to a JSON Lines file through aiofiles, one whole line per write.

    A write that fails (a full disk) is undone: the file keeps only whole lines.
    """

    def __init__(self, path: str | Path, *, append: bool = False) -> None:
        self.path = Path(path)
        self._mode: Literal["ab", "wb"] = "ab" if append else "wb"
        self._file: AsyncFileIO | None = None
        self._size = 0  # bytes of whole lines in the file

    async def write(self, record: PageRecord) -> None:
        """Write one record as one line, flushed so a crash leaves whole lines behind."""
        await self.write_many((record,))

    async def write_many(self, records: Sequence[PageRecord]) -> None:
        """Write records as lines, unbuffered: each write is a trip to aiofiles' thread."""
        file = await self._open()
        lines = "".join(map(encode_record, records)).encode("utf-8")
        data = memoryview(lines)
        try:
            while data:  # an unbuffered file may take part of it (then fail on the rest)
                data = data[await file.write(data):]
        except OSError as exc:
            with contextlib.suppress(OSError):  # a device may not truncate; the error says enough
                await file.truncate(self._size)
            raise with_filename(exc, self.path) from None
        self._size += len(lines)

    async def close(self) -> None:
        """Close the file (creating it empty if nothing was written)."""
        await (await self._open()).close()

    async def _open(self) -> AsyncFileIO:
        """The output file, opened on first use."""
        if self._file is None:
            try:
                self._file = await aiofiles.open(self.path, self._mode, buffering=0)
                self._size = await self._file.seek(0, os.SEEK_END)
            except OSError as exc:
                raise with_filename(exc, self.path) from None
        return self._file


def with_filename(exc: OSError, path: str | Path) -> OSError:
    """exc, naming the file it happened to: a failed write does not say which."""
    return exc if exc.filename is not None else OSError(exc.errno, exc.strerror, str(path))


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
