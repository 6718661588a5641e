"""A synthetic, deterministic website for demos, tests and benchmarks.

The site is a pure function of a :class:`DemoSpec`: ``/`` and ``/page/1`` ..
``/page/{pages-1}`` are realistic HTML pages whose links exercise a crawler
(fragments, duplicates, relative forms, external hosts, robots-disallowed
paths, ``mailto:``/``javascript:``, ``rel="nofollow"``, anchors without
``href``). Page ``i`` always links to pages ``2i+1`` and ``2i+2``, so every
page is reachable from ``/`` within about log2(pages) clicks.

Serving must stay far cheaper than crawling, so every body is rendered once
when the site is built, each request is a dict lookup, and a minimal HTTP/1.1
protocol (:mod:`crawler.demo.server`) answers instead of a web framework. Run it in-process
with :class:`DemoSite`, in a child process with :class:`DemoSiteProcess`
(keeps the server off the crawler's GIL), or from a shell with
``python -m crawler.demo.site``.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import contextlib
import dataclasses
import http.client
import itertools
import json
import math
import os
import queue
import random
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from types import TracebackType
from typing import IO, Any, NamedTuple, Self
from urllib.parse import urlsplit

from .server import Answer, Handler, HttpConnection, error_answer

STATS_PATH = "/__stats__"
ROBOTS_TXT = "User-agent: *\nDisallow: /search\nDisallow: /private/\n"

# Upper bounds, with a margin, on what one link adds to a page (its tag, href,
# text and the words or list markup around it: at most about 180 bytes) and on
# the markup every page has (head, nav, headings, footer: about 1400 bytes).
# DemoSpec checks that max_links links fit in max_kb, so no page outgrows it.
_LINK_BYTES = 200
_BASE_BYTES = 2048


@dataclass(frozen=True, slots=True)
class DemoSpec:
    """The shape of a demo site; the same spec always yields the same bytes."""

    pages: int = field(default=200, metadata={"help": "number of HTML pages"})
    latency_ms: float = field(default=0.0, metadata={"help": "delay before each response"})
    seed: int = field(default=1, metadata={"help": "random seed for the content"})
    min_kb: int = field(default=30, metadata={"help": "smallest page size in KiB"})
    max_kb: int = field(default=60, metadata={"help": "largest page size in KiB"})
    min_links: int = field(default=40, metadata={"help": "fewest <a> tags per page"})
    max_links: int = field(default=80, metadata={"help": "most <a> tags per page"})

    def __post_init__(self) -> None:
        problems = _spec_problems(self)
        if problems:
            raise ValueError("bad demo site spec: " + "; ".join(problems))


def _spec_problems(spec: DemoSpec) -> list[str]:
    """Say what is wrong with a spec, if anything."""
    problems = []
    if spec.pages < 1:
        problems.append(f"pages must be at least 1, not {spec.pages}")
    if not 0 <= spec.latency_ms < math.inf:  # nan fails this too
        problems.append(f"latency_ms must be a number, 0 or more, not {spec.latency_ms}")
    if not 1 <= spec.min_kb <= spec.max_kb:
        problems.append(f"need 1 <= min_kb <= max_kb, not {spec.min_kb} and {spec.max_kb}")
    # Three links are always there: home and the two tree children.
    if not 3 <= spec.min_links <= spec.max_links:
        problems.append(
            f"need 3 <= min_links <= max_links, not {spec.min_links} and {spec.max_links}"
        )
    if _BASE_BYTES + spec.max_links * _LINK_BYTES > spec.max_kb * 1024:
        fit = max((spec.max_kb * 1024 - _BASE_BYTES) // _LINK_BYTES, 0)
        problems.append(
            f"{spec.max_links} links do not fit in {spec.max_kb} KiB pages (at most {fit})"
        )
    return problems


# --------------------------------------------------------------------------
# Content generation (pure)

_SYLLABLES = (
    "ka", "lo", "ri", "men", "tas", "vor", "qui", "del", "par", "sen", "tor", "mi", "na",
    "bel", "cor", "dan", "fis", "gal", "hen", "jur", "lum", "nox", "pel", "ros", "sil",
    "tum", "ver", "zan", "ab", "el", "os", "un",
)
# Headings and titles use these so pages are real UTF-8, not just ASCII.
_UNICODE_WORDS = (
    "café", "naïve", "Zürich", "façade", "smørrebrød", "Ångström", "résumé", "jalapeño",
)
_EXTERNAL_URLS = (
    "https://example.com/{word}/{n}",
    "https://www.wikipedia.org/wiki/{title}",
    "https://example.org/articles/{word}.html",
    "http://example.net/?ref={word}",
    "https://www.example.com/{word}#top",
)


@dataclass(frozen=True, slots=True)
class _Corpus:
    """The text every page of one site is cut from, drawn once from the seed.

    Drawing each word of a 300 KiB page would make big sites slow to build, so
    pages take phrases from a pool and their bulk as runs of pre-rendered blocks.
    """

    words: tuple[str, ...]
    phrases: tuple[str, ...]
    sentences: tuple[str, ...]
    prose: str  # every sentence, space-separated
    starts: tuple[int, ...]  # where each sentence starts in prose
    blocks: str = ""  # paragraphs, tables and lists, back to back
    offsets: tuple[int, ...] = (0,)  # where each block starts in blocks, then len(blocks)

    @classmethod
    def build(cls, seed: int) -> _Corpus:
        """Draw the vocabulary, phrases, sentences and content blocks from the seed."""
        rng = random.Random(f"corpus/{seed}")
        # A set's order varies between runs (string hashing is salted): sort it.
        words = tuple(sorted({_word(rng) for _ in range(600)}))
        phrases = tuple(_phrase(rng, words) for _ in range(1000))
        sentences = tuple(_sentence(rng, words) for _ in range(800))
        starts = tuple(itertools.accumulate((len(s) + 1 for s in sentences[:-1]), initial=0))
        corpus = cls(words, phrases, sentences, " ".join(sentences) + " ", starts)
        blocks = [corpus.content_block(rng) for _ in range(_POOL_BLOCKS)]
        offsets = tuple(itertools.accumulate(map(len, blocks), initial=0))
        return dataclasses.replace(corpus, blocks="".join(blocks), offsets=offsets)

    def phrase(self, rng: random.Random) -> str:
        """A capitalised phrase of one to four words."""
        return rng.choice(self.phrases)

    def text(self, rng: random.Random, nbytes: int) -> str:
        """Exactly nbytes of ASCII prose, starting at a random sentence."""
        start = rng.choice(self.starts)
        text = self.prose[start:start + nbytes]
        while len(text) < nbytes:  # ran off the end: wrap around
            text += self.prose[:nbytes - len(text)]
        return text

    def content_block(self, rng: random.Random) -> str:
        """A paragraph, or now and then a table or a list."""
        roll = rng.random()
        if roll < 0.08:
            return _table(rng, self.words)
        if roll < 0.16:
            return _text_list(rng, self.sentences)
        return f"<p>{self.text(rng, rng.randint(200, 1200))}</p>\n"

    def fill(self, rng: random.Random, nbytes: int) -> str:
        """Exactly nbytes of ASCII: a run of pooled blocks, then a paragraph cut to fit."""
        parts, left = [], nbytes
        index = rng.randrange(len(self.offsets) - 1)
        while True:
            start = self.offsets[index]
            # The furthest block boundary that leaves room for the closing paragraph.
            stop = bisect.bisect_right(self.offsets, start + left - _TAIL_BYTES) - 1
            if stop <= index:
                break
            parts.append(self.blocks[start:self.offsets[stop]])
            left -= self.offsets[stop] - start
            index = stop % (len(self.offsets) - 1)  # past the last block: wrap to the first
        # "<p>" and "</p>\n" take 8 of the bytes left; a sliver is padded with newlines.
        parts.append(f"<p>{self.text(rng, left - 8)}</p>\n" if left >= _TAIL_BYTES else "\n" * left)
        return "".join(parts)


# How many content blocks (about 750 bytes each) a site's pages are cut from,
# and the smallest closing paragraph, tags included.
_POOL_BLOCKS = 1024
_TAIL_BYTES = 40


def _word(rng: random.Random) -> str:
    """A pronounceable lower-case pseudo-word of one to three syllables."""
    return "".join(rng.choices(_SYLLABLES, k=rng.randint(1, 3)))


def _phrase(rng: random.Random, words: Sequence[str]) -> str:
    """A capitalised run of one to four words."""
    return " ".join(rng.choices(words, k=rng.randint(1, 4))).capitalize()


def _sentence(rng: random.Random, words: Sequence[str]) -> str:
    """A capitalised sentence of 4-16 words ending in a full stop."""
    return " ".join(rng.choices(words, k=rng.randint(4, 16))).capitalize() + "."


def _table(rng: random.Random, words: Sequence[str]) -> str:
    """A small data table with a header row."""
    columns = rng.randint(3, 5)
    head = "".join(f"<th>{rng.choice(words).capitalize()}</th>" for _ in range(columns))
    rows = "".join(
        "<tr>" + "".join(f"<td>{_cell(rng, words)}</td>" for _ in range(columns)) + "</tr>\n"
        for _ in range(rng.randint(3, 8))
    )
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{rows}</tbody>\n</table>\n"


def _cell(rng: random.Random, words: Sequence[str]) -> str:
    """A table cell: a word, a count or a percentage."""
    roll = rng.random()
    if roll < 0.4:
        return rng.choice(words)
    return str(rng.randint(1, 99999)) if roll < 0.7 else f"{rng.random() * 100:.1f}%"


def _text_list(rng: random.Random, sentences: Sequence[str]) -> str:
    """A bulleted list of sentences."""
    items = "".join(f"<li>{rng.choice(sentences)}</li>\n" for _ in range(rng.randint(3, 7)))
    return f"<ul>\n{items}</ul>\n"


class _Link(NamedTuple):
    """One <a> tag: href None means an anchor without href."""

    href: str | None
    text: str
    nofollow: bool = False


def page_path(index: int) -> str:
    """The path of page ``index``: ``/`` for page 0, else ``/page/{index}``."""
    return f"/page/{index}" if index else "/"


def generate_pages(spec: DemoSpec) -> dict[str, bytes]:
    """Render every HTML page of the site, keyed by path (``/``, ``/page/1`` ...)."""
    corpus = _Corpus.build(spec.seed)
    return {page_path(i): _render_page(spec, corpus, i) for i in range(spec.pages)}


def expected_urls(spec: DemoSpec, base_url: str) -> set[str]:
    """The URLs a same-host, robots-respecting crawler with no limits fetches.

    Every page is reachable through followable links (the tree links from
    page i to 2i+1 and 2i+2 guarantee it), so this is simply all pages.
    """
    base = base_url.rstrip("/")
    return {base + page_path(i) for i in range(spec.pages)}


def _render_page(spec: DemoSpec, corpus: _Corpus, index: int) -> bytes:
    """Render one page to exactly its drawn size (or its bare markup, if larger)."""
    rng = random.Random(f"page/{spec.seed}/{index}")
    target = rng.randint(spec.min_kb * 1024, spec.max_kb * 1024)
    nav = _tree_links(spec, index)
    count = rng.randint(spec.min_links, spec.max_links) - len(nav)
    links = _random_links(rng, corpus, index, spec.pages, count)
    title = f"{corpus.phrase(rng)} {rng.choice(_UNICODE_WORDS)} — page {index}"
    parts = _head(title, rng.choice(corpus.sentences)) + _nav(nav)
    parts.append(f"<main>\n<h1>{title}</h1>\n")
    slots = _sections(rng, corpus, links, parts)
    parts.append(f"</main>\n<footer><p>Demo site · page {index} of {spec.pages}</p></footer>\n")
    parts.append("</body>\n</html>\n")
    spare = target - len("".join(parts).encode())
    for slot, share in zip(slots, _shares(spare, len(slots)), strict=True):
        parts[slot] = corpus.fill(rng, share)
    return "".join(parts).encode()


def _head(title: str, description: str) -> list[str]:
    """The doctype and <head> of a page."""
    return [
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n',
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n',
        f'<meta name="description" content="{description}">\n',
        f"<title>{title}</title>\n</head>\n<body>\n",
    ]


def _nav(links: list[_Link]) -> list[str]:
    """The site navigation bar."""
    items = "".join(f"<li>{_anchor(link)}</li>\n" for link in links)
    return [f"<header>\n<nav>\n<ul>\n{items}</ul>\n</nav>\n</header>\n"]


def _sections(
    rng: random.Random, corpus: _Corpus, links: list[_Link], parts: list[str]
) -> list[int]:
    """Append sections holding the links to parts; return where their filler goes."""
    sections: list[list[str]] = [[] for _ in range(rng.randint(3, 8))]
    for block in _link_blocks(rng, corpus, links):
        rng.choice(sections).append(block)
    slots = []
    for number, blocks in enumerate(sections, start=1):
        parts.append(f'<section id="sec{number}">\n<h2>{corpus.phrase(rng)}</h2>\n')
        slots.append(len(parts))
        parts.append("")  # filled once the page's spare bytes are known
        parts.extend(blocks)
        parts.append("</section>\n")
    return slots


def _link_blocks(rng: random.Random, corpus: _Corpus, links: list[_Link]) -> list[str]:
    """Group links into link lists and paragraphs with links in the prose."""
    blocks, start = [], 0
    while start < len(links):
        group = links[start:start + rng.randint(1, 6)]
        start += len(group)
        if rng.random() < 0.5:
            items = "".join(f"<li>{_anchor(link)}</li>\n" for link in group)
            blocks.append(f'<ul class="links">\n{items}</ul>\n')
        else:
            prose = ", ".join(f"{corpus.phrase(rng)} {_anchor(link)}" for link in group)
            blocks.append(f"<p>{prose}.</p>\n")
    return blocks


def _anchor(link: _Link) -> str:
    """Render a link; every string in it comes from our own ASCII alphabet, so no escaping."""
    if link.href is None:
        return f'<a class="placeholder">{link.text}</a>'
    rel = ' rel="nofollow"' if link.nofollow else ""
    return f'<a href="{link.href}"{rel}>{link.text}</a>'


def _shares(total: int, count: int) -> list[int]:
    """Split total (clamped at 0) into count near-equal parts."""
    total = max(total, 0)
    return [total // count + (1 if i < total % count else 0) for i in range(count)]


# --------------------------------------------------------------------------
# Links


def _tree_links(spec: DemoSpec, index: int) -> list[_Link]:
    """Home plus the two tree children, which make every page reachable from /."""
    children = [c for c in (2 * index + 1, 2 * index + 2) if c < spec.pages]
    return [_Link("/", "Home")] + [_Link(page_path(c), f"Page {c}") for c in children]


def _random_links(
    rng: random.Random, corpus: _Corpus, index: int, pages: int, count: int
) -> list[_Link]:
    """The rest of a page's links: a weighted mix of every kind a crawler meets."""
    links: list[_Link] = []
    for kind in rng.choices(_KIND_NAMES, _KIND_WEIGHTS, k=count):
        if kind == "duplicate" and links:
            links.append(rng.choice(links))
        else:
            links.append(_KINDS[kind][1](rng, corpus, index, pages))
    return links


