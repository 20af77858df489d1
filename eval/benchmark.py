"""Build a labelled benchmark from real article texts: originals plus derived copies with known truth.

Every case is one article to store, in order; `truth` says what it is:
- clean originals (real texts, some grouped on one site with shared site boilerplate);
- duplicates of an original: exact (typography/layout changes), near (a few word edits),
  syndicated (new lede, dateline, byline, trimmed ending), subset (truncated or extended);
- patchworks: runs of sentences from 2-5 originals of different sites;
- mojibake (UTF-8 read as cp1252/latin-1), repeated headline, mid-sentence truncation
  (of held-out texts, whose originals are never stored).
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

import ftfy
from datasketch import MinHash, MinHashLSH

from ingest.text import normalise_text, shingles, split_sentences, words

from .corpora import Doc

_END = re.compile(r"""[.!?)"'\u201d\u2019]$""")


@dataclass
class Case:
    key: str
    site: str
    title: str
    text: str
    truth: dict = field(default_factory=dict)  # {"clean": True} | {"dup": kind, "of": key} | {"patchwork": [keys]} | {"garble": reason}


def prose_share(text: str) -> float:
    """Share of characters in lines that read as sentences: a filter for article-like pages."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    total = sum(len(line) for line in lines) or 1
    return sum(len(line) for line in lines if len(line.split()) >= 8 and _END.search(line)) / total


def article_like(d: Doc) -> bool:
    return (len(d.text.split()) >= 80 and "lorem ipsum" not in d.text.lower() and prose_share(d.text) >= 0.6)


def dedupe(docs: list[Doc]) -> tuple[list[Doc], int]:
    """Drop texts that already near-duplicate an earlier one (corpora hold a few: gizmodo1-3 ...),
    so the only duplicates in the benchmark are the labelled ones. datasketch LSH, independent
    of the code under test, with exact containment verification."""
    lsh = MinHashLSH(threshold=0.3, num_perm=64)
    kept, sets, dropped = [], [], 0
    for d in docs:
        sh = shingles(words(normalise_text(d.text)))
        m = MinHash(num_perm=64)
        m.update_batch(s.encode() for s in sh)
        dup = False
        for j in lsh.query(m):
            other = sets[j]
            inter = len(sh & other)
            if inter / max(1, min(len(sh), len(other))) >= 0.3:
                dup = True
                break
        if dup:
            dropped += 1
            continue
        lsh.insert(len(sets), m)
        sets.append(sh)
        kept.append(d)
    return kept, dropped


def paras(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n|\n", text) if p.strip()]


def _typography(text: str) -> str:
    """Changes that normalisation undoes: curly quotes, dashes, paragraph spacing."""
    return (text.replace("\u2019", "'").replace("\u201c", '"').replace("\u201d", '"').replace("\u2014", "-")
            .replace("\n\n", "\n").replace(". ", ".  "))


def _edit_words(text: str, rng: random.Random, rate: float) -> str:
    toks = text.split(" ")
    for _ in range(max(1, int(len(toks) * rate))):
        i = rng.randrange(len(toks))
        if toks[i].isalpha():
            toks[i] = rng.choice(["reportedly", "also", "now", "still", "the", "new", "said"])
    return " ".join(toks)


_DATELINES = ["LONDON (Reuters) - ", "NEW YORK (AP) \u2014 ", "PARIS (AFP) - ", "WASHINGTON \u2014 ", "SYDNEY, Australia -- "]
_BYLINES = ["By Staff Reporter", "By Jane Holloway, Associated Press", "From our correspondent", "By Wire Service"]
_SITE_NAV = "Home | News | Politics | Business | Sport | Opinion"
_SITE_FOOTER = ("Sign up to the {name} morning briefing to get the stories that matter delivered every weekday.\n"
                "Copyright 2024 {name} Media Group. All rights reserved.")


def build(pool: list[Doc], held: list[Doc], seed: int = 7, scale: float = 1.0) -> list[Case]:
    """The ordered list of cases: originals first (earliest), then derived copies."""
    rng = random.Random(seed)
    held_src, held_garble = held[: len(held) // 2], held[len(held) // 2:]
    n = lambda k: max(1, int(k * scale))  # noqa: E731
    cases: list[Case] = []
    originals: list[Case] = []
    # Same-site groups: real texts of one site share navigation and a footer.
    group_sites = [f"gazette{g}.example" for g in range(6)]
    for i, d in enumerate(pool):
        if i < 6 * 12:
            site = group_sites[i % 6]
            name = site.split(".")[0].capitalize()
            text = f"{_SITE_NAV}\n\n{d.text}\n\n{_SITE_FOOTER.format(name=name)}"
        else:
            site, text = d.site, d.text
        c = Case(f"orig{i}", site, d.title, text, {"clean": True})
        originals.append(c)
    # Hard negatives: outlets quoting the same statement (one shared sentence, several sites).
    quotes = [s for d in held_src[:20] for s in split_sentences(d.text) if 12 <= len(s.split()) <= 30][:10]
    for c in rng.sample(originals[6 * 12:], min(60, len(originals) - 72)):
        ps = paras(c.text)
        ps.insert(rng.randint(1, max(1, len(ps) - 1)), rng.choice(quotes))
        c.text = "\n\n".join(ps)
    held_src = held_src[20:]
    cases += originals
    long = [c for c in originals if len(paras(c.text)) >= 5 and len(c.text.split()) >= 150]
    any_orig = [c for c in originals if len(c.text.split()) >= 100]
    agg = lambda: f"agg{rng.randrange(40)}.example"  # noqa: E731

    for i, o in enumerate(rng.sample(any_orig, n(60))):
        cases.append(Case(f"exact{i}", agg(), o.title, _typography(o.text), {"dup": "exact", "of": o.key}))
    for i, o in enumerate(rng.sample(any_orig, n(60))):
        ps = paras(o.text)
        if len(ps) > 6 and rng.random() < 0.5:
            del ps[rng.randrange(1, len(ps) - 1)]
        cases.append(Case(f"near{i}", agg(), o.title, _edit_words("\n\n".join(ps), rng, 0.02), {"dup": "near", "of": o.key}))
    fresh = [s for d in held_src[:30] for s in split_sentences(d.text) if len(s.split()) >= 10]
    held_src = held_src[30:]
    for i, o in enumerate(rng.sample(long, min(len(long), n(80)))):
        ps = paras(o.text)
        new_lede = rng.choice(_DATELINES) + rng.choice(fresh)  # a rewritten lede paragraph
        body = ps[1:len(ps) - rng.randint(1, min(3, len(ps) - 3))]
        text = "\n\n".join([rng.choice(_BYLINES), new_lede] + body)
        cases.append(Case(f"synd{i}", agg(), o.title, _edit_words(text, rng, 0.015), {"dup": "syndicated", "of": o.key}))
    for i, o in enumerate(rng.sample(long, min(len(long), n(50)))):
        ps = paras(o.text)
        keep = max(1, int(len(ps) * rng.uniform(0.25, 0.7)))
        while len(" ".join(ps[:keep]).split()) < 50:
            keep += 1
        cases.append(Case(f"trunc{i}", agg(), o.title, "\n\n".join(ps[:keep]), {"dup": "subset", "of": o.key}))
    extra_docs = held_src[: len(held_src) // 2]
    held_src = held_src[len(held_src) // 2:]
    for i, o in enumerate(rng.sample(any_orig, min(n(30), len(extra_docs)))):
        extra = paras(extra_docs[i].text)[:rng.randint(2, 4)]
        cases.append(Case(f"ext{i}", agg(), o.title, o.text + "\n\n" + "\n\n".join(extra), {"dup": "subset", "of": o.key}))
    # Mojibake copies of stored originals: also duplicates of them.
    accented = [c for c in any_orig if re.search(r"[^\x00-\x7f]", c.text)]
    for i, o in enumerate(rng.sample(accented, min(len(accented), n(30)))):
        cases.append(Case(f"mojidup{i}", agg(), o.title, _mojibake(o.text, rng),
                          {"dup": "any", "of": o.key, "garble": "mojibake"}))

    cases += _patchworks(originals, held_src, rng, n(80))
    cases += _garbled_held(held_garble, rng, n)
    return cases


def _mojibake(text: str, rng: random.Random) -> str:
    enc = rng.choice(["cp1252", "latin-1"])
    return text.encode("utf-8").decode(enc, errors="replace")


def _patchworks(originals: list[Case], held: list[Doc], rng: random.Random, count: int) -> list[Case]:
    """Runs of 1-3 sentences from each of 2-5 originals of different sites, interleaved."""
    by_site: dict[str, list[Case]] = {}
    for c in originals:
        if len([s for s in split_sentences(c.text) if len(s.split()) >= 8]) >= 8:
            by_site.setdefault(c.site, []).append(c)
    sites = list(by_site)
    own_docs = list(held)  # each patchwork's own sentences come from a text no other case uses
    rng.shuffle(own_docs)
    out = []
    for i in range(count):
        k = rng.randint(2, 5)
        srcs = [rng.choice(by_site[s]) for s in rng.sample(sites, k)]
        runs = []
        n_runs = rng.randint(1, 2)  # the same for every source: no source dominates (< 60%)
        for src in srcs:
            sents = [s for s in split_sentences(src.text) if len(s.split()) >= 8]
            for _ in range(n_runs):
                j = rng.randrange(len(sents) - 3)
                runs.append([_edit_words(x, rng, 0.01) if rng.random() < 0.3 else x
                             for x in sents[j:j + rng.randint(2, 3)]])
        rng.shuffle(runs)
        own_doc = own_docs.pop() if own_docs and rng.random() < 0.7 else None
        n_own = min(3, sum(len(r) for r in runs) // 3)  # "most of the text" is lifted: own <= 25%
        own = [s for s in split_sentences(own_doc.text) if len(s.split()) >= 8][:n_own] if own_doc else []
        body = [" ".join(r) for r in runs] + own
        title = srcs[0].title
        lines = ([title] if rng.random() < 0.5 else []) + body
        out.append(Case(f"patch{i}", f"patch{rng.randrange(10)}.example", title, "\n\n".join(lines),
                        {"patchwork": [s.key for s in srcs]}))
    return out


def _garbled_held(held: list[Doc], rng: random.Random, n) -> list[Case]:
    """Per-document garbles of texts whose originals are never stored (each text used once)."""
    out = []
    pool = list(held)
    rng.shuffle(pool)

    def take(count, pred):
        got = [d for d in pool if pred(d)][:count]
        for d in got:
            pool.remove(d)
        return got

    accented = take(n(40), lambda d: re.search(r"[^\x00-\x7f]", d.text) and ftfy.fix_encoding(d.text) == d.text)
    for i, d in enumerate(accented):
        out.append(Case(f"moji{i}", f"mirror{rng.randrange(10)}.example", d.title, _mojibake(d.text, rng),
                        {"garble": "mojibake"}))
    for i, d in enumerate(take(n(25), lambda d: len(d.title.split()) >= 4)):
        text = "\n\n".join([d.title] * rng.randint(2, 3) + [d.text])
        out.append(Case(f"rtitle{i}", f"mirror{rng.randrange(10)}.example", d.title, text, {"garble": "repeated_title"}))
    for i, d in enumerate(take(n(40), lambda d: True)):
        toks = d.text.split(" ")
        cut = " ".join(toks[:int(len(toks) * rng.uniform(0.5, 0.9))]).rstrip()
        while cut and _END.search(cut):  # make sure it stops mid-sentence
            cut = cut[:-1].rstrip()
        out.append(Case(f"cut{i}", f"mirror{rng.randrange(10)}.example", d.title, cut, {"garble": "truncated"}))
    return out
