"""Tests for crawler.parsing: content types, encodings, link extraction, hostile input."""

from __future__ import annotations

import codecs
import pickle
import random
import time

import pytest
from bs4 import BeautifulSoup
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler import parsing
from crawler.models import ParseResult
from crawler.parsing import MAX_HREFS, decode_html, is_html, make_soup, parse_page

PAGE = "http://example.com/dir/page.html"


def page(body: str, head: str = "") -> bytes:
    """Wrap body markup in a minimal UTF-8 document."""
    return f"<!DOCTYPE html><html><head>{head}</head><body>{body}</body></html>".encode()


# --- content types -------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    ("text/html", True),
    ("TEXT/HTML; charset=UTF-8", True),
    (" text/html ; q=1", True),
    ("application/xhtml+xml", True),
    ("Application/XHTML+XML;charset=utf-8", True),
    ("text/plain", False),
    ("application/json", False),
    ("text/htmlx", False),
    ("text/html-sandboxed", False),
    ("", False),
    (None, False),
])
def test_is_html(value: str | None, expected: bool) -> None:
    assert is_html(value) is expected




# --- encodings -----------------------------------------------------------------------

CAFE_UTF8 = "caf\u00e9".encode()
CAFE_LATIN1 = "caf\u00e9".encode("latin-1")


@pytest.mark.parametrize("body, hint, text, encoding", [
    # A byte order mark beats everything else (WHATWG HTML 13.2.3.2).
    (codecs.BOM_UTF8 + CAFE_UTF8, "iso-8859-1", "caf\u00e9", "utf-8"),
    (codecs.BOM_UTF16_LE + "caf\u00e9".encode("utf-16-le"), "utf-8", "caf\u00e9", "utf-16-le"),
    (codecs.BOM_UTF16_BE + "caf\u00e9".encode("utf-16-be"), None, "caf\u00e9", "utf-16-be"),
    # Then the HTTP charset, even when the bytes disagree with it.
    (CAFE_LATIN1, "utf-8", "caf\ufffd", "utf-8"),
    (CAFE_UTF8 + b'<meta charset="koi8-r">', "UTF-8", "caf\u00e9<meta charset=\"koi8-r\">", "utf-8"),
    # Latin-1 and ASCII labels mean windows-1252 on the web (WHATWG Encoding).
    (b"\x93quoted\x94", "iso-8859-1", "\u201cquoted\u201d", "cp1252"),
    (b"\x93quoted\x94", "us-ascii", "\u201cquoted\u201d", "cp1252"),
    (b"\xd6\xd0", "gb2312", "\u4e2d", "gbk"),
    (b"\x82\xa0", "shift_jis", "\u3042", "cp932"),
    (b"\xdf", "windows-874", "\u0e3f", "cp874"),
])
def test_decode_bom_and_header(body: bytes, hint: str | None, text: str, encoding: str) -> None:
    assert decode_html(body, hint) == (text, encoding)


@pytest.mark.parametrize("body, hint, encoding", [
    (b'<meta charset="windows-1251"><p>\xcf\xf0\xe8', None, "cp1251"),
    (b"<META CHARSET=KOI8-R><p>\xf0\xd2\xc9", None, "koi8-r"),
    (b'<meta http-equiv="Content-Type" content="text/html; charset=windows-1251">\xcf\xf0\xe8', None, "cp1251"),
    (b"<meta content='text/html;charset=\"iso-8859-2\"' http-equiv=content-type>", None, "iso8859-2"),
    # An unknown or non-text codec name in the header falls through to the meta.
    (b'<meta charset="windows-1251">\xcf\xf0\xe8', "no-such-charset", "cp1251"),
    (b'<meta charset="windows-1251">\xcf\xf0\xe8', "base64", "cp1251"),
    (b'<meta charset="windows-1251">\xcf\xf0\xe8', "rot13", "cp1251"),
    (b'<meta charset="windows-1251">\xcf\xf0\xe8', "idna", "cp1251"),
    (b'<meta charset="windows-1251">\xcf\xf0\xe8', "utf-7", "cp1251"),
    (b'<meta charset="windows-1251">\xcf\xf0\xe8', "utf\x00-8", "cp1251"),
    (b'<meta charset="windows-1251">\xcf\xf0\xe8', "  ", "cp1251"),
    # A UTF-16 meta was read as ASCII, so it must be wrong (WHATWG HTML 13.2.3.2).
    (b'<meta charset="utf-16">' + CAFE_UTF8, None, "utf-8"),
    # Unknown meta names and metas past the first 2 KB are ignored.
    (b'<meta charset="klingon">' + CAFE_UTF8, None, "utf-8"),
    (b" " * 2100 + b'<meta charset="windows-1251">' + CAFE_UTF8, None, "utf-8"),
])
def test_decode_meta(body: bytes, hint: str | None, encoding: str) -> None:
    assert decode_html(body, hint)[1] == encoding


