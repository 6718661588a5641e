"""Which URLs a crawl may visit: scope and link-trap guards (pure, on canonical URLs)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import pairwise

from .config import CrawlConfig
from .outbound import Origin, credential_origins
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
    # Where the seeds' credentials may go (see crawler.outbound); grows with the seeds.
    origins: set[Origin] = field(default_factory=set)
    # Host decisions by netloc: the core asks about every link of every page.
    _netlocs: dict[str, bool] = field(default_factory=dict, repr=False)

    @classmethod
    def for_seeds(cls, seeds: list[str], config: CrawlConfig) -> Scope:
        """The default scope: the seeds' hosts, plus the configured domains and patterns."""
        return cls(
            hosts={canonical_hostname(seed) for seed in seeds},
            origins={o for seed in seeds for o in credential_origins(seed)},
            allow_domains=config.allow_domains,
            include=tuple(re.compile(p) for p in config.include),
            exclude=tuple(re.compile(p) for p in config.exclude),
            max_url_length=config.max_url_length,
        )

    def add_seed(self, url: str) -> None:
        """Put a seed's host in scope."""
        self.hosts.add(canonical_hostname(url))
        self.origins |= credential_origins(url)
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
# Opaque tokens in a path (hashes, UUIDs, random ids) are read within runs of URL-safe
# characters at least this long: shorter ids (a product number, a year) are real names.
_TOKEN_MIN = 16
_RUN = re.compile(rf"[A-Za-z0-9_-]{{{_TOKEN_MIN},}}")
_HEX = re.compile(rf"(?<![A-Za-z0-9])[0-9A-Fa-f]{{{_TOKEN_MIN},}}(?![A-Za-z0-9])")
_UUID = re.compile(r"[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}")
# URLs cut by the path-token cap kept for a listing to let through: a trap's chain ends at
# its first cut URL, so this is reached only by a trap that fans out, or by a huge site.
MAX_HELD = 10_000
# The reason the path-token cap gives.
PATH_TOKENS = "too_many_path_tokens"


@dataclass
class TrapGuard:
    """Refuses URLs that look like link traps: endless query variants, path patterns, path
    tokens or repeats.

    Each cap counts distinct URLs (the caller asks only about URLs not seen before).

    Path tokens: a page that links to itself under a fresh session id or random token
    in the path (``/s/3f9a.../page`` -> ``/s/<new token>/page``) makes a chain that never
    ends. URLs whose paths hold opaque tokens (see :func:`path_tokens`) are counted per
    host and *family*: the path up to its last token-bearing segment, each token read as
    ``*``. Past ``max_token_urls`` in a family, a URL is refused when it is *minted*: found
    on (or redirected to from) a page whose own path holds tokens, with a token that page's
    path does not hold. A listing without tokens of its own (``/commits?page=3`` linking
    to ``/commit/<40 hex>``) is never cut, nor are links that keep the page's own token
    (a session id carried from page to page); a URL cut as minted that such a page links
    to later is let through then (:meth:`releases`).
    """

    max_query_variants: int = 1000
    max_repeated_segments: int = 3
    max_pattern_urls: int = 0
    max_token_urls: int = 1000
    _variants: Counter[str] = field(default_factory=Counter)
    _patterns: Counter[str] = field(default_factory=Counter)
    _families: Counter[str] = field(default_factory=Counter)
    # The tokens of the last referrer asked about: a page's links arrive together.
    _referrer: tuple[str | None, frozenset[str]] = (None, frozenset())
    # URLs cut as minted, for a listing to let through (the newest MAX_HELD).
    _held: dict[str, None] = field(default_factory=dict)

    @classmethod
    def for_config(cls, config: CrawlConfig) -> TrapGuard:
        """The guard with the config's limits."""
        return cls(config.max_query_variants, config.max_repeated_segments, config.max_pattern_urls,
                   config.max_token_urls)

    def rejects(self, url: str, referrer: str | None = None) -> str | None:
        """Why url, found on referrer, looks like a trap, or None.

        Counts the URL against its caps when accepted.
        """
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
        family, tokens = path_tokens(path) if self.max_token_urls else ("", ())
        family = f"{netloc}{family}" if tokens else ""
        if family and self._families[family] >= self.max_token_urls and self._minted(tokens, referrer):
            self._hold(url)
            return PATH_TOKENS
        if variant is not None:
            self._variants[variant] += 1
        if pattern is not None:
            self._patterns[pattern] += 1
        if family:
            self._families[family] += 1
        return None

    def recount(self, urls: Iterable[str]) -> None:
        """Count URLs seen by an earlier run against the caps, as if offered again.

        A cap's count is the number of its URLs offered, up to the cap, whatever
        their order: so a resumed crawl's guard ends where the earlier run's did.
        (The path-token count goes past its cap, by the URLs a listing added: it
        only matters whether the cap is reached.)
        """
        for url in urls:
            self.rejects(url)

    def releases(self, url: str, referrer: str | None) -> bool:
        """True when url, cut as minted before, is now found on a page that does not mint it.

        The URL is then counted as accepted; the caller treats it as new.
        """
        if url not in self._held or self._minted(url, referrer):
            return False
        del self._held[url]
        self.rejects(url)  # counts it, as an accepted URL
        return True

    def _hold(self, url: str) -> None:
        """Remember a URL cut as minted, forgetting the oldest past MAX_HELD."""
        if len(self._held) >= MAX_HELD:
            del self._held[next(iter(self._held))]
        self._held[url] = None

    def _minted(self, url: str | tuple[str, ...], referrer: str | None) -> bool:
        """True when referrer's path holds tokens and url's (or these tokens) one it does not."""
        if referrer is None:
            return False
        if self._referrer[0] != referrer:
            self._referrer = (referrer, frozenset(_url_tokens(referrer)))
        own = self._referrer[1]
        return bool(own) and not own.issuperset(_url_tokens(url) if isinstance(url, str) else url)


