"""Resuming a saved crawl: which settings make it the same crawl, and whether anything is left.

The store only keeps what it is given (:meth:`~crawler.stores.sqlite.SqliteFrontier.begin`
saves and checks an identity); these decisions are the crawl's, made here once for
every durable back end.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from .config import CrawlConfig
from .frontier import FrontierStore
from .urls import normalize_url

# Settings a resumed crawl may change: how fast and how long it runs, and how it checks
# certificates, not which URLs it visits.
# Every other setting (scope, depth, robots, trap guards, and any added later) must stay the same.
ADOPTED_SETTINGS = frozenset({
    "mode", "concurrency", "workers", "per_host", "delay", "max_pages", "timeout", "connect_timeout",
    "time_limit", "max_body_bytes", "retries", "backoff_base", "backoff_max", "max_retry_after",
    "parse_workers", "parse_offload_bytes", "verify_tls", "ca_file",
    # What requests carry may change (a new token), and secrets are never written to the database.
    "headers", "cookies", "auth", "netrc", "cookie_jar", "proxy", "proxy_from_env", "no_proxy",
})


class DurableStore(FrontierStore, Protocol):
    """A store that keeps a crawl across runs."""

    def begin(self, identity: dict[str, Any]) -> bool:
        """Save the crawl's identity, or check it is the saved one; True when it was saved before."""


@dataclass(frozen=True, slots=True)
class ResumeInfo:
    """What :func:`begin` found: whether the crawl continues, and how far it got."""

    resumed: bool
    done: int
    pending: int
    finished: bool


def begin(store: DurableStore, seeds: Iterable[str], config: CrawlConfig) -> ResumeInfo:
    """Start this crawl in store, or check that it is the one saved and say how far it got."""
    urls = sorted({normalize_url(seed) or seed for seed in seeds})
    resumed = store.begin(identity(urls, config))
    done = store.totals().get("pages", 0)
    return ResumeInfo(resumed=resumed, done=done, pending=store.pending_count(),
                      finished=resumed and _nothing_left(store, urls, config, done))


def identity(seeds: list[str], config: CrawlConfig) -> dict[str, Any]:
    """The seeds and the settings that decide a crawl's URLs."""
    settings = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
                if f.name not in ADOPTED_SETTINGS}
    return {"seeds": seeds, **settings}


def _nothing_left(store: FrontierStore, seeds: list[str], config: CrawlConfig, done: int) -> bool:
    """True when the saved crawl spent its page budget, or has nothing pending to crawl."""
    if config.max_pages is not None and done >= config.max_pages:
        return True
    # With sitemaps, an empty frontier may only mean they were not read yet (or list new
    # pages since): such a crawl runs again, and its sitemaps' known pages are seen already.
    return store.pending_count() == 0 and all(map(store.seen, seeds)) and not config.sitemaps


__all__ = ["ADOPTED_SETTINGS", "DurableStore", "ResumeInfo", "begin", "identity"]
