"""BodyReader and the header helpers: decoding, bounds and errors, with no network."""

from __future__ import annotations

import gzip
import random
import tracemalloc
import zlib

import brotli
import pytest

from crawler.fetchers.body import (
    BodyReader,
    check_url,
    parse_charset,
    parse_codings,
    request_headers,
)

MiB = 1024 * 1024
PAGE = b"".join(b"<p>line %d of a page that compresses well</p>\n" % i for i in range(6000))


def raw_deflate(data: bytes) -> bytes:
    """Deflate without the zlib wrapper, as some servers send ``deflate``."""
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


# Each coding's Content-Encoding value and PAGE encoded with it, computed once.
ENCODED = {
    "gzip": ("gzip", gzip.compress(PAGE)),
    "x-gzip": ("x-gzip", gzip.compress(PAGE)),
    "deflate": ("deflate", zlib.compress(PAGE)),
    "deflate-raw": ("deflate", raw_deflate(PAGE)),
    "br": ("br", brotli.compress(PAGE, quality=5)),
}


def read_all(reader: BodyReader, data: bytes, chunk_size: int = 64 * 1024) -> bytes:
    """Feed data in chunks the way a fetcher does, then finish."""
    for start in range(0, len(data), chunk_size):
        if not reader.feed(data[start : start + chunk_size]):
            break
    return reader.finish()


@pytest.mark.parametrize("chunk_size", [1, 7, 64 * 1024])
@pytest.mark.parametrize("name", sorted(ENCODED))
def test_decodes_every_supported_coding_whatever_the_chunking(name: str, chunk_size: int) -> None:
    coding, encoded = ENCODED[name]
    reader = BodyReader(10 * MiB, coding)
    assert read_all(reader, encoded, chunk_size) == PAGE
    assert (reader.error, reader.truncated, reader.size, reader.raw_size) == (
        None,
        False,
        len(PAGE),
        len(encoded),
    )


@pytest.mark.parametrize("encoding", [None, "", "identity", "zstd", "compress"])
def test_identity_and_unknown_codings_pass_through(encoding: str | None) -> None:
    reader = BodyReader(10 * MiB, encoding)
    assert read_all(reader, PAGE, 1000) == PAGE
    assert reader.error is None


def test_coding_names_are_case_insensitive_and_identity_is_ignored() -> None:
    reader = BodyReader(MiB, " Identity , GZIP ")
    assert read_all(reader, gzip.compress(PAGE)) == PAGE


def test_body_of_exactly_max_bytes_is_not_truncated() -> None:
    reader = BodyReader(len(PAGE), "gzip")
    assert read_all(reader, gzip.compress(PAGE)) == PAGE
    assert not reader.truncated


@pytest.mark.parametrize("encoding", [None, "gzip", "br"])
def test_one_byte_too_many_truncates_to_a_prefix(encoding: str | None) -> None:
    reader = BodyReader(len(PAGE) - 1, encoding)
    encoded = ENCODED[encoding][1] if encoding else PAGE
    assert read_all(reader, encoded, 100) == PAGE[:-1]
    assert reader.truncated and reader.error is None


def test_feed_says_stop_once_the_limit_is_reached_and_ignores_more() -> None:
    reader = BodyReader(10)
    assert reader.feed(b"12345")
    assert not reader.feed(b"67890abc")
    assert not reader.feed(b"more")
    assert (reader.finish(), reader.raw_size, reader.truncated) == (b"1234567890", 10, True)


def test_raw_bytes_are_bounded_even_when_they_decode_to_little() -> None:
    noise = random.Random(1).randbytes(50_000)  # incompressible: gzip makes it bigger
    reader = BodyReader(len(noise), "gzip")
    read_all(reader, gzip.compress(noise, compresslevel=9), 4096)
    assert reader.truncated and reader.raw_size == len(noise) and reader.error is None


