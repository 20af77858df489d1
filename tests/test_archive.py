"""WarcArchive writes what warc_pages reads back; files survive a kill mid-run."""
import re
import secrets
from datetime import UTC, datetime

import pytest
from warcio.archiveiterator import ArchiveIterator

from ingest.fetch import charset
from ingest.records import Page
from ingest.run.archive import WarcArchive, http_head
from ingest.sources.warc import WarcStats, warc_pages

pytestmark = pytest.mark.timeout(30)


def make_page(n: int, *, body: bytes | None = None, ctype="text/html; charset=utf-8", extra=None) -> Page:
    body = body if body is not None else f"<html><head><title>T{n}</title></head><body><p>Story {n} é</p></body></html>".encode()
    headers = {"content-type": ctype, "etag": f'"v{n}"', **(extra or {})}
    d = charset.decode(body, ctype)
    return Page(
        url=f"http://news.test/a/{n}?utm=x", final_url=f"https://news.test/a/{n}", status=200, headers=headers,
        body=body, html=d.text, charset=d.charset, charset_source=d.source, charset_mismatch=d.mismatch,
        fetched_at=datetime(2024, 5, 1, 12, 0, n, 123456, tzinfo=UTC),
    )


def test_round_trip(tmp_path):
    pages = [
        make_page(1),
        make_page(2, body="<html><body>caf\xe9 \u201cquoted\u201d</body></html>".encode("cp1252"),
                  ctype="text/html; charset=windows-1252"),
        # the Fetcher's body is already decompressed/de-chunked; these headers must not survive
        make_page(3, extra={"content-encoding": "gzip", "transfer-encoding": "chunked", "content-length": "12"}),
    ]
    with WarcArchive(tmp_path) as archive:
        for p in pages:
            archive.write(p)
        files = list(archive.files)
    assert len(files) == 1 and re.fullmatch(r"ingest-\d{14}-\d+-00000\.warc\.gz", files[0].name)
    stats = WarcStats()
    back = list(warc_pages(files[0], stats=stats))
    assert stats.records == 4 and stats.html == 3 and dict(stats.skipped) == {"warcinfo": 1}
    for original, (cand, page) in zip(pages, back):
        assert cand.url == page.final_url == original.final_url
        assert page.body == original.body and page.html == original.html and page.status == 200
        assert page.fetched_at == original.fetched_at  # WARC/1.1: microseconds kept
        assert page.headers["content-type"] == original.headers["content-type"]
        assert page.headers["etag"] == original.headers["etag"]
        assert "content-encoding" not in page.headers and "transfer-encoding" not in page.headers
        assert page.headers["content-length"] == str(len(original.body))
    assert back[1][1].charset == "cp1252" and "\u201cquoted\u201d" in back[1][1].html


def test_http_head_status_line():
    head = http_head(make_page(1))
    assert head.statusline == "200 OK" and head.protocol == "HTTP/1.1"
    assert head.get_header("Content-Type") == "text/html; charset=utf-8"


def test_flushed_per_record_so_a_killed_writer_leaves_a_readable_file(tmp_path):
    archive = WarcArchive(tmp_path)
    archive.write(make_page(1))
    archive.write(make_page(2))
    # not closed (as if killed): everything written so far is on disk and readable
    assert [c.url for c, _ in warc_pages(archive.path)] == ["https://news.test/a/1", "https://news.test/a/2"]
    with open(archive.path, "ab") as fh:  # a record cut off mid-write
        fh.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03partial")
    stats = WarcStats()
    assert len(list(warc_pages(archive.path, stats=stats))) == 2 and stats.bad == 1
    archive.close()


def test_rotation_and_no_overwrite(tmp_path):
    with WarcArchive(tmp_path, max_size=1500) as archive:
        for n in range(6):
            archive.write(make_page(n, body=f"<html><body>{n} {secrets.token_hex(1000)}</body></html>".encode()))
        files = list(archive.files)
        assert archive.records == 6
    assert len(files) == 6 and len(set(files)) == 6  # one record per file, none holding only a warcinfo
    urls = [c.url for f in files for c, _ in warc_pages(f)]
    assert urls == [f"https://news.test/a/{n}" for n in range(6)]
    for f in files:  # each file starts with its own warcinfo
        with open(f, "rb") as fh:
            assert next(iter(ArchiveIterator(fh))).rec_type == "warcinfo"
    with WarcArchive(tmp_path) as again:  # a second archive in the same second and process: a new name
        assert again.path not in files


def test_write_after_close_raises(tmp_path):
    archive = WarcArchive(tmp_path / "new" / "dir")
    archive.close()
    archive.close()  # idempotent
    with pytest.raises(ValueError):
        archive.write(make_page(1))
