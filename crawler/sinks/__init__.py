"""Where records go: JSON Lines files or stdout, or anything with write() and close().

Exactly-once across a crash is one mechanism for every durable sink: the store saves
a batch of records (its journal) before the sink writes them, so whatever a sink
holds is saved; when a crawl resumes, ``repair(journal)`` makes the sink hold
exactly the saved records — a torn tail cut, records lost from the store (a power
loss) cut, saved records it lacks appended. A sink without ``repair`` (stdout)
cannot take back what it wrote.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, Literal, Protocol, runtime_checkable

import aiofiles
from aiofiles.threadpool.binary import AsyncFileIO

from ..errors import OutputError
from ..models import PageRecord


class Sink(Protocol):
    """An async destination for records; each write stores one whole record.

    A sink may also define ``async write_many(records)``: the crawler then hands it
    each batch of records that arrived together, to store in one go. A durable sink
    defines ``async repair(journal) -> int`` too: before a crawl over a durable store
    starts, it is made to hold exactly the journal's records (see the module docstring).
    """

    async def write(self, record: PageRecord) -> None:
        """Store one record."""

    async def close(self) -> None:
        """Flush and release the destination."""


@runtime_checkable
class Journal(Protocol):
    """The records a durable store saved, numbered from 1, that a sink repairs itself from."""

    def saved_count(self) -> int:
        """How many records are saved."""

    def saved_records(self, after: int = 0) -> Iterable[PageRecord]:
        """The saved records numbered after after, in order."""


def encode_record(record: PageRecord) -> str:
    """One JSON Lines line (with its newline) for a record."""
    return json.dumps(record.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n"


class JsonLinesSink:
    """Appends records to a JSON Lines file through aiofiles, one whole line per write.

    A write that fails (a full disk) is undone: the file keeps only whole lines.
    After a crash, :meth:`repair` makes the file hold exactly a journal's records.
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

    async def repair(self, journal: Journal) -> int:
        """Make the file hold exactly the journal's records, then append; return lines re-appended.

        Another crawl's file (its last kept line is not the saved one) is refused.
        """
        appended = await asyncio.to_thread(_repair_lines, self.path, journal)
        self._mode = "ab"
        return appended

    async def _open(self) -> AsyncFileIO:
        """The output file, opened on first use."""
        if self._file is None:
            try:
                self._file = await aiofiles.open(self.path, self._mode, buffering=0)
                self._size = await self._file.seek(0, os.SEEK_END)
            except OSError as exc:
                raise with_filename(exc, self.path) from None
        return self._file


def _repair_lines(path: Path, journal: Journal) -> int:
    """Cut path to the journal's records it holds whole, append the rest; return how many."""
    saved = journal.saved_count()
    try:
        with open(path, "r+b" if path.exists() else "w+b") as output:
            keep, end = _whole_lines(output, saved)
            if keep:
                _check_last_line(output, end, next(iter(journal.saved_records(keep - 1))), path)
            output.truncate(end)
            output.seek(end)
            output.writelines(encode_record(r).encode("utf-8") for r in journal.saved_records(keep))
    except OSError as exc:
        raise with_filename(exc, path) from None
    return saved - keep


def _whole_lines(output: BinaryIO, most: int) -> tuple[int, int]:
    """How many whole lines (at most most) the file starts with, and where the last one ends."""
    lines = end = offset = 0
    for chunk in _chunks(output):
        start = 0
        while lines < most and (newline := chunk.find(b"\n", start)) >= 0:
            lines, end, start = lines + 1, offset + newline + 1, newline + 1
        if lines == most:
            break
        offset += len(chunk)
    return lines, end


def _chunks(output: BinaryIO, size: int = 1 << 20) -> Iterator[bytes]:
    """The file's bytes from its start, a megabyte at a time."""
    output.seek(0)
    while chunk := output.read(size):
        yield chunk


def _check_last_line(output: BinaryIO, end: int, record: PageRecord, path: Path) -> None:
    """Refuse a file whose line ending at end is not record's (another crawl's output)."""
    line = encode_record(record).encode("utf-8")
    output.seek(max(0, end - len(line)))
    if output.read(len(line)) != line:
        raise OutputError(f"{path} is not the output of the crawl in this state: "
                          "give another -o, or --fresh to start over")


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
