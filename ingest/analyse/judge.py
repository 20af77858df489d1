"""Judge a new article against the stored corpus: copies, story clusters and patchworks.

Pure: the corpus is read through the small `Corpus` protocol (the store implements it over
its index, tests over a list of texts), so every rule here can be tested on texts alone
and the store only records what the returned `Judgement` says.

What users store is same-story coverage: wire stories in several versions, roundups,
galleries, independent reports quoting one press conference. The rules that keep verdicts
true on it (docs/analysis.md has the figures and the corpora):

1. Candidates come from the index, each look-up capped so a common bucket or stock sentence
   cannot become a scan: the exact key, 32 LSH band keys, the sentence hashes. The lines of
   the site's own template (learnt by the store) are no evidence of anything.
2. A copy is a verified pair: 5-gram Jaccard and containment both ways between this text
   and one stored text. `duplicate.of` names the earliest stored article this one shares
   what the kind claims with, and the similarity is that pair's; the story cluster it joins
   is that article's (copies of copies chain only through verified pairs of one kind of page).
3. A page that matches two stories that share nothing with each other (a combined page, a
   digest) is a hub: it names no original and joins no cluster, so it cannot join two stories.
   Pages that are not articles (galleries, roundups, listings) only ever match their own kind.
4. Patchwork: most of the text lifted from earlier articles of other sites, from at least two
   *independent* sources. Sources that share the lifted sentences among themselves, or sit in
   one cluster, are versions of one story (a wire write-thru quotes earlier versions that other
   sites published): one source. A page most of which comes from one story is a version of it
   with additions, not a stitch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Set
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from ingest.config import AnalysisConfig
from ingest.records import Duplicate, DuplicateKind, Fingerprint, Garble, GarbleReason, PageKind, Verdict
from ingest.text import indexed_sentences, line_key, normalise_lines, sentence_key, shingles, split_sentences, words

# checks.py and encoding.py (ftfy, wcwidth: ~30 ms) are imported by the functions that use them:
# the store imports this module when it opens, and a daemon's first judgement comes only after its
# first page is fetched and extracted (docs/performance.md, start-up). A worker has them loaded.

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
INDEPENDENT_JACCARD = 0.2  # two matches sharing less than this (and little containment)...
INDEPENDENT_CONTAINMENT = 0.5  # ...are two stories: a page copying both is a hub
INSIDE = 0.8  # containment from which one text is inside another
FRAGMENT = 0.6  # a copy inside its original that holds less than this of it is a fragment of it
SAME_STORY_SENTENCES = 2  # two sources sharing this many sentences...
SAME_STORY_SHARE = 0.2  # ...and this share of the smaller one's are versions of one story
PATCHWORK_MIN_SHARE = 0.1  # a source must contribute this share of characters...
PATCHWORK_MIN_SENTENCES = 2  # ...or this many sentences
PATCHWORK_SINGLE_SOURCE = 0.8  # one story supplying this share of the text makes a copy of it
PATCHWORK_DOMINANT = 0.6  # ...and this share, with most of that story in the page, a version with additions
PATCHWORK_EXTENDED = 0.5  # "most of that story": this share of its indexed sentences
FUZZY_FROM = 0.1  # exact-sentence coverage from which edited lifts are looked for
FUZZY_SOURCES = 6  # source texts read for that
FUZZY_SENTENCE = 0.8  # share of the shorter sentence's words for "the same sentence, lightly edited"
FUZZY_SIZE_RATIO = 0.5  # ... when the shorter has at least half the words of the longer
ALIGNED_MAX = 20  # aligned sentence pairs kept as a duplicate's evidence
GUESS_WINDOW = timedelta(days=7)  # a guessed publication date this close before first seen is believed


def origin_time(published: datetime | None, date_source: str | None, first_seen: datetime) -> datetime:
    """When an article entered the world, for choosing originals: its publication time when the
    publisher, feed or sitemap declared it, else when it was first seen. A date htmldate guessed
    from the page text (a copyright year, a date in a sentence) only counts when it falls in the
    week before first seen; no date counts after first seen (nothing is published after it was read).
    """
    if published is None:
        return first_seen
    if date_source == "htmldate" and not first_seen - GUESS_WINDOW <= published <= first_seen:
        return first_seen
    return min(published, first_seen)


def tie_key(exact_key: int | None, url: str) -> str:
    """What orders two articles with the same origin time (a date-only publication, say): the
    hash of the text, then the URL. Derived from the content, never from the row id, so the
    verdicts do not depend on which of several writer processes stored an article first."""
    return f"{(exact_key or 0) & 0xFFFFFFFFFFFFFFFF:016x} {url}"


@dataclass
class StoredDoc:
    """A stored article as judging sees it (text only when asked for)."""

    id: int
    url: str
    site: str
    when: datetime  # origin_time: declared publication, else first seen (the "original" order)
    title: str = ""
    text: str = ""
    kind: PageKind = "article"
    hub: bool = False  # it matched two unrelated stories: never an original, never in a cluster
    sentences: int = 0  # sentences it has in the index
    tie: str = ""  # tie_key(): orders articles of the same origin time (never the row id)


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

    def template(self, site: str, line_keys: Iterable[int], exclude: int) -> set[int]:
        """Those of `line_keys` that recur across other pages of `site` (its page template)."""

    def sentence_sets(self, ids: Iterable[int]) -> dict[int, set[int]]:
        """The indexed sentence hashes of each of `ids`."""


@dataclass(frozen=True)
class Subject:
    """The article being judged: its current text and where it sits in time."""

    article_id: int
    site: str
    when: datetime
    title: str
    text: str
    fingerprint: Fingerprint
    tie: str = ""  # tie_key() of this article


@dataclass(frozen=True)
class Edge:
    """A copy's link in the story clusters (`dup_edges`): its cluster original, the kind and
    similarity of the verified pair it joined through."""

    of_id: int
    kind: DuplicateKind
    similarity: float


@dataclass(frozen=True)
class Judgement:
    """A verdict plus what it changes in the clusters, for the store to record.

    `edge`: this article's link to its cluster original (None: it is an original, or a hub).
    `reroot`: articles found to copy this one although stored before it (pages arrive in
    any order), each with the kind and similarity of its own pair with this article: they
    are now copies of it, and their clusters move to it.
    """

    verdict: Verdict
    edge: Edge | None = None
    reroot: tuple[tuple[int, Edge], ...] = ()
    hub: bool = False
    template: frozenset[int] = frozenset()  # this article's lines that are its site's template
    candidates: int = 0  # candidates verified exactly (tests, benchmarks)


@dataclass
class _Match:
    doc: StoredDoc
    kind: DuplicateKind
    similarity: float
    evidence: dict[str, Any] = field(default_factory=dict)
    text: _Lazy | None = None


def judge(me: Subject, corpus: Corpus, cfg: AnalysisConfig) -> Judgement:
    """Compare `me` with the stored corpus (other articles only)."""
    fp = me.fingerprint
    template = frozenset(corpus.template(me.site, fp.lines, me.article_id)) if fp.lines else frozenset()
    exact_ids = corpus.exact(fp.exact_key, me.article_id, BUCKET_CAP) if fp.n_words >= MIN_EXACT_WORDS else []
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

    mine = _Lazy(lambda: _Text(me.text, boiler, template))  # ~1 ms: built only when something is compared
    matches, verified = _verify(me, mine, corpus, exact_ids, votes, shared, boiler, template, docs, cfg)
    hub = _is_hub(matches, corpus)
    duplicate, edge, reroot = (None, None, ()) if hub else _original(me, corpus, matches, by_sent)
    reasons = list(_document_reasons(me, template))
    sources: tuple[str, ...] = ()
    pw = _patchwork(me, corpus, by_sent, boiler, docs, matches, cfg) if fp.page_kind == "article" else None
    if pw is not None:
        reasons.append(pw)
        sources = tuple(s["url"] for s in pw.evidence["sources"])
    from .checks import combine

    score = combine(reasons)
    garble = Garble(score, tuple(reasons), sources) if score >= cfg.garble_threshold else None
    return Judgement(Verdict(duplicate=duplicate, garble=garble), edge, reroot, hub, template, verified)


def _document_reasons(me: Subject, template: Set[int]) -> tuple[GarbleReason, ...]:
    """The per-document checks, without the site's template lines; on a page that is not an
    article only encoding damage counts (a gallery or a digest is not a garbled article)."""
    fp = me.fingerprint
    reasons = fp.garble
    if template and any(r.name != "mojibake" for r in reasons) and template & set(fp.lines):
        from .checks import document_checks
        from .encoding import fix_encoding

        reasons = document_checks(me.title, me.text, fix_encoding(me.text), template)
    if fp.page_kind != "article":
        reasons = tuple(r for r in reasons if r.name == "mojibake")
    return reasons


class _Lazy:
    """A value computed on first use (this page's shingles: most pages are compared with nothing)."""

    __slots__ = ("_make", "_value")

    def __init__(self, make: Callable[[], _Text] | None = None, value: _Text | None = None):
        self._make = make
        self._value = value

    def get(self) -> _Text:
        if self._value is None:
            assert self._make is not None
            self._value, self._make = self._make(), None
        return self._value


def _verify(
    me: Subject,
    mine: _Lazy,
    corpus: Corpus,
    exact_ids: list[int],
    votes: dict[int, int],
    shared: dict[int, int],
    boiler: set[int],
    template: frozenset[int],
    docs: dict[int, StoredDoc],
    cfg: AnalysisConfig,
) -> tuple[list[_Match], int]:
    """Exact comparison (Jaccard and containment both ways) of the best candidates of this
    page's kind; hubs are never matched."""
    fp = me.fingerprint

    def eligible(doc: StoredDoc) -> bool:
        return doc.kind == fp.page_kind and not doc.hub

    matches = [
        _Match(docs[i], "exact", 1.0, {"exact_key": True})
        for i in exact_ids
        if i in docs and eligible(docs[i]) and (docs[i].site != me.site or fp.n_words >= SAME_SITE_MIN_WORDS)
    ]
    n_sent = max(1, len(fp.sentences))
    rank = {aid: v for aid, v in votes.items() if aid in docs and eligible(docs[aid])}
    for aid, s in shared.items():
        if aid in docs and eligible(docs[aid]) and (s >= MIN_SHARED_SENTENCES or s / n_sent >= 0.5):
            rank[aid] = rank.get(aid, 0) + 2 * s
    for aid in exact_ids:
        rank.pop(aid, None)
    todo = sorted(rank, key=lambda a: (-rank[a], a))[:MAX_VERIFY]
    for m in matches:
        m.text = mine  # an exact match is this text (the hub test compares texts)
    with_text = corpus.docs(todo, with_text=True) if todo else {}
    for aid in todo:
        doc = with_text.get(aid)
        if doc is None:
            continue
        theirs = _Text(doc.text, boiler, template if doc.site == me.site else frozenset())
        c = classify(mine.get(), theirs, doc.site == me.site, cfg)
        if c:
            kind, sim, ev = c
            matches.append(_Match(doc, kind, sim, ev, _Lazy(value=theirs)))
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


def _is_hub(matches: list[_Match], corpus: Corpus) -> bool:
    """This page copies two stories that share nothing with each other (it holds both)."""
    if len(matches) < 2:
        return False
    roots = corpus.roots(m.doc.id for m in matches)
    by_cluster: dict[int, _Match] = {}
    for m in matches:
        by_cluster.setdefault(roots.get(m.doc.id, m.doc.id), m)
    reps = [m for m in by_cluster.values() if m.text is not None]
    for i, a in enumerate(reps):
        for b in reps[i + 1:]:
            assert a.text is not None and b.text is not None
            sa, sb = a.text.get().shingles, b.text.get().shingles
            if not sa or not sb:
                continue
            inter = len(sa & sb)
            if (inter / len(sa | sb) < INDEPENDENT_JACCARD
                    and inter / min(len(sa), len(sb)) < INDEPENDENT_CONTAINMENT):
                return True
    return False


def _original(
    me: Subject, corpus: Corpus, matches: list[_Match], by_sent: dict[int, list[tuple[int, int]]]
) -> tuple[Duplicate | None, Edge | None, tuple[tuple[int, Edge], ...]]:
    """The earliest verified match is what this page copies (`of`); its cluster is joined."""
    if not matches:
        return None, None, ()
    best = min(matches, key=lambda m: (m.doc.when, m.doc.tie, m.doc.id))
    roots = {k: v for k, v in corpus.roots(m.doc.id for m in matches).items() if v != me.article_id}
    if (me.when, me.tie) < (best.doc.when, best.doc.tie):  # ties (date-only): by content, then URL
        # This article is older than everything it matches: it is their original.
        return None, None, tuple((m.doc.id, Edge(me.article_id, m.kind, m.similarity)) for m in matches)
    # The cluster: the earliest root among the clusters this page's verified matches are in.
    root_ids = {roots.get(m.doc.id, m.doc.id) for m in matches}
    root_docs = corpus.docs(root_ids)
    root = min(root_ids, key=lambda r: (root_docs[r].when, root_docs[r].tie, r) if r in root_docs
               else (best.doc.when, best.doc.tie, r))
    ev = dict(best.evidence)
    ev["aligned"] = _aligned(me, best.doc.id, by_sent)
    ev["matches"] = [
        {"article_id": m.doc.id, "url": m.doc.url, "kind": m.kind, "similarity": m.similarity}
        for m in matches[:MAX_VERIFY]
    ]
    if root != best.doc.id:
        ev["cluster_original"] = {"article_id": root, "url": root_docs[root].url if root in root_docs else None}
    dup = Duplicate(best.doc.id, best.doc.url, best.kind, best.similarity, ev)
    # A fragment of a larger page (a paragraph of a digest, a paywall-cut copy) is its copy, but
    # does not extend its story: it joins no cluster, so no page can chain two stories through it.
    fragment = ev.get("containment_new", 0.0) >= INSIDE and ev.get("containment_old", 1.0) < FRAGMENT
    joins = best.kind in ("exact", "near") or not fragment
    return dup, Edge(root, best.kind, best.similarity) if joins else None, ()


def _aligned(me: Subject, other: int, by_sent: dict[int, list[tuple[int, int]]]) -> list[dict[str, Any]]:
    """This page's sentences found in `other`, with their positions in both (evidence)."""
    out = []
    for h, pos, sentence in indexed_sentences(me.text):
        for aid, their_pos in by_sent.get(h, ()):
            if aid == other:
                out.append({"pos": pos, "of_pos": their_pos, "text": sentence})
                break
        if len(out) >= ALIGNED_MAX:
            break
    return out


def _patchwork(
    me: Subject,
    corpus: Corpus,
    by_sent: dict[int, list[tuple[int, int]]],
    boiler: set[int],
    docs: dict[int, StoredDoc],
    matches: list[_Match],
    cfg: AnalysisConfig,
) -> GarbleReason | None:
    """Most of the text is sentences from >= 2 independent earlier articles of other sites."""
    if not by_sent or any(m.kind in ("exact", "near") for m in matches):
        return None
    sents = [(h, pos, s) for h, pos, s in indexed_sentences(me.text) if h not in boiler]
    chars = {h: len(s) for h, _, s in sents}
    total = sum(chars.values())
    src: dict[int, dict[int, int]] = {}  # source article -> {my sentence hash: its sentence position}
    for h, hits in by_sent.items():
        for aid, pos in hits:
            doc = docs.get(aid)
            if h in chars and doc and doc.site != me.site and doc.when <= me.when and not doc.hub:
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
    groups = _story_groups(chosen, src, corpus.roots(src), corpus.sentence_sets(aid for aid, _ in chosen))
    if not _several_stories(groups, chars, total, docs, src):
        return None
    where = {h: (p, s) for h, p, s in sents}
    group_of = {aid: g for g, members in enumerate(groups) for aid, _ in members}
    sources = [
        {
            "article_id": aid,
            "url": docs[aid].url,
            "site": docs[aid].site,
            "when": docs[aid].when.strftime("%Y-%m-%dT%H:%M:%S"),
            "story": group_of[aid],
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
        {"coverage": round(coverage, 3), "sites": len({x["site"] for x in sources}), "stories": len(groups),
         "sources": sources},
        strong=True,
    )


def _fuzzy_extend(corpus: Corpus, src: dict[int, dict[int, int]], unmatched: list[tuple[int, int, str]]) -> None:
    """Credit lightly edited lifts (a changed word breaks the sentence hash): compare the
    unmatched sentences with the sentences of the few sources already found, by word
    Jaccard. Bounded: at most FUZZY_SOURCES texts are read, only for suspected reuse."""
    if not unmatched:
        return
    from .encoding import fix_encoding

    top = sorted(src, key=lambda a: (-len(src[a]), a))[:FUZZY_SOURCES]
    texts = corpus.docs(top, with_text=True)
    theirs = []
    for aid in sorted(texts, key=lambda a: (texts[a].when, texts[a].tie, a)):  # earliest wins ties
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
        for aid in sorted(src, key=lambda a: (docs[a].when, docs[a].tie, a)):
            g = sum(chars[h] for h in src[aid].keys() - covered)
            if g > gain:
                best, gain = aid, g
        if best is None:
            return chosen
        new = set(src[best]) - covered
        chosen.append((best, new))
        covered |= new


def _story_groups(
    chosen: list[tuple[int, set[int]]], src: dict[int, dict[int, int]], roots: dict[int, int],
    sentences: dict[int, set[int]],
) -> list[list[tuple[int, set[int]]]]:
    """The chosen sources grouped into stories (union-find): sources in one cluster, sharing any
    of the lifted sentences among themselves, or sharing text with each other (two versions of
    a wire story: the later one kept some paragraphs and rewrote others) are one story."""
    parent = {aid: aid for aid, _ in chosen}

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    ids = [aid for aid, _ in chosen]
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            same_cluster = roots.get(a, a) == roots.get(b, b)
            sa, sb = sentences.get(a, set()), sentences.get(b, set())
            common = len(sa & sb)
            versions = common >= SAME_STORY_SENTENCES and common >= SAME_STORY_SHARE * min(len(sa), len(sb))
            if same_cluster or versions or src[a].keys() & src[b].keys():
                parent[find(a)] = find(b)
    groups: dict[int, list[tuple[int, set[int]]]] = {}
    for aid, hs in chosen:
        groups.setdefault(find(aid), []).append((aid, hs))
    return list(groups.values())


def _several_stories(
    groups: list[list[tuple[int, set[int]]]], chars: dict[int, int], total: int, docs: dict[int, StoredDoc],
    src: dict[int, dict[int, int]],
) -> bool:
    """>= 2 independent stories of different sites each contribute enough, and no one story
    supplies the text: not most of it (a copy), nor much of it while the page holds most of that
    story (a version with additions: a wire write-thru that took background paragraphs from
    another story of the same wire)."""
    sizes = []
    for members in groups:
        hs = set().union(*(h for _, h in members))
        extended = max((len(src[aid]) / docs[aid].sentences for aid, _ in members if docs[aid].sentences), default=0.0)
        sizes.append((sum(chars[h] for h in hs), len(hs), {docs[aid].site for aid, _ in members}, extended))
    real = [g for g in sizes if g[1] >= PATCHWORK_MIN_SENTENCES or g[0] / total >= PATCHWORK_MIN_SHARE]
    top = max(sizes, key=lambda g: g[0])
    share = top[0] / total
    if share >= PATCHWORK_SINGLE_SOURCE or (share >= PATCHWORK_DOMINANT and top[3] >= PATCHWORK_EXTENDED):
        return False
    return len(real) >= 2 and len(set().union(*(g[2] for g in real))) >= 2


class _Text:
    """What verification compares: 5-gram shingles of the repaired text without the given
    site boilerplate sentences and template lines, and the word sets of its first and last
    sentences."""

    __slots__ = ("shingles", "first", "last")

    def __init__(self, text: str, drop: Set[int], template: Set[int] = frozenset()):
        from .encoding import fix_encoding

        lines = normalise_lines(fix_encoding(text)).splitlines()
        if template:
            lines = [line for line in lines if line_key(" ".join(words(line))) not in template]
        sents = split_sentences("\n".join(lines))
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