def test_decode_meta_text() -> None:
    assert decode_html(b'<meta charset="windows-1251">\xcf\xf0\xe8', None)[0].endswith("\u041f\u0440\u0438")


def test_sniff_utf8_even_when_cut_inside_a_character() -> None:
    # 65,536 bytes of three-byte characters ends inside one: still UTF-8.
    body = "\u20ac".encode() * 30_000
    assert decode_html(body, None) == ("\u20ac" * 30_000, "utf-8")


def test_sniff_undeclared_legacy_encoding() -> None:
    text = "Le caf\u00e9 de la gare est ferm\u00e9 \u00e0 cause des gr\u00e8ves, d\u00e9sol\u00e9. " * 40
    decoded, encoding = decode_html(text.encode("cp1252"), None)
    assert encoding != "utf-8"
    assert "caf\u00e9" in decoded and "\ufffd" not in decoded


@pytest.mark.parametrize("body", [
    b"",
    b"\x00" * 100,
    b"\xff\xfe\x00",
    b"\xef\xbb\xbf",
    bytes(range(256)) * 20,
    random.Random(7).randbytes(100_000),
], ids=["empty", "nuls", "short-bom", "bom-only", "all-bytes", "random"])
@pytest.mark.parametrize("hint", [None, "utf-8", "utf-16", "cp1252", "bogus"])
def test_decode_never_raises(body: bytes, hint: str | None) -> None:
    text, encoding = decode_html(body, hint)
    assert isinstance(text, str)
    assert codecs.lookup(encoding)


# --- links ---------------------------------------------------------------------------

def test_relative_links_resolve_against_page_url() -> None:
    result = parse_page(page(
        '<a href="a.html">1</a><a href="../up">2</a><a href="/root">3</a>'
        '<a href="//other.test/x">4</a><a href="?q=1">5</a><a href="https://abs.test/">6</a>'
    ), PAGE)
    assert result.links == (
        "http://example.com/dir/a.html", "http://example.com/up", "http://example.com/root",
        "http://other.test/x", "http://example.com/dir/page.html?q=1", "https://abs.test/",
    )


@pytest.mark.parametrize("head, expected", [
    ('<base href="/sub/">', "http://example.com/sub/a.html"),
    ('<base href="https://cdn.test/x/y">', "https://cdn.test/x/a.html"),
    ('<base href="  ../other/ ">', "http://example.com/other/a.html"),
    ('<base target="_blank"><base href="/first/"><base href="/second/">', "http://example.com/first/a.html"),
    ('<base href="javascript:void(0)">', "http://example.com/dir/a.html"),
    ('<base href="http://[::1">', "http://example.com/dir/a.html"),
    ('<base href="">', "http://example.com/dir/a.html"),
])
def test_base_href(head: str, expected: str) -> None:
    assert parse_page(page('<a href="a.html">a</a>', head), PAGE).links == (expected,)


def test_base_after_the_links_still_applies() -> None:
    body = b'<html><body><a href="a">a</a><base href="http://b.test/z/"></body></html>'
    assert parse_page(body, PAGE).links == ("http://b.test/z/a",)


def test_area_frame_iframe_and_not_other_tags() -> None:
    result = parse_page(page(
        '<map><area href="/area" shape="rect"></map><iframe src="/iframe"></iframe>'
        '<img src="/img.png"><script src="/s.js"></script><link href="/style.css" rel="stylesheet">'
        '<form action="/form"></form><video src="/v.mp4"></video>',
        head='<link rel="canonical" href="/canonical">',
    ), PAGE)
    assert result.links == ("http://example.com/area", "http://example.com/iframe")


def test_frameset_frames() -> None:
    body = b'<html><frameset><frame src="left.html"><frame src="/right.html"></frameset></html>'
    assert parse_page(body, PAGE).links == ("http://example.com/dir/left.html", "http://example.com/right.html")


