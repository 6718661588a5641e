"""A link check's findings, worked out from the crawl's records (pure).

Every record of a link check says what one URL answered; the pages' records also
list their links (``refs``: targets, fragments, texts, elements) and, with fragment
checks, their anchors. :class:`ReportBuilder` takes the records in any order (as the
crawl yields them, or read back from a saved JSON line, so a resumed check reports
on the pages of every run), and :meth:`ReportBuilder.build` resolves each linked
URL to its outcome: its own record, or, through redirects, the record of where
it led.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import compress, count
from typing import Any, NamedTuple

from ..linkcheck import SKIPPED_ERRORS, fragment_found, is_broken
from ..models import REDIRECT_STATUSES, LinkRefs, PageRecord


class Referrer(NamedTuple):
    """A page that links to a target, and what the link says."""

    # A named tuple: a report makes one per link to a listed target, in C from sorted pairs.

    url: str
    text: str


class Target(NamedTuple):
    """A linked URL and what checking it gave (final_url: where redirects led, if elsewhere).

    referrers are gathered for the targets a report lists (broken, not allowed to be
    asked) and empty for the others: a site's fine links are most of its links.
    """

    # A named tuple, as Referrer: a report makes one per target, thousands for a big
    # site, and a frozen dataclass's __init__ costs three times as much.

    url: str
    status: int | None
    error: str | None
    referrers: tuple[Referrer, ...] = ()
    final_url: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: url, status, error, referrers."""
        return {"url": self.url, "status": self.status, "error": self.error,
                "referrers": [{"url": r.url, "text": r.text} for r in self.referrers]}


@dataclass(frozen=True, slots=True)
class CheckReport:
    """The findings: every target checked, the broken ones and those not allowed to be asked.

    pages counts the pages whose links were read.
    """

    pages: int
    checked: tuple[Target, ...]
    broken: tuple[Target, ...]
    disallowed: tuple[Target, ...]

    @property
    def ok(self) -> bool:
        """True when nothing is broken (what the exit code says)."""
        return not self.broken

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: {"checked": N, "broken": [...], "disallowed": [...], "pages": N}."""
        return {"checked": len(self.checked), "broken": [t.to_dict() for t in self.broken],
                "disallowed": [t.to_dict() for t in self.disallowed], "pages": self.pages}


class _Outcome(NamedTuple):
    """What a URL's record says, kept small."""

    url: str
    status: int | None
    error_kind: str | None
    error: str | None
    redirect_to: str | None  # a redirect the crawl did not follow from here (seen already, say)


@dataclass
class ReportBuilder:
    """Gathers records, then builds the report; check_fragments also judges page#anchor links."""

    check_fragments: bool = False
    # Outcomes by every URL known to lead to them: the one asked for, the redirect hops
    # passed through and the final one (a link to any of them was a duplicate, not asked again).
    _outcomes: dict[str, _Outcome] = field(default_factory=dict)
    _seeds: set[str] = field(default_factory=set)
    _anchors: dict[str, frozenset[str]] = field(default_factory=dict)  # by final URL
    # Each read page's URL and its refs, as its record holds them: most targets are fine,
    # so who links to a target is worked out at the end, and only for the targets the report lists.
    _pages: list[tuple[str, LinkRefs]] = field(default_factory=list)

    def add(self, record: PageRecord) -> None:
        """Take one record."""
        error = record.error
        redirect_to = None
        if record.status in REDIRECT_STATUSES and error is None and record.links:
            redirect_to = record.links[0]
        outcome = _Outcome(record.url, record.status, error.kind if error else None,
                           error.message if error else None, redirect_to)
        self._outcomes[record.requested_url] = outcome
        for url in (*record.redirects, record.url):
            self._outcomes.setdefault(url, outcome)
        if record.depth == 0:
            self._seeds.add(record.requested_url)
        if record.anchors is not None:
            self._anchors[record.url] = record.anchors
        if record.refs and record.refs.urls:
            self._pages.append((record.url, record.refs))

    def add_all(self, records: Iterable[PageRecord]) -> ReportBuilder:
        """add() each record; return self."""
        for record in records:
            self.add(record)
        return self

    def build(self) -> CheckReport:
        """Resolve every linked URL (and every seed) to its outcome and sort the findings."""
        linked = self._seeds.union(*(refs.urls for _, refs in self._pages))
        # Only a URL with a record of its own can resolve (the others were outside the scope, too deep ...).
        asked = [(url, outcome) for url in sorted(linked.intersection(self._outcomes))
                 if (outcome := self._resolve(url)) is not None]
        listed = {url for url, outcome in asked if outcome.error_kind in SKIPPED_ERRORS
                  or is_broken(outcome.status, outcome.error_kind)}
        referrers, fragment_links = self._links_to(listed)
        checked, broken, disallowed = [], [], []
        for url, outcome in asked:
            target = Target(url, outcome.status, outcome.error, _referrers(referrers[url]) if url in referrers else (),
                            outcome.url if outcome.url != url else None)
            if outcome.error_kind in SKIPPED_ERRORS:
                disallowed.append(target)
                continue
            checked.append(target)
            if url in listed:
                broken.append(target)
            elif self.check_fragments:
                broken.extend(self._missing_anchors(target, outcome, fragment_links.get(url, ())))
        broken.sort(key=lambda t: t.url)
        return CheckReport(len(self._pages), tuple(checked), tuple(broken), tuple(disallowed))

    def _links_to(self, targets: set[str]) -> tuple[dict[str, list[tuple[str, str]]],
                                                     dict[str, list[tuple[str, str, str]]]]:
        """(page, text) of each link to one of targets, and, when fragments are judged,
        (page, fragment, text) of each link with a fragment: one pass over the pages' refs."""
        referrers: dict[str, list[tuple[str, str]]] = defaultdict(list)
        fragment_links: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
        for page, (urls, fragments, texts, tags) in self._pages:
            # The rows are found in C (compress): most links are to fine targets, and have no fragment.
            for i in compress(count(), map(targets.__contains__, urls)):
                referrers[urls[i]].append((page, texts[i] or f"<{tags[i]}>"))
            if self.check_fragments:
                for i in compress(count(), fragments):
                    fragment_links[urls[i]].append((page, fragments[i], texts[i] or f"<{tags[i]}>"))
        return referrers, fragment_links

    def _resolve(self, url: str) -> _Outcome | None:
        """The outcome of asking for url, following the redirects the crawl did not follow itself."""
        passed: set[str] = set()
        outcome = self._outcomes.get(url)
        while outcome is not None and outcome.redirect_to is not None and url not in passed:
            passed.add(url)
            url = outcome.redirect_to
            outcome = self._outcomes.get(url)
        return outcome

    def _missing_anchors(self, target: Target, outcome: _Outcome,
                         links: Iterable[tuple[str, str, str]]) -> list[Target]:
        """One broken target per fragment that the target page does not define."""
        anchors = self._anchors.get(outcome.url)
        if anchors is None:
            return []  # not an HTML page, or not read: nothing to judge
        missing: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for page, fragment, text in links:
            if not fragment_found(fragment, anchors):
                missing[fragment].append((page, text))
        return [Target(f"{target.url}#{fragment}", outcome.status, f"no anchor #{fragment} on the page",
                       _referrers(referrers), target.final_url) for fragment, referrers in missing.items()]


def _referrers(pairs: Iterable[tuple[str, str]]) -> tuple[Referrer, ...]:
    """Referrers in a stable order (the crawl meets them in an order that varies)."""
    return tuple(map(Referrer._make, sorted(set(pairs))))


__all__ = ["CheckReport", "Referrer", "ReportBuilder", "Target"]
