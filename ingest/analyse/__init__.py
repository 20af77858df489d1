"""Analysis stage: flag duplicated and garbled copies, with evidence (docs/analysis.md). Pure.

- `fingerprint(title, text)`: corpus-independent features + per-document garble checks
  (runs in a worker process);
- `judge(subject, corpus, cfg)`: the verdict against the stored corpus, read through the
  small `Corpus` protocol the store implements (judge.py);
- `TopicMatcher`: which configured topics a text is about (topics.py).

Nothing here touches a database, the network or the drivers: every rule is tested on texts.
"""