_LinkMaker = Callable[[random.Random, _Corpus, int, int], _Link]


def _page_link(rng: random.Random, corpus: _Corpus, source: int, pages: int) -> _Link:
    """An absolute-path link to a random page."""
    return _Link(page_path(rng.randrange(pages)), corpus.phrase(rng))


def _fragment_link(rng: random.Random, corpus: _Corpus, source: int, pages: int) -> _Link:
    """A link to a section of a random page; every page has sections 1-3."""
    href = f"{page_path(rng.randrange(pages))}#sec{rng.randint(1, 3)}"
    return _Link(href, corpus.phrase(rng))


def _relative_link(rng: random.Random, corpus: _Corpus, source: int, pages: int) -> _Link:
    """A relative link that resolves to a random page from this page's directory."""
    target = rng.randrange(pages)
    if source == 0:  # base directory is /
        href = rng.choice(("page/{t}", "./page/{t}")) if target else "./"
    else:  # base directory is /page/
        href = rng.choice(("../page/{t}", "{t}", "./{t}")) if target else "../"
    return _Link(href.format(t=target), corpus.phrase(rng))


def _nofollow_link(rng: random.Random, corpus: _Corpus, source: int, pages: int) -> _Link:
    """A nofollow link to an ancestor of this page in the tree (or home).

    Ancestors are reached along tree links that never carry nofollow, so the
    set of pages found does not depend on how a crawler treats nofollow, even
    one that ignores every link to a URL that is nofollow anywhere on a page.
    """
    ancestors, node = [0], source
    while node:
        node = (node - 1) // 2
        ancestors.append(node)
    return _Link(page_path(rng.choice(ancestors)), corpus.phrase(rng), nofollow=True)


