"""One vocabulary of error kinds: what fetchers, retries, the core and records call a failure.

A record's ``error.kind`` is one of these; ``ErrorKind`` is a ``StrEnum``, so a kind
compares equal to its string and is written as it in JSON::

    reported by the fetchers (nothing decided, see crawler.fetchers)
        timeout, connection, decoding      failed in passing: retried
        invalid_url, tls, blocked_address  refused before anything was sent: not retried
    decided by the core (see crawler.core)
        http_status                        a 429/5xx still failing after the retries
        body_too_large                     the body was cut at max_body_bytes
        too_many_redirects, redirect_loop, bad_redirect
        robots_disallowed                  a redirect target robots.txt forbids (or, in a
                                           link check, any target it forbids)
    reported by the page hook's runner (see crawler.hooks)
        hook_error                         the hook raised
        hook_result                        it returned what cannot be used (does not pickle, ...)
    reported by a driver
        worker_died                        the page killed its parse worker twice (see runners.batcher)
        internal                           a bug; the crawl goes on

:class:`OutputError` is no kind of a record: a sink that cannot be repaired for this crawl
ends the command with its message.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    """Why a fetch or a page failed, as a short machine-readable word."""

    TIMEOUT = "timeout"
    CONNECTION = "connection"
    DECODING = "decoding"
    INVALID_URL = "invalid_url"
    TLS = "tls"
    BLOCKED_ADDRESS = "blocked_address"
    HTTP_STATUS = "http_status"
    BODY_TOO_LARGE = "body_too_large"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    REDIRECT_LOOP = "redirect_loop"
    BAD_REDIRECT = "bad_redirect"
    ROBOTS_DISALLOWED = "robots_disallowed"
    HOOK_ERROR = "hook_error"
    HOOK_RESULT = "hook_result"
    WORKER_DIED = "worker_died"
    INTERNAL = "internal"


class OutputError(Exception):
    """An output that cannot be repaired for this crawl; the message says why in one line."""


# Kinds that a later attempt may not hit again.
RETRYABLE = frozenset({ErrorKind.TIMEOUT, ErrorKind.CONNECTION, ErrorKind.DECODING})
# Kinds that end every request to a host before anything is sent: its robots.txt failing
# so says nothing about what it allows.
REFUSED_OUTRIGHT = frozenset({ErrorKind.BLOCKED_ADDRESS, ErrorKind.TLS})

__all__ = ["REFUSED_OUTRIGHT", "RETRYABLE", "ErrorKind", "OutputError"]
