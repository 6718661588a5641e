"""Pure pieces shared by both fetchers: bounded body decoding, header parsing, results.

Nothing here performs I/O, so the async and the blocking fetcher read bodies,
parse headers and build :class:`~crawler.models.FetchResult` records the same way.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Protocol
from urllib.parse import urlsplit

import brotli  # type: ignore[import-untyped]

from ..errors import ErrorKind
from ..models import ErrorInfo, Exchange, FetchResult

CHUNK_SIZE = 64 * 1024
# Output asked of a decoder per call: brotli may overshoot its output limit by about
# half, so a small step keeps a bomb's overshoot small whatever max_bytes is.
_DECODE_STEP = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"
# Every coding we can decode, and nothing else (RFC 9110 §12.5.3).
ACCEPT_ENCODING = "gzip, deflate, br"


def request_headers(user_agent: str) -> dict[str, str]:
    """Return the headers every fetch sends."""
    return {"User-Agent": user_agent, "Accept": ACCEPT, "Accept-Encoding": ACCEPT_ENCODING}


def check_url(url: str) -> ErrorInfo | None:
    """Return an ``invalid_url`` error unless url is an absolute http(s) URL with a host."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing the port validates it (raises ValueError)
    except ValueError as exc:
        return ErrorInfo(ErrorKind.INVALID_URL, f"invalid URL {url!r}: {exc}")
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ErrorInfo(ErrorKind.INVALID_URL, f"not an absolute http(s) URL: {url!r}")
    return None


def parse_charset(content_type: str | None) -> str | None:
    """Return the lower-cased ``charset`` parameter of a Content-Type value, if any."""
    if not content_type:
        return None
    # media-type *( OWS ";" OWS parameter ), value a token or quoted-string (RFC 9110 §8.3.1).
    for parameter in content_type.split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value.strip().strip('"').strip().lower() or None
    return None


def parse_codings(content_encoding: str | None) -> list[str]:
    """Return the content codings in the order they were applied, without ``identity``."""
    if not content_encoding:
        return []
    codings = (c.strip().lower() for c in content_encoding.split(","))
    return [c for c in codings if c and c != "identity"]


class _Decoder(Protocol):
    """An incremental decompressor whose output per call is bounded."""

    def decode(self, data: bytes, limit: int) -> bytes:
        """Consume data (or, with b"", pending input) and return about limit bytes at most."""

    @property
    def pending(self) -> bool:
        """True when more output can be produced without new input."""

    @property
    def finished(self) -> bool:
        """True once the compressed stream's end marker was decoded."""


class _ZlibDecoder:
    """gzip (RFC 1952), zlib (RFC 1950) or raw deflate (RFC 1951), chosen by wbits."""

    def __init__(self, wbits: int, *, multi_member: bool = False) -> None:
        self._wbits = wbits
        # Whether bytes after the end may start another gzip member (RFC 1952 §2.2).
        self._more_members = multi_member
        self._obj = zlib.decompressobj(wbits)
        # A call that filled its limit may leave output inside zlib even with no
        # unconsumed_tail (a long match being copied), so it must be drained.
        self._full = False

    def decode(self, data: bytes, limit: int) -> bytes:
        """Decompress at most limit bytes; input beyond that waits in unconsumed_tail."""
        obj = self._obj
        if obj.eof:
            return self._after_end(data, limit)
        output = obj.decompress(obj.unconsumed_tail + data, limit)
        self._full = len(output) >= limit
        return output

    def _after_end(self, data: bytes, limit: int) -> bytes:
        """Start the next gzip member, or ignore trailing garbage as browsers do."""
        if not self._more_members:
            return b""
        self._obj.decompress(data)  # after its end a stream only appends to unused_data
        rest = self._obj.unused_data
        if len(rest) < len(_GZIP_MAGIC):
            return b""
        if not rest.startswith(_GZIP_MAGIC):
            self._more_members = False
            return b""
        self._obj = zlib.decompressobj(self._wbits)
        return self.decode(rest, limit)

    @property
    def pending(self) -> bool:
        """True while compressed input is left over from a bounded call."""
        obj = self._obj
        if not obj.eof:
            return self._full or bool(obj.unconsumed_tail)
        # Past the end, the leftover bytes are in unused_data (zlib may also leave
        # them in unconsumed_tail, which therefore no longer counts).
        return self._more_members and obj.unused_data.startswith(_GZIP_MAGIC)

    @property
    def finished(self) -> bool:
        """True at the end of the (last seen) stream."""
        return self._obj.eof


