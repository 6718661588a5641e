"""What a comparison runs and measures: its options, one run's figures, and the check that runs agree.

Plain values and pure functions shared by :mod:`crawler.compare`, which measures,
and :mod:`crawler.report`, which explains: they live below both, so neither imports the other.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

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
    page_set: frozenset[PageKey] = field(repr=False, compare=False)

    @property
    def pages_per_sec(self) -> float:
        """HTML pages with status 200 per second of wall time."""
        return self.pages / self.wall_s if self.wall_s > 0 else 0.0

    def figures(self) -> dict[str, Any]:
        """The figures as plain data (without the page set)."""
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "page_set"}
        return data | {"pages_per_sec": self.pages_per_sec}


@dataclass(frozen=True, slots=True)
class PageSetCheck:
    """Whether every run found the same (url, status) pairs, and what differed."""

    same: bool
    reference: str  # the mode whose first run the others are compared with
    pages: int  # size of the reference set
    differences: dict[str, dict[str, list[PageKey]]]


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
    return lines


def _page_sort_key(key: PageKey) -> tuple[str, int]:
    """Sort by URL, then status (a failed fetch, status None, first)."""
    return key[0], key[1] if key[1] is not None else -1
