"""The news world `ingest demo` serves: four outlets covering the 2018 Singapore summit.

Written for a reader, not for the test suite (tests/ uses stories.world()): every article is
readable prose of our own, so each verdict can be checked by eye. The cast:

  Pacific Wire     a news agency: the wire story, and a markets story
  Harbour Times    its own report (edited between the demo's two passes), the wire story
                   run under its own lede with the ending cut (a syndicated copy), and a
                   story about a bakery that is not about the summit (off topic)
  Northern Ledger  its own report from Seoul, and the wire story republished word for word
                   (an exact copy)
  Daily Digest     an aggregator whose scraper mangled the Ledger's report: mojibake
                   apostrophes and dashes, the headline pasted into the text (garbled)
"""
from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from .stories import Story, garbled

OUTLETS = {  # slug -> name shown to people (the demo's sites are <slug>.example on 127.0.0.1)
    "pacific-wire": "Pacific Wire",
    "harbour-times": "Harbour Times",
    "northern-ledger": "Northern Ledger",
    "daily-digest": "Daily Digest",
}
T0 = datetime(2018, 6, 12, 5, 0, tzinfo=UTC)


def _at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def _text(*paragraphs: str) -> str:
    return "\n\n".join(paragraphs)


WIRE = Story(
    "trump-kim-sign-statement",
    "Trump and Kim sign joint statement in Singapore",
    _text(
        "Donald Trump and Kim Jong Un signed a joint statement on Tuesday at the end of the first meeting "
        "between a sitting US president and a North Korean leader, held at a hotel on Singapore's Sentosa island.",
        "The four-point document commits North Korea to work toward the complete denuclearization of the Korean "
        "peninsula, and the United States to provide security guarantees to Pyongyang.",
        "It sets no timetable and does not say how any disarmament would be verified, a gap that critics in "
        "Washington were quick to point out.",
        "The two leaders shook hands in front of a row of American and North Korean flags before talking alone, "
        "with only their interpreters, for about forty minutes.",
        "Speaking to reporters afterwards, Mr Trump said the relationship between the two countries would be "
        "very different from the past, and that he would invite Mr Kim to the White House.",
        "The statement also promises to recover the remains of American soldiers missing since the Korean War, "
        "a gesture long sought by veterans' families.",
        "Officials from both sides are expected to meet again within weeks to begin turning the statement into "
        "concrete steps.",
    ),
    _at(1), "Pacific Wire staff",
)

MARKETS = Story(
    "asian-markets-rise",
    "Asian markets edge higher as the Singapore summit opens",
    _text(
        "Stock markets across Asia rose slightly on Tuesday morning as investors watched the summit between "
        "Donald Trump and Kim Jong Un get under way in Singapore.",
        "Seoul's main index gained half a percent in early trading, led by construction companies that hope to "
        "win contracts if relations with North Korea thaw.",
        "Tokyo and Hong Kong moved less, with traders saying the meeting had been expected for weeks and much of "
        "the optimism was already in prices.",
        "The South Korean won strengthened a little against the dollar, while the price of gold, often bought "
        "in times of tension, slipped.",
        "Analysts cautioned that any lasting effect would depend on whether the talks produced a firm plan "
        "rather than a friendly photograph.",
    ),
    _at(0), "Mina Park",
)

COST = Story(
    "singapore-counts-the-cost",
    "Singapore counts the cost of hosting the summit",
    _text(
        "Singapore expects to spend about 20 million Singapore dollars on hosting the meeting between Donald "
        "Trump and Kim Jong Un, the city-state's prime minister said on Sunday.",
        "About half of that is for security: thousands of police officers, closed roads around the two "
        "delegations' hotels and a no-fly zone over parts of the island.",
        "The government is also paying for the North Korean delegation's hotel rooms, a courtesy it described "
        "as a small price for a part in a historic event.",
        "Shopkeepers near the Capella hotel reported fewer customers as streets were closed, while a few "
        "restaurants offered summit-themed dishes to passing journalists.",
        "Some residents questioned the bill on social media, but most told the Harbour Times they were proud "
        "their country had been chosen.",
    ),
    _at(-2), "Daniel Tan",
)
COST_UPDATE = ("Update: on Wednesday the foreign ministry said the final bill would be lower than estimated, "
               "because the North Korean delegation left Singapore a day early.")

SEOUL = Story(
    "seoul-cautious-hope",
    "In Seoul, cautious hope after the handshake",
    _text(
        "Crowds gathered around the big screens at Seoul's main railway station on Tuesday to watch Kim Jong "
        "Un and Donald Trump shake hands in Singapore.",
        "Some older people, whose families were divided by the Korean War, wiped away tears; younger commuters "
        "mostly checked their phones and hurried on to work.",
        "South Korea's president, who met Mr Kim twice this year, said the summit had dismantled the last "
        "remnant of the Cold War.",
        "Opposition politicians were less enthusiastic, warning that the country's security must not be traded "
        "for a promise from Pyongyang that has been made and broken before.",
        "At a market near the station, a fishmonger said he would believe in peace when he could visit his "
        "father's hometown in the North.",
    ),
    _at(2), "Ji-woo Han",
)

FAIR = Story(
    "autumn-fair-bakers",
    "Bakers win the autumn fair prize",
    _text(
        "The annual autumn fair closed on Sunday with a prize for the town's oldest bakery.",
        "Judges praised the rye loaves and the apple cakes, and said the queue outside the tent was the "
        "longest in years.",
        "The bakery's owner thanked her staff and said the recipe had not changed since her grandfather "
        "opened the shop.",
        "Organisers said next year's fair would add a second tent for local cheese makers and a stage for the "
        "school band.",
    ),
    _at(-1), "Lars Berg",
)


def syndicated_copy() -> Story:
    """The Harbour Times runs the wire story under its own lede and cuts the last paragraph."""
    paras = WIRE.text.split("\n\n")
    lede = ("SINGAPORE - North Korea has agreed to work toward giving up its nuclear weapons, according to a "
            "statement its leader signed with the US president at their summit in Singapore.")
    return replace(WIRE, slug="summit-ends-with-pledge", title="Summit ends with a pledge on nuclear weapons",
                   text=_text(lede, *paras[1:-1]), published=_at(3))


def newsroom() -> dict[str, list[Story]]:
    """Each outlet's stories (the demo's first pass)."""
    return {
        "pacific-wire": [MARKETS, WIRE],
        "harbour-times": [COST, syndicated_copy(), FAIR],
        "northern-ledger": [SEOUL, replace(WIRE, slug="statement-signed", published=_at(4))],
        "daily-digest": [garbled(SEOUL, "korea-news-roundup", _at(6))],
    }


def edited_cost() -> Story:
    """The Harbour Times' report with its update paragraph (the demo's second pass)."""
    return replace(COST, title=COST.title + " (updated)", text=_text(COST.text, COST_UPDATE))
