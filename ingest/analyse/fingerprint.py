"""Corpus-independent features of one article, computed in a worker process.

Everything the writer needs to query the index is here (exact key, LSH band keys,
sentence hashes) plus the per-document garble checks, so the single writer process
only does SQLite look-ups and verification of a handful of candidates.
"""
from __future__ import annotations

import ftfy
import numpy as np
import xxhash
from datasketch import MinHash

from ingest.records import Fingerprint

from .checks import document_checks
from .normalize import hash63, indexed_sentences, normalise_text, shingles, text_hash, words

NUM_PERM = 128
BANDS, ROWS = 32, 4  # P(candidate) = 0.87 at J=0.5, 0.99 at J=0.6 (notes §1.1 table)
MIN_LSH_SHINGLES = 50  # below this J is too noisy: exact key + sentence index only
MAX_SENTENCES = 200  # cap rows per article (a 200-sentence text is a very long read)

_TEMPLATE = MinHash(num_perm=NUM_PERM, seed=1)  # permutations drawn once, reused per article
_BAND_SHIFT = 56
_LOW56 = (1 << _BAND_SHIFT) - 1


def _xxh32(s: str) -> int:
    return xxhash.xxh32_intdigest(s.encode("utf-8"))


def minhash(sh: set[str]) -> np.ndarray:
    """128 uint32 MinHash values of a shingle set (datasketch, xxh32 instead of SHA-1)."""
    m = MinHash(num_perm=NUM_PERM, hashfunc=_xxh32, permutations=_TEMPLATE.permutations, scheme=_TEMPLATE.scheme)
    m.update_batch(sh)
    return m.hashvalues


def band_keys(sig: np.ndarray) -> tuple[int, ...]:
    """One int64 key per band: band number in the top bits, hash of its rows below."""
    rows = np.ascontiguousarray(sig, dtype=np.uint32).reshape(BANDS, ROWS)
    return tuple((b << _BAND_SHIFT) | (xxhash.xxh64_intdigest(rows[b].tobytes()) & _LOW56) for b in range(BANDS))


def fingerprint(title: str, text: str) -> Fingerprint:
    """Fingerprint a (title, text); pure and picklable for ProcessPoolExecutor."""
    fixed = ftfy.fix_encoding(text)
    norm = normalise_text(fixed)
    toks = words(norm)
    sh = shingles(toks)
    sig = minhash(sh) if len(sh) >= MIN_LSH_SHINGLES else None
    sents = indexed_sentences(fixed)[:MAX_SENTENCES]
    return Fingerprint(
        text_hash=text_hash(text),
        title_hash=text_hash(title),
        n_words=len(toks),
        band_keys=band_keys(sig) if sig is not None else (),
        minhash=np.asarray(sig, dtype=np.uint32).tobytes() if sig is not None else b"",
        sentences=tuple((h, pos) for h, pos, _ in sents),
        garble=document_checks(title, text, fixed),
        exact_key=hash63(norm),
    )
