"""What a comparison runs and measures: its options, one run's figures, and the check that runs agree.

Plain values and pure functions shared by :mod:`crawler.compare`, which measures,
and :mod:`crawler.report`, which explains: they live below both, so neither imports the other.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .config import MODES, CrawlConfig

PageKey = tuple[str, "int | None"]


@dataclass(frozen=True, slots=True)
class CompareOptions:
    """What ``crawler compare`` runs, and where the report goes."""

    url: str
    config: CrawlConfig
    modes: tuple[str, ...] = MODES
    repeat: int = 1
    sweep: tuple[int, ...] = ()
    latency_ms: float | None = None  # the site's latency, when known (the demo site's)
    workload: str = "links"  # what each page costs: see crawler.workloads
    settings: Mapping[str, Any] = field(default_factory=dict)  # extra settings for the report

    @property
    def comparable(self) -> bool:
        """False when limits make the pages found depend on the order fetches complete in."""
        config = self.config
        return config.max_pages is None and config.max_depth is None and config.time_limit is None

    def width(self, mode: str) -> int:
        """Requests in flight at once for a mode: workers, concurrency, or 1 for sync."""
        return {"sync": 1, "async": self.config.concurrency}.get(mode, self.config.workers)


@dataclass(frozen=True, slots=True)
class RunResult:
    """The figures of one measured crawl."""

    mode: str
    width: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    pages: int
    records: int
    errors: int
    latency_mean_ms: float
    latency_p95_ms: float
    big_pages: int  # HTML pages at least parse_offload_bytes long
    max_page_bytes: int
    items: int = 0  # what a workload's page hook scraped, in all
    main_cpu_s: float = 0.0  # the crawling process's own CPU time (event loop, threads), no children
    first_record_s: float = 0.0  # from the start to the first record: start-up plus the first round trips
    hosts: int = 1  # hosts the crawl fetched from
    rounds: int = 0  # round trips the crawl needs at its width and per-host cap (see crawl_rounds)
    shape_rounds: int = 0  # ... at any width: the depth of the site's link tree
    page_set: frozenset[PageKey] = field(repr=False, compare=False, default=frozenset())
    page_items: Mapping[str, str] = field(repr=False, compare=False, default_factory=dict)  # url -> items JSON

    @property
    def pages_per_sec(self) -> float:
        """HTML pages with status 200 per second of wall time."""
        return self.pages / self.wall_s if self.wall_s > 0 else 0.0

    def figures(self) -> dict[str, Any]:
        """The figures as plain data (without the page set)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name not in ("page_set", "page_items")}
        return data | {"pages_per_sec": self.pages_per_sec}


@dataclass(frozen=True, slots=True)
class PageSetCheck:
    """Whether every run found the same (url, status) pairs, and what differed."""

    same: bool
    reference: str  # the mode whose first run the others are compared with
    pages: int  # size of the reference set
    differences: dict[str, dict[str, list[PageKey]]]
    item_differences: dict[str, list[str]] = field(default_factory=dict)  # mode -> URLs scraped differently


def check_runs(runs: Sequence[RunResult]) -> PageSetCheck:
    """Check that every run found the same pages and, with a hook, scraped the same items from them."""
    check = check_page_sets([(run.mode, run.page_set) for run in runs])
    items = check_items([(run.mode, run.page_items) for run in runs])
    return dataclasses.replace(check, same=check.same and not items, item_differences=items)


def check_page_sets(runs: Sequence[tuple[str, frozenset[PageKey]]]) -> PageSetCheck:
    """Compare every run's (url, status) set with the first run's; collect what differs, by mode."""
    if not runs:
        return PageSetCheck(True, "", 0, {})
    reference_mode, reference = runs[0]
    differences: dict[str, dict[str, set[PageKey]]] = {}
    for mode, pages in runs[1:]:
        missing, extra = reference - pages, pages - reference
        if missing or extra:
            found = differences.setdefault(mode, {"missing": set(), "extra": set()})
            found["missing"] |= missing
            found["extra"] |= extra
    ordered = {mode: {kind: sorted(keys, key=_page_sort_key) for kind, keys in found.items()}
               for mode, found in differences.items()}
    return PageSetCheck(not differences, reference_mode, len(reference), ordered)


def check_items(runs: Sequence[tuple[str, Mapping[str, str]]]) -> dict[str, list[str]]:
    """The URLs, by mode, whose scraped items differ from the first run's (pages both runs found)."""
    if not runs:
        return {}
    reference = runs[0][1]
    differing: dict[str, set[str]] = {}
    for mode, items in runs[1:]:
        urls = {url for url in items.keys() & reference.keys() if items[url] != reference[url]}
        if urls:
            differing.setdefault(mode, set()).update(urls)
    return {mode: sorted(urls) for mode, urls in differing.items()}


def crawl_rounds(fetches: Sequence[tuple[str, str | None]], width: int | None = None,
                 per_host: int | None = None) -> int:
    """Round trips a crawl of these fetches needs when each takes one and nothing else costs time.

    ``fetches`` are (url, referrer) in the order the run recorded them: a URL becomes
    fetchable once the page that linked to it is fetched. Each round starts up to
    ``width`` of the fetchable URLs, first found first, at most ``per_host`` per host
    (None: no limit). So a breadth-first crawl of a binary tree of 600 pages needs
    about ten rounds at any width, and 600 at width 1.
    """
    children: dict[str | None, list[str]] = {}
    urls = {url for url, _ in fetches}
    for url, referrer in fetches:
        children.setdefault(referrer if referrer in urls else None, []).append(url)
    ready, rounds = list(children.get(None, [])), 0
    while ready:
        started: list[str] = []
        waiting: list[str] = []
        per: dict[str, int] = {}
        for url in ready:
            host = urlsplit(url).hostname or ""
            if (width is None or len(started) < width) and (per_host is None or per.get(host, 0) < per_host):
                started.append(url)
                per[host] = per.get(host, 0) + 1
            else:
                waiting.append(url)
        rounds += 1
        ready = waiting + [child for url in started for child in children.get(url, ())]
    return rounds


def describe_differences(check: PageSetCheck, limit: int = 10) -> list[str]:
    """Lines saying which URLs each mode found differently from the reference run."""
    lines = []
    for mode, found in check.differences.items():
        for kind, label in (("missing", f"not found by {mode}"), ("extra", f"found only by {mode}")):
            keys = found[kind]
            if keys:
                lines.append(f"{len(keys)} URL(s) {label} (reference: {check.reference}'s first run):")
                lines += [f"  {status if status is not None else 'error'}  {url}" for url, status in keys[:limit]]
                lines += [f"  ... and {len(keys) - limit} more"] if len(keys) > limit else []
    for mode, urls in check.item_differences.items():
        lines.append(f"{len(urls)} page(s) scraped differently by {mode} (reference: {check.reference}'s first run):")
        lines += [f"  {url}" for url in urls[:limit]]
        lines += [f"  ... and {len(urls) - limit} more"] if len(urls) > limit else []
    return lines


def _page_sort_key(key: PageKey) -> tuple[str, int]:
    """Sort by URL, then status (a failed fetch, status None, first)."""
    return key[0], key[1] if key[1] is not None else -1
