"""The MinHash signatures are datasketch's, computed without importing datasketch (it imports scipy).

Stored signatures and LSH band keys must not change: fingerprint.minhash must give, byte for
byte, what datasketch's MinHash(num_perm=128, seed=1) gives for the same xxh32 shingle hashes.
"""
import subprocess
import sys

import numpy as np
import pytest
import xxhash
from datasketch import MinHash

from ingest.analyse import fingerprint as fp
from ingest.analyse.synth import article
from ingest.text import shingles, words


def datasketch_signature(sh: set[str]) -> np.ndarray:
    m = MinHash(num_perm=fp.NUM_PERM, seed=1, hashfunc=int)
    m.update_batch([xxhash.xxh32_intdigest(s.encode("utf-8")) for s in sh])
    return m.hashvalues


def test_the_permutations_are_datasketchs():
    a, b = fp.permutations()
    ref = MinHash(num_perm=fp.NUM_PERM, seed=1)
    assert ref.scheme == "affine32"
    assert a.dtype == b.dtype == ref.permutations.dtype == np.uint32
    assert np.array_equal(a, ref.permutations[0]) and np.array_equal(b, ref.permutations[1])


@pytest.mark.parametrize("seed", range(40))
def test_signatures_are_datasketchs_byte_for_byte(seed):
    title, text = article(seed, paragraphs=1 + seed % 9)
    sh = shingles(words(title + "\n" + text))
    ours = fp.minhash(sh)
    assert ours.dtype == np.uint32
    assert ours.tobytes() == np.asarray(datasketch_signature(sh), dtype=np.uint32).tobytes()


def test_tiny_and_unicode_shingle_sets():
    for sh in ({"a"}, {"ünïcode ☃ шинглы", "x y z"}, {str(i) for i in range(3000)}):
        assert fp.minhash(sh).tobytes() == np.asarray(datasketch_signature(sh), dtype=np.uint32).tobytes()
    assert fp.minhash(set()).tolist() == [0xFFFFFFFF] * fp.NUM_PERM  # datasketch's empty signature


def test_a_fingerprint_does_not_import_datasketch_or_scipy():
    code = ("import sys; from ingest.analyse.fingerprint import fingerprint; from ingest.analyse.synth import article\n"
            "f = fingerprint(*article(3)); assert f.band_keys and f.minhash\n"
            "print([m for m in ('datasketch', 'scipy') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