def test_whitespace_entities_and_duplicates() -> None:
    result = parse_page(page(
        '<a href="  /a  ">1</a><a href="\n/b\t">2</a><a href="/a#top">3</a><a href="HTTP://EXAMPLE.COM:80/a">4</a>'
        '<a href="/c?x=1&amp;y=2">5</a><a href="/b">6</a><a href="/%7Ea">7</a><a href="/~a">8</a>'
    ), PAGE)
    assert result.links == (
        "http://example.com/a", "http://example.com/b", "http://example.com/c?x=1&y=2", "http://example.com/~a",
    )


def test_unfollowable_and_missing_hrefs_are_dropped() -> None:
    result = parse_page(page(
        '<a href="javascript:void(0)">j</a><a href="mailto:a@b.test">m</a><a href="tel:+1555">t</a>'
        '<a href="data:text/html,hi">d</a><a href="ftp://f.test/">f</a><a name="anchor">n</a>'
        '<a href="http://[::1">bad</a><a href="http://h.test:99999/">port</a><a href="/ok">ok</a>'
    ), PAGE)
    assert result.links == ("http://example.com/ok",)


def test_self_links() -> None:
    result = parse_page(page('<a href="">same</a><a href="#section">fragment</a>'), PAGE)
    assert result.links == (PAGE,)


# --- nofollow and meta robots -----------------------------------------------------------

def test_rel_nofollow() -> None:
    result = parse_page(page(
        '<a href="/n1" rel="nofollow">1</a><a href="/n2" rel="external NoFollow noopener">2</a>'
        '<a href="/both" rel="nofollow">3</a><a href="/both">4</a><a href="/f" rel="nofollowed">5</a>'
        '<area href="/n3" rel="nofollow"><a href="/plain">6</a>'
    ), PAGE)
    assert result.links == tuple(f"http://example.com/{p}" for p in ("n1", "n2", "both", "f", "n3", "plain"))
    assert result.nofollow == {f"http://example.com/{p}" for p in ("n1", "n2", "n3")}
    assert not result.meta_nofollow


@pytest.mark.parametrize("meta, noindex, nofollow", [
    ('<meta name="robots" content="noindex">', True, False),
    ('<meta name="robots" content="NOFOLLOW">', False, True),
    ('<meta name="robots" content="noindex, nofollow">', True, True),
    ('<meta name="ROBOTS" content="noindex,nofollow">', True, True),
    ('<meta name=" robots " content="none">', True, True),
    ('<meta name="robots" content="index, follow">', False, False),
    ('<meta name="robots" content="nofollowing noindexed">', False, False),
    ('<meta name="robots">', False, False),
    ('<meta name="googlebot" content="noindex, nofollow">', False, False),
    ('<meta content="nofollow">', False, False),
    ('<meta name="robots" content="noindex"><meta name="robots" content="nofollow">', True, True),
])
def test_meta_robots(meta: str, noindex: bool, nofollow: bool) -> None:
    result = parse_page(page('<a href="/a">a</a><a href="/b" rel="nofollow">b</a>', head=meta), PAGE)
    assert (result.meta_noindex, result.meta_nofollow) == (noindex, nofollow)
    # Under meta nofollow no link may be followed; otherwise only rel=nofollow ones.
    expected = set(result.links) if nofollow else {"http://example.com/b"}
    assert result.nofollow == expected


# --- title -----------------------------------------------------------------------------

@pytest.mark.parametrize("head, title", [
    ("<title>  Hello\n\t  world  </title>", "Hello world"),
    ("<title>Caf&eacute; &amp; bar &lt;3</title>", "Caf\u00e9 & bar <3"),
    ("<title>first</title><title>second</title>", "first"),
    ("<title></title>", None),
    ("<title>   </title>", None),
    ("", None),
    ("<title>" + "x" * 5000 + "</title>", "x" * 1000),
])
def test_title(head: str, title: str | None) -> None:
    assert parse_page(page("<p>text</p>", head=head), PAGE).title == title


def test_title_outside_head() -> None:
    assert parse_page(b"<p>before</p><title>late</title>", PAGE).title == "late"


# --- encodings through parse_page --------------------------------------------------------

def test_latin1_page_served_as_utf8() -> None:
    body = "<title>Caf\u00e9</title><a href='/men\u00fc'>m</a>".encode("latin-1")
    result = parse_page(body, PAGE, "utf-8")
    assert (result.title, result.encoding) == ("Caf\ufffd", "utf-8")
    assert result.links == ("http://example.com/men%EF%BF%BD",)


