"""A compact set of strings seen, kept as 64-bit fingerprints: about 20 bytes a string.

A Python set of the URLs of a crawl of millions of pages costs 170 bytes and more a URL
(the string, and its slot); a set of their hashes as ints still 80. Here each fingerprint
is 8 bytes in a sorted ``array`` of one of 65,536 buckets picked by its top bits, so an
insertion moves a few kilobytes at most, and no table is ever rebuilt in one go.

The fingerprint is Python's ``hash`` of the string: SipHash with a key drawn at random
per process, so a site cannot make two URLs collide on purpose (and the set must not
outlive its process). Two of n strings collide with odds of about n²/2⁶⁵: 3 in 100
million at 1,000,000 strings, 3 in 10,000 at 100,000,000. A collision makes a new string
look seen.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left

_BUCKET_BITS = 16
_SHIFT = 64 - _BUCKET_BITS
_OFFSET = 1 << 63  # hash() is signed: shift it to 0 .. 2**64 - 1 to pick a bucket


class FingerprintSet:
    """Strings seen, by fingerprint: add and test, never list."""

    def __init__(self) -> None:
        self._buckets: list[array[int] | None] = [None] * (1 << _BUCKET_BITS)
        self._count = 0

    def add(self, text: str) -> bool:
        """Remember text; True when it was not there before."""
        fingerprint = hash(text)  # computed once per string object, then cached in it
        index = (fingerprint + _OFFSET) >> _SHIFT
        bucket = self._buckets[index]
        if bucket is None:
            self._buckets[index] = array("q", (fingerprint,))
        else:
            at = bisect_left(bucket, fingerprint)
            if at < len(bucket) and bucket[at] == fingerprint:
                return False
            bucket.insert(at, fingerprint)
        self._count += 1
        return True

    def __contains__(self, text: str) -> bool:
        """True when text was added."""
        fingerprint = hash(text)
        bucket = self._buckets[(fingerprint + _OFFSET) >> _SHIFT]
        if bucket is None:
            return False
        at = bisect_left(bucket, fingerprint)
        return at < len(bucket) and bucket[at] == fingerprint

    def __len__(self) -> int:
        """How many distinct strings were added."""
        return self._count
