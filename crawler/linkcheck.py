"""What a link check decides (pure): which targets it checks, how, and what counts as broken.

The crawl core asks these when ``config.check_links`` is set (``crawler check``);
the report (:mod:`crawler.check.report`) asks them of the records.
"""

from __future__ import annotations

from .config import CrawlConfig
from .errors import ErrorKind
from .models import RequestKind

# The kinds of request that check a target without crawling it (see models.RequestKind).
CHECK_KINDS = frozenset({"head", "check"})
# Error kinds that make a link broken: the target cannot be reached or gives no page.
# (robots_disallowed and blocked_address targets were never asked: they are reported apart;
# body_too_large is a page that answered.)
BROKEN_ERRORS = frozenset({
    ErrorKind.TIMEOUT, ErrorKind.CONNECTION, ErrorKind.TLS, ErrorKind.INVALID_URL, ErrorKind.DECODING,
    ErrorKind.HTTP_STATUS, ErrorKind.REDIRECT_LOOP, ErrorKind.TOO_MANY_REDIRECTS, ErrorKind.BAD_REDIRECT,
    ErrorKind.INTERNAL,
})
# Error kinds of targets the check was not allowed to ask: reported apart, never broken.
SKIPPED_ERRORS = frozenset({ErrorKind.ROBOTS_DISALLOWED, ErrorKind.BLOCKED_ADDRESS})
# Fragments that need no anchor: the empty one and "top" scroll to the top (WHATWG HTML 7.4.6.4).
_IMPLICIT_FRAGMENTS = frozenset({"", "top"})


def checks_outside(config: CrawlConfig, reason: str) -> bool:
    """True when a URL the crawl's scope rejects (for reason) is still checked, once, not crawled.

    Only other hosts' URLs are: URLs excluded by --include/--exclude or too long are
    left alone, as the user asked.
    """
    return config.check_links and config.check_external and reason == "other_host"


def check_kind(config: CrawlConfig) -> RequestKind:
    """How a target outside the crawl is first asked: HEAD, or GET when its anchors are wanted."""
    return "check" if config.check_fragments else "head"


def head_refused(status: int | None) -> bool:
    """True when a HEAD answer does not settle a link: GET asks again.

    Servers that do not implement HEAD answer 405 or 501, and many others wrongly
    answer it 403, 404 or 400; only a GET's answer makes a link broken. 429 (too many
    requests) is retried as it is, after its Retry-After.
    """
    return status is not None and status >= 400 and status != 429


def is_broken(status: int | None, error_kind: str | None) -> bool:
    """True for a target that answered 4xx/5xx (after retries) or could not be fetched."""
    if error_kind is not None:
        return error_kind in BROKEN_ERRORS
    return status is not None and status >= 400


def fragment_found(fragment: str, anchors: frozenset[str]) -> bool:
    """True when a page's anchors hold what #fragment (percent-decoded) points at.

    WHATWG HTML 7.4.6.4: an element with that id, else an <a> with that name; ""
    and "top" always exist.
    """
    return fragment in anchors or fragment.lower() in _IMPLICIT_FRAGMENTS


__all__ = ["BROKEN_ERRORS", "CHECK_KINDS", "SKIPPED_ERRORS", "check_kind", "checks_outside",
           "fragment_found", "head_refused", "is_broken"]
