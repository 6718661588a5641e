"""HTML bytes -> links, title and robots directives (pure, picklable entry points).

``parse_page`` is the hot path and runs inside process-pool workers, so it takes
and returns small picklable values and goes straight to lxml's C parser;
``make_soup`` builds the full BeautifulSoup document for user callbacks.  Both
decode with the same choice of encoding, made by the WHATWG HTML order: byte
order mark, then the HTTP charset, then ``<meta>`` in the first bytes, then
sniffing the content.
"""

from __future__ import annotations

import codecs
import ctypes
import re
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote

from lxml import etree

from .models import LinkRefs, ParseResult
from .urls import link_normalizer, normalize_url

if TYPE_CHECKING:
    from bs4 import BeautifulSoup

    from .config import CrawlConfig

# WHATWG HTML 13.2.3.2 checks only UTF-8 and UTF-16 byte order marks.
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
)
# Web labels that Python's codec registry does not know.
_EXTRA_LABELS = {
    "windows-874": "cp874",
    "x-mac-cyrillic": "mac-cyrillic",
    "windows-31j": "cp932",
    "x-sjis": "cp932",
}
# The WHATWG Encoding Standard's encodings, by Python codec name, each mapped to the
# codec browsers really decode it with (a latin-1 label means windows-1252, ...).
# Anything else (rot13, base64, utf-7, idna, EBCDIC ...) is not a web encoding.
_WEB_CODECS = {
    name: name
    for name in (
        "utf-8", "utf-16-le", "utf-16-be", "cp866", "iso8859-2", "iso8859-3", "iso8859-4",
        "iso8859-5", "iso8859-6", "iso8859-7", "iso8859-8", "iso8859-10", "iso8859-13",
        "iso8859-14", "iso8859-15", "iso8859-16", "koi8-r", "koi8-u", "mac-roman", "mac-cyrillic",
        "cp874", "cp1250", "cp1251", "cp1252", "cp1253", "cp1254", "cp1255", "cp1256", "cp1257",
        "cp1258", "gbk", "gb18030", "big5hkscs", "euc_jp", "iso2022_jp", "cp932", "cp949",
    )
} | {
    "utf-16": "utf-16-le", "ascii": "cp1252", "iso8859-1": "cp1252", "iso8859-9": "cp1254",
    "iso8859-11": "cp874", "gb2312": "gbk", "big5": "big5hkscs", "shift_jis": "cp932",
    "euc_kr": "cp949",
}
_META_SCAN_BYTES = 2048
_META_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE)
# charset-normalizer's cost grows with its input; the start of a page tells enough.
_DETECT_BYTES = 64 * 1024

_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})
_LINK_ATTRIBUTES = {"a": "href", "area": "href", "frame": "src", "iframe": "src"}
_SCANNED_TAGS = (*_LINK_ATTRIBUTES, "base", "title", "meta")
# A link check also checks what a page loads: images, scripts, stylesheets, icons ...
_CHECK_ATTRIBUTES = {**_LINK_ATTRIBUTES, "img": "src", "script": "src", "link": "href"}
_CHECK_TAGS = (*_CHECK_ATTRIBUTES, "base", "title", "meta")
# <link> relations whose href names an origin to connect to early, not a resource.
_NOT_A_RESOURCE = frozenset({"preconnect", "dns-prefetch"})
_MAX_TEXT = 200
_MAX_TITLE = 1000
# Links kept per page, in page order (Heritrix keeps 6000): a page of 200,000 query
# variants would otherwise cost seconds of normalising and megabytes per record.
MAX_LINKS = 10_000
# Hrefs read per page: past this many, a page is only making the parser hold memory.
MAX_HREFS = 100_000
# Pages at least this big are read through lxml's event interface, which keeps no tree:
# libxml2's tree of dense markup takes about 20 times the page (200 MB for 10 MB), held
# at once. Smaller pages are parsed into a tree and walked, which is faster (0.34 against
# 0.43 ms for a 50 KB page, scripts/bench_parse.py) and holds 20 MB at most.
STREAM_BYTES = 1024 * 1024
# U+0000 is read as U+FFFD, as libxml2 and WHATWG HTML read it in attribute values, but
# replaced before the parse: libxml2's event interface (which reads big pages) takes 0.4 s a MiB
# over NULs and bs4 1 s a MiB, so a compression bomb's zeros, or a binary file served as
# text/html, held a parse worker for seconds.
_REPLACEMENT_UTF8 = "\ufffd".encode()


