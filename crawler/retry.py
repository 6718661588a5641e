"""When to retry a fetch and how long to wait first (pure)."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from .errors import RETRYABLE
from .models import FetchResult

# Statuses worth another try: the server said "later" or failed in passing.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def is_retryable(fetch: FetchResult) -> bool:
    """True when the fetch failed in a way that another attempt may fix."""
    if fetch.error is not None:
        return fetch.error.kind in RETRYABLE
    return fetch.status in RETRYABLE_STATUSES


def backoff_delay(attempt: int, base: float, cap: float, rng: random.Random | None = None) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random, capped."""
    ceiling = min(cap, base * (2 ** attempt))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (RFC 9110 10.2.3), or None if absent or bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def retry_wait(fetch: FetchResult, attempt: int, base: float, cap: float,
               max_retry_after: float, rng: random.Random | None = None) -> float:
    """How long to wait before the next attempt: Retry-After on 429/503, else backoff."""
    if fetch.status in (429, 503):
        after = parse_retry_after(fetch.retry_after)
        if after is not None:
            return min(after, max_retry_after)
    return backoff_delay(attempt, base, cap, rng)
