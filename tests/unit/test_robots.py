"""robots.txt decisions (RFC 9309), pure: an answer in, rules or a redirect or a retry out."""

from __future__ import annotations

import pytest

from crawler.errors import ErrorKind
from crawler.models import ErrorInfo, FetchResult
from crawler.robots import ALLOW_ALL, DISALLOW_ALL, MAX_ROBOTS_REDIRECTS, judge_robots

URL = "https://site.test/robots.txt"


def answer(status: int | None = 200, body: bytes = b"", **fields: object) -> FetchResult:
    """A robots.txt fetch result."""
    return FetchResult(url=URL, status=status, body=body, **fields)  # type: ignore[arg-type]


def test_a_2xx_file_is_parsed() -> None:
    rules = judge_robots(answer(body=b"User-agent: *\nDisallow: /private\n"), 0, True).rules
    assert rules is not None
    assert not rules.allows("https://site.test/private/x", "bot") and rules.allows("https://site.test/", "bot")


@pytest.mark.parametrize("status", [404, 401, 403, 410])
def test_a_4xx_allows_everything(status: int) -> None:
    assert judge_robots(answer(status, b"Disallow: /"), 0, True).rules == ALLOW_ALL


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_5xx_or_429_is_retried_then_disallows_everything(status: int) -> None:
    assert judge_robots(answer(status), 0, may_retry=True) == judge_robots(answer(None), 0, True)
    assert judge_robots(answer(status), 0, may_retry=True).rules is None
    assert judge_robots(answer(status), 0, may_retry=False).rules == DISALLOW_ALL


def test_an_unreachable_file_is_retried_then_disallows_everything() -> None:
    failed = answer(None, error=ErrorInfo(ErrorKind.CONNECTION, "refused"))
    assert (judge_robots(failed, 0, True).rules, judge_robots(failed, 0, False).rules) == (None, DISALLOW_ALL)


@pytest.mark.parametrize("kind", [ErrorKind.BLOCKED_ADDRESS, ErrorKind.TLS])
def test_a_host_no_request_can_reach_is_allowed_so_each_page_says_why(kind: ErrorKind) -> None:
    assert judge_robots(answer(None, error=ErrorInfo(kind, "no")), 0, True).rules == ALLOW_ALL


def test_redirects_are_followed_five_hops_then_mean_unavailable() -> None:
    moved = answer(301, location="/elsewhere.txt")
    assert judge_robots(moved, MAX_ROBOTS_REDIRECTS - 1, True).follow == "https://site.test/elsewhere.txt"
    assert judge_robots(moved, MAX_ROBOTS_REDIRECTS, True).rules == ALLOW_ALL
    assert judge_robots(answer(302), 0, True).rules == ALLOW_ALL  # no Location: nowhere to go
    assert judge_robots(answer(301, location="ftp://x/"), 0, True).rules == ALLOW_ALL