def _self_fragment_link(rng: random.Random, corpus: _Corpus, source: int, pages: int) -> _Link:
    """A same-page link to one of this page's sections."""
    return _Link(f"#sec{rng.randint(1, 3)}", corpus.phrase(rng))


def _external_link(rng: random.Random, corpus: _Corpus, source: int, pages: int) -> _Link:
    """A link to another host, which a same-host crawler never fetches."""
    word, number = rng.choice(corpus.words), rng.randint(1, 999)
    url = rng.choice(_EXTERNAL_URLS).format(word=word, title=word.capitalize(), n=number)
    return _Link(url, corpus.phrase(rng))


def _search_link(rng: random.Random, corpus: _Corpus, source: int, pages: int) -> _Link:
    """A link into /search, disallowed by robots.txt, with many query variants."""
    query = f"/search?q={rng.choice(corpus.words)}"
    if rng.random() < 0.3:
        query += f"&amp;page={rng.randint(2, 9)}"
    return _Link(query, corpus.phrase(rng))


def _private_link(rng: random.Random, corpus: _Corpus, source: int, pages: int) -> _Link:
    """A link under /private/, disallowed by robots.txt."""
    return _Link(f"/private/{rng.randint(1, 500)}", corpus.phrase(rng))


def _mailto_link(rng: random.Random, corpus: _Corpus, source: int, pages: int) -> _Link:
    """A mailto: link, which is not a page."""
    return _Link(f"mailto:{rng.choice(corpus.words)}@example.com", "Write to us")