def test_meta_charset_page() -> None:
    body = "<meta charset='windows-1251'><title>\u041f\u0440\u0438\u0432\u0435\u0442</title>"
    body += "<a href='/\u0434'>x</a>"
    result = parse_page(body.encode("cp1251"), PAGE)
    assert (result.title, result.encoding) == ("\u041f\u0440\u0438\u0432\u0435\u0442", "cp1251")
    assert result.links == ("http://example.com/%D0%B4",)


def test_header_beats_meta_and_wrong_header_name_falls_back() -> None:
    body = "<meta charset='windows-1251'><title>caf\u00e9</title>".encode()
    assert parse_page(body, PAGE, "utf-8").title == "caf\u00e9"
    assert parse_page(body, PAGE, "x-no-such").encoding == "cp1251"


def test_utf16_page_with_bom() -> None:
    body = codecs.BOM_UTF16_LE + "<title>\u65e5\u672c</title><a href='/x'>x</a>".encode("utf-16-le")
    result = parse_page(body, PAGE)
    assert (result.title, result.encoding) == ("\u65e5\u672c", "utf-16-le")
    assert result.links == ("http://example.com/x",)


def test_xml_declaration_is_accepted() -> None:
    body = b'<?xml version="1.0" encoding="ISO-8859-1"?>'
    body += b'<html><head><title>caf\xe9</title></head><a href="x">x</a></html>'
    result = parse_page(body, PAGE, "iso-8859-1")
    assert (result.title, result.links) == ("caf\u00e9", ("http://example.com/dir/x",))


# --- hostile input -----------------------------------------------------------------------

@pytest.mark.parametrize("body", [b"", b"   \n", b"<!-- only a comment -->", b"<?xml version='1.0'?>"])
def test_empty_documents(body: bytes) -> None:
    assert parse_page(body, PAGE) == ParseResult(encoding="utf-8")


NUL_PAGE = b"<title>a\x00b</title>\x00<a href='/x\x00y'>x\x00</a>\x00<a href='/z'>z</a>"


@pytest.mark.parametrize("hint", [None, "windows-1252"])
def test_nul_bytes_read_as_replacement_characters(hint: str | None) -> None:
    result = parse_page(NUL_PAGE, PAGE, hint)
    assert result.links == ("http://example.com/x%EF%BF%BDy", "http://example.com/z")
    assert result.title == "a\ufffdb"


def test_a_mebibyte_of_nul_bytes_between_links_loses_neither() -> None:
    # A compression bomb's zeros: read as text, not byte by byte as errors (which took 3 s for 8 MiB).
    body = b"<a href='/a'>a</a>" + bytes(parsing.STREAM_BYTES) + b"<a href='/b'>b</a>"
    assert parse_page(body, PAGE).links == ("http://example.com/a", "http://example.com/b")


@pytest.mark.parametrize("seed", range(3))
def test_binary_garbage_served_as_html(seed: int) -> None:
    body = random.Random(seed).randbytes(200_000) + b"<a href='/tail'>t</a>"
    result = parse_page(body, PAGE, "utf-8")
    assert isinstance(result, ParseResult)


def test_huge_nesting_keeps_every_link() -> None:
    depth = 100_000
    body = (
        b"<html><head><title>deep</title></head><body><a href='/before'>b</a>" + b"<div>" * depth
        + b"<a href='/inside' rel='nofollow'>i</a><meta name='robots' content='noindex'>"
        + b"</div>" * depth + b"<a href='/after'>a</a></body></html>"
    )
    started = time.perf_counter()
    result = parse_page(body, PAGE)
    assert time.perf_counter() - started < 5
    assert result.links == ("http://example.com/before", "http://example.com/inside", "http://example.com/after")
    assert result.nofollow == {"http://example.com/inside"}
    assert (result.title, result.meta_noindex) == ("deep", True)


def test_a_page_past_max_hrefs_is_read_no_further() -> None:
    body = page('<a href="/same">s</a>' * MAX_HREFS + '<a href="/late">l</a>')
    assert parse_page(body, PAGE).links == ("http://example.com/same",)


_SAMPLES = [
    page('<a href="/a" rel="nofollow">a</a><a href="/b">b</a><iframe src="/f"></iframe>',
         head='<title>T &amp; <b>x</b></title><base href="/sub/"><meta name="robots" content="noindex">'),
    b"<p>before</p><title>late</title><title>second</title><a href=x>x</a>",
    b"<title>  spaced\n out  </title><area href='/m' rel='NOFOLLOW'><frame src='/fr'>",
    b"<svg><title>svg title</title></svg><title>page title</title>",
    b"<p><b><i>x</b></p><a href='/a'>a<a href='/b'>b</table></td><a href=/c>c<div <a href='/d'>",
    NUL_PAGE,
    b"",
]


