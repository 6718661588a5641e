"""Small immutable records that flow between the crawl core and its drivers.

Everything here is picklable and cheap to copy, because requests and results
cross thread and process boundaries in the threaded and process modes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any, Literal, NamedTuple

# "head" and "check" are link checks (crawler check): a target outside the crawl asked about
# with HEAD, or with GET when HEAD was refused or its anchors are wanted; never crawled.
RequestKind = Literal["page", "robots", "sitemap", "head", "check"]
# HTTP statuses that send the client elsewhere (RFC 9110 15.4); 304 and 300 do not.
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True, slots=True)
class ErrorInfo:
    """Why a fetch or a page failed: a short machine-readable kind and a message."""

    kind: str
    message: str

    def to_dict(self) -> dict[str, str]:
        """Return the JSON form used in records."""
        return {"kind": self.kind, "message": self.message}


@dataclass(frozen=True, slots=True)
class CrawlRequest:
    """One URL to fetch, with what the core needs to judge the answer."""

    url: str
    depth: int = 0
    referrer: str | None = None
    kind: RequestKind = "page"
    # The URL first asked for when this request is a redirect target.
    requested_url: str | None = None
    # URLs already passed through on the way here, oldest first.
    redirects: tuple[str, ...] = ()
    retries: int = 0
    # The cookie jar's Cookie value for url, set by the core as it hands the request out (cookie_jar).
    cookie: str | None = None

    @property
    def origin_url(self) -> str:
        """The URL the user or a link asked for, before any redirect."""
        return self.requested_url or self.url

    @property
    def method(self) -> str:
        """The HTTP method to send: HEAD for a link check that needs no body, else GET."""
        return "HEAD" if self.kind == "head" else "GET"


@dataclass(frozen=True, slots=True)
class Exchange:
    """One HTTP exchange as it went over the wire, kept only for WARC output.

    ``headers`` are the response's header fields as received (bytes read as
    Latin-1, in order, duplicates kept) without ``Transfer-Encoding``, since
    ``body`` is the body with its transfer coding removed but its content
    coding (gzip, br ...) kept. ``truncated`` is a WARC-Truncated reason
    (``length``, ``time``, ``disconnect``, ``unspecified``) when the body is
    not all the server meant to send.
    """

    url: str
    request_head: bytes
    status_line: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    ip: str | None
    fetched_at: float
    truncated: str | None = None


@dataclass(frozen=True, slots=True)
class FetchResult:
    """What a fetcher saw for one request; redirects are never followed by fetchers."""

    url: str
    status: int | None = None
    content_type: str | None = None
    charset: str | None = None
    location: str | None = None
    retry_after: str | None = None
    body: bytes = b""
    size: int = 0
    truncated: bool = False
    error: ErrorInfo | None = None
    elapsed_ms: float = 0.0
    fetched_at: float = 0.0
    # The response's Set-Cookie headers, kept only for the cookie jar (cookie_jar).
    set_cookies: tuple[str, ...] = ()
    # The exchange as received, when the crawl keeps them (config.capture).
    exchange: Exchange | None = None


@dataclass(frozen=True, slots=True)
class HookOutput:
    """What a page hook gave for one page: its items and URLs to follow, or why it gave nothing."""

    items: tuple[Any, ...] = ()
    follows: tuple[str, ...] = ()
    error: ErrorInfo | None = None


class LinkRefs(NamedTuple):
    """A page's links as a link check reports them, in columns: link i is urls[i], with its
    fragments[i], texts[i] and tags[i] (its element: a, img ...); each distinct link once, in page order."""

    # Columns, not a tuple a link: a check's parse results bring ~50 links a page from the
    # parse workers, and each tuple unpickled in the crawling process is one more object for
    # its garbage collector, which so collected the whole heap twice as often as in a crawl.

    urls: tuple[str, ...] = ()
    fragments: tuple[str, ...] = ()
    texts: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    def rows(self) -> Iterator[tuple[str, str, str, str]]:
        """Each link as (url, fragment, text, tag)."""
        return zip(self.urls, self.fragments, self.texts, self.tags, strict=True)


@dataclass(frozen=True, slots=True)
class ParseResult:
    """The small picklable summary of an HTML page that the core needs."""

    links: tuple[str, ...] = ()
    # Links that should not be followed: rel=nofollow, or all of them under meta nofollow.
    nofollow: frozenset[str] = frozenset()
    title: str | None = None
    meta_nofollow: bool = False
    meta_noindex: bool = False
    encoding: str | None = None
    # The page hook's output, when a hook ran where the page was parsed.
    hook: HookOutput | None = None
    # A link check's parse only (see parsing.parse_page's check): every link with its
    # fragment and text, and the ids and anchor names the page defines.
    refs: LinkRefs | None = None
    anchors: frozenset[str] | None = None
    # Why the page has no parse (its parse worker died on it), or None.
    error: ErrorInfo | None = None


@dataclass(frozen=True, slots=True)
class PageRecord:
    """One line of output: everything known about one fetched URL."""

    url: str
    requested_url: str
    status: int | None
    depth: int
    referrer: str | None
    content_type: str | None
    size: int
    title: str | None
    links: list[str]
    redirects: list[str]
    retries: int
    elapsed_ms: float
    fetched_at: str
    error: ErrorInfo | None = None
    items: list[Any] = field(default_factory=list)
    # Link checks only (crawler check): the page's links with fragments and texts, and the
    # anchors it defines (None when not collected). Written only when the page has links.
    refs: LinkRefs | None = None
    anchors: frozenset[str] | None = None
    # With config.capture: every exchange this record stands for (retried attempts, the
    # redirects passed through, the final answer) and any robots.txt or sitemap fetched
    # since the previous record. Not part of the JSON output.
    exchanges: tuple[Exchange, ...] = field(default=(), compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        """Return the record as plain JSON-ready data."""
        # Built by hand: dataclasses.asdict deep-copies every list, a measurable cost per page.
        data = {name: getattr(self, name) for name in _RECORD_FIELDS}
        data["error"] = self.error.to_dict() if self.error else None
        if self.items:
            data["items"] = self.items
        if self.refs and self.refs.urls:
            data["refs"] = list(self.refs)  # [urls, fragments, texts, tags], the columns
        if self.anchors is not None:
            data["anchors"] = sorted(self.anchors)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PageRecord:
        """Rebuild a record from its to_dict() form."""
        error, refs, anchors = data.get("error"), data.get("refs"), data.get("anchors")
        return cls(**{**data, "error": ErrorInfo(**error) if error else None,
                      "refs": None if refs is None else LinkRefs(*map(tuple, refs)),
                      "anchors": None if anchors is None else frozenset(anchors)})

    @property
    def ok(self) -> bool:
        """True when the page was fetched without an error."""
        return self.error is None


@dataclass(slots=True)
class RecordTally:
    """Counts over records: written once, kept by the core live and by a durable store for resumes."""

    pages: int = 0
    ok: int = 0
    errors: int = 0
    bytes: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    error_kinds: Counter[str] = field(default_factory=Counter)

    def add(self, record: PageRecord) -> None:
        """Count one more record."""
        self.pages += 1
        self.bytes += record.size
        if record.status is not None:
            self.statuses[record.status] += 1
        if record.error is None:
            self.ok += 1
        else:
            self.errors += 1
            self.error_kinds[record.error.kind] += 1

    def to_dict(self) -> dict[str, Any]:
        """The counts as JSON-ready data (fresh counters, not live ones)."""
        return {"pages": self.pages, "ok": self.ok, "errors": self.errors, "bytes": self.bytes,
                "statuses": Counter(self.statuses), "error_kinds": Counter(self.error_kinds)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecordTally:
        """The tally saved as to_dict() (JSON turns status keys into strings; they come back)."""
        statuses = Counter({int(status): n for status, n in data.get("statuses", {}).items()})
        return cls(data.get("pages", 0), data.get("ok", 0), data.get("errors", 0), data.get("bytes", 0),
                   statuses, Counter(data.get("error_kinds", {})))


_RECORD_FIELDS = tuple(f.name for f in fields(PageRecord) if f.name not in ("items", "exchanges", "refs", "anchors"))
