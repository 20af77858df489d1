"""`ingest explain URL`: one article's verdicts, with the aligned text beside its sources.

For a copy: the sentences it shares with the article it copies, side by side (this page on the
left, the original on the right, each with its sentence number). For a patchwork: each source
with the sentences lifted from it. For the per-document signals: what each found, and whether
it is corruption (strong) or an imperfection (weak). Read-only, like every read command.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from dataclasses import dataclass, field
from typing import Any

from ingest.analyse.encoding import fix_encoding
from ingest.records import Article
from ingest.text import normalise_lines, split_sentences

from .api import Reader


@dataclass
class Explanation:
    article: Article
    aligned: list[tuple[int, str, int | None, str]] = field(default_factory=list)  # copy pos, text, of pos, text
    sources: list[dict[str, Any]] = field(default_factory=list)  # patchwork sources with both sides
    cluster: list[Article] = field(default_factory=list)


def explain(reader: Reader, url: str) -> Explanation | None:
    """The verdicts of the article at `url` with both sides of every aligned sentence."""
    article = reader.article(url)
    if article is None:
        return None
    out = Explanation(article, cluster=reader.cluster(url))
    d = article.duplicate
    if d is not None and d.of:
        original = reader.article(d.of)
        theirs = _sentences(original.text) if original else []
        for a in d.evidence.get("aligned", []):
            out.aligned.append((a["pos"], a["text"], a.get("of_pos"), _at(theirs, a.get("of_pos"))))
    g = article.garbled
    if g is not None:
        for reason in g.evidence:
            if reason.get("name") != "patchwork":
                continue
            for src in reason["evidence"].get("sources", []):
                source = reader.article(src["url"])
                theirs = _sentences(source.text) if source else []
                out.sources.append({**src, "pairs": [(s["pos"], s["text"], s.get("source_pos"),
                                                      _at(theirs, s.get("source_pos"))) for s in src["sentences"]]})
    return out


def _sentences(text: str) -> list[str]:
    return split_sentences(normalise_lines(fix_encoding(text)))


def _at(sentences: list[str], pos: int | None) -> str:
    return sentences[pos] if pos is not None and 0 <= pos < len(sentences) else ""


# --- rendering ------------------------------------------------------------------------------
def render_text(e: Explanation, width: int | None = None) -> str:
    width = width or min(160, shutil.get_terminal_size((120, 24)).columns)
    a = e.article
    lines = [a.url, f"{a.site} · {a.page_kind} · v{a.version} of {a.versions} · first seen "
                    f"{a.first_seen:%Y-%m-%d %H:%M} UTC" if a.first_seen else f"{a.site} · {a.page_kind}"]
    lines.append(f"title: {a.title}")
    if a.clean:
        lines.append("verdict: clean (neither a copy nor garbled)")
    d = a.duplicate
    if d is not None:
        lines += ["", f"DUPLICATE  {d.summary or f'{d.kind} copy of {d.of}'}", f"  of: {d.of}",
                  f"  similarity {d.similarity}"]
        if e.aligned:
            lines.append(_columns("this page", "the original", width))
            for pos, mine, of_pos, theirs in e.aligned:
                lines.append(_columns(f"[{pos}] {mine}", f"[{of_pos}] {theirs}" if theirs else "", width))
    g = a.garbled
    if g is not None:
        lines += ["", f"GARBLED  score {g.score}: {g.summary or ', '.join(g.reasons)}"]
        for reason in g.evidence:
            if reason.get("name") != "patchwork":
                strength = "strong" if reason.get("strong") else "weak"
                lines.append(f"  {reason['name']} ({strength}, {reason['score']}): "
                             f"{json.dumps(reason.get('evidence', {}), ensure_ascii=False)[:width - 20]}")
        for src in e.sources:
            lines.append(f"  from {src['url']} ({src['share']:.0%} of the text, story {src.get('story', '?')}):")
            lines.append(_columns("this page", "the source", width))
            for pos, mine, spos, theirs in src["pairs"]:
                lines.append(_columns(f"[{pos}] {mine}", f"[{spos}] {theirs}" if theirs else "", width))
    if e.cluster:
        lines += ["", "cluster (original first):"]
        lines += [f"  {'*' if c.id == a.id else ' '} {c.url}  {c.duplicate.kind if c.duplicate else 'original'}"
                  for c in e.cluster]
    return "\n".join(lines)


def _columns(left: str, right: str, width: int) -> str:
    """Two texts side by side, each wrapped to half the width."""
    col = max(20, (width - 5) // 2)
    lw, rw = textwrap.wrap(left, col) or [""], textwrap.wrap(right, col) or [""]
    rows = max(len(lw), len(rw))
    lw += [""] * (rows - len(lw))
    rw += [""] * (rows - len(rw))
    return "\n".join(f"  {x:<{col}} | {y}" for x, y in zip(lw, rw))


def as_json(e: Explanation) -> str:
    from .export import as_dict

    return json.dumps({"article": as_dict(e.article), "aligned": [
        {"pos": p, "text": t, "of_pos": op, "of_text": ot} for p, t, op, ot in e.aligned],
        "sources": e.sources, "cluster": [c.url for c in e.cluster]}, ensure_ascii=False, indent=2, default=str)