class _DeflateDecoder:
    """``deflate``: zlib-wrapped per RFC 9110 §8.4.1.2, but some servers send it raw."""

    def __init__(self) -> None:
        self._head = b""
        self._inner: _ZlibDecoder | None = None

    def decode(self, data: bytes, limit: int) -> bytes:
        """Sniff the zlib header from the first two bytes, then decompress."""
        if self._inner is None:
            self._head += data
            if len(self._head) < 2:
                return b""
            wbits = zlib.MAX_WBITS if _is_zlib_header(self._head) else -zlib.MAX_WBITS
            self._inner = _ZlibDecoder(wbits)
            data, self._head = self._head, b""
        return self._inner.decode(data, limit)

    @property
    def pending(self) -> bool:
        """True while compressed input is left over from a bounded call."""
        return self._inner is not None and self._inner.pending

    @property
    def finished(self) -> bool:
        """True at the end of the stream."""
        return self._inner is not None and self._inner.finished


def _is_zlib_header(head: bytes) -> bool:
    """True when two bytes are a valid zlib CMF/FLG pair (RFC 1950 §2.2)."""
    cmf, flg = head[0], head[1]
    return cmf & 0x0F == 8 and cmf >> 4 <= 7 and (cmf * 256 + flg) % 31 == 0


class _BrotliDecoder:
    """``br`` (RFC 7932) with the output of each call bounded by the decoder itself."""

    def __init__(self) -> None:
        self._obj = brotli.Decompressor()
        # A call that filled its limit may hold output back even once
        # can_accept_more_data() is True again, so it is always followed by a drain.
        self._full = False

    def decode(self, data: bytes, limit: int) -> bytes:
        """Decompress; once the limit is hit, only b"" may be passed until drained."""
        if self._obj.is_finished():
            return b""  # trailing garbage after the stream: ignored
        output: bytes = self._obj.process(data, output_buffer_limit=limit)
        self._full = len(output) >= limit
        return output

    @property
    def pending(self) -> bool:
        """True while the decoder may hold output it could not return under the limit."""
        # Each drain call either fills the limit again (progress) or clears _full.
        return self._full and not self._obj.is_finished()

    @property
    def finished(self) -> bool:
        """True at the end of the stream."""
        return bool(self._obj.is_finished())


def _gzip_decoder() -> _ZlibDecoder:
    """A gzip decoder that also accepts zlib data mislabelled as gzip (wbits 32+)."""
    return _ZlibDecoder(32 + zlib.MAX_WBITS, multi_member=True)


_DECODERS: dict[str, Callable[[], _Decoder]] = {
    "gzip": _gzip_decoder,
    "x-gzip": _gzip_decoder,  # an alias of gzip (RFC 9110 §8.4.1.3)
    "deflate": _DeflateDecoder,
    "br": _BrotliDecoder,
}