def is_html(content_type: str | None) -> bool:
    """Return True for a text/html or application/xhtml+xml Content-Type value."""
    if content_type is None:
        return False
    return content_type.partition(";")[0].strip().lower() in _HTML_TYPES


ParseJob = tuple[bytes, str, "str | None"]


def parse_pages(jobs: list[ParseJob], parse: PageParser | None = None) -> list[ParseResult]:
    """parse (parse_page by default) for a batch of (body, url, encoding hint): one pool round trip for many pages."""
    parse = parse or parse_page
    return [parse(body, url, hint) for body, url, hint in jobs]


def decode_html(body: bytes, encoding_hint: str | None = None) -> tuple[str, str]:
    """Return the page as text and the codec used; undecodable bytes become U+FFFD."""
    encoding, start = _choose_encoding(body, encoding_hint)
    text = body[start:].decode(encoding, "replace")
    return (text.replace("\0", "\ufffd") if "\0" in text else text), encoding


def parse_page(body: bytes, url: str, encoding_hint: str | None = None,
               max_links: int = MAX_LINKS, *, check: bool = False, anchors: bool = False) -> ParseResult:
    """Extract links (the first max_links distinct ones), nofollow links, title and meta robots flags.

    check (a link check) also takes ``<img>``, ``<script>`` and ``<link>`` targets and
    each link's fragment and text (``refs``); anchors also collects the ids and
    ``<a name>`` anchors the page defines, for fragment checks.
    """
    encoding, start = _choose_encoding(body, encoding_hint)
    found = _collect(_utf8(body, encoding, start), check, anchors)
    if found is None:
        result = ParseResult(encoding=encoding, anchors=frozenset() if anchors else None)
    else:
        result = _summarise(found, url, encoding, max_links)
    if len(body) >= STREAM_BYTES:
        del found
        _trim_heap()  # a process that parsed one huge page must not keep its peak for the rest of the crawl
    return result


def parse_for_check(body: bytes, url: str, encoding_hint: str | None = None,
                    max_links: int = MAX_LINKS) -> ParseResult:
    """parse_page for a link check: links of every kind, with fragments and texts."""
    return parse_page(body, url, encoding_hint, max_links, check=True)


def parse_for_anchors(body: bytes, url: str, encoding_hint: str | None = None,
                      max_links: int = MAX_LINKS) -> ParseResult:
    """parse_for_check that also collects the page's anchors, for fragment checks."""
    return parse_page(body, url, encoding_hint, max_links, check=True, anchors=True)


PageParser = Callable[[bytes, str, "str | None"], ParseResult]


def parser_for(config: CrawlConfig) -> PageParser:
    """The parse a crawl with this config needs (a top-level function: it goes to pools)."""
    if not config.check_links:
        return parse_page
    return parse_for_anchors if config.check_fragments else parse_for_check


def make_soup(body: bytes, url: str, encoding_hint: str | None = None) -> BeautifulSoup:
    """Return the full BeautifulSoup document (lxml tree builder) for user callbacks.

    ``url`` is unused; it keeps the signature parallel to :func:`parse_page`.
    """
    from bs4 import BeautifulSoup  # here: pool workers, which never build soups, skip its import

    text, encoding = decode_html(body, encoding_hint)
    soup = BeautifulSoup(text, "lxml")
    soup.original_encoding = encoding  # bs4 sets this only when it decodes bytes itself
    return soup


def _choose_encoding(body: bytes, hint: str | None) -> tuple[str, int]:
    """Return the codec to decode with and the length of the byte order mark to skip."""
    for bom, encoding in _BOMS:
        if body.startswith(bom):
            return encoding, len(bom)
    return (hint and _web_codec(hint)) or _meta_charset(body) or _sniff(body), 0


