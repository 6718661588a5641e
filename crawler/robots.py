"""robots.txt decisions per host, following RFC 9309 (pure: the driver fetches the file).

A host's rules move from *unknown* to *fetching* to *known*. While unknown or
fetching, none of the host's pages may be fetched. The answer to the robots.txt
fetch decides the rules (RFC 9309 section 2.3.1):

* 2xx: parse the file;
* 4xx (other than 429): no rules, everything allowed;
* 5xx, 429 or unreachable: everything disallowed until it can be fetched, so the
  core retries the fetch, and gives the host up when retries run out;
* 3xx: followed for five hops (RFC 9309 2.3.1.2), then taken as unavailable (4xx);
* a fetch no request to the host could pass (a guarded address, a certificate that
  does not verify): allowed, so that each page fails with a record of its own cause.

:func:`judge_robots` makes that decision; the core only carries it out.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from protego import Protego

from .errors import REFUSED_OUTRIGHT
from .models import REDIRECT_STATUSES, FetchResult
from .urls import normalize_url

# RFC 9309 2.5: crawlers should parse at least 500 KiB; more is not needed.
MAX_ROBOTS_BYTES = 512 * 1024
# RFC 9309 2.3.1.2: follow at least five redirect hops for robots.txt.
MAX_ROBOTS_REDIRECTS = 5
# A Crawl-delay larger than this is treated as this, so one file cannot stall a crawl.
MAX_CRAWL_DELAY = 60.0


@dataclass(frozen=True, slots=True)
class RobotsRules:
    """The rules for one host: a parsed file, or allow-all, or disallow-all."""

    parser: Protego | None = None
    allow_all: bool = True
    text: str | None = None  # the file the parser read: what a shared store keeps (Redis)

    def allows(self, url: str, user_agent: str) -> bool:
        """True when the rules let user_agent fetch url."""
        if self.parser is not None:
            return self.parser.can_fetch(url, user_agent)
        return self.allow_all

    def sitemaps(self) -> list[str]:
        """The URLs of the file's ``Sitemap:`` lines, as written."""
        return list(self.parser.sitemaps) if self.parser is not None else []

    def crawl_delay(self, user_agent: str) -> float | None:
        """The Crawl-delay for user_agent, capped, or None."""
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(user_agent)
        return None if delay is None else min(float(delay), MAX_CRAWL_DELAY)


ALLOW_ALL = RobotsRules(allow_all=True)
DISALLOW_ALL = RobotsRules(allow_all=False)


def robots_url(url: str) -> str:
    """The robots.txt URL for the origin of url."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/robots.txt"


def rules_from_response(status: int, body: bytes) -> RobotsRules | None:
    """Rules for a robots.txt answer, or None when it must be fetched again (5xx, 429)."""
    if 200 <= status < 300:
        text = body[:MAX_ROBOTS_BYTES].decode("utf-8", errors="replace")
        return RobotsRules(parser=Protego.parse(text), text=text)
    if status == 429 or status >= 500:
        return None
    return ALLOW_ALL



@dataclass(frozen=True, slots=True)
class RobotsAnswer:
    """What a robots.txt fetch decides: the rules, or a redirect to follow; neither means retry."""

    rules: RobotsRules | None = None
    follow: str | None = None


def judge_robots(fetch: FetchResult, redirects: int, may_retry: bool, *,
                 unreachable_allows: bool = False) -> RobotsAnswer:
    """Decide a robots.txt answer reached after redirects hops; may_retry while attempts remain.

    unreachable_allows (a link check): a host whose robots.txt could not be fetched at all
    (no HTTP answer) has its pages asked anyway, so that they fail with their own error.
    """
    if fetch.error is None and fetch.status in REDIRECT_STATUSES and fetch.location:
        target = normalize_url(fetch.location, base=fetch.url)
        if target and redirects < MAX_ROBOTS_REDIRECTS:
            return RobotsAnswer(follow=target)
    rules = _rules_from_fetch(fetch)
    if rules is None and unreachable_allows and fetch.error is not None:
        rules = ALLOW_ALL
    if rules is None and not may_retry:
        rules = DISALLOW_ALL  # RFC 9309 2.3.1.4: unreachable robots.txt means disallow all
    return RobotsAnswer(rules=rules)


def _rules_from_fetch(fetch: FetchResult) -> RobotsRules | None:
    """The rules a robots.txt fetch gives, or None when it must be fetched again."""
    if fetch.error is None and fetch.status:
        return rules_from_response(fetch.status, fetch.body)
    if fetch.status in REDIRECT_STATUSES:
        return ALLOW_ALL  # RFC 9309 2.3.1.2: too many redirects means unavailable
    if fetch.error is not None and fetch.error.kind in REFUSED_OUTRIGHT:
        return ALLOW_ALL  # no request can reach this host: let each page fail with its own record
    return None
