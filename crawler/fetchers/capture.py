"""What WARC output keeps of an exchange: the request sent and the response as received (pure).

Both fetchers hand over what their client saw — header fields in the order and
spelling they arrived, the raw body the :class:`~crawler.fetchers.body.BodyReader`
accepted — and get back an :class:`~crawler.models.Exchange`. The body keeps its
content coding (gzip, br) so digests and replay match what the server sent, and
loses its transfer coding (chunked framing is gone once the client has read it),
so ``Transfer-Encoding`` is dropped from the kept headers: replay tools would
otherwise try to de-chunk a body that is not chunked (pywb #584), and the payload
digest is then the entity's, as WARC 1.1 §6.3 and warc-specifications #22 want.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

from ..errors import ErrorKind
from ..models import ErrorInfo, Exchange
from .body import BodyReader, Stopwatch

# Request headers that carry credentials (--auth, --cookie, -H, a proxy's): their values stay
# out of the WARC files, as they stay out of the state database.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
REDACTED = "[redacted]"
# Reasons for WARC-Truncated (WARC 1.1 §5.13) by the error that ended the body.
_TRUNCATED_BY_ERROR: dict[str, str] = {ErrorKind.TIMEOUT: "time", ErrorKind.CONNECTION: "disconnect"}


def request_head(url: str, headers: Iterable[tuple[str, str]]) -> bytes:
    """The request line and header fields of a GET of url, as sent over HTTP/1.1, secrets hidden."""
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    lines = [f"GET {target} HTTP/1.1", *(f"{name}: {_shown(name, value)}" for name, value in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")


def _shown(name: str, value: str) -> str:
    """A header value as a WARC request record keeps it: credentials are not written anywhere."""
    return REDACTED if name.lower() in _SECRET_HEADERS else value


def capture(url: str, sent: bytes, status_line: str, headers: Iterable[tuple[str, str]],
            reader: BodyReader, ip: str | None, watch: Stopwatch,
            error: ErrorInfo | None) -> Exchange:
    """The exchange of a response whose headers arrived, with the body read so far."""
    kept = tuple((name, value) for name, value in headers
                 if name.lower() != "transfer-encoding")
    return Exchange(url=url, request_head=sent, status_line=status_line, headers=kept,
                    body=reader.raw, ip=ip, fetched_at=watch.started_at,
                    truncated=_truncated(reader, error))


def _truncated(reader: BodyReader, error: ErrorInfo | None) -> str | None:
    """Why the kept body is not the whole body, as a WARC-Truncated value, or None."""
    if reader.truncated:
        return "length"
    if error is not None:
        return _TRUNCATED_BY_ERROR.get(error.kind, "unspecified")
    if reader.error is not None:
        return "unspecified"  # reading stopped at the corrupt part
    return None
