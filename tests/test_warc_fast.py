"""FastWARC and warcio give the same records, pages, keys and counts, on clean and damaged files."""
from __future__ import annotations

import gzip
import io
import itertools
import logging

import pytest
from test_sources_warc import _arc_records, _response, offsets, write_sample
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from ingest.sources.warc import WarcStats, warc_pages

pytestmark = pytest.mark.timeout(60)


def read(path, engine):
    stats = WarcStats()
    out = [(c.record_key, c.url, p.html, p.headers, p.fetched_at, p.charset) for c, p in
           warc_pages(path, stats=stats, engine=engine)]
    return out, stats


def same(path, caplog=None):
    """Both readers agree; returns auto's stats (and the log lines of each, which must match too)."""
    logs = {}
    results = {}
    for engine in ("warcio", "auto"):
        if caplog is not None:
            caplog.clear()
        with caplog.at_level(logging.WARNING, logger="ingest.sources.warc") if caplog else _null():
            results[engine] = read(path, engine)
        if caplog is not None:
            logs[engine] = [r.getMessage() for r in caplog.records if r.name == "ingest.sources.warc"]
    (a, sa), (b, sb) = results["warcio"], results["auto"]
    assert a == b
    assert (sa.records, sa.html, dict(sa.skipped), sa.bad) == (sb.records, sb.html, dict(sb.skipped), sb.bad)
    if caplog is not None:
        assert logs["warcio"] == logs["auto"]
    return sb


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def big_sample(path, n=40, gz=True):
    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=gz)
        w.write_record(w.create_warcinfo_record(path.name, {"software": "test"}))
        for i in range(n):
            body = f"<html><head><title>Story {i}</title></head><body><p>Summit news {i}.</p></body></html>".encode()
            w.write_record(_response(w, f"http://news.test/story/{i}", body, date=f"2024-05-01T12:00:{i % 60:02d}Z"))
    return path


@pytest.mark.parametrize("gz", [True, False])
def test_clean_files_are_read_by_fastwarc(tmp_path, gz):
    path = write_sample(tmp_path / ("a.warc.gz" if gz else "a.warc"), gz=gz)
    stats = same(path)
    assert stats.records == 10 and stats.fast == 9  # all but the last, which warcio checks the end of
    big = big_sample(tmp_path / ("b.warc.gz" if gz else "b.warc"), gz=gz)
    assert same(big).fast == 40


