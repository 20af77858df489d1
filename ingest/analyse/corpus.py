"""The SQLite-backed corpus index: find copies and patchworks of a new article, with evidence.

Runs in the single writer process. Every look-up is a bounded set of B-tree seeks on
narrow WITHOUT ROWID tables (migration 2): exact key, 32 LSH band keys, and the
article's sentence hashes, each capped by LIMIT so an over-common bucket or stock
sentence cannot turn a query into a scan. Only a handful of candidates are read back
(texts from the core tables) and verified exactly.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from datetime import datetime, timezone

import sqlite_utils

from ingest.config import AnalysisConfig
from ingest.records import Duplicate, Fingerprint, Garble, GarbleReason, Verdict

from .checks import combine
from .encoding import fix_encoding
from .normalize import indexed_sentences, normalise_lines, sentence_key, shingles, split_sentences, words

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
_CHUNK = 200  # compound SELECT arms per statement (SQLite allows 500)

_CANDIDATE_SQL = (
    "SELECT a.id, a.url, a.site, a.first_seen, a.published, v.title, v.text FROM articles a "
    "JOIN versions v ON v.article_id = a.id AND v.n = a.current_version WHERE a.id IN ({})"
)


def when(published: str | None, first_seen: str) -> str:
    """Sortable UTC timestamp: published if known, else first seen (the 'original' order)."""
    for raw in (published, first_seen):
        if not raw:
            continue
        try:
            dt = datetime.fromisoformat(raw.replace("Z", "+00:00"))
        except ValueError:
            return raw
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=timezone.utc)
        return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return ""


@dataclass
class _Info:
    id: int
    url: str
    site: str
    when: str
    title: str = ""
    text: str = ""


@dataclass
class _Match:
    info: _Info
    kind: str
    similarity: float
    evidence: dict = field(default_factory=dict)


class CorpusIndex:
    """Judge new articles against the stored corpus and index them."""

    def __init__(self, db: sqlite_utils.Database, cfg: AnalysisConfig):
        self.db = db
        self.conn = db.conn
        self.cfg = cfg
        self._pending: dict[int, tuple[int, str, float] | None] = {}
        self._reroot: dict[int, list[tuple[int, str, float]]] = {}
        self.last_candidates = 0  # verified candidates of the last judge() (for tests/bench)

    # --- look-ups ------------------------------------------------------------------------
    def _capped(self, table: str, col: str, extra: str, keys, cap: int) -> list[tuple]:
        """Rows (key, article_id[, extra]) for each key, at most `cap` per key."""
        rows: list[tuple] = []
        keys = list(keys)
        for i in range(0, len(keys), _CHUNK):
            part = keys[i:i + _CHUNK]
            arm = f"SELECT * FROM (SELECT {col}, article_id{extra} FROM {table} WHERE {col} = ? LIMIT {cap})"
            rows += self.conn.execute(" UNION ALL ".join([arm] * len(part)), part).fetchall()
        return rows

    def _infos(self, ids, with_text: bool = False) -> dict[int, _Info]:
        ids = list(ids)
        out: dict[int, _Info] = {}
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            marks = ",".join("?" * len(part))
            if with_text:
                sql = _CANDIDATE_SQL.format(marks)
            else:
                sql = f"SELECT id, url, site, first_seen, published FROM articles WHERE id IN ({marks})"
            for row in self.conn.execute(sql, part):
                out[row[0]] = _Info(row[0], row[1], row[2], when(row[4], row[3]), *(row[5:7] if with_text else ()))
        return out

    def _roots(self, ids) -> dict[int, int]:
        ids = list(ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        return dict(self.conn.execute(f"SELECT article_id, of_id FROM dup_edges WHERE article_id IN ({marks})", ids))

    # --- judge ------------------------------------------------------------------------------
    def judge(self, article_id: int, site: str, published: str | None, first_seen: str,
              title: str, text: str, fp: Fingerprint) -> Verdict:
        """Compare with the stored corpus (other articles only) and return the verdict."""
        me_when = when(published, first_seen)
        exact_ids = [r[0] for r in self.conn.execute(
            "SELECT article_id FROM analysis_docs WHERE exact_key = ? AND article_id != ? LIMIT ?",
            (fp.exact_key, article_id, BUCKET_CAP))] if fp.n_words >= MIN_EXACT_WORDS else []
        votes: dict[int, int] = {}
        for _, aid in self._capped("lsh_bands", "key", "", fp.band_keys, BUCKET_CAP):
            if aid != article_id:
                votes[aid] = votes.get(aid, 0) + 1
        by_sent: dict[int, list[tuple[int, int]]] = {}
        for h, aid, pos in self._capped("sentences", "h", ", pos", [h for h, _ in fp.sentences], SENT_CAP + 1):
            if aid != article_id:
                by_sent.setdefault(h, []).append((aid, pos))
        common = {h for h, hits in by_sent.items() if len(hits) > SENT_CAP}
        for h in common:
            del by_sent[h]
        ids = set(exact_ids) | set(sorted(votes, key=votes.get, reverse=True)[:4 * MAX_VERIFY])
        ids |= {aid for hits in by_sent.values() for aid, _ in hits}
        infos = self._infos(ids)
        boiler = {h for h, hits in by_sent.items()
                  if sum(1 for aid, _ in hits if aid in infos and infos[aid].site == site) >= SITE_BOILER_DF}
        shared: dict[int, int] = {}
        for h, hits in by_sent.items():
            if h not in boiler:
                for aid, _ in hits:
                    shared[aid] = shared.get(aid, 0) + 1

        matches = self._verify(article_id, site, text, fp, exact_ids, votes, shared, boiler, infos)
        duplicate = self._duplicate(article_id, me_when, matches, infos)
        reasons = list(fp.garble)
        sources: tuple[str, ...] = ()
        pw = self._patchwork(site, me_when, text, fp, by_sent, boiler, infos, matches)
        if pw is not None:
            reasons.append(pw)
            sources = tuple(s["url"] for s in pw.evidence["sources"])
        score = combine(reasons)
        garble = Garble(score, tuple(reasons), sources) if score >= self.cfg.garble_threshold else None
        return Verdict(duplicate=duplicate, garble=garble)

    def _verify(self, article_id, site, text, fp, exact_ids, votes, shared, boiler, infos) -> list[_Match]:
        """Exact comparison (Jaccard and containment both ways) of the best candidates."""
        matches = [_Match(infos[i], "exact", 1.0, {"exact_key": True}) for i in exact_ids
                   if i in infos and (infos[i].site != site or fp.n_words >= SAME_SITE_MIN_WORDS)]
        n_sent = max(1, len(fp.sentences))
        rank = {}
        for aid, v in votes.items():
            rank[aid] = rank.get(aid, 0) + v
        for aid, s in shared.items():
            if s >= MIN_SHARED_SENTENCES or s / n_sent >= 0.5:
                rank[aid] = rank.get(aid, 0) + 2 * s
        for aid in exact_ids:
            rank.pop(aid, None)
        todo = sorted(rank, key=lambda a: (-rank[a], a))[:MAX_VERIFY]
        self.last_candidates = len(todo)
        if not todo:
            return matches
        mine = _Text(text, boiler)
        for aid, info in self._infos(todo, with_text=True).items():
            m = self._classify(mine, _Text(info.text, boiler), info.site == site)
            if m:
                kind, sim, ev = m
                matches.append(_Match(info, kind, sim, ev))
        return matches

    def _classify(self, new: "_Text", old: "_Text", same_site: bool):
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
        ev = {"jaccard": round(j, 3), "containment_new": round(c_new, 3), "containment_old": round(c_old, 3),
              "same_lede": lede, "same_ending": end, "same_site": same_site}
        cfg = self.cfg
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

    def _duplicate(self, article_id, me_when, matches: list[_Match], infos) -> Duplicate | None:
        """Point at the cluster original: the earliest of the matches and their roots."""
        if not matches:
            self._pending[article_id] = None
            return None
        # A new version of an original its copies point at is still the original, not a copy of itself.
        roots = {k: v for k, v in self._roots(m.info.id for m in matches).items() if v != article_id}
        extra = set(roots.values()) - {m.info.id for m in matches}
        root_infos = self._infos(extra) if extra else {}
        best = min(matches, key=lambda m: (m.info.when, m.info.id))
        orig, via = best.info, None
        for m in matches:
            r = roots.get(m.info.id)
            if r in root_infos and (root_infos[r].when, r) < (orig.when, orig.id):
                orig, via, best = root_infos[r], m.info, m
        if (me_when, article_id) < (orig.when, orig.id):  # ties (date-only): the first seen is the original
            # This article is older than everything it matches: it is the original.
            self._pending[article_id] = None
            self._reroot[article_id] = [(m.info.id, m.kind, m.similarity) for m in matches]
            return None
        ev = dict(best.evidence)
        ev["matches"] = [{"article_id": m.info.id, "kind": m.kind, "similarity": m.similarity} for m in matches[:MAX_VERIFY]]
        if via is not None:
            ev["via"] = {"article_id": via.id, "url": via.url}
        self._pending[article_id] = (orig.id, best.kind, best.similarity)
        return Duplicate(orig.id, orig.url, best.kind, best.similarity, ev)

    def _patchwork(self, site, me_when, text, fp, by_sent, boiler, infos, matches) -> GarbleReason | None:
        """Most of the text is sentences from >= 2 other sites' earlier articles (greedy cover)."""
        if not by_sent or any(m.kind in ("exact", "near") for m in matches):
            return None
        sents = [(h, pos, s) for h, pos, s in indexed_sentences(text) if h not in boiler]
        chars = {h: len(s) for h, _, s in sents}
        total = sum(chars.values())
        src: dict[int, dict[int, int]] = {}  # source article -> {my sentence hash: its sentence position}
        for h, hits in by_sent.items():
            for aid, pos in hits:
                info = infos.get(aid)
                if h in chars and info and info.site != site and info.when <= me_when:
                    src.setdefault(aid, {})[h] = pos
        if not src or not total:
            return None
        covered = set().union(*src.values())
        if sum(chars[h] for h in covered) / total >= FUZZY_FROM:
            self._fuzzy_extend(src, [x for x in sents if x[0] not in covered])
            covered = set().union(*src.values())
        coverage = sum(chars[h] for h in covered) / total
        if coverage < self.cfg.patchwork_coverage:
            return None
        chosen = _greedy_cover(src, chars, infos)
        if not _several_sources(chosen, chars, total, infos, self._roots(src)):
            return None
        where = {h: (p, s) for h, p, s in sents}
        sources = [{
            "article_id": aid, "url": infos[aid].url, "site": infos[aid].site, "when": infos[aid].when,
            "share": round(sum(chars[h] for h in hs) / total, 3),
            "sentences": [{"pos": where[h][0], "source_pos": src[aid][h], "text": where[h][1]}
                          for h in sorted(hs, key=lambda h: where[h][0])],
        } for aid, hs in chosen]
        thr = self.cfg.patchwork_coverage
        score = 0.5 + 0.45 * (coverage - thr) / max(1e-9, 1 - thr)
        return GarbleReason("patchwork", round(min(0.95, score), 3),
                            {"coverage": round(coverage, 3), "sites": len({x["site"] for x in sources}),
                             "sources": sources})

    def _fuzzy_extend(self, src: dict[int, dict[int, int]], unmatched) -> None:
        """Credit lightly edited lifts (a changed word breaks the sentence hash): compare the
        unmatched sentences with the sentences of the few sources already found, by word
        Jaccard. Bounded: at most FUZZY_SOURCES texts are read, only for suspected reuse."""
        if not unmatched:
            return
        top = sorted(src, key=lambda a: (-len(src[a]), a))[:FUZZY_SOURCES]
        texts = self._infos(top, with_text=True)
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

    # --- add --------------------------------------------------------------------------------
    def add(self, article_id: int, site: str, fp: Fingerprint) -> None:
        """(Re)index this article's current version, replacing the rows it had.

        Also records the duplicate edge decided by the last judge() of this article.
        `site` is not stored: it is read from `articles` when a look-up needs it.
        Runs inside the caller's transaction (no commit here).
        """
        conn = self.conn
        old = conn.execute("SELECT keys FROM analysis_docs WHERE article_id = ?", (article_id,)).fetchone()
        if old:
            bands, sents = _unpack(old[0])
            conn.executemany("DELETE FROM lsh_bands WHERE key = ? AND article_id = ?", [(k, article_id) for k in bands])
            conn.executemany("DELETE FROM sentences WHERE h = ? AND article_id = ?", [(h, article_id) for h in sents])
        hashes = [h for h, _ in fp.sentences]
        conn.execute("INSERT OR REPLACE INTO analysis_docs (article_id, exact_key, n_words, keys) VALUES (?, ?, ?, ?)",
                     (article_id, fp.exact_key, fp.n_words, _pack(fp.band_keys, hashes)))
        conn.executemany("INSERT OR IGNORE INTO lsh_bands (key, article_id) VALUES (?, ?)",
                         [(k, article_id) for k in fp.band_keys])
        conn.executemany("INSERT OR IGNORE INTO sentences (h, article_id, pos) VALUES (?, ?, ?)",
                         [(h, article_id, pos) for h, pos in fp.sentences])
        if article_id in self._pending:
            edge = self._pending.pop(article_id)
            conn.execute("DELETE FROM dup_edges WHERE article_id = ?", (article_id,))
            if edge:
                conn.execute("INSERT INTO dup_edges (article_id, of_id, kind, similarity) VALUES (?, ?, ?, ?)",
                             (article_id, *edge))
        for other, kind, sim in self._reroot.pop(article_id, []):
            # A late-found original: the copies it matched (and their cluster) now point at it.
            root = conn.execute("SELECT of_id FROM dup_edges WHERE article_id = ?", (other,)).fetchone()
            if root and root[0] == article_id:
                continue  # already this article's copy (a new version of the original)
            if root:
                conn.execute("UPDATE dup_edges SET of_id = ? WHERE of_id = ?", (article_id, root[0]))
                conn.execute("INSERT OR REPLACE INTO dup_edges VALUES (?, ?, ?, ?)", (root[0], article_id, kind, sim))
            conn.execute("UPDATE dup_edges SET of_id = ? WHERE of_id = ?", (article_id, other))
            conn.execute("INSERT OR REPLACE INTO dup_edges VALUES (?, ?, ?, ?)", (other, article_id, kind, sim))

    # --- clusters ---------------------------------------------------------------------------
    def cluster(self, article_id: int) -> list[int]:
        """The copy cluster of an article: its original first, then the copies by id."""
        row = self.conn.execute("SELECT of_id FROM dup_edges WHERE article_id = ?", (article_id,)).fetchone()
        root = row[0] if row else article_id
        copies = [r[0] for r in self.conn.execute("SELECT article_id FROM dup_edges WHERE of_id = ? ORDER BY article_id", (root,))]
        return [root] + copies if copies else []


