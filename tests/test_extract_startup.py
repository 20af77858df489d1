"""Start-up: the main process of `ingest run` must not import what only the workers need."""
import subprocess
import sys

WORKER_ONLY = ("trafilatura", "lxml", "datasketch", "scipy", "htmldate", "justext")


def test_main_process_imports_no_extraction_libraries():
    code = ("import sys, ingest.cli, ingest.daemon, ingest.pipeline, ingest.extract, ingest.analyse; "
            f"print([m for m in {WORKER_ONLY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_skipped_is_one_class_wherever_it_is_imported_from():
    from ingest.extract.pool import Skipped as from_pool
    from ingest.extract.skipped import Skipped
    from ingest.extract.worker import Skipped as from_worker

    assert from_pool is Skipped is from_worker


def test_lazy_exports_still_resolve():
    import ingest.analyse
    import ingest.extract
    from ingest.analyse.corpus import CorpusIndex
    from ingest.extract.worker import extract

    assert ingest.analyse.CorpusIndex is CorpusIndex
    assert ingest.extract.extract is extract
    assert callable(ingest.analyse.fingerprint)  # the function, not the submodule


def test_in_worker_runs_a_worker_function_by_name():
    import os

    from ingest.extract.pool import in_worker

    assert in_worker("warm") == os.getpid()
