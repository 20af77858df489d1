"""The evaluation and benchmark commands: skip cleanly without ../shared; bench runs small."""
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # eval/ and bench/ are top-level packages, not installed
    sys.path.insert(0, str(ROOT))


def test_eval_skips_without_shared(tmp_path):
    env = {**os.environ, "INGEST_SHARED": str(tmp_path / "nowhere")}
    out = subprocess.run([sys.executable, "-m", "eval", "analysis"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "skipped" in out.stdout


def test_benchmark_cases_have_known_truth():
    from eval import benchmark as bm
    from eval.corpora import Doc
    from ingest.analyse.synth import article
    docs = [Doc(f"d{i}", f"s{i % 30}.example", *article(i, paragraphs=10)) for i in range(250)]
    cases = bm.build(docs[:150], docs[150:], scale=0.1)
    kinds = {next(iter(c.truth)) for c in cases}
    assert {"clean", "dup", "patchwork", "garble"} <= kinds
    for c in cases:
        if "patchwork" in c.truth:
            assert len(c.truth["patchwork"]) >= 2


def test_bench_small_run(tmp_path):
    from bench.analysis import main
    assert main(["--sizes", "200,400", "--sample", "20", "--db", str(tmp_path / "b.db")]) in (0, 1)
    import sqlite3
    n = sqlite3.connect(tmp_path / "b.db").execute("SELECT count(*) FROM analysis_docs").fetchone()[0]
    assert n == 400 + 40  # sizes count every stored article; + warm-up and timed sample at the last size
