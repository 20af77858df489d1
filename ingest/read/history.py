"""`ingest history URL`: an article's versions, with a word-level diff between consecutive ones.

Any URL form that names the article finds it (the listed URL, the final URL after
redirects, the canonical URL, `www.`/`m.`/AMP variants, tracking parameters added):
every form folds to a key in `url_keys`. Read-only: it runs beside the daemon.
"""
from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict

from ingest.records import DiffOp, History, VersionView
from ingest.store.identity import url_key
from ingest.store.versions import word_ops

CONTEXT_WORDS = 8  # words of unchanged text shown around each change in the text format


def find_article(conn: sqlite3.Connection, url: str) -> int | None:
    """The article any form of `url` names (folded key first, then the URL as stored)."""
    row = conn.execute("SELECT article_id FROM url_keys WHERE key IN (?, ?) LIMIT 1", (url_key(url), url)).fetchone()
    if row is None:
        row = conn.execute("SELECT id FROM articles WHERE url = ? OR final_url = ? OR canonical_url = ? LIMIT 1",
                           (url, url, url)).fetchone()
    return row[0] if row else None


def load_history(conn: sqlite3.Connection, article_id: int) -> History:
    art = conn.execute("SELECT url, canonical_url, site, first_seen, last_seen, current_version FROM articles "
                       "WHERE id = ?", (article_id,)).fetchone()
    rows = conn.execute("SELECT n, fetched_at, change, title, words_added, words_removed, extractor, status, "
                        "final_url, text_hash, text FROM versions WHERE article_id = ? ORDER BY n",
                        (article_id,)).fetchall()
    out: list[VersionView] = []
    prev_title = prev_text = None
    for n, fetched_at, change, title, added, removed, extractor, status, final_url, th, text in rows:
        out.append(VersionView(
            n, fetched_at, change, title, added, removed, extractor, status, final_url, th, n == art[5],
            title_before=prev_title if prev_title is not None and prev_title != title else None,
            diff=word_ops(prev_text, text) if prev_text is not None else []))
        prev_title, prev_text = title, text
    sightings = dict(conn.execute("SELECT COALESCE(outcome, '?'), count(*) FROM sightings WHERE article_id = ? "
                                  "GROUP BY 1 ORDER BY 1", (article_id,)).fetchall())
    flags = [{"version_n": v, "score": s, "detail": json.loads(d)} for v, s, d in conn.execute(
        "SELECT version_n, score, detail FROM flags WHERE article_id = ? AND kind = 'extraction_suspect' ORDER BY id",
        (article_id,))]
    return History(article_id, art[0], art[1], art[2], art[3], art[4], art[5], out, sightings, flags)


# --- rendering ----------------------------------------------------------------------------
def render_text(h: History) -> str:
    lines = [h.url, f"site {h.site}, first seen {h.first_seen}, last seen {h.last_seen}, "
                    f"{len(h.versions)} version(s), current v{h.current_version}"]
    if h.sightings:
        lines.append("sightings: " + ", ".join(f"{k} {v}" for k, v in h.sightings.items()))
    for f in h.flags:
        lines.append(f"extraction suspect after v{f['version_n']}: {f['detail'].get('words')} words at "
                     f"{f['detail'].get('fetched_at')} (ratio {f['detail'].get('ratio')})")
    for v in h.versions:
        mark = "*" if v.current else " "
        lines.append("")
        lines.append(f"{mark}v{v.n}  {v.fetched_at}  {v.change}  +{v.words_added} -{v.words_removed}  "
                     f"[{v.extractor or '?'}]")
        if v.title_before is not None:
            lines.append(f"    title: [-{v.title_before}-] {{+{v.title}+}}")
        elif v.n == h.versions[0].n:
            lines.append(f"    title: {v.title}")
        lines.extend("    " + hunk for hunk in hunks(v.diff))
    return "\n".join(lines)


def hunks(ops: list[DiffOp], context: int = CONTEXT_WORDS) -> list[str]:
    """wdiff-style lines: each change as [-removed-] {+added+} with a few words of context.

    Changes closer than two contexts apart share one line; long unchanged runs are cut.
    """
    out: list[str] = []
    cur: list[str] = []
    last = len(ops) - 1
    for i, op in enumerate(ops):
        if op.op == "del":
            cur.append(f"[-{op.text}-]")
        elif op.op == "add":
            cur.append(f"{{+{op.text}+}}")
        else:
            w = op.text.split()
            head = " ".join(w[:context]) + (" ..." if len(w) > context else "")
            tail = ("... " if len(w) > context else "") + " ".join(w[-context:])
            if i == 0:
                cur = [tail]
            elif i == last:
                cur.append(head)
            elif len(w) <= 2 * context:
                cur.append(op.text)
            else:
                out.append(" ".join(cur + [head]))
                cur = [tail]
    if any(p.startswith(("[-", "{+")) for p in cur):
        out.append(" ".join(cur))
    return out


def as_json(h: History) -> str:
    d = asdict(h)
    for v in d["versions"]:
        v["diff"] = [[op["op"], op["text"]] for op in v["diff"]]
    return json.dumps(d, ensure_ascii=False, indent=2)
