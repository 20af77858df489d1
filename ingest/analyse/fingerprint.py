"""Corpus-independent features of one article, computed in a worker process.

Everything the writer needs to query the index is here (exact key, LSH band keys,
sentence hashes) plus the per-document garble checks, so the single writer process
only does SQLite look-ups and verification of a handful of candidates.
"""
from __future__ import annotations

import functools
from typing import Any

import numpy as np
import xxhash

from ingest.records import Fingerprint
from ingest.text import (
    collapse_lines,
    hash63,
    indexed_tokenised_sentences,
    line_key,
    nonempty_lines,
    normalise_lines,
    normalised_hash,
    shingles,
    text_hash,
    tokenised_lines,
)

from .checks import checks_of_normalised
from .encoding import fix_encoding
from .kinds import page_kind

NUM_PERM = 128
BANDS, ROWS = 32, 4  # P(candidate) = 0.87 at J=0.5, 0.99 at J=0.6 (notes §1.1 table)
MIN_LSH_SHINGLES = 50  # below this J is too noisy: exact key + sentence index only
MAX_SENTENCES = 200  # cap rows per article (a 200-sentence text is a very long read)
MAX_LINES = 300  # line keys kept per article for the site-template table

_BAND_SHIFT = 56
_LOW56 = (1 << _BAND_SHIFT) - 1


@functools.cache
def minhash_template() -> Any:
    """The MinHash whose permutations every article reuses (drawn once per process, seed 1).

    datasketch is imported here, not at module level: its package imports scipy (~0.3 s),
    and the main process imports this module (through ingest.analyse) without ever
    computing a MinHash. The extraction workers get it preloaded (ingest/extract/worker.py).
    """
    from datasketch import MinHash

    return MinHash(num_perm=NUM_PERM, seed=1)


def minhash(sh: set[str]) -> np.ndarray:
    """128 uint32 MinHash values of a shingle set (datasketch, xxh32 of each shingle instead of SHA-1).

    The shingles are hashed here in one comprehension and handed to datasketch with `int` as
    its hash function: the same values as hashing inside datasketch, without a Python-level
    function call per shingle (~1,000 per article).
    """
    template = minhash_template()
    m = type(template)(num_perm=NUM_PERM, hashfunc=int, permutations=template.permutations, scheme=template.scheme)
    xxh32 = xxhash.xxh32_intdigest
    m.update_batch([xxh32(s.encode("utf-8")) for s in sh])
    values: np.ndarray = m.hashvalues
    return values


def band_keys(sig: np.ndarray) -> tuple[int, ...]:
    """One int64 key per band: band number in the top bits, hash of its rows below."""
    rows = np.ascontiguousarray(sig, dtype=np.uint32).reshape(BANDS, ROWS)
    return tuple((b << _BAND_SHIFT) | (xxhash.xxh64_intdigest(rows[b].tobytes()) & _LOW56) for b in range(BANDS))


def fingerprint(title: str, text: str) -> Fingerprint:
    """Fingerprint a (title, text); pure and picklable for ProcessPoolExecutor.

    Runs once per page in a worker, beside trafilatura, so every pass over the text counts:
    the text is repaired (ftfy), NFKC-normalised and tokenised once, and every feature and
    garble check works from those (the same values as each function computing its own).
    """
    fixed = fix_encoding(text)  # `text` itself when there is no mojibake (nearly always)
    lines_norm = normalise_lines(fixed)
    norm = collapse_lines(lines_norm)  # == normalise_text(fixed)
    lines = tokenised_lines(lines_norm)
    line_tokens = [[t for _, sentence in line for t in sentence] for line in lines]
    toks = [t for line in line_tokens for t in line]  # == words(norm)
    sh = shingles(toks)
    sig = minhash(sh) if len(sh) >= MIN_LSH_SHINGLES else None
    sents = indexed_tokenised_sentences(lines)[:MAX_SENTENCES]
    keys = [" ".join(t) for t in line_tokens]
    return Fingerprint(
        text_hash=normalised_hash(norm) if fixed is text else text_hash(text),
        title_hash=text_hash(title),
        n_words=len(toks),
        band_keys=band_keys(sig) if sig is not None else (),
        minhash=np.asarray(sig, dtype=np.uint32).tobytes() if sig is not None else b"",
        sentences=tuple((h, pos) for h, pos, _ in sents),
        garble=checks_of_normalised(title, text, fixed, lines_norm, toks, keys),
        exact_key=hash63(norm),
        lines=tuple(dict.fromkeys(line_key(k) for k in keys if k))[:MAX_LINES],
        page_kind=page_kind(title, nonempty_lines(lines_norm)),
    )
