"""The I/O layer: fetch one URL, report what came back, decide nothing.

:class:`AsyncFetcher` (aiohttp) serves the async mode; :class:`BlockingFetcher`
(urllib3) serves the sync, threaded and process modes. Both make exactly one
request per ``fetch`` (``request.method``: GET, or HEAD for a link check) — redirects
are returned, not followed, because the crawl core decides about them — and
neither raises for network or server
trouble: every failure is a :class:`~crawler.models.FetchResult` whose
``error`` is an :class:`~crawler.models.ErrorInfo` of one of these kinds:

``timeout``
    the connect deadline (``connect_timeout``) or the total deadline of the
    whole fetch, body included (``timeout``), passed.
``connection``
    refused, reset, DNS failure, the server closed before the body declared by
    Content-Length or chunked framing was complete, or broke the HTTP protocol.
    The body received so far is kept.
``invalid_url``
    not an absolute http(s) URL with a valid host and port; nothing was sent.
``tls``
    the server's certificate did not verify (untrusted, expired, for another
    host); nothing was sent (see :mod:`.tls`). Other TLS failures, such as a
    handshake cut short, are ``connection`` errors.
``decoding``
    a gzip/deflate/br body that is corrupt or ends before its end marker, or
    stacked codings (``gzip, br``); the decoded prefix is kept.
``blocked_address``
    the crawl follows links to other hosts, private addresses are not allowed,
    and this host (not a seed's) is or resolves to a private, loopback,
    link-local or metadata address; nothing was sent (see :mod:`.guard`).

A body longer than ``max_body_bytes`` (raw or decoded) is not an error: it is
cut, ``truncated`` is set, and the connection is closed rather than drained.
Status codes are data, not errors: a 404 or 503 has ``error=None``.

Neither keeps cookies nor decides about credentials: each request's headers
and proxy come from :class:`crawler.outbound.Outbound` for its own URL, and the
cookie jar, when asked for, is the core's (``CrawlRequest.cookie`` in,
``FetchResult.set_cookies`` out). Since redirects are new requests made by the
core, nothing meant for one host can follow a redirect to another.
"""

from .aio import AsyncFetcher
from .blocking import BlockingFetcher
from .body import BodyReader

__all__ = ["AsyncFetcher", "BlockingFetcher", "BodyReader"]