def test_smashed_member(tmp_path, caplog):
    path = big_sample(tmp_path / "c.warc.gz")
    recs = offsets(path)
    data = bytearray(path.read_bytes())
    start, end = recs[10][0], recs[11][0]
    data[start + (end - start) // 2:start + (end - start) // 2 + 30] = b"\xff" * 30
    path.write_bytes(bytes(data))
    stats = same(path, caplog)
    assert stats.bad == 1 and stats.html == 39 and stats.fast > 30  # FastWARC goes on after the damage


def test_truncated_member_in_the_middle(tmp_path, caplog):
    """A gzip member cut short (a partial copy spliced in): reported, the members after it are read."""
    path = big_sample(tmp_path / "t.warc.gz")
    recs = offsets(path)
    data = path.read_bytes()
    start, end = recs[5][0], recs[6][0]
    path.write_bytes(data[:start + (end - start) // 2] + data[end:])
    stats = same(path, caplog)
    assert stats.bad >= 1 and stats.html >= 38 and stats.fast > 30


def test_truncated_file(tmp_path, caplog):
    path = big_sample(tmp_path / "t.warc.gz")
    recs = offsets(path)
    path.write_bytes(path.read_bytes()[:recs[20][0] + 50])
    stats = same(path, caplog)
    assert stats.html == 19 and stats.bad == 1


@pytest.mark.parametrize("delta", [-7, 9, -1000])
@pytest.mark.parametrize("gz", [True, False])
def test_wrong_content_length(tmp_path, caplog, delta, gz):
    path = tmp_path / ("w.warc.gz" if gz else "w.warc")
    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=gz)
        for i in range(12):
            body = f"<html><body><p>Summit news {i}.</p></body></html>".encode()
            rec = _response(w, f"http://news.test/{i}", body)
            if i == 6:
                rec.rec_headers.replace_header("Content-Length", str(rec.length + delta))
            w.write_record(rec)
    same(path, caplog)


def test_record_spread_over_gzip_members(tmp_path, caplog):
    """A record whose head and payload are in two members: warcio takes each member for a record and
    loses it (truncated, then a bad record); FastWARC reads the gzip stream through and keeps it,
    under the same key. Everything else is the same."""
    plain = big_sample(tmp_path / "x.warc", n=6, gz=False).read_bytes()
    cut = [0] + [off for off, _, _ in offsets(tmp_path / "x.warc")][1:] + [len(plain)]
    members = [gzip.compress(plain[a:b]) for a, b in itertools.pairwise(cut)]
    third = plain[cut[3]:cut[4]]
    members[3] = gzip.compress(third[:200]) + gzip.compress(third[200:])  # one record, two members
    path = tmp_path / "spread.warc.gz"
    path.write_bytes(b"".join(members))
    (slow, slow_stats), (fast, fast_stats) = read(path, "warcio"), read(path, "auto")
    assert slow_stats.bad == 2 and fast_stats.bad == 0
    assert [c for c in fast if c not in slow] == [next(c for c in fast if c[1].endswith("/story/2"))]
    assert fast_stats.html == slow_stats.html + 1 == 6


# The case FastWARC alone would also read whole, but not under warcio's keys (the record after it
# starts inside a member: warcio's example-wrong-chunks.warc.gz): warcio reads that stretch.
def test_trailer_in_the_next_member(tmp_path, caplog):
    plain = big_sample(tmp_path / "x.warc", n=6, gz=False).read_bytes()
    cut = [0] + [off for off, _, _ in offsets(tmp_path / "x.warc")][1:] + [len(plain)]
    parts = [plain[a:b] for a, b in itertools.pairwise(cut)]
    parts[3], parts[4] = parts[3][:-4], parts[3][-4:] + parts[4]  # the blank lines move to the next member
    path = tmp_path / "trailer.warc.gz"
    path.write_bytes(b"".join(gzip.compress(p) for p in parts))
    same(path, caplog)


def test_one_member_gzip_and_arc_are_read_by_warcio(tmp_path):
    plain = big_sample(tmp_path / "x.warc", n=5, gz=False)
    one = tmp_path / "one.warc.gz"
    one.write_bytes(gzip.compress(plain.read_bytes()))
    stats = same(one)
    assert stats.fast == 0 and stats.html == 5
    version = b"1 0 Internet Archive\nURL IP-address Archive-date Content-type Archive-length\n"
    http = b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<html><p>Old one.</p></html>"
    arc = (b"filedesc://test.arc 0.0.0.0 20240501120000 text/plain %d\n%s\n" % (len(version), version)
           + b"http://old.test/a 1.2.3.4 20090102030405 text/html %d\n%s\n" % (len(http), http))
    path = tmp_path / "old.arc.gz"
    path.write_bytes(b"".join(gzip.compress(r) for r in _arc_records(arc)))
    assert same(path).fast == 0


def test_garbage_after_the_last_record_and_junk(tmp_path, caplog):
    path = big_sample(tmp_path / "g.warc.gz", n=5)
    path.write_bytes(path.read_bytes() + b"\x00garbage that is not a record" * 10)
    assert same(path, caplog).html == 5
    for name, data in {"junk.warc.gz": b"\x1f\x8b\x08\x00" + bytes(range(256)) * 20, "empty.warc": b"",
                       "text.warc": b"this is not a warc file\n" * 100}.items():
        p = tmp_path / name
        p.write_bytes(data)
        same(p, caplog)


def test_broken_content_encoding(tmp_path, caplog):
    path = tmp_path / "enc.warc.gz"
    good = gzip.compress(b"<html><body><p>fine</p></body></html>")
    with open(path, "wb") as fh:
        w = WARCWriter(fh, gzip=True)
        for i in range(8):
            body = good if i != 4 else good[:20] + b"\x00" * 40
            w.write_record(_response(w, f"http://news.test/{i}", body, extra=[("Content-Encoding", "gzip")]))
        chunked = b"5\r\n<html\r\nZZZ\r\nnot chunks\r\n"
        http = StatusAndHeaders("200 OK", [("Content-Type", "text/html"), ("Transfer-Encoding", "chunked")],
                                protocol="HTTP/1.1")
        w.write_record(w.create_warc_record("http://news.test/chunks", "response", payload=io.BytesIO(chunked),
                                            length=len(chunked), http_headers=http))
        w.write_record(_response(w, "http://news.test/last", b"<html><p>last</p></html>"))
    same(path, caplog)


def _damaged(tmp_path, kind):
    """A file of 40 records: clean, with a smashed member, with a member cut short, gzip'd as one member, plain."""
    if kind == "plain":
        return big_sample(tmp_path / "p.warc", gz=False)
    path = big_sample(tmp_path / f"{kind}.warc.gz")
    data = path.read_bytes()
    recs = offsets(path)
    start, end = recs[10][0], recs[11][0]
    if kind == "smashed":
        mid = start + (end - start) // 2
        data = data[:mid] + b"\xff" * 30 + data[mid + 30:]
    elif kind == "cut":
        data = data[:start + (end - start) // 2] + data[end:]
    elif kind == "one-member":
        data = gzip.compress(gzip.decompress(data))
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("kind", ["clean", "smashed", "cut", "one-member", "plain"])
def test_spans_of_a_file_read_each_record_once(tmp_path, kind):
    """A cluster's units (byte ranges of one file) together read exactly the records of the whole file."""
    from ingest.sources.warc import spans, warc_items

    path = _damaged(tmp_path, kind)
    whole, whole_stats = read(path, "auto")
    size = path.stat().st_size
    for unit in (700, 4096, size // 3 + 1, size):
        for engine in ("auto", "warcio"):
            stats = WarcStats()
            got = [(c.record_key, c.url, p.html, p.headers, p.fetched_at, p.charset)
                   for span in spans(size, unit)
                   for c, p in filter(None, warc_items(path, stats=stats, engine=engine, span=span))]
            assert got == whole, (kind, unit, engine)
            assert (stats.records, stats.html, stats.bad, stats.files) == (whole_stats.records, whole_stats.html, whole_stats.bad, 1)