def _web_codec(label: str) -> str | None:
    """Return the Python codec browsers use for an encoding label, or None if unknown."""
    label = label.strip().lower()
    try:
        name = codecs.lookup(_EXTRA_LABELS.get(label, label)).name
    except (LookupError, ValueError):  # ValueError: a NUL inside the label
        return None
    return _WEB_CODECS.get(name)


def _meta_charset(body: bytes) -> str | None:
    """Return the codec a ``<meta>`` charset declaration near the start names, if any."""
    match = _META_CHARSET.search(body, 0, _META_SCAN_BYTES)
    encoding = _web_codec(match.group(1).decode("ascii")) if match else None
    # WHATWG HTML 13.2.3.2: a UTF-16 meta cannot be right, since it was read as ASCII.
    return "utf-8" if encoding in ("utf-16-le", "utf-16-be") else encoding


def _sniff(body: bytes) -> str:
    """Guess the codec of undeclared content, defaulting to UTF-8."""
    sample = body[:_DETECT_BYTES]
    try:
        # Valid UTF-8 is almost never anything else; final=False allows a cut character.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    import charset_normalizer  # here: most pages declare or are UTF-8, so most processes skip it

    guess = charset_normalizer.from_bytes(sample).best()
    return (guess and _web_codec(guess.encoding)) or "utf-8"


def _utf8(body: bytes, encoding: str, start: int) -> bytes:
    """Return the body as UTF-8, which lxml then parses without a second detection."""
    if encoding == "utf-8":
        data = body[start:] if start else body  # libxml2 replaces invalid sequences itself
    else:
        data = body[start:].decode(encoding, "replace").encode("utf-8", "replace")
    return data.replace(b"\0", _REPLACEMENT_UTF8) if b"\0" in data else data


class _Attributes(Protocol):
    """What the collector reads attributes through: a start tag's dict, or the element."""

    def get(self, key: str, /) -> str | None:
        """The attribute's value, or None."""


class _Collector:
    """Gathers link targets, the base URL, the title and robots tokens from start tags.

    It is fed by the tree walk of :func:`_walk`; :class:`_EventCollector` is the same
    fed by lxml's event interface.
    """

    def __init__(self, check: bool = False) -> None:
        self.hrefs: list[tuple[str, bool]] = []  # (raw URL, rel says nofollow)
        self.base: str | None = None
        self.title: str | None = None
        self.robots: set[str] = set()
        self.check = check
        self.refs: list[tuple[str, str, str]] = []  # a link check's (raw URL, text, tag)
        self.anchors: frozenset[str] | None = None
        self._attributes = _CHECK_ATTRIBUTES if check else _LINK_ATTRIBUTES

    def start(self, tag: str, attrib: _Attributes) -> None:
        """Record one start tag (the lxml parser-target callback)."""
        if tag in self._attributes:
            raw = attrib.get(self._attributes[tag])
            if raw is not None and len(self.hrefs) < MAX_HREFS:
                # rel holds space-separated, ASCII case-insensitive tokens (WHATWG HTML 4.6.7).
                rel = (attrib.get("rel") or "").lower().split()
                if self.check:
                    if tag == "link" and not _NOT_A_RESOURCE.isdisjoint(rel):
                        return
                    self.refs.append((raw, _link_text(tag, attrib), tag))
                self.hrefs.append((raw, "nofollow" in rel))
        elif tag == "meta":
            if (attrib.get("name") or "").strip().lower() == "robots":
                self.robots.update((attrib.get("content") or "").lower().replace(",", " ").split())
        elif tag == "base" and self.base is None:  # WHATWG: the first <base> with an href wins
            self.base = attrib.get("href")



