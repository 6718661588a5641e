"""Which URLs a crawl may visit: scope and link-trap guards (pure, on canonical URLs)."""

from __future__ import annotations

import re
from collections import Counter
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

    def rejects(self, url: str) -> str | None:
        """Why url is out of scope, or None when it is in scope."""
        if len(url) > self.max_url_length:
            return "url_too_long"
        host = canonical_hostname(url)
        if host not in self.hosts and not any(_domain_matches(host, d) for d in self.allow_domains):
            return "other_host"
        if self.include and not any(p.search(url) for p in self.include):
            return "not_included"
        if any(p.search(url) for p in self.exclude):
            return "excluded"
        return None


@dataclass
class TrapGuard:
    """Refuses URLs that look like link traps: endless query variants or repeated path segments."""

    max_query_variants: int = 1000
    max_repeated_segments: int = 3
    _variants: Counter[str] = field(default_factory=Counter)

    def rejects(self, url: str) -> str | None:
        """Why url looks like a trap, or None. Counts query variants as a side effect."""
        _, netloc, rest = split_canonical(url)
        path, _, query = rest.partition("?")
        if self.max_repeated_segments and _most_repeated_segment(path) > self.max_repeated_segments:
            return "repeated_segments"
        if query and self.max_query_variants:
            key = f"{netloc}{path}"
            if self._variants[key] >= self.max_query_variants:
                return "too_many_query_variants"
            self._variants[key] += 1
        return None


def _most_repeated_segment(path: str) -> int:
    """How often the commonest non-empty segment occurs in path (/a/a/a/b -> 3)."""
    segments = [s for s in path.split("/") if s]
    return max(Counter(segments).values(), default=0)