def _url_tokens(url: str) -> tuple[str, ...]:
    """The opaque tokens of a canonical URL's path."""
    return path_tokens(split_canonical(url)[2].partition("?")[0])[1]


def path_tokens(path: str) -> tuple[str, tuple[str, ...]]:
    """The opaque tokens of a path, and its family: the path up to its last token-bearing segment,
    each token replaced by ``*`` (``/s/3f9a1c0e7b2d4a55/page`` -> ``/s/*``).

    A token is 16 or more hex digits with a digit among them (hashes, long numeric ids), a
    UUID, or a run of 16 or more base64url characters holding digits, where a digit, an
    upper or a lower case letter changes to another at least every third character (random
    ids); slugs (``python-3-on-ubuntu-2024``) and CamelCase names are not tokens. A path without tokens has no family (``""``).
    """
    if _RUN.search(path) is None:  # the usual case
        return "", ()
    spans = [m.span() for m in _UUID.finditer(path)]
    spans += [m.span() for m in _HEX.finditer(path) if not m.group().isalpha()]
    # A run holding a hash is a name around that hash (/Page-Title-<32 hex>), not one token.
    spans += [m.span() for m in _RUN.finditer(path)
              if _is_token_run(m.group()) and not any(m.start() <= a < m.end() for a, _ in spans)]
    if not spans:
        return "", ()
    parts, tokens, end = [], [], 0
    for start, stop in sorted(spans):
        if start < end:
            continue  # a hex run inside a UUID
        parts += [path[end:start], "*"]
        tokens.append(path[start:stop])
        end = stop
    segment_end = path.find("/", end)
    parts.append(path[end:] if segment_end < 0 else path[end:segment_end])
    return "".join(parts), tuple(tokens)


def _is_token_run(run: str) -> bool:
    """True when a run of base64url characters looks random: digits, both cases, frequent changes."""
    if run.isalpha() or not any(c.isdigit() for c in run):
        return False
    classes = [0 if c.isdigit() else 1 if c.isupper() else 2 for c in run if c not in "-_"]
    changes = sum(a != b for a, b in pairwise(classes))
    return 3 * changes >= len(classes)


def _most_repeated_segment(path: str) -> int:
    """How often the commonest non-empty segment occurs in path (/a/a/a/b -> 3)."""
    segments = [s for s in path.split("/") if s]
    if len(set(segments)) == len(segments):  # the usual case, without building a Counter
        return 1 if segments else 0
    return max(Counter(segments).values())
