"""Export: the field contract in all three formats, every filter, versions, streaming, the CLI."""
from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import readdb
from click.testing import CliRunner

from ingest.cli.read import export_cmd
from ingest.read.export import ExportError, export
from ingest.read.query import ARTICLE_FIELDS, VERSION_FIELDS, ExportFilters
from ingest.store.errors import StoreError
from ingest.store.sqlite.connection import open_writer as open_db

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fx(tmp_path) -> readdb.Fixture:
    return readdb.build(tmp_path / "ingest.db")


def jsonl(fx, **kw) -> list[dict]:
    buf = io.StringIO()
    export(fx.path, buf, "jsonl", **kw)
    return [json.loads(line) for line in buf.getvalue().splitlines()]


def urls_of(rows) -> set[str]:
    return {r["url"] for r in rows}


def test_jsonl_contract(fx):
    rows = jsonl(fx)
    assert len(rows) == fx.n_articles and len({r["id"] for r in rows}) == fx.n_articles
    assert all(list(r) == list(ARTICLE_FIELDS) for r in rows)
    by = {r["url"]: r for r in rows}
    bridge = by[fx.urls["bridge"]]
    assert bridge["version"] == 3 and bridge["versions"] == 3
    assert bridge["title"] == fx.titles["bridge"] and bridge["text"] == readdb.BRIDGE_V3
    assert bridge["feeds"] == sorted([readdb.FEED_NEWS, readdb.FEED_WIRE])
    assert bridge["topics"] == ["transport", "storm"]
    assert bridge["author"] == "Ann Keel" and bridge["published"] == "2026-11-01T08:00:00+00:00"
    assert bridge["duplicate"] is None and bridge["garbled"] is None
    near = by[fx.urls["bridge_near"]]
    assert near["duplicate"] == {"of": fx.urls["bridge"], "kind": "near", "similarity": 0.91,
                                 "summary": f"near copy of {fx.urls['bridge']}",
                                 "evidence": {"similarity": 0.91, "of_url": fx.urls["bridge"], "jaccard": 0.91,
                                              "containment": 1.0}}
    assert bridge["page_kind"] == "article"
    assert by[fx.urls["bridge_exact"]]["duplicate"]["kind"] == "exact"
    patch = by[fx.urls["patchwork"]]
    assert patch["garbled"] == {"score": 0.84, "reasons": ["patchwork", "truncated"],
                                "sources": [fx.urls["library"], fx.urls["mackerel"]],
                                "summary": "patchwork; truncated",
                                "evidence": [{"name": "patchwork", "score": 0.7, "evidence": {"note": "patchwork evidence"}},
                                             {"name": "truncated", "score": 0.45,
                                              "evidence": {"note": "truncated evidence"}}]}
    # a flag on an old version is not a current flag
    assert by[fx.urls["museum"]]["garbled"] is None and by[fx.urls["museum"]]["version"] == 2
    stub = by[fx.urls["stub"]]
    assert stub["published"] is None and stub["feeds"] == [] and stub["topics"] == []


def test_csv_contract(fx, tmp_path):
    out = tmp_path / "a.csv"
    assert export(fx.path, out, "csv") == fx.n_articles
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == fx.n_articles and list(rows[0]) == list(ARTICLE_FIELDS)
    by = {r["url"]: r for r in rows}
    assert json.loads(by[fx.urls["bridge"]]["feeds"]) == sorted([readdb.FEED_NEWS, readdb.FEED_WIRE])
    assert json.loads(by[fx.urls["bridge_near"]]["duplicate"])["of"] == fx.urls["bridge"]
    assert json.loads(by[fx.urls["patchwork"]]["garbled"])["reasons"] == ["patchwork", "truncated"]
    assert by[fx.urls["bridge"]]["duplicate"] == "" and by[fx.urls["stub"]]["published"] == ""
    assert by[fx.urls["bridge"]]["text"] == readdb.BRIDGE_V3  # commas and newlines survive quoting
    assert not list(tmp_path.glob(".*.part"))


