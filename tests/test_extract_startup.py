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


def _in_a_worker(env: dict[str, str]) -> list[str]:
    """OPENBLAS_NUM_THREADS and the thread count of a process forked by ingest's forkserver."""
    import os

    code = ("import os\n"
            "from concurrent.futures import ProcessPoolExecutor\n"
            "from ingest.extract import forkserver\n"
            "with ProcessPoolExecutor(1, mp_context=forkserver.context()) as ex:\n"
            "    print(ex.submit(os.getenv, 'OPENBLAS_NUM_THREADS').result())\n"
            "    print(len(ex.submit(os.listdir, '/proc/self/task').result()))\n")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"} | env
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True, env=env)
    return out.stdout.split()


def test_workers_keep_numpy_blas_to_one_thread_unless_the_user_says_otherwise():
    """The workers import numpy (preloaded by the forkserver) for elementwise work only: OpenBLAS's
    thread per core would cost CPU at every start on the core the main process is busy on."""
    assert _in_a_worker({}) == ["1", "1"]  # one thread: the worker's own
    assert _in_a_worker({"OPENBLAS_NUM_THREADS": "2"})[0] == "2"