def test_gzip_bomb_is_cut_without_inflating_it() -> None:
    bomb = zlib.compress(bytes(64 * MiB), 1)  # a zlib stream also labelled "deflate"
    tracemalloc.start()
    try:
        reader = BodyReader(MiB, "deflate")
        body = read_all(reader, bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (len(body), reader.truncated, reader.error) == (MiB, True, None)
    assert reader.raw_size < 128 * 1024  # stopped within the first two chunks
    assert peak < 4 * MiB


def test_brotli_bomb_is_cut_without_inflating_it() -> None:
    bomb = brotli.compress(bytes(64 * MiB), quality=1)
    tracemalloc.start()
    try:
        reader = BodyReader(MiB, "br")
        body = read_all(reader, bomb)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (len(body), reader.truncated, reader.error) == (MiB, True, None)
    assert peak < 4 * MiB


@pytest.mark.parametrize("name", sorted(ENCODED))
def test_stream_ending_early_is_a_decoding_error_keeping_the_prefix(name: str) -> None:
    coding, encoded = ENCODED[name]
    reader = BodyReader(10 * MiB, coding)
    body = read_all(reader, encoded[: len(encoded) // 2])
    assert reader.error is not None and reader.error.kind == "decoding"
    assert PAGE.startswith(body) and not reader.truncated


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_corrupt_stream_is_a_decoding_error(encoding: str) -> None:
    reader = BodyReader(MiB, encoding)
    assert not reader.feed(b"\x1f\x8b\x08\x00 this is not compressed data at all" * 10)
    reader.finish()
    assert reader.error is not None and reader.error.kind == "decoding"


@pytest.mark.parametrize("encoding", ["gzip", "deflate", "br"])
def test_empty_body_with_a_coding_is_fine(encoding: str) -> None:
    # A 204, 304 or redirect may carry Content-Encoding with no body at all.
    reader = BodyReader(MiB, encoding)
    assert reader.finish() == b"" and reader.error is None


@pytest.mark.parametrize("chunk_size", [1, 5, 1000])
def test_multi_member_gzip_is_decoded_whole(chunk_size: int) -> None:
    reader = BodyReader(MiB, "gzip")
    members = gzip.compress(b"first ") + gzip.compress(b"second")
    assert read_all(reader, members, chunk_size) == b"first second"
    assert reader.error is None


def test_gzip_member_starting_in_a_chunk_without_output_is_decoded() -> None:
    first, second = gzip.compress(b"first "), gzip.compress(b"second")
    reader = BodyReader(MiB, "gzip")
    reader.feed(first[:-8])
    reader.feed(first[-8:] + second)  # the first member's trailer yields no output
    assert (reader.finish(), reader.error) == (b"first second", None)


def test_trailing_garbage_after_the_stream_is_ignored() -> None:
    reader = BodyReader(MiB, "gzip")
    assert read_all(reader, gzip.compress(PAGE) + b"\r\n\r\n") == PAGE
    assert reader.error is None


def test_stacked_codings_are_a_decoding_error() -> None:
    reader = BodyReader(MiB, "gzip, br")
    assert not reader.feed(brotli.compress(ENCODED["gzip"][1], quality=1))
    assert reader.finish() == b""
    assert reader.error is not None and reader.error.kind == "decoding"


@pytest.mark.parametrize(
    ("content_type", "charset"),
    [
        (None, None),
        ("text/html", None),
        ("text/html; charset=UTF-8", "utf-8"),
        ('text/html;Charset="ISO-8859-1"', "iso-8859-1"),
        ("text/html; q=1 ; charset = windows-1252 ", "windows-1252"),
        ("text/html; charset=", None),
        ('text/html; charset="ISO-8859-1"', "iso-8859-1"),
        ("text/html;CHARSET= Shift_JIS ", "shift_jis"),
        ("text/html; format=flowed; charset=koi8-r", "koi8-r"),
        ("charset=utf-8", None),
        ("", None),
    ],
)
def test_parse_charset(content_type: str | None, charset: str | None) -> None:
    assert parse_charset(content_type) == charset


def test_parse_codings_lists_applied_codings_in_order() -> None:
    assert parse_codings("identity, gzip,BR") == ["gzip", "br"]
    assert parse_codings(None) == []


@pytest.mark.parametrize(
    "url", ["http://[::1", "ftp://127.0.0.1/", "http://", "127.0.0.1/page", "http://h:99999/"]
)
def test_check_url_rejects_what_cannot_be_fetched(url: str) -> None:
    error = check_url(url)
    assert error is not None and error.kind == "invalid_url"


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/a?b#c", "HTTPS://example.org", "http://[::1]/"]
)
def test_check_url_accepts_absolute_http_urls(url: str) -> None:
    assert check_url(url) is None


def test_request_headers_advertise_only_decodable_codings() -> None:
    headers = request_headers("bot/1.0")
    assert headers["User-Agent"] == "bot/1.0"
    assert headers["Accept-Encoding"] == "gzip, deflate, br"
    assert headers["Accept"].startswith("text/html")
