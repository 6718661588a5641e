"""Which URLs a crawl may visit: scope and link-trap guards (pure, on canonical URLs)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from .config import CrawlConfig
from .urls import canonical_hostname, split_canonical


def _domain_matches(host: str, domain: str) -> bool:
    """True when host is domain or one of its subdomains."""
    domain = domain.lower().lstrip(".")
    return host == domain or host.endswith("." + domain)


@dataclass
class Scope:
    """Decides whether a normalised URL belongs to the crawl."""

    hosts: set[str]
    allow_domains: tuple[str, ...] = ()
    include: tuple[re.Pattern[str], ...] = ()
    exclude: tuple[re.Pattern[str], ...] = ()
    max_url_length: int = 2048
    # Host decisions by netloc: the core asks about every link of every page.
    _netlocs: dict[str, bool] = field(default_factory=dict, repr=False)

    @classmethod
    def for_seeds(cls, seeds: list[str], config: CrawlConfig) -> Scope:
        """The default scope: the seeds' hosts, plus the configured domains and patterns."""
        return cls(
            hosts={canonical_hostname(seed) for seed in seeds},
            allow_domains=config.allow_domains,
            include=tuple(re.compile(p) for p in config.include),
            exclude=tuple(re.compile(p) for p in config.exclude),
            max_url_length=config.max_url_length,
        )

    def add_seed(self, url: str) -> None:
        """Put a seed's host in scope."""
        self.hosts.add(canonical_hostname(url))
        self._netlocs.clear()

    def rejects(self, url: str) -> str | None:
        """Why url is out of scope, or None when it is in scope."""
        if len(url) > self.max_url_length:
            return "url_too_long"
        # The core asks about every link of every page: split_canonical's netloc, inline.
        netloc = url.partition("://")[2].partition("/")[0]
        allowed = self._netlocs.get(netloc)
        if not (self._netloc_allowed(netloc) if allowed is None else allowed):
            return "other_host"
        if self.include and not any(p.search(url) for p in self.include):
            return "not_included"
        if self.exclude and any(p.search(url) for p in self.exclude):
            return "excluded"
        return None

    def _netloc_allowed(self, netloc: str) -> bool:
        """Decide, and remember, whether the host of netloc is a seed host or in an allowed domain."""
        if len(self._netlocs) > 100_000:  # a broad crawl meets endless hosts: stay bounded
            self._netlocs.clear()
        host = canonical_hostname(f"http://{netloc}/")
        allowed = host in self.hosts or any(_domain_matches(host, d) for d in self.allow_domains)
        self._netlocs[netloc] = allowed
        return allowed


# A run of digits: what varies between the pages of a calendar or a counter trap.
_DIGITS = re.compile(r"[0-9]+")


@dataclass
class TrapGuard:
    """Refuses URLs that look like link traps: endless query variants, path patterns or repeats.

    Each cap counts distinct URLs (the caller asks only about URLs not seen before).
    """

    max_query_variants: int = 1000
    max_repeated_segments: int = 3
    max_pattern_urls: int = 0
    _variants: Counter[str] = field(default_factory=Counter)
    _patterns: Counter[str] = field(default_factory=Counter)

    @classmethod
    def for_config(cls, config: CrawlConfig) -> TrapGuard:
        """The guard with the config's limits."""
        return cls(config.max_query_variants, config.max_repeated_segments, config.max_pattern_urls)

    def rejects(self, url: str) -> str | None:
        """Why url looks like a trap, or None. Counts the URL against its caps when accepted."""
        _, netloc, rest = split_canonical(url)
        path, _, query = rest.partition("?")
        if self.max_repeated_segments and _most_repeated_segment(path) > self.max_repeated_segments:
            return "repeated_segments"
        variant = f"{netloc}{path}" if query and self.max_query_variants else None
        if variant is not None and self._variants[variant] >= self.max_query_variants:
            return "too_many_query_variants"
        pattern = f"{netloc}{_DIGITS.sub('#', path)}" if self.max_pattern_urls else None
        if pattern is not None and self._patterns[pattern] >= self.max_pattern_urls:
            return "too_many_pattern_urls"
        if variant is not None:
            self._variants[variant] += 1
        if pattern is not None:
            self._patterns[pattern] += 1
        return None

    def recount(self, urls: Iterable[str]) -> None:
        """Count URLs seen by an earlier run against the caps, as if offered again.

        A cap's count is the number of its URLs offered, up to the cap, whatever
        their order: so a resumed crawl's guard ends where the earlier run's did.
        """
        for url in urls:
            self.rejects(url)


def _most_repeated_segment(path: str) -> int:
    """How often the commonest non-empty segment occurs in path (/a/a/a/b -> 3)."""
    segments = [s for s in path.split("/") if s]
    if len(set(segments)) == len(segments):  # the usual case, without building a Counter
        return 1 if segments else 0
    return max(Counter(segments).values())