class BodyReader:
    """Decode a response body fed in raw chunks, keeping at most max_bytes of it.

    Both the raw bytes read and the decoded body are bounded by ``max_bytes``; a
    body with more is cut and marked ``truncated`` (not an error). ``gzip``,
    ``x-gzip``, ``deflate`` (zlib or raw) and ``br`` are decoded; unknown codings
    pass through untouched. Stacked codings such as ``gzip, br`` are rare enough
    that they are reported as a ``decoding`` error rather than decoded.
    """

    def __init__(self, max_bytes: int, content_encoding: str | None = None, *,
                 keep_raw: bool = False) -> None:
        self._max_bytes = max_bytes
        self._parts: list[bytes] = []
        # The raw chunks accepted, still content-encoded (for WARC output), when asked.
        self._raw: list[bytes] | None = [] if keep_raw else None
        self._size = 0
        self._raw_size = 0
        self._truncated = False
        self._error: ErrorInfo | None = None
        self._decoder = self._make_decoder(parse_codings(content_encoding))

    def _make_decoder(self, codings: list[str]) -> _Decoder | None:
        """Pick the decoder for the codings, or record why there is none."""
        if len(codings) > 1:
            self._error = ErrorInfo(
                ErrorKind.DECODING, f"stacked content codings not supported: {', '.join(codings)}"
            )
            return None
        factory = _DECODERS.get(codings[0]) if codings else None
        return factory() if factory else None

    @property
    def truncated(self) -> bool:
        """True when the body held more than max_bytes and was cut."""
        return self._truncated

    @property
    def raw_size(self) -> int:
        """How many raw (still encoded) bytes were accepted."""
        return self._raw_size

    @property
    def raw(self) -> bytes:
        """The raw bytes accepted, still content-encoded (empty unless keep_raw)."""
        return b"".join(self._raw or ())

    @property
    def size(self) -> int:
        """How many decoded bytes are kept."""
        return self._size

    @property
    def error(self) -> ErrorInfo | None:
        """A ``decoding`` error when the body was corrupt or ended early."""
        return self._error

    @property
    def done(self) -> bool:
        """True when no more input is wanted: the body was cut or is corrupt."""
        return self._truncated or self._error is not None

    def feed(self, chunk: bytes) -> bool:
        """Take the next raw chunk; return False when reading should stop."""
        if self.done or not chunk:
            return not self.done
        room = self._max_bytes - self._raw_size
        if len(chunk) > room:
            chunk, self._truncated = chunk[:room], True
        self._raw_size += len(chunk)
        if self._raw is not None:
            self._raw.append(chunk)
        if self._decoder is None:
            self._keep(chunk)
        else:
            self._decode(self._decoder, chunk)
        return not self.done

    def _decode(self, decoder: _Decoder, chunk: bytes) -> None:
        """Run the decoder over chunk, stopping as soon as max_bytes is exceeded."""
        try:
            self._keep(decoder.decode(chunk, self._output_limit()))
            # A bounded call may hold output back: drain it before taking more input.
            while decoder.pending and not self.done:
                self._keep(decoder.decode(b"", self._output_limit()))
        except (zlib.error, brotli.error) as exc:
            self._error = ErrorInfo(ErrorKind.DECODING, f"corrupt compressed body: {exc}")

    def _output_limit(self) -> int:
        """Ask for one byte more than fits, which tells a full body from a longer one."""
        return min(self._max_bytes - self._size + 1, _DECODE_STEP)

    def _keep(self, data: bytes) -> None:
        """Append decoded data, cutting it at max_bytes."""
        room = self._max_bytes - self._size
        if len(data) > room:
            data, self._truncated = data[:room], True
        if data:
            self._parts.append(data)
            self._size += len(data)

    def finish(self) -> bytes:
        """Mark the end of the raw stream and return the decoded body (a prefix on error)."""
        decoder = self._decoder
        if decoder and self._raw_size and not self.done and not decoder.finished:
            self._error = ErrorInfo(ErrorKind.DECODING, "compressed body ended before its end marker")
        if len(self._parts) > 1:
            self._parts = [b"".join(self._parts)]
        return self._parts[0] if self._parts else b""


def wrapped_errors(exc: BaseException) -> Iterator[BaseException]:
    """exc and every exception behind it: HTTP clients wrap the error they met as the
    cause, the context or an argument of their own."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        current = todo.pop()
        if not isinstance(current, BaseException) or id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo.extend((current.__cause__, current.__context__, *current.args))


def describe(exc: BaseException) -> str:
    """A one-line message for an exception, even one raised without arguments."""
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class Stopwatch:
    """The wall-clock start of a fetch and a monotonic clock for its duration."""

    def __init__(self) -> None:
        self.started_at = time.time()
        self._start = time.perf_counter()

    def elapsed(self) -> float:
        """Seconds since the start."""
        return time.perf_counter() - self._start

    def remaining(self, budget: float) -> float:
        """Seconds left of a budget counted from the start (negative once overdue)."""
        return budget - self.elapsed()


def make_result(
    url: str,
    watch: Stopwatch,
    *,
    status: int | None = None,
    headers: Mapping[str, str] | None = None,
    reader: BodyReader | None = None,
    error: ErrorInfo | None = None,
    set_cookies: Sequence[str] = (),
    exchange: Exchange | None = None,
) -> FetchResult:
    """Build the result of one fetch; a transport error wins over a decoding one."""
    headers = headers or {}
    body = reader.finish() if reader else b""
    content_type = headers.get("Content-Type")
    return FetchResult(
        url=url,
        status=status,
        content_type=content_type,
        charset=parse_charset(content_type),
        location=headers.get("Location"),
        retry_after=headers.get("Retry-After"),
        body=body,
        size=len(body),
        truncated=reader.truncated if reader else False,
        error=error or (reader.error if reader else None),
        elapsed_ms=watch.elapsed() * 1000,
        fetched_at=watch.started_at,
        set_cookies=tuple(set_cookies),
        exchange=exchange,
    )