def _greedy_cover(src: dict[int, dict[int, int]], chars: dict[int, int], infos) -> list[tuple[int, set[int]]]:
    """Pick sources by the characters they add, earliest first on ties (notes §2.2)."""
    chosen, covered = [], set()
    while True:
        best, gain = None, 0
        for aid in sorted(src, key=lambda a: (infos[a].when, a)):
            g = sum(chars[h] for h in src[aid].keys() - covered)
            if g > gain:
                best, gain = aid, g
        if best is None:
            return chosen
        new = set(src[best]) - covered
        chosen.append((best, new))
        covered |= new


def _several_sources(chosen, chars, total, infos, roots) -> bool:
    """>= 2 sources of different sites each contribute enough, and none covers the text alone.
    Copies of one story (one dup cluster) count as one source."""
    groups: dict[int, dict] = {}
    for aid, hs in chosen:
        g = groups.setdefault(roots.get(aid, aid), {"chars": 0, "n": 0, "sites": set()})
        g["chars"] += sum(chars[h] for h in hs)
        g["n"] += len(hs)
        g["sites"].add(infos[aid].site)
    real = [g for g in groups.values()
            if g["n"] >= PATCHWORK_MIN_SENTENCES or g["chars"] / total >= PATCHWORK_MIN_SHARE]
    top = max(g["chars"] for g in groups.values()) / total
    return len(real) >= 2 and len(set().union(*(g["sites"] for g in real))) >= 2 and top < PATCHWORK_SINGLE_SOURCE


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


def _similar(a: set, b: set) -> bool:
    """Two sentences are 'the same' if most of their words are (a word edit is not a new lede)."""
    if not a or not b:
        return True
    return len(a & b) / len(a | b) >= EDGE_SAME


def _pack(bands, sents) -> bytes:
    return struct.pack(f"<H{len(bands)}q{len(sents)}q", len(bands), *bands, *sents)


def _unpack(blob: bytes) -> tuple[tuple[int, ...], tuple[int, ...]]:
    (nb,) = struct.unpack_from("<H", blob)
    vals = struct.unpack_from(f"<{(len(blob) - 2) // 8}q", blob, 2)
    return vals[:nb], vals[nb:]
