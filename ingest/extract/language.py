"""The language of an extracted text: py3langid, the detector trafilatura itself uses.

trafilatura only fills `language` when asked to filter on a target language; ingest wants it
on every article (analysts group and filter by it). py3langid (langid.py's model, numpy) on
the first 2,000 characters: ~0.5-0.9 ms per page in the worker, where extraction takes ~25 ms.
"""
from __future__ import annotations

import py3langid

SAMPLE_CHARS = 2000  # enough text for a stable answer; the cost grows with the length
MIN_WORDS = 5  # below this the answer is a guess: no language rather than a wrong one


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language, or None for a text too short to tell."""
    sample = text[:SAMPLE_CHARS]
    if len(sample.split()) < MIN_WORDS:
        return None
    code, _ = py3langid.classify(sample)
    return str(code)


detect_language("The model loads on first use: here, once, in the forkserver that preloads the worker.")
