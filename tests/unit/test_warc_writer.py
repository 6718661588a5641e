"""The WARC writer on its own: records, rotation, and the mark a resume cuts back to."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path
from typing import Any

from warcio.archiveiterator import ArchiveIterator

from crawler.models import Exchange, PageRecord
from crawler.sinks.warc import WarcWriter


def exchange(path: str, body: bytes = b"<p>hi</p>", **changes: Any) -> Exchange:
    fields: dict[str, Any] = {
        "url": f"http://site.test{path}", "request_head": f"GET {path} HTTP/1.1\r\nHost: site.test\r\n\r\n".encode(),
        "status_line": "HTTP/1.1 200 OK", "headers": (("Content-Type", "text/html"),), "body": body,
        "ip": "192.0.2.1", "fetched_at": 1_800_000_000.25}
    return Exchange(**{**fields, **changes})


def record(*exchanges: Exchange, links: tuple[str, ...] = ()) -> PageRecord:
    last = exchanges[-1]
    return PageRecord(url=last.url, requested_url=exchanges[0].url, status=200, depth=0, referrer=None,
                      content_type="text/html", size=len(last.body), title=None, links=list(links),
                      redirects=[], retries=0, elapsed_ms=1.0, fetched_at="", exchanges=exchanges)


def read(directory: Path) -> list[Any]:
    found = []
    for path in sorted(directory.glob("*.warc.gz")):
        with path.open("rb") as stream:
            for item in ArchiveIterator(stream, check_digests=True):
                item.body = item.raw_stream.read()
                found.append(item)
    return found


def test_a_page_becomes_response_request_and_metadata(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path, info={"operator": "tests"}, outlinks=True)
    writer.start()
    writer.write([record(exchange("/"), links=("http://site.test/a",))])
    writer.close()
    info, response, request, metadata = read(tmp_path)
    assert info.rec_type == "warcinfo" and b"operator: tests" in info.body
    assert (response.rec_type, request.rec_type, metadata.rec_type) == ("response", "request", "metadata")
    assert response.rec_headers.get_header("WARC-Date") == "2027-01-15T08:00:00.250000Z"
    assert response.rec_headers.get_header("WARC-IP-Address") == "192.0.2.1"
    response_id = response.rec_headers.get_header("WARC-Record-ID")
    assert request.rec_headers.get_header("WARC-Concurrent-To") == response_id
    assert metadata.rec_headers.get_header("WARC-Concurrent-To") == response_id
    assert b"outlink: http://site.test/a\r\n" in metadata.body
    assert response.body == b"<p>hi</p>"


def test_header_bytes_are_written_back_as_received(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path)
    writer.start()
    odd = (("X-Name", "caf\xe9"), ("x-dup", "1"), ("X-Dup", "2"))
    writer.write([], [exchange("/", headers=odd, status_line="HTTP/1.0 200 Fine")])
    writer.close()
    data = b"".join(path.read_bytes() for path in tmp_path.iterdir())
    assert b"HTTP/1.0 200 Fine\r\nX-Name: caf\xe9\r\nx-dup: 1\r\nX-Dup: 2\r\n\r\n" in gzip.decompress(data)


def test_an_identical_payload_is_a_revisit_but_empty_or_cut_bodies_never(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path)
    writer.start()
    writer.write([], [exchange("/one"), exchange("/two"), exchange("/r1", b"", status_line="HTTP/1.1 301 Moved"),
                      exchange("/r2", b"", status_line="HTTP/1.1 301 Moved"),
                      exchange("/cut1", b"x" * 10, truncated="length"), exchange("/cut2", b"x" * 10)])
    writer.close()
    kinds = {r.rec_headers.get_header("WARC-Target-URI"): r for r in read(tmp_path)
             if r.rec_type in ("response", "revisit")}
    assert kinds["http://site.test/two"].rec_type == "revisit"
    two = kinds["http://site.test/two"].rec_headers
    assert two.get_header("WARC-Refers-To-Target-URI") == "http://site.test/one"
    assert two.get_header("WARC-Payload-Digest") == kinds["http://site.test/one"].rec_headers.get_header(
        "WARC-Payload-Digest")
    assert [kinds[f"http://site.test/{p}"].rec_type for p in ("r1", "r2", "cut1", "cut2")] == ["response"] * 4
    assert kinds["http://site.test/cut1"].rec_headers.get_header("WARC-Truncated") == "length"


def test_files_rotate_past_max_size_never_splitting_an_exchange(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path, max_size=2000)
    writer.start()
    for i in range(10):
        writer.write([], [exchange(f"/{i}", bytes([i]) * 3000)])
    writer.close()
    files = writer.files
    assert len(files) > 3 and files[0].name.startswith("crawl-") and files[0].name.endswith("-00001.warc.gz")
    for path in files:
        with path.open("rb") as stream:
            types = [item.rec_type for item in ArchiveIterator(stream)]
        assert types[0] == "warcinfo" and types.count("response") == types.count("request")


def test_a_resume_cuts_back_to_the_mark_and_goes_on_in_the_same_file(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path, max_size=5000)
    mark = writer.start()
    mark = writer.write([], [exchange("/kept")])
    writer.write([], [exchange(f"/lost{i}", os.urandom(3000)) for i in range(3)])  # never committed
    writer.close()
    with open(tmp_path / json.loads(mark)["file"], "ab") as torn:
        torn.write(b"\x1f\x8b\x08 a torn record")
    assert len(writer.files) == 2  # the lost ones rotated into a second file

    again = WarcWriter(tmp_path, max_size=5000)
    assert again.start(mark) == mark
    again.write([], [exchange("/after", b"<p>after</p>")])
    again.close()
    uris = [r.rec_headers.get_header("WARC-Target-URI") for r in read(tmp_path) if r.rec_type == "response"]
    assert uris == ["http://site.test/kept", "http://site.test/after"]
    assert len(again.files) == 1


def test_a_new_crawl_in_a_used_directory_numbers_on(tmp_path: Path) -> None:
    for _ in range(2):
        writer = WarcWriter(tmp_path)
        writer.start()
        writer.close()
    assert [path.name[-13:] for path in writer.files] == ["00001.warc.gz", "00002.warc.gz"]


def test_a_resumed_writer_still_knows_the_payloads_written_before(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path)
    writer.start()
    mark = writer.write([], [exchange("/first"), exchange("/empty", b"")])
    writer.close()
    again = WarcWriter(tmp_path)
    again.start(mark)
    again.write([], [exchange("/copy"), exchange("/empty-too", b"")])
    again.close()
    kinds = {r.rec_headers.get_header("WARC-Target-URI").rsplit("/", 1)[1]: r.rec_type for r in read(tmp_path)
             if r.rec_type in ("response", "revisit")}
    assert kinds == {"first": "response", "empty": "response", "copy": "revisit", "empty-too": "response"}


def test_outlinks_are_written_only_when_asked(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path)
    writer.start()
    writer.write([record(exchange("/"), links=("http://site.test/a",))])
    writer.close()
    assert [item.rec_type for item in read(tmp_path)] == ["warcinfo", "response", "request"]
