"""Generated summit stories (our own text, no third-party content) and the copies made of them.

Each outlet publishes summit coverage written from seeded sentence templates, plus
one off-topic story. Other outlets then republish: an exact copy at another URL, a
syndicated wire copy with a new lede and a trimmed ending, and a garbled page with
mojibake and its headline repeated in the body.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from ingest.analyse.synth import sentence

_LEDES = [
    "Donald Trump and Kim Jong Un met in Singapore on {day}, the first summit between a sitting US president "
    "and a North Korean leader.",
    "The summit in Singapore ended with a joint statement in which North Korea committed to work toward "
    "complete denuclearization of the Korean peninsula.",
    "Officials in Pyongyang described the Singapore summit as a turning point, while analysts in Seoul urged "
    "caution over the vague wording on denuclearisation.",
    "Markets in Asia rose on {day} as the summit between Kim Jong Un and Donald Trump opened at the Capella "
    "hotel on Sentosa island.",
    "Critics said the Singapore summit gave North Korea the prestige it wanted without any verifiable promise "
    "on its nuclear programme.",
    "Singapore spent millions on security for the summit, and officials said the city-state was proud to host "
    "the talks.",
]
_TITLES = [
    "Trump and Kim shake hands in Singapore", "What the summit statement says about denuclearization",
    "Pyongyang hails summit as turning point", "Asian markets rise as Singapore summit opens",
    "Critics say summit gave Kim prestige without promises", "Singapore counts the cost of hosting the summit",
]
OFF_TOPIC = ("Bakers win the autumn fair prize",
             "The annual autumn fair closed on Sunday with a prize for the town's oldest bakery.\n\n"
             "Judges praised the rye loaves and the apple cakes, and said the queue outside the tent was the "
             "longest in years.\n\n"
             "The bakery's owner thanked her staff and said the recipe had not changed since her grandfather "
             "opened the shop.\n\n"
             "Organisers said next year's fair would add a second tent for local cheese makers and a stage for "
             "the school band.")


@dataclass(frozen=True)
class Story:
    slug: str
    title: str
    text: str  # paragraphs separated by blank lines
    published: datetime
    author: str


def summit_story(seed: int, published: datetime) -> Story:
    rng = random.Random(seed)
    lede = _LEDES[seed % len(_LEDES)].format(day=published.strftime("%A"))
    paras = [lede] + [" ".join(sentence(rng) for _ in range(rng.randint(2, 3))) for _ in range(6)]
    return Story(f"summit-{seed}", _TITLES[seed % len(_TITLES)], "\n\n".join(paras), published,
                 rng.choice(["Ana Silva", "Tom Walsh", "Mei Tanaka", "Omar Haddad"]))


def syndicated(story: Story, slug: str, published: datetime) -> Story:
    """A wire rewrite: new dateline lede, same body, last paragraph cut."""
    paras = story.text.split("\n\n")
    lede = "SINGAPORE (Wire) \u2014 " + paras[0]
    return replace(story, slug=slug, text="\n\n".join([lede] + paras[1:-1]), published=published, author="Wire staff")


def garbled(story: Story, slug: str, published: datetime) -> Story:
    """A scraped copy gone wrong: mojibake apostrophes/dashes and the headline pasted into the body."""
    bad = story.text.replace("\u2014", "\u00e2\u20ac\u201d").replace("'", "\u00e2\u20ac\u2122")
    paras = bad.split("\n\n")
    tail = "Kim\u00e2\u20ac\u2122s visit \u00e2\u20ac\u201d the full story."
    text = "\n\n".join([story.title, paras[0], story.title] + paras[1:] + [tail])
    return replace(story, slug=slug, text=text, published=published)


def world(start: datetime | None = None) -> dict[str, list[Story]]:
    """The demo's outlets and what each publishes."""
    t0 = start or datetime(2018, 6, 12, 1, 0, tzinfo=UTC)

    def h(n: float) -> datetime:  # a tiny clock for readability
        return t0 + timedelta(hours=n)

    a = [summit_story(i, h(i)) for i in range(3)]
    b = [summit_story(i, h(i)) for i in range(3, 5)]
    off = Story("autumn-fair", OFF_TOPIC[0], OFF_TOPIC[1], h(1), "Lars Berg")
    return {
        "harbour-times": a + [off],
        "northern-ledger": b + [replace(a[0], slug="copy-of-handshake", published=h(6))],
        "wire-digest": [syndicated(a[1], "wire-summit-statement", h(7)), garbled(b[0], "scraped-summit", h(8))],
    }
