"""One readable line per verdict: what the analyst sees in the views and `ingest stats`.

The full evidence (aligned sentences and their sources, mojibake examples, repeated lines)
is JSON in the flag and the exports; this is its summary in words, so a Datasette table of
copies or garbled pages reads without unpacking JSON.
"""

from __future__ import annotations

from typing import Any

from ingest.records import Duplicate, Garble, GarbleReason

QUOTE = 60  # characters of an example quoted in a summary


def duplicate_summary(d: Duplicate) -> str:
    ev = d.evidence
    shares = []
    if "jaccard" in ev:
        shares.append(f"{ev['jaccard']:.0%} of its 5-word runs shared")
        if ev.get("containment_new") is not None:
            shares.append(f"{ev['containment_new']:.0%} of this text is in the original")
    elif ev.get("exact_key"):
        shares.append("the same text")
    aligned = ev.get("aligned") or []
    if aligned:
        shares.append(f"{len(aligned)}{'+' if len(aligned) >= 20 else ''} sentences aligned")
    return f"{d.kind} copy of {d.of_url}: " + ", ".join(shares) if shares else f"{d.kind} copy of {d.of_url}"


def garble_summary(g: Garble) -> str:
    return "; ".join(reason_summary(r) for r in sorted(g.reasons, key=lambda r: (not r.strong, -r.score)))


def reason_summary(r: GarbleReason) -> str:
    ev: dict[str, Any] = r.evidence
    strength = "" if r.strong else " (weak)"
    if r.name == "patchwork":
        parts = [f"{s['share']:.0%} from {s['site']} ({len(s['sentences'])} sentences)" for s in ev["sources"]]
        stories = ev.get("stories", len(parts))
        return f"patchwork: {ev['coverage']:.0%} lifted from {stories} stories: " + ", ".join(parts)
    if r.name == "mojibake":
        examples = ev.get("examples") or []
        example = f", e.g. {_q(examples[0])}" if examples else ""
        return f"mojibake: {ev.get('bad_sequences', 0)} damaged sequences{example}"
    if r.name == "repeated_title":
        return f"repeated_title{strength}: the headline {ev.get('count')} times"
    if r.name == "repeated_text":
        examples = ev.get("examples") or []
        return (f"repeated_text{strength}: {ev.get('repeated_lines')} paragraphs twice "
                f"({ev.get('char_fraction', 0):.0%} of the text)" + (f", e.g. {_q(examples[0])}" if examples else ""))
    if r.name == "splice":
        examples = ev.get("examples") or []
        counts = ", ".join(f"{k} {v}" for k, v in (ev.get("counts") or {}).items())
        return f"splice{strength}: {counts}" + (f", e.g. {_q(examples[0])}" if examples else "")
    if r.name == "boilerplate":
        return f"boilerplate{strength}: " + ", ".join(_q(x) for x in (ev.get("lines") or [])[:3])
    if r.name == "truncated":
        return f"truncated{strength}: ends {_q(ev.get('last', ''), tail=True)}"
    # mixed_spelling, the last of GarbleName
    fams = ", ".join("/".join(w for forms in f.values() for w in forms) for f in (ev.get("families") or {}).values())
    return f"mixed_spelling{strength}: {fams or 'U.S. and US'}"


def _q(text: str, tail: bool = False) -> str:
    text = " ".join(str(text).split())
    if len(text) > QUOTE:
        text = ("…" + text[-QUOTE:]) if tail else (text[:QUOTE] + "…")
    return f'"{text}"'