def test_parquet_types_and_content(fx, tmp_path):
    out = tmp_path / "a.parquet"
    assert export(fx.path, out, "parquet") == fx.n_articles
    table = pq.read_table(out)
    s = table.schema
    assert s.names == list(ARTICLE_FIELDS)
    assert s.field("id").type == pa.int64() and s.field("version").type == pa.int64()
    for name in ("published", "first_seen", "last_seen"):
        assert s.field(name).type == pa.timestamp("us", tz="UTC")
    assert s.field("feeds").type == pa.list_(pa.string()) and s.field("topics").type == pa.list_(pa.string())
    assert pa.types.is_struct(s.field("duplicate").type) and pa.types.is_struct(s.field("garbled").type)
    rows = {r["url"]: r for r in table.to_pylist()}
    assert len(rows) == fx.n_articles
    bridge = rows[fx.urls["bridge"]]
    assert bridge["published"] == datetime(2026, 11, 1, 8, 0, tzinfo=UTC)
    assert bridge["topics"] == ["transport", "storm"] and bridge["duplicate"] is None
    near = rows[fx.urls["bridge_near"]]["duplicate"]
    assert (near["of"], near["kind"], near["similarity"]) == (fx.urls["bridge"], "near", 0.91)
    assert json.loads(near["evidence"])["jaccard"] == 0.91  # free-form evidence travels as JSON text
    assert rows[fx.urls["patchwork"]]["garbled"]["sources"] == [fx.urls["library"], fx.urls["mackerel"]]
    assert rows[fx.urls["stub"]]["published"] is None


def test_parquet_reads_in_pandas_when_installed(fx, tmp_path):
    pd = pytest.importorskip("pandas")
    out = tmp_path / "a.parquet"
    export(fx.path, out, "parquet")
    df = pd.read_parquet(out)
    assert len(df) == fx.n_articles and str(df["published"].dtype).startswith("datetime64")


def test_parquet_to_binary_stream_and_not_stdout(fx):
    buf = io.BytesIO()
    assert export(fx.path, buf, "parquet") == fx.n_articles
    assert pq.read_table(pa.BufferReader(buf.getvalue())).num_rows == fx.n_articles
    with pytest.raises(ExportError):
        export(fx.path, "-", "parquet")


def test_jsonl_to_binary_stream(fx):
    buf = io.BytesIO()
    assert export(fx.path, buf, "jsonl") == fx.n_articles
    assert len(buf.getvalue().decode("utf-8").splitlines()) == fx.n_articles
    assert not buf.closed


@pytest.mark.parametrize("filters, expected", [
    (ExportFilters(site="coastwire.example"), {"mackerel", "bridge_exact", "patchwork"}),
    (ExportFilters(topic="storm"), {"bridge", "bridge_exact"}),
    (ExportFilters(topic="council"), {"library", "patchwork"}),
    (ExportFilters(since="2026-11-05"), {"mackerel", "patchwork", "stub"}),  # stub: first_seen 11-07
    (ExportFilters(until="2026-11-02"), {"bridge", "bridge_near", "bridge_exact"}),  # whole day included
    (ExportFilters(until="2026-11-02T10:00:00+00:00"), {"bridge", "bridge_near"}),
    (ExportFilters(since="2026-11-02T09:00:00+02:00", until="2026-11-03"),  # 07:00 UTC: inclusive
     {"bridge_near", "bridge_exact", "library"}),
    (ExportFilters(clean=True), {"bridge", "library", "mackerel", "museum", "stub"}),
    (ExportFilters(flag="duplicate"), {"bridge_near", "bridge_exact"}),
    (ExportFilters(flag="near"), {"bridge_near"}),
    (ExportFilters(flag="exact"), {"bridge_exact"}),
    (ExportFilters(flag="syndicated"), set()),
    (ExportFilters(flag="garbled"), {"patchwork"}),
    (ExportFilters(flag="truncated"), {"patchwork"}),
    (ExportFilters(flag="mojibake"), set()),  # only on the museum's old version
    (ExportFilters(flag="extraction_suspect"), {"stub"}),
    (ExportFilters(site="harbourtimes.example", clean=True, since="2026-11-04"), {"museum", "stub"}),
])
def test_filters(fx, filters, expected):
    assert urls_of(jsonl(fx, filters=filters)) == {fx.urls[n] for n in expected}


