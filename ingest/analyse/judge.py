"""Judge a new article against the stored corpus: copies and patchworks, with evidence.

Pure: the corpus is read through the small `Corpus` protocol (the store implements it over
its index, tests over a list of texts), so every rule here can be tested on texts alone
and the store only executes what the returned `Judgement` says.

Order of work, cheapest first (docs/analysis.md):
1. candidates from the index: the exact key, the 32 LSH band keys and the sentence
   hashes, each capped so an over-common bucket or stock sentence cannot become a scan;
2. exact verification (5-gram Jaccard and containment both ways) of the few best;
3. the cluster original: the earliest of the matches and their roots;
4. patchwork: most of the text covered by sentences of >= 2 other sites' earlier articles.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from ingest.config import AnalysisConfig
from ingest.records import Duplicate, DuplicateKind, Fingerprint, Garble, GarbleReason, Verdict
from ingest.text import indexed_sentences, normalise_lines, sentence_key, shingles, split_sentences, words

from .checks import combine
from .encoding import fix_encoding

BUCKET_CAP = 50  # rows read per LSH band key; a fuller bucket is boilerplate or a huge cluster
SENT_CAP = 30  # a sentence in more articles than this is a stock phrase: ignored
SITE_BOILER_DF = 2  # a sentence in this many other articles of the same site is site boilerplate
MIN_EXACT_WORDS = 10  # an empty or one-line stub is not "the same article"
MAX_VERIFY = 8  # candidates whose text is read back and compared exactly
MIN_SHARED_SENTENCES = 2
SAME_SITE_NEAR = 0.9  # same-site pairs: near-identical only (Henzinger: templates fool shingling)
SAME_SITE_SUBSET = 0.95
SAME_SITE_MIN_WORDS = 80
SUBSET_FULL = 0.95  # containment above this (same lede) is a subset even when Jaccard is high-ish
EDGE_SAME = 0.5  # word Jaccard above which two first (or last) sentences are the same sentence
MIN_SUBSET_SHINGLES = 20
PATCHWORK_MIN_SHARE = 0.1  # a source must contribute this share of characters...
PATCHWORK_MIN_SENTENCES = 2  # ...or this many sentences
PATCHWORK_SINGLE_SOURCE = 0.8  # one source covering this much makes a copy, not a patchwork
FUZZY_FROM = 0.1  # exact-sentence coverage from which edited lifts are looked for
FUZZY_SOURCES = 6  # source texts read for that
FUZZY_SENTENCE = 0.8  # share of the shorter sentence's words for "the same sentence, lightly edited"
FUZZY_SIZE_RATIO = 0.5  # ... when the shorter has at least half the words of the longer


@dataclass
class StoredDoc:
    """A stored article as judging sees it (text only when asked for)."""

    id: int
    url: str
    site: str
    when: datetime  # published if known, else first seen: the "original" order
    title: str = ""
    text: str = ""


class Corpus(Protocol):
    """What judging reads from the stored corpus; every call is bounded by its caps."""

    def exact(self, exact_key: int, exclude: int, limit: int) -> list[int]:
        """Ids of other articles with this exact key."""

    def band_votes(self, band_keys: Iterable[int], exclude: int, cap: int) -> dict[int, int]:
        """Other articles sharing LSH bands, with how many (at most `cap` rows per key)."""

    def sentence_hits(self, hashes: Iterable[int], exclude: int, cap: int) -> dict[int, list[tuple[int, int]]]:
        """Sentence hash -> [(other article, sentence position)], at most `cap` per hash."""

    def docs(self, ids: Iterable[int], with_text: bool = False) -> dict[int, StoredDoc]:
        """The stored articles `ids` (their current version's title and text when `with_text`)."""

    def roots(self, ids: Iterable[int]) -> dict[int, int]:
        """The cluster original of each of `ids` that is a copy."""


@dataclass(frozen=True)
class Subject:
    """The article being judged: its current text and where it sits in time."""

    article_id: int
    site: str
    when: datetime
    title: str
    text: str
    fingerprint: Fingerprint


@dataclass(frozen=True)
class Edge:
    """A copy -> original link of the duplicate clusters (`dup_edges`)."""

    of_id: int
    kind: DuplicateKind
    similarity: float


@dataclass(frozen=True)
class Judgement:
    """A verdict plus what it changes in the clusters, for the store to record.

    `edge`: this article's link to its cluster original (None: it is an original).
    `reroot`: articles found to copy this one although stored before it (pages arrive in
    any order): they and their clusters now point at this article.
    """

    verdict: Verdict
    edge: Edge | None = None
    reroot: tuple[tuple[int, Edge], ...] = ()
    candidates: int = 0  # candidates verified exactly (tests, benchmarks)


@dataclass
class _Match:
    doc: StoredDoc
    kind: DuplicateKind
    similarity: float
    evidence: dict[str, Any] = field(default_factory=dict)


def judge(me: Subject, corpus: Corpus, cfg: AnalysisConfig) -> Judgement:
    """Compare `me` with the stored corpus (other articles only)."""
    fp = me.fingerprint
    exact_ids = (
        corpus.exact(fp.exact_key, me.article_id, BUCKET_CAP) if fp.n_words >= MIN_EXACT_WORDS else []
    )
    votes = corpus.band_votes(fp.band_keys, me.article_id, BUCKET_CAP)
    by_sent = corpus.sentence_hits([h for h, _ in fp.sentences], me.article_id, SENT_CAP + 1)
    by_sent = {h: hits for h, hits in by_sent.items() if len(hits) <= SENT_CAP}  # stock phrases dropped
    ids = set(exact_ids) | set(sorted(votes, key=lambda a: votes[a], reverse=True)[: 4 * MAX_VERIFY])
    ids |= {aid for hits in by_sent.values() for aid, _ in hits}
    docs = corpus.docs(ids)
    boiler = {
        h
        for h, hits in by_sent.items()
        if sum(1 for aid, _ in hits if aid in docs and docs[aid].site == me.site) >= SITE_BOILER_DF
    }
    shared: dict[int, int] = {}
    for h, hits in by_sent.items():
        if h not in boiler:
            for aid, _ in hits:
                shared[aid] = shared.get(aid, 0) + 1

    matches, verified = _verify(me, corpus, exact_ids, votes, shared, boiler, docs, cfg)
    duplicate, edge, reroot = _original(me, corpus, matches)
    reasons = list(fp.garble)
    sources: tuple[str, ...] = ()
    pw = _patchwork(me, corpus, by_sent, boiler, docs, matches, cfg)
    if pw is not None:
        reasons.append(pw)
        sources = tuple(s["url"] for s in pw.evidence["sources"])
    score = combine(reasons)
    garble = Garble(score, tuple(reasons), sources) if score >= cfg.garble_threshold else None
    return Judgement(Verdict(duplicate=duplicate, garble=garble), edge, reroot, verified)


def _verify(
    me: Subject,
    corpus: Corpus,
    exact_ids: list[int],
    votes: dict[int, int],
    shared: dict[int, int],
    boiler: set[int],
    docs: dict[int, StoredDoc],
    cfg: AnalysisConfig,
) -> tuple[list[_Match], int]:
    """Exact comparison (Jaccard and containment both ways) of the best candidates."""
    fp = me.fingerprint
    matches = [
        _Match(docs[i], "exact", 1.0, {"exact_key": True})
        for i in exact_ids
        if i in docs and (docs[i].site != me.site or fp.n_words >= SAME_SITE_MIN_WORDS)
    ]
    n_sent = max(1, len(fp.sentences))
    rank = dict(votes)
    for aid, s in shared.items():
        if s >= MIN_SHARED_SENTENCES or s / n_sent >= 0.5:
            rank[aid] = rank.get(aid, 0) + 2 * s
    for aid in exact_ids:
        rank.pop(aid, None)
    todo = sorted(rank, key=lambda a: (-rank[a], a))[:MAX_VERIFY]
    if not todo:
        return matches, 0
    mine = _Text(me.text, boiler)
    for doc in corpus.docs(todo, with_text=True).values():
        m = classify(mine, _Text(doc.text, boiler), doc.site == me.site, cfg)
        if m:
            kind, sim, ev = m
            matches.append(_Match(doc, kind, sim, ev))
    return matches, len(todo)


def classify(
    new: _Text, old: _Text, same_site: bool, cfg: AnalysisConfig
) -> tuple[DuplicateKind, float, dict[str, Any]] | None:
    """Kind and similarity of a verified pair, or None (thresholds: docs/analysis.md).

    near: near-identical throughout; subset: one text is (almost) inside the other
    and they start alike (truncated or extended copy); syndicated: the same story
    with edits, in particular at the edges (new lede or dateline, trimmed ending).
    """
    a, b = new.shingles, old.shingles
    if not a or not b:
        return None
    inter = len(a & b)
    if not inter:
        return None
    j = inter / (len(a) + len(b) - inter)
    c_new, c_old = inter / len(a), inter / len(b)
    lede, end = _similar(new.first, old.first), _similar(new.last, old.last)
    ev = {
        "jaccard": round(j, 3),
        "containment_new": round(c_new, 3),
        "containment_old": round(c_old, 3),
        "same_lede": lede,
        "same_ending": end,
        "same_site": same_site,
    }
    small = min(len(a), len(b))
    cmax = max(c_new, c_old)
    if same_site:
        if j >= max(cfg.near_threshold, SAME_SITE_NEAR):
            return "near", round(j, 3), ev
        if cmax >= SAME_SITE_SUBSET and small >= SAME_SITE_MIN_WORDS:
            return "subset", round(cmax, 3), ev
        return None
    if j >= cfg.near_threshold and lede and end:
        return "near", round(j, 3), ev
    if cmax >= SUBSET_FULL and lede and small >= MIN_SUBSET_SHINGLES:
        return "subset", round(cmax, 3), ev
    if j >= cfg.syndicated_threshold or (cmax >= cfg.subset_containment and not lede):
        return "syndicated", round(j, 3), ev
    if cmax >= cfg.subset_containment and small >= MIN_SUBSET_SHINGLES:
        return "subset", round(cmax, 3), ev
    return None


def _original(
    me: Subject, corpus: Corpus, matches: list[_Match]
) -> tuple[Duplicate | None, Edge | None, tuple[tuple[int, Edge], ...]]:
    """Point at the cluster original: the earliest of the matches and their roots."""
    if not matches:
        return None, None, ()
    # A new version of an original its copies point at is still the original, not a copy of itself.
    roots = {k: v for k, v in corpus.roots(m.doc.id for m in matches).items() if v != me.article_id}
    extra = set(roots.values()) - {m.doc.id for m in matches}
    root_docs = corpus.docs(extra) if extra else {}
    best = min(matches, key=lambda m: (m.doc.when, m.doc.id))
    orig, via = best.doc, None
    for m in matches:
        r = roots.get(m.doc.id)
        if r is not None and r in root_docs and (root_docs[r].when, r) < (orig.when, orig.id):
            orig, via, best = root_docs[r], m.doc, m
    if (me.when, me.article_id) < (orig.when, orig.id):  # ties (date-only): the first seen is the original
        # This article is older than everything it matches: it is the original.
        return None, None, tuple((m.doc.id, Edge(me.article_id, m.kind, m.similarity)) for m in matches)
    ev = dict(best.evidence)
    ev["matches"] = [
        {"article_id": m.doc.id, "kind": m.kind, "similarity": m.similarity} for m in matches[:MAX_VERIFY]
    ]
    if via is not None:
        ev["via"] = {"article_id": via.id, "url": via.url}
    dup = Duplicate(orig.id, orig.url, best.kind, best.similarity, ev)
    return dup, Edge(orig.id, best.kind, best.similarity), ()


def _patchwork(
    me: Subject,
    corpus: Corpus,
    by_sent: dict[int, list[tuple[int, int]]],
    boiler: set[int],
    docs: dict[int, StoredDoc],
    matches: list[_Match],
    cfg: AnalysisConfig,
) -> GarbleReason | None:
    """Most of the text is sentences from >= 2 other sites' earlier articles (greedy cover)."""
    if not by_sent or any(m.kind in ("exact", "near") for m in matches):
        return None
    sents = [(h, pos, s) for h, pos, s in indexed_sentences(me.text) if h not in boiler]
    chars = {h: len(s) for h, _, s in sents}
    total = sum(chars.values())
    src: dict[int, dict[int, int]] = {}  # source article -> {my sentence hash: its sentence position}
    for h, hits in by_sent.items():
        for aid, pos in hits:
            doc = docs.get(aid)
            if h in chars and doc and doc.site != me.site and doc.when <= me.when:
                src.setdefault(aid, {})[h] = pos
    if not src or not total:
        return None
    covered = set().union(*src.values())
    if sum(chars[h] for h in covered) / total >= FUZZY_FROM:
        _fuzzy_extend(corpus, src, [x for x in sents if x[0] not in covered])
        covered = set().union(*src.values())
    coverage = sum(chars[h] for h in covered) / total
    if coverage < cfg.patchwork_coverage:
        return None
    chosen = _greedy_cover(src, chars, docs)
    if not _several_sources(chosen, chars, total, docs, corpus.roots(src)):
        return None
    where = {h: (p, s) for h, p, s in sents}
    sources = [
        {
            "article_id": aid,
            "url": docs[aid].url,
            "site": docs[aid].site,
            "when": docs[aid].when.strftime("%Y-%m-%dT%H:%M:%S"),
            "share": round(sum(chars[h] for h in hs) / total, 3),
            "sentences": [
                {"pos": where[h][0], "source_pos": src[aid][h], "text": where[h][1]}
                for h in sorted(hs, key=lambda h: where[h][0])
            ],
        }
        for aid, hs in chosen
    ]
    thr = cfg.patchwork_coverage
    score = 0.5 + 0.45 * (coverage - thr) / max(1e-9, 1 - thr)
    return GarbleReason(
        "patchwork",
        round(min(0.95, score), 3),
        {"coverage": round(coverage, 3), "sites": len({x["site"] for x in sources}), "sources": sources},
    )


def _fuzzy_extend(corpus: Corpus, src: dict[int, dict[int, int]], unmatched: list[tuple[int, int, str]]) -> None:
    """Credit lightly edited lifts (a changed word breaks the sentence hash): compare the
    unmatched sentences with the sentences of the few sources already found, by word
    Jaccard. Bounded: at most FUZZY_SOURCES texts are read, only for suspected reuse."""
    if not unmatched:
        return
    top = sorted(src, key=lambda a: (-len(src[a]), a))[:FUZZY_SOURCES]
    texts = corpus.docs(top, with_text=True)
    theirs = []
    for aid in sorted(texts, key=lambda a: (texts[a].when, a)):  # earliest wins ties
        for pos, sent in enumerate(split_sentences(normalise_lines(fix_encoding(texts[aid].text)))):
            ws = set(words(sent))
            if len(ws) >= 5:
                theirs.append((aid, pos, ws))
    for h, _, sent in unmatched:
        mine = set(words(sent))
        best, at = 0.0, None
        for aid, pos, ws in theirs:
            small, big = sorted((len(ws), len(mine)))
            if small < FUZZY_SIZE_RATIO * big:
                continue  # lengths alone rule it out
            # overlap coefficient: also credits a lifted sentence glued to its neighbour
            o = len(mine & ws) / small
            if o >= FUZZY_SENTENCE and o > best:
                best, at = o, (aid, pos)
        if at:
            src[at[0]][h] = at[1]


def _greedy_cover(
    src: dict[int, dict[int, int]], chars: dict[int, int], docs: dict[int, StoredDoc]
) -> list[tuple[int, set[int]]]:
    """Pick sources by the characters they add, earliest first on ties (notes §2.2)."""
    chosen: list[tuple[int, set[int]]] = []
    covered: set[int] = set()
    while True:
        best, gain = None, 0
        for aid in sorted(src, key=lambda a: (docs[a].when, a)):
            g = sum(chars[h] for h in src[aid].keys() - covered)
            if g > gain:
                best, gain = aid, g
        if best is None:
            return chosen
        new = set(src[best]) - covered
        chosen.append((best, new))
        covered |= new


def _several_sources(
    chosen: list[tuple[int, set[int]]],
    chars: dict[int, int],
    total: int,
    docs: dict[int, StoredDoc],
    roots: dict[int, int],
) -> bool:
    """>= 2 sources of different sites each contribute enough, and none covers the text alone.
    Copies of one story (one dup cluster) count as one source."""
    groups: dict[int, tuple[int, int, set[str]]] = {}
    for aid, hs in chosen:
        n_chars, n, sites = groups.get(roots.get(aid, aid), (0, 0, set()))
        groups[roots.get(aid, aid)] = (n_chars + sum(chars[h] for h in hs), n + len(hs), sites | {docs[aid].site})
    real = [g for g in groups.values() if g[1] >= PATCHWORK_MIN_SENTENCES or g[0] / total >= PATCHWORK_MIN_SHARE]
    top = max(g[0] for g in groups.values()) / total
    return len(real) >= 2 and len(set().union(*(g[2] for g in real))) >= 2 and top < PATCHWORK_SINGLE_SOURCE


class _Text:
    """What verification compares: 5-gram shingles of the repaired text without the given
    (site boilerplate) sentences, and the word sets of its first and last sentences."""

    __slots__ = ("shingles", "first", "last")

    def __init__(self, text: str, drop: set[int]):
        sents = split_sentences(normalise_lines(fix_encoding(text)))
        if drop:
            sents = [s for s in sents if (sentence_key(s) or (None,))[0] not in drop]
        self.shingles = shingles(words(" ".join(sents)))
        long = [s for s in sents if sentence_key(s)]
        self.first = set(words(long[0])) if long else set()
        self.last = set(words(long[-1])) if long else set()


def _similar(a: set[str], b: set[str]) -> bool:
    """Two sentences are 'the same' if most of their words are (a word edit is not a new lede)."""
    if not a or not b:
        return True
    return len(a & b) / len(a | b) >= EDGE_SAME
