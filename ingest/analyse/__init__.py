"""Analysis stage: flag duplicated and garbled copies, with evidence (docs/analysis.md).

- `fingerprint(title, text)`: corpus-independent features + per-document garble checks
  (pure, picklable: runs in a worker process);
- `CorpusIndex(db, cfg).judge(...)` then `.add(...)`: compare with the stored corpus and
  index the article (writer process, inside the store's transaction);
- `normalise_text` / `text_hash`: the normalisation shared with version comparison.
"""
from .corpus import CorpusIndex
from .fingerprint import fingerprint
from .normalize import normalise_text, text_hash

__all__ = ["CorpusIndex", "fingerprint", "normalise_text", "text_hash"]