def _javascript_link(rng: random.Random, corpus: _Corpus, source: int, pages: int) -> _Link:
    """A javascript: pseudo-link."""
    return _Link("javascript:void(0)", corpus.phrase(rng))


def _no_href_link(rng: random.Random, corpus: _Corpus, source: int, pages: int) -> _Link:
    """An <a> without href, as placeholders and old named anchors are."""
    return _Link(None, corpus.phrase(rng))


# Each kind's weight and maker. A duplicate repeats a link already on the page;
# its maker only runs when there is none yet.
_KINDS: dict[str, tuple[int, _LinkMaker]] = {
    "page": (30, _page_link),
    "fragment": (8, _fragment_link),
    "relative": (10, _relative_link),
    "duplicate": (8, _page_link),
    "nofollow": (4, _nofollow_link),
    "self_fragment": (3, _self_fragment_link),
    "external": (12, _external_link),
    "search": (5, _search_link),
    "private": (4, _private_link),
    "mailto": (2, _mailto_link),
    "javascript": (2, _javascript_link),
    "no_href": (1, _no_href_link),
}
_KIND_NAMES = tuple(_KINDS)
_KIND_WEIGHTS = tuple(weight for weight, _ in _KINDS.values())


# --------------------------------------------------------------------------
# Serving: the counters and the answers


