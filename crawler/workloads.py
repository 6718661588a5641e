"""What ``crawler compare`` asks of each page: follow its links, or also scrape it as a scraper would.

``links`` (the default) only extracts links, with lxml: a crawl that waits on the
network, where overlapping requests is what pays. ``soup`` also hands every HTML
page to :func:`scrape`, a page hook that builds the BeautifulSoup document and
searches it: a crawl whose parse is CPU-bound, where only more cores help.
:func:`scrape` is a module-level function, so it pickles by reference and can run
wherever the driver runs hooks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the CLI reads WORKLOADS: this module must load without the crawl machinery
    from bs4 import BeautifulSoup

    from .hooks import PageHook
    from .models import PageRecord

WORKLOADS = ("links", "soup")


def scrape(page: PageRecord, soup: BeautifulSoup) -> list[dict[str, Any]]:
    """What a scraper takes from a page: its headings, and how many links it has."""
    headings = [h.get_text(" ", strip=True) for h in soup.select("h1, h2, h3")]
    return [{"headings": headings, "links": len(soup.find_all("a", href=True))}]


def workload_hook(workload: str) -> PageHook | None:
    """The page hook a workload runs on every HTML page (None: links only)."""
    if workload not in WORKLOADS:
        raise ValueError(f"--workload takes {' or '.join(WORKLOADS)}, not {workload!r}")
    return scrape if workload == "soup" else None
