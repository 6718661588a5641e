"""WARC output: every exchange of a crawl as gzipped WARC records, in rotating files.

Layout. Files in one directory, ``PREFIX-YYYYMMDDHHMMSSffffff-NNNNN.warc.gz`` (the
time the file was opened, then a sequence number that goes on across a crawl and
its resumes), each one a series of gzip members, one per record (WARC 1.1 annex
D), starting with a ``warcinfo`` record (software, format, the crawl's settings).
A file is closed and the next one opened once it reaches ``max_size``; records
are never split across files.

Records, per exchange: a ``response`` (or a ``revisit`` when an identical payload
was written before: WARC-Payload-Digest equal, the body not written again), the
``request`` it answered, linked by WARC-Concurrent-To, and with ``outlinks`` for a
page with outlinks a ``metadata`` record listing them as Heritrix does. Every record has
WARC-Target-URI, WARC-Date (when the fetch started), WARC-Block-Digest; responses
have WARC-IP-Address and WARC-Payload-Digest, and WARC-Truncated when the body is
not whole (``length`` at max_body_bytes, ``disconnect``, ``time``).

Exactly once. :meth:`WarcWriter.write` returns a *mark* (file and size); a crawl
with durable state saves the mark in the same transaction as the records whose
exchanges were just written, and :meth:`WarcWriter.start` with the saved mark
cuts whatever was written after it (a torn record, or exchanges of records never
committed, which are fetched again) and carries on in the same file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path
from typing import Any

from isal import isal_zlib
from warcio.archiveiterator import ArchiveIterator
from warcio.recordbuilder import RecordBuilder
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from ..models import Exchange, PageRecord
from ..version import __version__

DEFAULT_MAX_SIZE = 1024**3
WARC_VERSION = "WARC/1.1"
# Each record is compressed with ISA-L (isal), whose deflate is four times zlib's speed at a
# better ratio. On the demo site's 45 KB pages (one core of this machine): isal level 2 takes
# 0.09 ms a page for 31% of the raw size, zlib level 1 0.37 ms for 35%, zlib 6 (gzip's
# default) 1.31 ms for 26%, zlib 9 (warcio's own) 2.24 ms for 25.5%. A crawl is CPU-bound
# long before it is disk-bound. isal's levels go from 0 to 3.
GZIP_LEVEL = 2
_EMPTY = "sha1:3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ"  # the digest of no bytes at all
_NAME = re.compile(r"^(?P<prefix>.+)-(?P<stamp>\d{20})-(?P<seq>\d{5,})\.warc\.gz$")


class AsReceived(StatusAndHeaders):
    """HTTP headers written back as they were received: Latin-1, no re-encoding."""

    def compute_headers_buffer(self, header_filter: Any = None) -> None:
        """The header block as bytes (warcio would %-encode non-ASCII values)."""
        self.headers_buff = self.to_str().encode("latin-1", "replace") + b"\r\n"


class WarcWriter:
    """Writes exchanges as WARC records into rotating files in one directory (blocking).

    ::

        writer = WarcWriter("warcs", info={"robots": "obey"})
        mark = writer.start(saved_mark)        # None for a new crawl
        mark = writer.write(records)           # their exchanges; save mark with them
        writer.close()
    """

    def __init__(self, directory: str | Path, *, max_size: int = DEFAULT_MAX_SIZE,
                 info: Mapping[str, Any] | None = None, prefix: str = "crawl",
                 gzip_level: int = GZIP_LEVEL, outlinks: bool = False) -> None:
        self.directory = Path(directory)
        self.max_size = max_size
        self.prefix = prefix
        self.gzip_level = gzip_level
        # Off by default: the JSON Lines records hold the links already, and the record
        # costs a tenth of the writer's CPU.
        self.outlinks = outlinks
        self._info = {"software": f"crawler/{__version__} (warcio)", "format": "WARC File Format 1.1",
                      "conformsTo": "https://iipc.github.io/warc-specifications/specifications/"
                                    "warc-format/warc-1.1/", **(info or {})}
        self._builder = RecordBuilder(warc_version=WARC_VERSION)
        self._buffer = BytesIO()
        self._serializer = WARCWriter(self._buffer, gzip=False, warc_version=WARC_VERSION)
        self._file: Any = None  # an unbuffered binary file
        self._name = ""
        self._seq = 0
        self._size = 0
        self._digests: dict[str, tuple[str, str, str]] = {}  # payload digest -> uri, date, record id
        self.counts: dict[str, int] = {}

    @property
    def files(self) -> list[Path]:
        """This prefix's WARC files in the directory, in sequence order."""
        return [self.directory / name for _, name in self._ours()]

    def mark(self) -> str:
        """Where the output ends now: save it with the records whose exchanges are written."""
        return json.dumps({"file": self._name, "size": self._size})

    def start(self, mark: str | None = None) -> str:
        """Open a new file, or (with a saved mark) cut everything after it and go on there."""
        self.close()
        self.directory.mkdir(parents=True, exist_ok=True)
        if mark is not None:
            saved = json.loads(mark)
            match = _NAME.match(saved["file"])
            if match and (self.directory / saved["file"]).exists():
                self._resume(saved["file"], int(match["seq"]), saved["size"])
                self._recall_payloads()
                return self.mark()
        existing = self._ours()
        self._open_next(existing[-1][0] + 1 if existing else 1)
        return self.mark()

    def write(self, records: Iterable[PageRecord], exchanges: Iterable[Exchange] = ()) -> str:
        """Append the records' exchanges and the loose ones, whole; return the new mark."""
        groups = [self._group(exchange, None) for exchange in exchanges]
        for record in records:
            last = len(record.exchanges) - 1
            groups.extend(self._group(exchange, record if i == last else None)
                          for i, exchange in enumerate(record.exchanges))
        for group in groups:
            self._append(group)
        return self.mark()

    def close(self) -> None:
        """Close the current file."""
        if self._file is not None:
            self._file.close()
            self._file = None

    # ----- files ----------------------------------------------------------------

    def _ours(self) -> list[tuple[int, str]]:
        """(sequence, name) of this prefix's files in the directory, in order."""
        found = []
        for name in os.listdir(self.directory) if self.directory.is_dir() else ():
            match = _NAME.match(name)
            if match and match["prefix"] == self.prefix:
                found.append((int(match["seq"]), name))
        return sorted(found)

    def _resume(self, name: str, seq: int, size: int) -> None:
        """Cut the marked file back to its saved size; drop the files opened after it."""
        for later, other in self._ours():
            if later > seq:
                (self.directory / other).unlink()
        self._name, self._seq = name, seq
        self._file = open(self.directory / name, "r+b", buffering=0)  # noqa: SIM115 - closed in close()
        if os.fstat(self._file.fileno()).st_size > size:
            self._file.truncate(size)
        self._size = self._file.seek(0, os.SEEK_END)

    def _recall_payloads(self) -> None:
        """Learn the payloads earlier runs wrote, so a resumed crawl writes revisits of them too.

        Reads every record of the crawl's files: a few seconds per gigabyte, once per resume.
        """
        for path in self.files:
            with path.open("rb") as stream:
                for record in ArchiveIterator(stream):
                    headers = record.rec_headers
                    status = record.http_headers.get_statuscode() if record.http_headers else ""
                    digest = headers.get_header("WARC-Payload-Digest")
                    if (record.rec_type == "response" and status.startswith("2") and digest != _EMPTY
                            and not headers.get_header("WARC-Truncated")):
                        self._digests.setdefault(digest, (
                            headers.get_header("WARC-Target-URI"), headers.get_header("WARC-Date"),
                            headers.get_header("WARC-Record-ID")))

    def _open_next(self, seq: int) -> None:
        """Close the current file and start the next one with its warcinfo record."""
        self.close()
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
        self._name, self._seq = f"{self.prefix}-{stamp}-{seq:05d}.warc.gz", seq
        self._file = open(self.directory / self._name, "xb", buffering=0)  # noqa: SIM115
        self._size = 0
        record = self._builder.create_warcinfo_record(self._name, self._info)
        self._append(self._gzip(record))

    def _append(self, data: bytes) -> None:
        """Write one exchange's records, rotating first when the file is full; undo a failed write."""
        if self._size >= self.max_size:
            self._open_next(self._seq + 1)
        view = memoryview(data)
        try:
            while view:
                view = view[self._file.write(view):]
        except OSError as exc:
            with contextlib.suppress(OSError):
                self._file.truncate(self._size)
            path = str(self.directory / self._name)
            raise exc if exc.filename else OSError(exc.errno, exc.strerror, path) from None
        self._size += len(data)

    # ----- records --------------------------------------------------------------

    def _group(self, exchange: Exchange, record: PageRecord | None) -> bytes:
        """The gzipped records of one exchange: response (or revisit), request, metadata."""
        date = _warc_date(exchange.fetched_at)
        response = self._response(exchange, date)
        response_id = response.rec_headers.get_header("WARC-Record-ID")
        parts = [self._gzip(response), self._gzip(self._request(exchange, date, response_id))]
        if self.outlinks and record is not None and record.links:
            parts.append(self._gzip(self._metadata(exchange, record, date, response_id)))
        return b"".join(parts)

    def _response(self, exchange: Exchange, date: str) -> Any:
        """A response record, or a revisit of the first record with the same payload."""
        protocol, _, status = exchange.status_line.partition(" ")
        http = AsReceived(status, list(exchange.headers), protocol=protocol)
        fields = {"WARC-Date": date}
        if exchange.ip:
            fields["WARC-IP-Address"] = exchange.ip
        if exchange.truncated:
            fields["WARC-Truncated"] = exchange.truncated
        record = self._builder.create_warc_record(
            exchange.url, "response", payload=BytesIO(exchange.body), length=len(exchange.body),
            http_headers=http, warc_headers_dict=fields)
        digest = record.rec_headers.get_header("WARC-Payload-Digest")
        earlier = self._digests.get(digest)
        if earlier is not None:
            uri, first_date, first_id = earlier
            revisit = self._builder.create_revisit_record(
                exchange.url, digest, uri, first_date, http_headers=http,
                warc_headers_dict={**fields, "WARC-Refers-To": first_id})
            return revisit
        if _may_be_revisited(exchange, status):
            self._digests[digest] = (exchange.url, date, record.rec_headers.get_header("WARC-Record-ID"))
        return record

    def _request(self, exchange: Exchange, date: str, response_id: str) -> Any:
        """The request record of an exchange, concurrent to its response."""
        head = exchange.request_head.decode("latin-1").rstrip("\r\n").split("\r\n")
        fields = [tuple(line.split(": ", 1)) for line in head[1:] if ": " in line]
        http = AsReceived(head[0], fields, is_http_request=True)
        return self._builder.create_warc_record(
            exchange.url, "request", payload=BytesIO(), length=0, http_headers=http,
            warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": response_id})

    def _metadata(self, exchange: Exchange, record: PageRecord, date: str, response_id: str) -> Any:
        """A metadata record of the page's outlinks, in Heritrix's warc-fields form."""
        lines = [f"fetchTimeMs: {round(record.elapsed_ms)}"]
        if record.referrer:
            lines.append(f"via: {record.referrer}")
        lines.extend(f"outlink: {link}" for link in record.links)
        text = ("\r\n".join(lines) + "\r\n").encode("utf-8")
        return self._builder.create_warc_record(
            exchange.url, "metadata", payload=BytesIO(text), length=len(text),
            warc_content_type="application/warc-fields",
            warc_headers_dict={"WARC-Date": date, "WARC-Concurrent-To": response_id})

    def _gzip(self, record: Any) -> bytes:
        """One record as its own gzip member."""
        buffer = self._buffer
        buffer.seek(0)
        buffer.truncate()
        self._serializer.write_record(record)
        kind = record.rec_type
        self.counts[kind] = self.counts.get(kind, 0) + 1
        compressor = isal_zlib.compressobj(self.gzip_level, isal_zlib.DEFLATED, 16 + isal_zlib.MAX_WBITS)
        return compressor.compress(buffer.getbuffer()) + compressor.flush()


class WarcSink:
    """The async face of :class:`WarcWriter`: all its work runs in one thread of its own.

    Compressing and writing never block the event loop, and one thread keeps the
    writes in order.
    """

    def __init__(self, directory: str | Path, *, max_size: int = DEFAULT_MAX_SIZE,
                 info: Mapping[str, Any] | None = None, prefix: str = "crawl",
                 gzip_level: int = GZIP_LEVEL, outlinks: bool = False) -> None:
        self.writer = WarcWriter(directory, max_size=max_size, info=info, prefix=prefix,
                                 gzip_level=gzip_level, outlinks=outlinks)
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="warc")

    async def start(self, mark: str | None = None) -> str:
        """Open the output (repaired to mark, when resuming); return the mark to save.

        Done on the loop, before the crawl starts: the writer's thread must not exist yet
        when the async driver forks its parse pool (it forks only a process without threads,
        and otherwise starts a slower forkserver). Opening a file is quick.
        """
        return self.writer.start(mark)

    async def write(self, records: Sequence[PageRecord], exchanges: Sequence[Exchange] = ()) -> str:
        """Write the records' exchanges and the loose ones; return the mark to save with them."""
        return await self._run(self.writer.write, records, exchanges)

    async def close(self) -> None:
        """Close the file and the thread."""
        await self._run(self.writer.close)
        self._thread.shutdown()

    async def _run(self, function: Any, *args: Any) -> Any:
        """Run function in the writer's thread."""
        return await asyncio.get_running_loop().run_in_executor(self._thread, function, *args)


def _warc_date(timestamp: float) -> str:
    """WARC-Date of a fetch: ISO 8601 UTC with microseconds (WARC 1.1 §5.4)."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _may_be_revisited(exchange: Exchange, status: str) -> bool:
    """Whether later copies of this payload become revisits: whole, non-empty 2xx bodies only.

    An empty body (most redirects) or an error page says nothing about a later URL's content.
    """
    return bool(exchange.body) and exchange.truncated is None and status.startswith("2")


__all__ = ["DEFAULT_MAX_SIZE", "WarcSink", "WarcWriter"]