@dataclass(frozen=True, slots=True)
class StatsSnapshot:
    """Request counters of a demo server at one moment (stats requests excluded)."""

    requests: int
    in_flight: int
    peak_in_flight: int
    # Requests per path with query string, e.g. {"/page/3": 1, "/robots.txt": 1}.
    paths: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form served at /__stats__."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StatsSnapshot:
        """Rebuild a snapshot from its JSON form."""
        return cls(**data)


@dataclass(slots=True)
class ServerStats:
    """Live request counters; one event loop updates them, so no lock is needed."""

    requests: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0
    paths: Counter[str] = field(default_factory=Counter)

    def started(self, path_qs: str) -> None:
        """Count a request that has begun."""
        self.requests += 1
        self.paths[path_qs] += 1
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def finished(self) -> None:
        """Count a request whose response is ready."""
        self.in_flight -= 1

    def reset(self) -> None:
        """Zero the counters, keeping requests still in flight."""
        self.requests, self.peak_in_flight = 0, self.in_flight
        self.paths.clear()

    def snapshot(self) -> StatsSnapshot:
        """An immutable copy of the counters."""
        return StatsSnapshot(self.requests, self.in_flight, self.peak_in_flight, dict(self.paths))


_HTML = "text/html; charset=utf-8"


def _small_page(title: str, text: str) -> bytes:
    """A short HTML page linking home, for the non-content paths."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{title}</title>\n</head>\n<body>\n<h1>{title}</h1>\n<p>{text}</p>\n"
        '<p><a href="/">Home</a></p>\n</body>\n</html>\n'
    ).encode()


_ROBOTS = Answer(200, "text/plain; charset=utf-8", ROBOTS_TXT.encode())
# robots.txt disallows these, but they answer so a crawler that ignores it finds them.
_SEARCH = Answer(200, _HTML, _small_page("Search", "No results."))
_PRIVATE = Answer(200, _HTML, _small_page("Private", "Crawlers were asked to stay out."))
_NOT_FOUND = Answer(404, _HTML, _small_page("Not found", "There is no page here."))
_NOT_ALLOWED = error_answer(HTTPStatus.METHOD_NOT_ALLOWED)


def _canned_answers(spec: DemoSpec) -> dict[str, Answer]:
    """Every fixed path of the site and its answer, rendered once."""
    pages = {path: Answer(200, _HTML, body) for path, body in generate_pages(spec).items()}
    return pages | {"/robots.txt": _ROBOTS, "/search": _SEARCH}


def make_handler(spec: DemoSpec, stats: ServerStats) -> Handler:
    """The site as its server sees it: a dict lookup per path, the stats endpoint, the latency."""
    answers = _canned_answers(spec)

    def answer(method: str, path: str, query: str) -> tuple[Answer, bool]:
        if path == STATS_PATH:
            return _stats_answer(method, stats), False
        if method not in ("GET", "HEAD"):
            return _NOT_ALLOWED, False
        found = answers.get(path) or (_PRIVATE if path.startswith("/private/") else _NOT_FOUND)
        return found, True

    return Handler(answer, stats.started, stats.finished, spec.latency_ms / 1000)


def _stats_answer(method: str, stats: ServerStats) -> Answer:
    """The stats endpoint: GET reads the counters as JSON, DELETE zeroes them (between benchmark runs)."""
    if method == "DELETE":
        stats.reset()
        return Answer(204, "text/plain; charset=utf-8", b"")
    if method in ("GET", "HEAD"):
        return Answer(200, "application/json; charset=utf-8", json.dumps(stats.snapshot().to_dict()).encode())
    return _NOT_ALLOWED


# --------------------------------------------------------------------------
# Ways to run it


class DemoSiteError(RuntimeError):
    """The demo site could not be started."""


def _url(host: str, port: int) -> str:
    """The site's home URL; IPv6 hosts need brackets."""
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