class _EventCollector(_Collector):
    """A _Collector as an lxml parser target: start tags, and the text of the first title."""

    def __init__(self, check: bool = False) -> None:
        super().__init__(check)
        self._title: list[str] | None = None  # the first title's text so far, while inside it

    def start(self, tag: str, attrib: _Attributes) -> None:
        """Record one start tag; a first <title> starts gathering text."""
        if tag == "title" and self.title is None:
            self._title = []
        else:
            super().start(tag, attrib)

    def data(self, text: str) -> None:
        """Keep text inside the first title (lxml calls this for every text node)."""
        if self._title is not None:
            self._title.append(text)

    def end(self, tag: str) -> None:
        """Close the first title."""
        if tag == "title" and self._title is not None:
            self.title, self._title = "".join(self._title), None

    def close(self) -> _Collector:
        """Finish the parse, whose result is then the collector itself."""
        return self


def _link_text(tag: str, attrib: _Attributes) -> str:
    """What a reader sees of a link: its text (or title); an image's or area's alt text."""
    if tag == "a" and isinstance(attrib, etree._Element):  # an element of the tree, not a bare start tag
        return _anchor_text(attrib)
    text = (attrib.get("alt") or "") if tag in ("img", "area") else ""
    text = " ".join(text.split()) or " ".join((attrib.get("title") or "").split())
    return text[:_MAX_TEXT]


def _anchor_text(element: etree._Element) -> str:
    """An <a> element's text, whitespace collapsed (its title when it has none)."""
    # Most links hold only text: its .text, without walking a subtree.
    text = "".join(element.itertext()) if len(element) else element.text
    text = " ".join(text.split()) if text else ""
    return (text or " ".join((element.get("title") or "").split()))[:_MAX_TEXT]


def _walk(root: etree._Element, check: bool = False) -> _Collector:
    """Feed the tree's relevant elements to a collector in document order."""
    if check:
        return _walk_for_check(root)
    found = _Collector()
    for element in root.iter(*_SCANNED_TAGS):
        if element.tag == "title":
            if found.title is None:
                found.title = "".join(element.itertext())
        else:
            # An element's own .get skips building its .attrib proxy.
            found.start(element.tag, element)
    return found


def _walk_for_check(root: etree._Element) -> _Collector:
    """_walk for a link check, reading <a> elements here rather than through start().

    They are most of a page's links, and the check reads each one's text too: done
    inline, a demo page's walk costs ~15 us less (of ~115).
    """
    found = _Collector(check=True)
    for element in root.iter(*_CHECK_TAGS):
        tag = element.tag
        if tag == "a":
            raw = element.get("href")
            if raw is not None and len(found.hrefs) < MAX_HREFS:
                rel = element.get("rel")
                # rel holds space-separated, ASCII case-insensitive tokens (WHATWG HTML 4.6.7).
                found.hrefs.append((raw, rel is not None and "nofollow" in rel.lower().split()))
                found.refs.append((raw, _anchor_text(element), "a"))
        elif tag == "title":
            if found.title is None:
                found.title = "".join(element.itertext())
        else:
            found.start(tag, element)
    return found


class _Parsers(threading.local):
    """One lxml HTML parser per thread: a parser is not thread-safe, and making one
    costs about a fifth of parsing a 45 KB page."""

    def __init__(self) -> None:
        # huge_tree raises libxml2's nesting limit from 256 to 2048 levels, which sloppy
        # real pages can exceed.
        self.tree = etree.HTMLParser(encoding="utf-8", huge_tree=True, collect_ids=False)


_parsers = _Parsers()


def _collect(data: bytes, check: bool = False, anchors: bool = False) -> _Collector | None:
    """Parse UTF-8 HTML and collect what the page links to; None for an empty document."""
    if len(data) >= STREAM_BYTES:
        return _stream(data, check)
    parser = _parsers.tree
    root = etree.fromstring(data, parser)
    if root is None:  # an empty document, or one holding only comments
        return None
    found = _walk(root, check)
    if anchors:
        # What a fragment can name (WHATWG HTML 7.4.6.3): any element's id, an <a>'s name.
        found.anchors = frozenset(str(value) for value in root.xpath("//@id | //a/@name"))
    if parser.error_log.filter_from_fatals():  # the log of this parser's last run
        # libxml2 gave up building the tree part-way (past 2048 levels of nesting, say).
        # Its event interface keeps no tree and so has no such limit: read the page through
        # it, keeping the anchors the tree found.
        deep = _stream(data, check)
        deep.anchors = found.anchors
        return deep
    return found


