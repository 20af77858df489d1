"""The language of an extracted text: py3langid, the detector trafilatura itself uses.

trafilatura only fills `language` when asked to filter on a target language; ingest wants it
on every article (analysts group and filter by it). py3langid (langid.py's model, numpy) on
the first 2,000 characters: ~0.5-0.9 ms per page in the worker, where extraction takes ~25 ms.

py3langid ships its model LZMA-compressed (4.5 MB -> 68 MB of arrays): decompressing it takes
~0.45 s of CPU, which every start of the workers would wait for before its first page. So the
arrays are kept uncompressed in the user's cache (`$XDG_CACHE_HOME/ingest`, else `~/.cache/ingest`)
the first time, and later loads map them from there (~10 ms, and the pages are shared by every
worker through the OS's page cache). Same arrays, same classifier: the same answers as
`py3langid.classify` (tests/test_extract_language.py). Without a writable cache it loads as
py3langid does.
"""
from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from py3langid.langid import MODEL_DIR, MODEL_FILE, LanguageIdentifier
from py3langid.modelio import load_model

SAMPLE_CHARS = 2000  # enough text for a stable answer; the cost grows with the length
MIN_WORDS = 5  # below this the answer is a guess: no language rather than a wrong one
ARRAYS = ("ptc", "pc", "classes", "nextmove", "row", "output")  # py3langid's model, in load_model's order


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language, or None for a text too short to tell."""
    sample = text[:SAMPLE_CHARS]
    if len(sample.split()) < MIN_WORDS:
        return None
    code, _ = identifier().classify(sample)
    return str(code)


@functools.cache
def identifier() -> LanguageIdentifier:
    """py3langid's default identifier (its model, raw scores), from the cache when it can be."""
    return load_identifier(cache_dir())


def cache_dir() -> Path | None:
    """Where the uncompressed model is kept; None when there is no home to keep it in."""
    try:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    except RuntimeError:  # no $HOME and no passwd entry (a container's arbitrary uid)
        return None
    return Path(base) / "ingest" / f"py3langid-{version('py3langid')}"


def load_identifier(cache: Path | None) -> LanguageIdentifier:
    """The identifier from the uncompressed arrays in `cache`, writing them there first if missing.

    The arrays are memory-mapped read-only and handed to py3langid's own LanguageIdentifier as
    it would build them (the transition tables as flat unsigned-int buffers, the output table as
    a list): only where the bytes come from differs. A damaged or unwritable cache falls back to
    py3langid's own load.
    """
    if cache is not None:
        with contextlib.suppress(OSError, ValueError, EOFError):
            return _mapped(cache)
    model = load_model(MODEL_DIR / MODEL_FILE)
    if cache is not None:
        with contextlib.suppress(OSError):
            _write(cache, model)
    ptc, pc, classes, nextmove, row, output = model
    return LanguageIdentifier(np.asarray(ptc), np.asarray(pc), classes, nextmove, output, tk_row=row)


def _mapped(cache: Path) -> LanguageIdentifier:
    a = {name: np.load(cache / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in ARRAYS}
    if not (a["row"].shape == a["output"].shape and a["ptc"].shape[1] == a["pc"].shape[0] == a["classes"].shape[0]
            and a["nextmove"].shape[0] % 256 == 0):
        raise ValueError(f"inconsistent py3langid model in {cache}")
    return LanguageIdentifier(a["ptc"], np.asarray(a["pc"]), a["classes"].tolist(), memoryview(a["nextmove"]),
                              a["output"].tolist(), tk_row=memoryview(a["row"]))


def _write(cache: Path, model: Any) -> None:
    """The arrays as .npy files, in a new folder renamed into place: never seen half-written."""
    ptc, pc, classes, nextmove, row, output = model
    arrays = {"ptc": np.asarray(ptc), "pc": np.asarray(pc), "classes": np.asarray(classes),
              "nextmove": np.frombuffer(nextmove, dtype=f"u{nextmove.itemsize}"),  # array.array -> the same bytes
              "row": np.frombuffer(row, dtype=f"u{row.itemsize}"), "output": np.asarray(output, dtype=np.int32)}
    cache.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{cache.name}-", dir=cache.parent))
    try:
        for name in ARRAYS:
            np.save(tmp / f"{name}.npy", arrays[name], allow_pickle=False)
        shutil.rmtree(cache, ignore_errors=True)  # one that did not load (still mapped elsewhere: unlinking is safe)
        os.rename(tmp, cache)  # fails if another process has just put its copy there: as good as ours
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


detect_language("The model loads on first use: here, once, in the forkserver that preloads the worker.")