class DemoSite:
    """The demo site served by this process's event loop, as an async context manager."""

    def __init__(
        self, spec: DemoSpec = DemoSpec(), host: str = "127.0.0.1", port: int = 0
    ) -> None:
        self.spec, self.host, self.port = spec, host, port
        self._stats = ServerStats()
        self._handler = make_handler(spec, self._stats)  # renders every page up front
        self._connections: set[HttpConnection] = set()
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        """The home page URL, e.g. ``http://127.0.0.1:41234/``."""
        if self._server is None:
            raise RuntimeError("the demo site is not running")
        return _url(self.host, self.port)

    async def __aenter__(self) -> Self:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: HttpConnection(self._handler, self._connections), self.host, self.port, backlog=1024
        )
        self.port = self._server.sockets[0].getsockname()[1]  # the real port when 0 was asked for
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.close()
            for connection in list(self._connections):
                connection.abort()
            await self._server.wait_closed()
            self._server = None

    def stats(self) -> StatsSnapshot:
        """The request counters now."""
        return self._stats.snapshot()

    def reset_stats(self) -> None:
        """Zero the request counters."""
        self._stats.reset()


def serve_forever(
    spec: DemoSpec,
    host: str = "127.0.0.1",
    port: int = 0,
    on_ready: Callable[[str], None] = print,
    *,
    until_closed: IO[Any] | None = None,
) -> None:
    """Serve the demo site until Ctrl-C, calling on_ready with its URL once it listens.

    With until_closed (a parent's pipe), also stop when that reaches end of file.
    """
    # Ctrl-C is the normal way to stop; by the time it surfaces the site has shut down.
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(spec, host, port, on_ready, until_closed))


