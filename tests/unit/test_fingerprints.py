"""The compact seen-set: exact for distinct strings, whatever their number or bucket."""

from __future__ import annotations

import sys

from crawler.fingerprints import FingerprintSet


def test_added_strings_are_found_once_and_others_are_not() -> None:
    seen = FingerprintSet()
    urls = [f"http://example.test/item/{i}" for i in range(50_000)]  # many per bucket
    assert all(seen.add(url) for url in urls)
    assert not any(seen.add("".join(["http://example.test/item/", str(i)])) for i in range(50_000))
    assert len(seen) == 50_000 and urls[123] in seen and "http://example.test/other" not in seen


def test_it_keeps_no_reference_to_the_strings() -> None:
    seen, url = FingerprintSet(), "".join(["http://example.test/", "page" * 10])
    references = sys.getrefcount(url)
    seen.add(url)
    assert sys.getrefcount(url) == references
