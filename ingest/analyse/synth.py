"""Synthetic news-like articles for tests and the benchmark (no third-party text).

Sentences are drawn from a small English vocabulary with names, numbers, quotes and
a wire dateline, so they look like prose to the garble checks (capitalised starts,
terminal punctuation, balanced quotes) while being unique per seed, so two generated
articles share nothing unless a test makes them.
"""
from __future__ import annotations

import random
import re

_SUBJ = ["The minister", "Officials", "The company", "Residents", "The council", "Police", "The president",
         "Analysts", "The government", "Researchers", "Local leaders", "The agency", "Investors", "Doctors",
         "The mayor", "Negotiators", "The committee", "Workers", "Regulators", "Farmers"]
_VERB = ["said", "announced", "warned", "confirmed", "reported", "argued", "denied", "expected", "signalled",
         "promised", "estimated", "suggested", "revealed", "claimed", "insisted", "noted"]
_WORDS = ("budget plan river bridge school market election court hospital harbour railway energy water price "
          "season report review contract village border airport factory tax wage housing forest storm crop "
          "vote trial bank loan coast road bus train power grid fuel drought flood harvest festival museum "
          "library station stadium port mine reactor vaccine clinic survey census audit treaty summit deal "
          "strike protest rally debate ruling appeal verdict inquiry probe merger project pipeline").split()
_ADJ = ("new local regional national early late major minor public private urban rural coastal northern "
        "southern eastern western annual monthly quarterly final initial").split()
_PLACES = ["Lisbon", "Nairobi", "Oslo", "Denver", "Perth", "Quito", "Hanoi", "Leeds", "Tampa", "Cork",
           "Dakar", "Kyoto", "Lima", "Porto", "Bergen", "Austin"]
_NAMES = ["Ana Silva", "John Okafor", "Mei Tanaka", "Lars Berg", "Sofia Rossi", "Omar Haddad", "Eva Novak",
          "Raj Patel", "Maria Lopez", "Tom Walsh", "Ines Costa", "Ken Ito"]


def _phrase(rng: random.Random) -> str:
    pattern = rng.choice(["the {a} {n} of the {n}", "a {n} for the {n}", "the {n} and the {a} {n}",
                          "{n} in the {a} {n}", "the {n} that was {a}", "{a} {n} with the {n}"])
    return re.sub(r"\{(\w)\}", lambda m: rng.choice(_ADJ if m.group(1) == "a" else _WORDS), pattern)


def sentence(rng: random.Random) -> str:
    """One prose sentence: subject, verb, 2-4 noun phrases, sometimes a number or a quote."""
    clause = " ".join(_phrase(rng) for _ in range(rng.randint(2, 4)))
    kind = rng.random()
    if kind < 0.15:
        return f'"{clause[0].upper()}{clause[1:]} is what matters," said {rng.choice(_NAMES)}.'
    if kind < 0.3:
        subject, verb, n = rng.choice(_SUBJ), rng.choice(_VERB), rng.randint(2, 990)
        return f"{subject} {verb} {n} cases of {clause} in {rng.choice(_PLACES)}."
    return f"{rng.choice(_SUBJ)} {rng.choice(_VERB)} that {clause}."


def article(seed: int, paragraphs: int = 8, dateline: bool = True) -> tuple[str, str]:
    """(title, text) of a clean article: paragraphs of 1-3 sentences, blank-line separated."""
    rng = random.Random(seed)
    adj, w1, w2 = rng.choice(_ADJ).capitalize(), rng.choice(_WORDS), rng.choice(_WORDS)
    title = f"{adj} {w1} {w2} in {rng.choice(_PLACES)} {rng.choice(_VERB)}"
    paras = [" ".join(sentence(rng) for _ in range(rng.randint(1, 3))) for _ in range(paragraphs)]
    if dateline:
        paras[0] = f"{rng.choice(_PLACES).upper()} (AP) \u2014 {paras[0]}"
    return title, "\n\n".join(paras)


def paragraphs(text: str) -> list[str]:
    return [p for p in text.split("\n\n") if p.strip()]