async def _serve(
    spec: DemoSpec,
    host: str,
    port: int,
    on_ready: Callable[[str], None],
    until_closed: IO[Any] | None,
) -> None:
    """Run the site until this task is cancelled or until_closed ends."""
    stop = asyncio.Event()
    if until_closed is not None:
        watch = (until_closed.fileno(), asyncio.get_running_loop(), stop)
        threading.Thread(target=_wait_for_eof, args=watch, daemon=True).start()
    async with DemoSite(spec, host, port) as site:
        on_ready(site.url)
        await stop.wait()


def _wait_for_eof(fd: int, loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """Read fd until end of file, then set stop on loop.

    Raw os.read, not the file object: a daemon thread blocked inside a buffered
    reader holds its lock and can abort interpreter shutdown.
    """
    while os.read(fd, 4096):
        pass
    loop.call_soon_threadsafe(stop.set)


class DemoSiteProcess:
    """The demo site in a child process, so serving never competes for the crawler's GIL."""

    def __init__(
        self,
        spec: DemoSpec = DemoSpec(),
        host: str = "127.0.0.1",
        port: int = 0,
        startup_timeout: float = 30.0,
    ) -> None:
        self.spec, self.host, self.port, self.startup_timeout = spec, host, port, startup_timeout
        self._process: subprocess.Popen[str] | None = None
        self._errors: IO[str] | None = None
        self._url: str | None = None

    @property
    def url(self) -> str:
        """The home page URL, e.g. ``http://127.0.0.1:41234/``."""
        if self._url is None:
            raise RuntimeError("the demo site process is not running")
        return self._url

    def __enter__(self) -> Self:
        command = [sys.executable, "-m", "crawler.demo.site", *spec_to_argv(self.spec)]
        command += ["--host", self.host, "--port", str(self.port), "--exit-on-eof"]
        # stderr goes to a file, not a pipe: nobody drains a pipe while the site serves.
        self._errors = tempfile.TemporaryFile("w+")
        self._process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._errors, text=True
        )
        try:
            self._url = self._read_url()
        except BaseException:
            self._stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop()

    def _read_url(self) -> str:
        """Wait for the child's first stdout line, its URL; fail clearly if it never comes."""
        assert self._process is not None and self._process.stdout is not None
        stdout, lines = self._process.stdout, queue.Queue[str]()
        # readline() cannot time out, so it runs in a thread the timeout can abandon.
        threading.Thread(target=lambda: lines.put(stdout.readline()), daemon=True).start()
        try:
            line = lines.get(timeout=self.startup_timeout)
        except queue.Empty:
            message = f"demo site did not start within {self.startup_timeout} s"
            raise DemoSiteError(message) from None
        if not line:
            code = self._process.wait(timeout=5)
            message = f"demo site process exited with code {code}: {self._stderr_tail()}"
            raise DemoSiteError(message)
        if not line.startswith("http"):
            raise DemoSiteError(f"demo site printed {line.strip()!r} instead of its URL")
        return line.strip()

    def _stderr_tail(self, lines: int = 10) -> str:
        """The end of what the child wrote to stderr."""
        assert self._errors is not None
        self._errors.seek(0)
        return "\n".join(self._errors.read().splitlines()[-lines:]) or "(no output)"

    def _stop(self) -> None:
        """Terminate the child, wait for it and release its pipes."""
        if self._process is None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        for stream in (self._process.stdin, self._process.stdout, self._errors):
            if stream is not None:
                stream.close()
        self._process, self._errors, self._url = None, None, None

    def _request(self, method: str) -> bytes:
        """Send method to the stats endpoint; plain http.client, so no proxy is ever used."""
        address = urlsplit(self.url)
        host = address.hostname or self.host
        connection = http.client.HTTPConnection(host, address.port, timeout=10)
        try:
            connection.request(method, STATS_PATH)
            return connection.getresponse().read()
        finally:
            connection.close()

    def stats(self) -> StatsSnapshot:
        """The child's request counters now."""
        return StatsSnapshot.from_dict(json.loads(self._request("GET")))

    def reset_stats(self) -> None:
        """Zero the child's request counters."""
        self._request("DELETE")


