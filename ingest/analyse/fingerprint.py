"""Corpus-independent features of one article, computed in a worker process.

Everything the writer needs to query the index is here (exact key, LSH band keys,
sentence hashes) plus the per-document garble checks, so the single writer process
only does SQLite look-ups and verification of a handful of candidates.
"""
from __future__ import annotations

import functools

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


_FMIX32 = (np.uint32(16), np.uint32(0x85EBCA6B), np.uint32(13), np.uint32(0xC2B2AE35))  # MurmurHash3's finalizer
_EMPTY = 0xFFFFFFFF  # a slot no shingle has reached


@functools.cache
def permutations() -> tuple[np.ndarray, np.ndarray]:
    """(a, b) of the 128 permutations h -> a*h + b (mod 2^32) every signature uses.

    These are datasketch's: `MinHash(num_perm=128, seed=1)` (scheme "affine32", datasketch >= 2.0)
    draws them the same way from `RandomState(1)`; tests/test_analyse_minhash.py checks both the
    draws and the signatures against datasketch. datasketch itself is not imported: its package
    imports scipy (~0.3 s of a worker's start-up, for 20 lines of numpy).
    """
    gen = np.random.RandomState(1)
    a = gen.randint(0, 1 << 31, NUM_PERM, dtype=np.uint32) * np.uint32(2) + np.uint32(1)  # odd: a bijection
    b = gen.randint(0, 1 << 32, NUM_PERM, dtype=np.uint32)
    return a, b


def minhash(sh: set[str]) -> np.ndarray:
    """128 uint32 MinHash values of a shingle set: datasketch's `MinHash.update_batch` ("affine32").

    Each shingle's xxh32 (instead of datasketch's default SHA-1) is mixed by MurmurHash3's
    finalizer, then permuted by each h -> a*h + b in uint32 (the wrap-around is the modulo), and
    each permutation keeps its minimum.
    """
    a, b = permutations()
    xxh32 = xxhash.xxh32_intdigest
    hv = np.fromiter((xxh32(s.encode("utf-8")) for s in sh), dtype=np.uint32, count=len(sh)).reshape(-1, 1)
    s1, m1, s2, m2 = _FMIX32
    hv ^= hv >> s1
    hv *= m1
    hv ^= hv >> s2
    hv *= m2
    hv ^= hv >> s1
    values: np.ndarray = (hv * a + b).min(axis=0, initial=_EMPTY)
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
