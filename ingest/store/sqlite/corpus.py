"""The analysis index in SQLite: what the pure judge (ingest/analyse/judge.py) reads, and
the rows a judgement leaves behind.

Every look-up is a bounded set of B-tree seeks on narrow WITHOUT ROWID tables
(migration 2): the exact key, 32 LSH band keys, and the article's sentence hashes, each
capped by LIMIT so an over-common bucket or stock sentence cannot turn a query into a
scan. Only a handful of candidates are read back (texts from the core tables).
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Iterable
from datetime import datetime

from ingest.analyse.judge import Judgement, StoredDoc, tie_key
from ingest.records import Fingerprint
from ingest.times import parse, to_text

_CHUNK = 200  # compound SELECT arms per statement (SQLite allows 500)
_PAD = 16  # compound look-ups take their keys in multiples of this (_padded)
TEMPLATE_MIN = 3  # a line on this many other pages of a site is the site's template
_DOCS_SQL = ("SELECT a.id, a.url, a.site, a.first_seen, COALESCE(d.origin_at, a.published), d.page_kind, d.hub, "
             "substr(d.keys, 1, 2), length(d.keys), d.exact_key{} FROM articles a "
             "LEFT JOIN analysis_docs d ON d.article_id = a.id{} WHERE a.id IN ({})")
_EDGE_UPSERT = ("INSERT INTO dup_edges (article_id, of_id, kind, similarity) VALUES (?, ?, ?, ?) ON CONFLICT "
                "(article_id) DO UPDATE SET of_id = excluded.of_id, kind = excluded.kind, "
                "similarity = excluded.similarity")
_TEXT_COLS = (", v.title, v.text", " JOIN versions v ON v.article_id = a.id AND v.n = a.current_version")


def _padded(keys: list[int], most: int) -> list[int | None]:
    """`keys` and NULLs up to a multiple of _PAD (at most `most`), for a compound look-up with
    one `col = ?` arm per key (`= NULL` matches nothing). A text's sentence count would
    otherwise give nearly every article a statement text of its own, prepared anew (~0.15 ms
    for 30 arms) whenever sqlite3's 128-statement cache has lost it; padded, a dozen
    statements serve every article: _capped 0.40-0.48 -> 0.22-0.25 ms of CPU per article
    storing 542 real pages."""
    return [*keys, *[None] * (min(-(-len(keys) // _PAD) * _PAD, most) - len(keys))]


class SQLiteCorpus:
    """The `Corpus` the judge reads, over the writer connection (inside its transaction)."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    # --- what the judge reads ------------------------------------------------------------
    def exact(self, exact_key: int, exclude: int, limit: int) -> list[int]:
        return [r[0] for r in self.conn.execute(
            "SELECT article_id FROM analysis_docs WHERE exact_key = ? AND article_id != ? LIMIT ?",
            (exact_key, exclude, limit))]

    def band_votes(self, band_keys: Iterable[int], exclude: int, cap: int) -> dict[int, int]:
        votes: dict[int, int] = {}
        for _, aid in self._capped("lsh_bands", "key", "", band_keys, cap):
            if aid != exclude:
                votes[aid] = votes.get(aid, 0) + 1
        return votes

    def sentence_hits(self, hashes: Iterable[int], exclude: int, cap: int) -> dict[int, list[tuple[int, int]]]:
        hits: dict[int, list[tuple[int, int]]] = {}
        for h, aid, pos in self._capped("sentences", "h", ", pos", hashes, cap):
            if aid != exclude:
                hits.setdefault(h, []).append((aid, pos))
        return hits

    def docs(self, ids: Iterable[int], with_text: bool = False) -> dict[int, StoredDoc]:
        ids = list(ids)
        out: dict[int, StoredDoc] = {}
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            cols, join = _TEXT_COLS if with_text else ("", "")
            sql = _DOCS_SQL.format(cols, join, ",".join("?" * len(part)))
            for row in self.conn.execute(sql, part):
                when = parse(row[4]) or parse(row[3])
                assert when is not None  # first_seen is always set
                title, text = row[10:12] if with_text else ("", "")
                out[row[0]] = StoredDoc(row[0], row[1], row[2], when, title, text, row[5] or "article",
                                        bool(row[6]), _sentence_count(row[7], row[8]), tie_key(row[9], row[1]))
        return out

    def template(self, site: str, line_keys: Iterable[int], exclude: int) -> set[int]:
        """Those of `line_keys` on at least TEMPLATE_MIN other pages of `site` (this article's own
        earlier version, counted in the table, is taken off)."""
        keys = list(line_keys)
        own = self.conn.execute("SELECT lines FROM analysis_docs WHERE article_id = ?", (exclude,)).fetchone()
        mine = set(_unpack_lines(own[0])) if own and own[0] else set()
        found: set[int] = set()
        for i in range(0, len(keys), 500):
            part = keys[i:i + 500]
            rows = self.conn.execute(
                f"SELECT h, n FROM site_lines WHERE site = ? AND h IN ({','.join('?' * len(part))})", [site, *part])
            found |= {h for h, n in rows if n - (h in mine) >= TEMPLATE_MIN}
        return found

    def sentence_sets(self, ids: Iterable[int]) -> dict[int, set[int]]:
        ids = list(ids)
        if not ids:
            return {}
        rows = self.conn.execute(f"SELECT article_id, keys FROM analysis_docs WHERE article_id IN "
                                 f"({','.join('?' * len(ids))})", ids)
        return {aid: set(_unpack(keys)[1]) for aid, keys in rows}

    def roots(self, ids: Iterable[int]) -> dict[int, int]:
        ids = list(ids)
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        return dict(self.conn.execute(f"SELECT article_id, of_id FROM dup_edges WHERE article_id IN ({marks})", ids))

    def _capped(self, table: str, col: str, extra: str, keys: Iterable[int], cap: int) -> list[tuple[int, ...]]:
        """Rows (key, article_id[, extra]) for each key, at most `cap` per key."""
        rows: list[tuple[int, ...]] = []
        keys = list(keys)
        for i in range(0, len(keys), _CHUNK):
            part = _padded(keys[i:i + _CHUNK], _CHUNK)
            arm = f"SELECT * FROM (SELECT {col}, article_id{extra} FROM {table} WHERE {col} = ? LIMIT {cap}) AS k"
            rows += self.conn.execute(" UNION ALL ".join([arm] * len(part)), part).fetchall()
        return rows

    # --- what a judgement writes -------------------------------------------------------------
    def origin(self, article_id: int) -> datetime | None:
        """The origin time recorded when the article was first indexed (None: not indexed yet)."""
        row = self.conn.execute("SELECT origin_at FROM analysis_docs WHERE article_id = ?", (article_id,)).fetchone()
        return parse(row[0]) if row else None

    def record(self, article_id: int, site: str, fp: Fingerprint, judgement: Judgement, origin: datetime) -> None:
        """(Re)index this article's current version, replacing the rows it had, count its lines
        in its site's template table, and record its cluster links: its own edge to its
        original, and the copies re-rooted on it."""
        conn = self.conn
        old = conn.execute("SELECT keys, lines FROM analysis_docs WHERE article_id = ?", (article_id,)).fetchone()
        if old:
            bands, sents = _unpack(old[0])
            conn.executemany("DELETE FROM lsh_bands WHERE key = ? AND article_id = ?", [(k, article_id) for k in bands])
            conn.executemany("DELETE FROM sentences WHERE h = ? AND article_id = ?", [(h, article_id) for h in sents])
            if old[1]:
                conn.executemany("UPDATE site_lines SET n = n - 1 WHERE site = ? AND h = ?",
                                 [(site, h) for h in sorted(_unpack_lines(old[1]))])
        conn.executemany("INSERT INTO site_lines (site, h, n) VALUES (?, ?, 1) "
                         "ON CONFLICT (site, h) DO UPDATE SET n = site_lines.n + 1",
                         [(site, h) for h in sorted(fp.lines)])  # sorted: concurrent writers lock rows in one order
        hashes = [h for h, _ in fp.sentences]
        conn.execute(
            "INSERT INTO analysis_docs (article_id, exact_key, n_words, keys, page_kind, hub, lines, origin_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (article_id) DO UPDATE SET exact_key = excluded.exact_key, "
            "n_words = excluded.n_words, keys = excluded.keys, page_kind = excluded.page_kind, hub = excluded.hub, "
            "lines = excluded.lines, origin_at = excluded.origin_at",
            (article_id, fp.exact_key, fp.n_words, _pack(fp.band_keys, hashes), fp.page_kind, int(judgement.hub),
             _pack_lines(fp.lines), to_text(origin)))
        conn.executemany("INSERT INTO lsh_bands (key, article_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                         [(k, article_id) for k in fp.band_keys])
        conn.executemany("INSERT INTO sentences (h, article_id, pos) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                         [(h, article_id, pos) for h, pos in fp.sentences])
        conn.execute("DELETE FROM dup_edges WHERE article_id = ?", (article_id,))
        if judgement.edge:
            e = judgement.edge
            conn.execute("INSERT INTO dup_edges (article_id, of_id, kind, similarity) VALUES (?, ?, ?, ?)",
                         (article_id, e.of_id, e.kind, e.similarity))
        for other, e in judgement.reroot:
            # A late-found original: the copies it matched (and their cluster) now point at it.
            root = conn.execute("SELECT of_id FROM dup_edges WHERE article_id = ?", (other,)).fetchone()
            if root and root[0] == article_id:
                continue  # already this article's copy (a new version of the original)
            if root:
                conn.execute("UPDATE dup_edges SET of_id = ? WHERE of_id = ?", (article_id, root[0]))
                conn.execute(_EDGE_UPSERT, (root[0], article_id, e.kind, e.similarity))
            conn.execute("UPDATE dup_edges SET of_id = ? WHERE of_id = ?", (article_id, other))
            conn.execute(_EDGE_UPSERT, (other, article_id, e.kind, e.similarity))

    def cluster(self, article_id: int) -> list[int]:
        """The copy cluster of an article: its original first, then the copies by id."""
        row = self.conn.execute("SELECT of_id FROM dup_edges WHERE article_id = ?", (article_id,)).fetchone()
        root = row[0] if row else article_id
        copies = [r[0] for r in self.conn.execute(
            "SELECT article_id FROM dup_edges WHERE of_id = ? ORDER BY article_id", (root,))]
        return [root] + copies if copies else []


def _pack(bands: Iterable[int], sents: list[int]) -> bytes:
    bands = list(bands)
    return struct.pack(f"<H{len(bands)}q{len(sents)}q", len(bands), *bands, *sents)


def _sentence_count(head: bytes | None, size: int | None) -> int:
    """How many sentence hashes a packed `keys` blob holds (from its band count and length)."""
    if not head or not size:
        return 0
    (nb,) = struct.unpack("<H", head)
    return int((size - 2) // 8 - nb)


def _pack_lines(lines: Iterable[int]) -> bytes:
    lines = list(lines)
    return struct.pack(f"<{len(lines)}q", *lines)


def _unpack_lines(blob: bytes) -> tuple[int, ...]:
    return struct.unpack(f"<{len(blob) // 8}q", blob)


def _unpack(blob: bytes) -> tuple[tuple[int, ...], tuple[int, ...]]:
    (nb,) = struct.unpack_from("<H", blob)
    vals = struct.unpack_from(f"<{(len(blob) - 2) // 8}q", blob, 2)
    return vals[:nb], vals[nb:]
