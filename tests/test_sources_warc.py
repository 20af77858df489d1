"""WARC/ARC backfill reader on files built here with warcio's writer, then damaged on purpose."""
import gzip
import io
import logging
import shutil
from datetime import UTC, datetime

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from ingest.sources.warc import WarcStats, file_identity, warc_pages, warc_stats

pytestmark = pytest.mark.timeout(30)

UTC = UTC
HTML = "<!doctype html><html><head><title>Story {n}</title></head><body><p>Summit news {n}. Leaders met.</p></body></html>"
RUSSIAN = "<html><body><p>Новости дня: переговоры продолжаются.</p></body></html>"


def _response(writer, url, body: bytes, *, status="200 OK", ctype="text/html; charset=utf-8",
              date="2024-05-01T12:00:00Z", extra=()):
    headers = ([("Content-Type", ctype)] if ctype else []) + list(extra)
    http = StatusAndHeaders(status, headers, protocol="HTTP/1.1")
    return writer.create_warc_record(url, "response", payload=io.BytesIO(body), length=len(body),
                                     http_headers=http, warc_headers_dict={"WARC-Date": date})


def write_sample(path, *, gz=True, n_html=3):
    """warcinfo, request, n_html HTML pages, a cp1251 page, a gzip-encoded page, a PNG, a 404, a metadata."""
    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=gz)
        w.write_record(w.create_warcinfo_record(path.name, {"software": "test"}))
        req = StatusAndHeaders("GET / HTTP/1.1", [("Host", "news.test")], is_http_request=True)
        w.write_record(w.create_warc_record("http://news.test/", "request", http_headers=req))
        for n in range(1, n_html + 1):
            w.write_record(_response(w, f"http://news.test/story/{n}", HTML.format(n=n).encode(),
                                     date=f"2024-05-0{n}T12:00:0{n}Z"))
        w.write_record(_response(w, "http://news.test/ru", RUSSIAN.encode("cp1251"), ctype="text/html; charset=windows-1251"))
        w.write_record(_response(w, "http://news.test/gz", gzip.compress(HTML.format(n="gz").encode()),
                                 extra=[("Content-Encoding", "gzip")]))
        w.write_record(_response(w, "http://news.test/logo.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 50, ctype="image/png"))
        w.write_record(_response(w, "http://news.test/missing", b"<html>not found</html>", status="404 Not Found"))
        w.write_record(w.create_warc_record("http://news.test/", "metadata", payload=io.BytesIO(b"k: v\n"),
                                            warc_content_type="application/warc-fields"))
    return path


def offsets(path):
    with open(path, "rb") as fh:
        it = ArchiveIterator(fh)
        return [(it.offset, r.rec_type, r.rec_headers.get_header("WARC-Target-URI")) for r in it]


@pytest.mark.parametrize("gz", [True, False])
def test_reads_html_responses_and_counts_the_rest(tmp_path, gz):
    path = write_sample(tmp_path / ("a.warc.gz" if gz else "a.warc"), gz=gz)
    stats = WarcStats()
    out = list(warc_pages(path, stats=stats))
    urls = [c.url for c, _ in out]
    assert urls == ["http://news.test/story/1", "http://news.test/story/2", "http://news.test/story/3",
                    "http://news.test/ru", "http://news.test/gz"]
    assert stats.records == 10 and stats.html == 5
    assert dict(stats.skipped) == {"warcinfo": 1, "request": 1, "not html": 1, "status 404": 1, "metadata": 1}
    assert str(stats).startswith("10 records, 5 HTML pages, 5 skipped (")
    cand, page = out[1]
    assert cand.source == "warc" and page.url == page.final_url == cand.url and page.status == 200
    assert page.fetched_at == datetime(2024, 5, 2, 12, 0, 2, tzinfo=UTC) and page.fetched_at.tzinfo is not None
    assert "Summit news 2" in page.html and page.headers["content-type"] == "text/html; charset=utf-8"
    ru = dict((c.url, p) for c, p in out)["http://news.test/ru"]
    assert "Новости дня" in ru.html and ru.charset == "cp1251" and ru.charset_source == "header"
    gzpage = dict((c.url, p) for c, p in out)["http://news.test/gz"]
    assert gzpage.body.startswith(b"<!doctype html>") and "Summit news gz" in gzpage.html  # content-encoding undone


def test_record_keys_are_offsets_stable_across_reads_and_renames(tmp_path):
    path = write_sample(tmp_path / "a.warc.gz")
    first = [c.record_key for c, _ in warc_pages(path)]
    second = [c.record_key for c, _ in warc_pages(path)]
    assert first == second and len(set(first)) == len(first)
    ident = file_identity(path)
    by_offset = {off: uri for off, _, uri in offsets(path)}
    for (cand, _), key in zip(warc_pages(path), first):
        prefix, off = key.rsplit(":", 1)
        assert prefix == ident and by_offset[int(off)] == cand.url
    moved = tmp_path / "sub" / "renamed.warc.gz"
    moved.parent.mkdir()
    shutil.copy(path, moved)
    assert [c.record_key for c, _ in warc_pages(moved)] == first  # identity is content, not path
    other = write_sample(tmp_path / "b.warc.gz", n_html=2)
    assert file_identity(other) != ident


def test_corrupted_gzip_member_is_reported_and_reading_continues(tmp_path, caplog):
    path = write_sample(tmp_path / "c.warc.gz")
    recs = offsets(path)
    start, end = recs[3][0], recs[4][0]  # story/2's gzip member
    assert recs[3][2] == "http://news.test/story/2"
    data = bytearray(path.read_bytes())
    mid = start + (end - start) // 2
    data[mid:mid + 40] = b"\xff" * 40  # smash the deflate stream inside the member
    path.write_bytes(bytes(data))
    stats = WarcStats()
    with caplog.at_level(logging.WARNING, logger="ingest.sources.warc"):
        urls = [c.url for c, _ in warc_pages(path, stats=stats)]
    assert urls == ["http://news.test/story/1", "http://news.test/story/3", "http://news.test/ru", "http://news.test/gz"]
    assert stats.bad >= 1 and stats.records >= 10
    lines = [r.getMessage() for r in caplog.records if r.name == "ingest.sources.warc"]
    assert lines and all("\n" not in m and "c.warc.gz" in m for m in lines)
    assert any(str(start) in m for m in lines)  # the bad record's offset is named


def test_truncated_file_yields_records_before_the_damage(tmp_path, caplog):
    path = write_sample(tmp_path / "t.warc.gz")
    recs = offsets(path)
    cut = recs[5][0] + 60  # a few bytes into the cp1251 page's member
    path.write_bytes(path.read_bytes()[:cut])
    stats = WarcStats()
    with caplog.at_level(logging.WARNING, logger="ingest.sources.warc"):
        urls = [c.url for c, _ in warc_pages(path, stats=stats)]
    assert urls == ["http://news.test/story/1", "http://news.test/story/2", "http://news.test/story/3"]
    assert stats.bad == 1 and stats.records == 6
    assert len([r for r in caplog.records if r.name == "ingest.sources.warc"]) == 1


def test_plain_warc_with_a_smashed_header_resyncs_to_the_next_record(tmp_path, caplog):
    path = write_sample(tmp_path / "p.warc", gz=False)
    recs = offsets(path)
    data = bytearray(path.read_bytes())
    at = recs[3][0]  # story/2: its "WARC/1.x" line becomes garbage
    data[at:at + 8] = b"GARBAGE!"
    path.write_bytes(bytes(data))
    stats = WarcStats()
    with caplog.at_level(logging.WARNING, logger="ingest.sources.warc"):
        urls = [c.url for c, _ in warc_pages(path, stats=stats)]
    assert "http://news.test/story/2" not in urls
    assert urls[0] == "http://news.test/story/1" and urls[-1] == "http://news.test/gz" and len(urls) == 4
    assert stats.skipped["bad record"] == 1
    assert second_read_keys(path) == second_read_keys(path)


def second_read_keys(path):
    return [c.record_key for c, _ in warc_pages(path)]


def test_whole_file_gzip_is_read_as_a_stream(tmp_path):
    plain = write_sample(tmp_path / "x.warc", gz=False)
    one = tmp_path / "one-member.warc.gz"
    one.write_bytes(gzip.compress(plain.read_bytes()))  # not per-record gzip: warcio refuses to iterate
    stats = WarcStats()
    urls = [c.url for c, _ in warc_pages(one, stats=stats)]
    assert len(urls) == 5 and stats.records == 10 and stats.bad == 0


def test_size_cap_no_date_and_sniffing(tmp_path):
    path = tmp_path / "m.warc.gz"
    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        w.write_record(_response(w, "http://news.test/big", b"<html>" + b"x" * 5000 + b"</html>"))
        w.write_record(_response(w, "http://news.test/untyped", b"<!DOCTYPE html><html><p>hi</p></html>", ctype=None))
        w.write_record(_response(w, "http://news.test/untyped-bin", b"\x00\x01binary", ctype=None))
    stats = WarcStats()
    urls = [c.url for c, _ in warc_pages(path, max_bytes=1000, stats=stats)]
    assert urls == ["http://news.test/untyped"]
    assert stats.skipped == {"too large": 1, "not html": 1}


def test_arc_file(tmp_path):
    """An ARC v1 file (Internet Archive's pre-WARC format), read through warcio's arc2warc."""
    version = b"1 0 Internet Archive\nURL IP-address Archive-date Content-type Archive-length\n"
    http = b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n" + HTML.format(n="arc").encode()
    missing = b"HTTP/1.0 404 Not Found\r\nContent-Type: text/html\r\n\r\n<html>gone</html>"
    arc = (b"filedesc://test.arc 0.0.0.0 20240501120000 text/plain %d\n%s\n" % (len(version), version)
           + b"http://old.test/a 1.2.3.4 20090102030405 text/html %d\n%s\n" % (len(http), http)
           + b"http://old.test/b 1.2.3.4 20090102030406 text/html %d\n%s\n" % (len(missing), missing))
    path = tmp_path / "old.arc"
    path.write_bytes(arc)
    gz = tmp_path / "old.arc.gz"
    gz.write_bytes(b"".join(gzip.compress(part) for part in _arc_records(arc)))
    for p in (path, gz):
        stats = WarcStats()
        out = list(warc_pages(p, stats=stats))
        assert [c.url for c, _ in out] == ["http://old.test/a"], p
        assert out[0][1].fetched_at == datetime(2009, 1, 2, 3, 4, 5, tzinfo=UTC)
        assert "Summit news arc" in out[0][1].html and stats.skipped["status 404"] == 1


def _arc_records(arc: bytes):
    """Split an ARC file into its records (each header line + length bytes + newline)."""
    pos, out = 0, []
    while pos < len(arc):
        nl = arc.index(b"\n", pos)
        length = int(arc[pos:nl].split()[-1])
        end = nl + 1 + length + 1
        out.append(arc[pos:end])
        pos = end
    return out


def test_missing_or_unreadable_file_raises_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.warc.gz"):
        list(warc_pages(tmp_path / "nope.warc.gz"))
    with pytest.raises(OSError, match="directory"):
        list(warc_pages(tmp_path))


def test_garbage_and_empty_files_do_not_raise(tmp_path):
    junk = tmp_path / "junk.warc.gz"
    junk.write_bytes(b"\x1f\x8b\x08\x00" + bytes(range(256)) * 20)
    empty = tmp_path / "empty.warc"
    empty.write_bytes(b"")
    text = tmp_path / "text.warc"
    text.write_bytes(b"this is not a warc file\n" * 100)
    for p in (junk, empty, text):
        stats = warc_stats(p)
        assert stats.html == 0


def test_a_file_of_fake_gzip_members_gives_up_after_the_bad_record_limit(tmp_path):
    from ingest.sources.warc import MAX_BAD_RECORDS

    junk = tmp_path / "many.warc.gz"
    junk.write_bytes(b"\x1f\x8b\x08\x00" + (b"\x1f\x8b\x08garbage!" * 500))
    stats = warc_stats(junk)
    assert stats.html == 0 and 1 <= stats.bad <= MAX_BAD_RECORDS
