"""Start-up: the main process of `ingest run` must not import what only the workers need."""
import subprocess
import sys

WORKER_ONLY = ("trafilatura", "lxml", "datasketch", "scipy", "htmldate", "justext", "numpy", "py3langid")
# loaded by the main process when a command needs them: feeds, WARC files, the prefilter, the daemon's
# scheduler and metrics, charset detection (a thread's, on pages that declare no charset), the judge's
# garble checks (the first article stored)
WHEN_USED = ("feedparser", "warcio", "fastwarc", "re2", "apscheduler", "prometheus_client", "charset_normalizer",
             "ftfy")


def test_main_process_imports_no_extraction_libraries():
    code = ("import sys, ingest.cli, ingest.run.daemon, ingest.run.pipeline, ingest.run.backfill, ingest.extract, "
            "ingest.store, ingest.analyse.judge; "
            f"print([m for m in {WORKER_ONLY + WHEN_USED!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_opening_the_store_imports_no_sqlite_utils_pandas_or_numpy(tmp_path):
    """The store writes plain SQL on its connection: sqlite-utils (and the pandas and numpy it imports
    when installed, ~0.45 s) stay off the daemon's start-up path; `open_writer`, for scripts and tests,
    wraps the same connection in sqlite-utils' Database, still without pandas and numpy."""
    code = ("import sys, asyncio; from ingest.config import Config; from ingest.store import open_store\n"
            "async def main():\n"
            f"    async with open_store(Config(database={str(tmp_path / 'x.db')!r})) as s: pass\n"
            "asyncio.run(main()); print([m for m in ('sqlite_utils', 'pandas', 'numpy') if m in sys.modules])\n"
            "from ingest.store.sqlite.connection import open_writer\n"
            f"db = open_writer({str(tmp_path / 'x.db')!r}); assert 'articles' in db.table_names()\n"
            "print([m for m in ('sqlite_utils', 'pandas', 'numpy') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "['sqlite_utils']"], out


def test_in_worker_runs_a_worker_function_by_name():
    import os

    from ingest.extract.pool import in_worker

    assert in_worker("warm") == os.getpid()
