"""Analysis stage: flag duplicated and garbled copies, with evidence (docs/analysis.md).

- `fingerprint(title, text)`: corpus-independent features + per-document garble checks
  (pure, picklable: runs in a worker process);
- `CorpusIndex(db, cfg).judge(...)` then `.add(...)`: compare with the stored corpus and
  index the article (writer process, inside the store's transaction);
- `normalise_text` / `text_hash`: the normalisation shared with version comparison.
"""
from .fingerprint import fingerprint
from .normalize import normalise_text, text_hash

__all__ = ["CorpusIndex", "fingerprint", "normalise_text", "text_hash"]


def __getattr__(name: str):
    """CorpusIndex on first use: it brings sqlite_utils (which imports pandas), which the
    extraction workers, importing this package for `fingerprint`, never need."""
    if name == "CorpusIndex":
        from .corpus import CorpusIndex

        return CorpusIndex
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