def _stream(data: bytes, check: bool = False) -> _Collector:
    """Collect what UTF-8 HTML links to through lxml's event interface, holding no tree.

    (A page read so, 1 MiB or more, has no anchors collected: its fragments are not judged.)
    """
    events = etree.HTMLParser(target=_EventCollector(check), encoding="utf-8", huge_tree=True)
    found: _Collector = etree.fromstring(data, events)
    return found


def _heap_trimmer() -> Callable[[], object]:
    """glibc's malloc_trim(0), or nothing where the C library has none (musl, macOS)."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return lambda: None
    return lambda: trim(0)


# glibc keeps freed memory in its heap for reuse, and cannot shrink a heap below its top
# allocation: without this, RSS stays at the largest page's peak.
_trim_heap = _heap_trimmer()


def _summarise(found: _Collector, url: str, encoding: str, max_links: int) -> ParseResult:
    """Resolve what the walk found into the page's ParseResult."""
    # WHATWG: a <base href> that does not parse leaves the page URL as the base.
    base = (normalize_url(found.base, url) if found.base is not None else None) or url
    canonical: dict[str, str | None] = {}  # raw href -> canonical URL, shared so refs resolve each once
    links, nofollow = _resolve_links(found.hrefs, base, max_links, canonical)
    meta_nofollow = not found.robots.isdisjoint(("nofollow", "none"))
    return ParseResult(
        links=links,
        nofollow=frozenset(links) if meta_nofollow else nofollow,
        title=_clean_title(found.title),
        meta_nofollow=meta_nofollow,
        meta_noindex=not found.robots.isdisjoint(("noindex", "none")),
        encoding=encoding,
        refs=_resolve_refs(found.refs, base, max_links, canonical) if found.check else None,
        anchors=found.anchors,
    )


def _resolve_refs(refs: list[tuple[str, str, str]], base: str, max_links: int,
                  canonical: dict[str, str | None]) -> LinkRefs:
    """Each distinct (target, fragment, text, tag) of the page's links, in page order.

    canonical holds the hrefs _resolve_links already normalised (most of them).
    """
    normalize = link_normalizer(base)
    resolved: dict[tuple[str, str, str, str], None] = {}
    for raw, text, tag in refs:
        url = canonical[raw] if raw in canonical else normalize(raw)
        if url is None:
            continue
        fragment = unquote(raw.partition("#")[2]) if "#" in raw else ""
        resolved[(url, fragment, text, tag)] = None
        if len(resolved) >= max_links:
            break
    return LinkRefs(*zip(*resolved, strict=True)) if resolved else LinkRefs()


def _clean_title(title: str | None) -> str | None:
    """Collapse whitespace and bound the length; a blank title counts as none."""
    return " ".join((title or "").split())[:_MAX_TITLE] or None


def _resolve_links(
    hrefs: list[tuple[str, bool]], base: str, max_links: int, canonical: dict[str, str | None]
) -> tuple[tuple[str, ...], frozenset[str]]:
    """Return the first max_links distinct canonical links in page order, and those only ever nofollow.

    canonical (empty on entry) is filled with each href normalised: pages repeat hrefs.
    """
    normalize = link_normalizer(base)
    ordered: dict[str, None] = {}
    followed: set[str] = set()
    unfollowed: set[str] = set()
    for raw, nofollow in hrefs:
        if raw not in canonical:
            if len(ordered) >= max_links:
                continue  # full: later hrefs only still count for the nofollow of kept links
            canonical[raw] = normalize(raw)
        link = canonical[raw]
        if link is not None:
            ordered[link] = None
            (unfollowed if nofollow else followed).add(link)
    return tuple(ordered), frozenset(unfollowed - followed)


__all__ = [
    "PageParser", "ParseJob", "decode_html", "is_html", "make_soup", "parse_for_anchors",
    "parse_for_check", "parse_page", "parse_pages", "parser_for",
]