# --------------------------------------------------------------------------
# Command line


def _flag(name: str) -> str:
    """The command-line flag of a DemoSpec field."""
    return "--" + name.replace("_", "-")


def add_spec_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one flag per DemoSpec field (``--pages``, ``--latency-ms`` ...) to parser."""
    for spec_field in dataclasses.fields(DemoSpec):
        default = spec_field.default
        parser.add_argument(
            _flag(spec_field.name), type=type(default), default=default,
            help=f"{spec_field.metadata['help']} (default {default})",
        )


def spec_from_args(args: argparse.Namespace) -> DemoSpec:
    """Build a DemoSpec from flags added by add_spec_arguments."""
    return DemoSpec(**{f.name: getattr(args, f.name) for f in dataclasses.fields(DemoSpec)})


def spec_to_argv(spec: DemoSpec) -> list[str]:
    """The flags that make add_spec_arguments' parser rebuild spec."""
    fields = dataclasses.fields(spec)
    return [arg for f in fields for arg in (_flag(f.name), str(getattr(spec, f.name)))]


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the demo site and print its URL as the first line of stdout."""
    parser = argparse.ArgumentParser(prog="python -m crawler.demo.site", description=main.__doc__)
    add_spec_arguments(parser)
    parser.add_argument("--host", default="127.0.0.1", help="listen address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port (default 8080)")
    # A parent that dies without cleaning up closes our stdin; leave with it rather than linger.
    parser.add_argument("--exit-on-eof", action="store_true", help="stop when stdin closes")
    args = parser.parse_args(argv)
    try:
        spec = spec_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    until_closed = sys.stdin if args.exit_on_eof else None
    try:
        serve_forever(spec, args.host, args.port, _print_url, until_closed=until_closed)
    except OSError as exc:  # a bad host or a port in use: one clear line, not a traceback
        parser.exit(1, f"demo site: cannot listen on {args.host} port {args.port}: {exc}\n")


def _print_url(url: str) -> None:
    """Tell a parent process where the site is: the first line of stdout, flushed at once."""
    print(url, flush=True)


if __name__ == "__main__":
    main()