def test_bad_filters_rejected():
    with pytest.raises(ValueError):
        ExportFilters(flag="nonsense")
    with pytest.raises(ValueError):
        ExportFilters(since="yesterday")


def test_versions_export(fx, tmp_path):
    rows = jsonl(fx, versions=True)
    assert len(rows) == 12 and all(list(r) == list(VERSION_FIELDS) for r in rows)
    bridge = [r for r in rows if r["url"] == fx.urls["bridge"]]
    assert [r["version"] for r in bridge] == [1, 2, 3]
    assert [r["change"] for r in bridge] == ["first", "edit", "edit"]
    assert bridge[1]["words_added"] > 0 and bridge[0]["text"] == readdb.BRIDGE_V1
    assert bridge[0]["fetched_at"] == "2026-11-01T08:05:00+00:00"
    only = jsonl(fx, versions=True, filters=ExportFilters(site="coastwire.example"))
    assert urls_of(only) == {fx.urls[n] for n in ("mackerel", "bridge_exact", "patchwork")} and len(only) == 4
    out = tmp_path / "v.parquet"
    assert export(fx.path, out, "parquet", versions=True) == 12
    t = pq.read_table(out)
    assert t.schema.field("fetched_at").type == pa.timestamp("us", tz="UTC")
    assert t.schema.field("words_added").type == pa.int64()


def test_missing_database_is_not_created(tmp_path):
    missing = tmp_path / "nope.db"
    with pytest.raises(StoreError, match="no database"):
        export(missing, io.StringIO())
    assert not missing.exists()


def test_missing_output_directory(fx, tmp_path):
    with pytest.raises(ExportError, match="no directory"):
        export(fx.path, tmp_path / "nope" / "x.jsonl")


def test_old_schema_is_reported(tmp_path):
    import sqlite3

    old = tmp_path / "old.db"
    sqlite3.connect(old).execute("PRAGMA user_version = 3")
    with pytest.raises(StoreError, match="schema version 3"):
        export(old, io.StringIO())


def test_export_runs_beside_a_writer(fx):
    """A read-only export sees a consistent snapshot while another connection holds a write lock."""
    db = open_db(fx.path)
    db.conn.execute("BEGIN IMMEDIATE")
    readdb.add_version(db.conn, fx.ids["library"], 2, "Council approves library budget", readdb.LIBRARY + " More.",
                       "2026-11-08T00:00:00+00:00", previous=("x", readdb.LIBRARY))
    rows = jsonl(fx)  # does not wait for the writer and does not see its uncommitted version
    assert {r["url"]: r["version"] for r in rows}[fx.urls["library"]] == 1
    db.conn.execute("COMMIT")
    assert {r["url"]: r["version"] for r in jsonl(fx)}[fx.urls["library"]] == 2
    db.conn.close()


# -- streaming ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def big(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.db"
    readdb.build(path)
    db = open_db(path)
    readdb.add_synthetic(db.conn, 20_000, words=250)
    db.conn.close()
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_streaming_memory_is_bounded(big, tmp_path, fmt):
    """20k articles of ~1.9 kB text (~40 MB as JSON): Python's peak stays a few MB, i.e. no list of rows."""
    out = tmp_path / f"big.{fmt}"
    tracemalloc.start()
    t0 = time.perf_counter()
    n = export(big, out, fmt)
    elapsed = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert n == 20_008
    size = out.stat().st_size
    print(f"\n{fmt}: {n} rows in {elapsed:.2f}s ({n / elapsed:,.0f} rows/s, traced), "
          f"file {size / 1e6:.1f} MB, Python peak {peak / 1e6:.1f} MB")
    assert peak < 12e6, f"peak {peak / 1e6:.1f} MB"
    if fmt != "parquet":
        assert size > 30e6  # the output really is much larger than the peak
    else:
        assert pq.ParquetFile(out).metadata.num_row_groups >= 20  # written in batches


# -- command line ------------------------------------------------------------------------