@pytest.mark.parametrize("body", _SAMPLES)
def test_big_pages_read_without_a_tree_give_the_same_result(body: bytes, monkeypatch: pytest.MonkeyPatch) -> None:
    walked = parse_page(body, PAGE)
    monkeypatch.setattr(parsing, "STREAM_BYTES", 0)  # every page takes the event interface
    assert parse_page(body, PAGE) == walked


@settings(max_examples=150, deadline=None)
@given(body=st.lists(st.sampled_from([
    "<a href='/x'>", "<a href=/y rel=nofollow>", "<title>", "</title>", "t", "<base href=/b/>", "<div>",
    "</div>", "<svg>", "</svg>", "<!--", "-->", "<script>", "</script>", "&amp;", "<meta name=robots content=none>",
]), max_size=30).map("".join))
def test_both_ways_of_reading_agree(body: str) -> None:
    walked = parse_page(body.encode(), PAGE)
    original, parsing.STREAM_BYTES = parsing.STREAM_BYTES, 0
    try:
        assert parse_page(body.encode(), PAGE) == walked
    finally:
        parsing.STREAM_BYTES = original


def test_unclosed_tags_and_broken_markup() -> None:
    body = b"<p><b><i>x</b></p><a href='/a'>a<a href='/b'>b</table></td><a href=/c>c<div <a href='/d'>"
    assert parse_page(body, PAGE).links[:3] == ("http://example.com/a", "http://example.com/b", "http://example.com/c")


_FRAGMENTS = st.sampled_from([
    "<a href='", "'>", "<a href=/x>", "<base href=", "<title>", "</title>", "<meta name=robots content=none>",
    "<div>", "</div>", "<iframe src=", "<!--", "-->", "<![CDATA[", "<script>", "</script>", "&amp;", "&#0;",
    "\x00", "\ufffd", "\u00e9", "<?xml version='1.0' encoding='utf-16'?>", "<meta charset=", "utf-16",
    "javascript:", "http://[", "%", " ", "\n",
])


def _join_utf8(fragments: list[str]) -> bytes:
    """Join markup fragments into one UTF-8 body."""
    return "".join(fragments).encode()


@settings(max_examples=150, deadline=None)
@given(
    body=st.one_of(st.binary(max_size=2000), st.lists(_FRAGMENTS, max_size=40).map(_join_utf8)),
    hint=st.sampled_from([None, "utf-8", "utf-16", "latin-1", "bogus"]),
)
def test_property_parse_never_raises(body: bytes, hint: str | None) -> None:
    result = parse_page(body, PAGE, hint)
    assert all(link.startswith(("http://", "https://")) for link in result.links)
    assert len(set(result.links)) == len(result.links)
    assert result.nofollow <= set(result.links)


def test_entry_point_and_result_are_picklable() -> None:
    # ProcessPoolExecutor pickles the function by reference and the result by value.
    result = parse_page(page('<a href="/a" rel="nofollow">a</a>', head="<title>t</title>"), PAGE)
    assert pickle.loads(pickle.dumps(parse_page)) is parse_page
    assert pickle.loads(pickle.dumps(result)) == result


# --- make_soup -----------------------------------------------------------------------------

def test_make_soup_uses_the_same_encoding_decision() -> None:
    body = "<meta charset=cp1251><title>\u041f\u0440\u0438</title><a href='/a'>a</a>".encode("cp1251")
    soup = make_soup(body, PAGE)
    assert isinstance(soup, BeautifulSoup)
    assert soup.title is not None and soup.title.string == "\u041f\u0440\u0438"
    assert soup.original_encoding == "cp1251"
    assert [a["href"] for a in soup.find_all("a")] == ["/a"]


def test_make_soup_reads_nul_bytes_as_the_link_parse_does() -> None:
    soup = make_soup(NUL_PAGE, PAGE)
    assert [a["href"] for a in soup.find_all("a")] == ["/x\ufffdy", "/z"]
    assert soup.title is not None and soup.title.string == "a\ufffdb"


@pytest.mark.parametrize("body, hint", [
    (b"", None),
    (b"\x00\xff\xfe garbage", "utf-8"),
    (b'<?xml version="1.0" encoding="ISO-8859-1"?><html><title>caf\xe9</title></html>', "latin-1"),
])
def test_make_soup_survives_odd_input(body: bytes, hint: str | None) -> None:
    assert isinstance(make_soup(body, PAGE, hint), BeautifulSoup)