def test_cli_export_formats_and_filters(fx, tmp_path):
    runner = CliRunner()
    res = runner.invoke(export_cmd, ["--db", str(fx.path), "--flag", "duplicate"])
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in res.stdout.splitlines()]
    assert urls_of(lines) == {fx.urls["bridge_near"], fx.urls["bridge_exact"]}
    out = tmp_path / "x.parquet"
    res = runner.invoke(export_cmd, ["--db", str(fx.path), "--format", "parquet", "--output", str(out),
                                     "--site", "valleyherald.example", "--clean"])
    assert res.exit_code == 0, res.output
    assert pq.read_table(out).column("url").to_pylist() == [fx.urls["library"]]
    res = runner.invoke(export_cmd, ["--db", str(fx.path), "--format", "csv", "--versions", "--topic", "fishing",
                                     "--since", "2026-11-05", "--until", "2026-11-05"])
    assert res.exit_code == 0, res.output
    assert len(list(csv.DictReader(io.StringIO(res.stdout)))) == 2  # mackerel's two versions


@pytest.mark.parametrize("args", [["--format", "parquet"], ["--since", "soon"], ["--flag", "bogus"],
                                  ["--format", "xml"], ["--clean", "--flag", "near"]])
def test_cli_bad_usage_exits_2(fx, args):
    res = CliRunner().invoke(export_cmd, ["--db", str(fx.path), *args])
    assert res.exit_code == 2, res.output


def test_cli_missing_database_exits_2_in_a_subprocess(tmp_path):
    missing = tmp_path / "missing.db"
    proc = subprocess.run([sys.executable, "-c", "from ingest.cli.read import export_cmd; export_cmd()",
                           "--db", str(missing)], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2  # a bad path
    assert proc.stderr.strip().splitlines() == [f"ingest: no database at {missing}"]
    assert not missing.exists()


def test_cli_subprocess_stdout_jsonl(fx, tmp_path):
    proc = subprocess.run([sys.executable, "-c", "from ingest.cli.read import export_cmd; export_cmd()",
                           "--db", str(fx.path), "--flag", "garbled"], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(x) for x in proc.stdout.splitlines()]
    assert [r["url"] for r in rows] == [fx.urls["patchwork"]]
    assert proc.stderr == ""  # no progress bar when stderr is not a terminal


def test_progress_bar_goes_to_stderr_only(fx, capsys):
    buf = io.StringIO()
    assert export(fx.path, buf, "jsonl", progress=True) == fx.n_articles
    assert len(buf.getvalue().splitlines()) == fx.n_articles
    assert capsys.readouterr().out == ""


def test_real_pipeline_then_export_search_and_api(world, tmp_path):
    """The writer's real rows (not readdb's) through the CLI export, FTS and the API."""
    from conftest import ingest_cli, write_config

    import ingest

    db = tmp_path / "news.db"
    cfg = write_config(tmp_path / "c.yaml", db, world.feed_urls)
    r = ingest_cli("run", "--once", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    r = ingest_cli("export", "--config", str(cfg))
    assert r.returncode == 0, r.stderr
    rows = {x["url"]: x for x in map(json.loads, r.stdout.splitlines())}
    copy, original = world.url("northern-ledger", "copy-of-handshake"), world.url("harbour-times", "summit-0")
    assert rows[copy]["duplicate"]["of"] == original and rows[copy]["duplicate"]["kind"] == "exact"
    assert rows[copy]["feeds"] == [world.outlets["northern-ledger"].feed_url]
    assert all(x["version"] == 1 and x["title"] for x in rows.values())

    edited = world.url("harbour-times", "summit-1")
    story = world.outlets["harbour-times"].stories["summit-1"]
    world.edit("harbour-times", "summit-1", text=story.text + "\n\nOfficials in Seoul welcomed the xylophonic statement.")
    assert ingest_cli("run", "--once", "--config", str(cfg)).returncode == 0
    with ingest.open(db) as store:
        assert [a.url for a in store.search("xylophonic")] == [edited]
        assert [v.version for v in store.versions(edited)] == [1, 2]
        assert store.cluster(copy)[0].url == original
    r = ingest_cli("export", "--config", str(cfg), "--versions", "--format", "csv")
    assert r.returncode == 0, r.stderr
    assert sum(1 for x in csv.DictReader(io.StringIO(r.stdout)) if x["url"] == edited) == 2
