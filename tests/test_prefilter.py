"""The topic prefilter: never drops a page whose text matches, linear on hostile input."""
from __future__ import annotations

import random
import re
import time

import lxml.html
import pytest

from ingest.analyse.topics import TopicMatcher
from ingest.config import TopicConfig
from ingest.extract.prefilter import Prefilter, factors, fold_spaces

pytestmark = pytest.mark.timeout(60)

SUMMIT = [TopicConfig("trump-kim-summit", ["summit", "Kim Jong[ -]?Un", "North Korea(n)?", "Pyongyang", "Singapore",
                                           "denucleari[sz]ation"])]


def prefilter(topics=SUMMIT) -> Prefilter:
    pf = Prefilter.from_matcher(TopicMatcher.from_config(topics))
    assert pf is not None
    return pf


def page(body: str, head: str = "") -> bytes:
    return (f"<!doctype html><html><head><meta charset='utf-8'>{head}<title>Page</title></head>"
            f"<body><nav>Home | World | Sport</nav>{body}<footer>(c) 2018</footer></body></html>").encode()


def test_factors_of_real_keywords():
    assert factors(r"\b(?:(?:summit)|(?:Kim Jong[ -]?Un)|(?:North Korea(n)?)|(?:Pyongyang)|(?:Singapore)"
                   r"|(?:denucleari[sz]ation))\b") == {"summit", "jong", "korea", "pyongyang", "singapore", "denucleari"}
    assert factors("(Stephen )?Paddock") == {"paddock"}
    assert factors("cryptocurrenc(y|ies)") == {"cryptocurrenc"}
    assert factors("data breach(es)?") == {"breach"}
    assert factors("Zürich") == {"rich"}  # an ASCII part of a non-ASCII word still must be there
    assert factors("SPACEX") == {"spacex"}  # case-folded
    for unusable in ("UN", r"\w+ist", "(foo)?", "a|bcd", "[a-z]{5}"):
        assert factors(unusable) is None, unusable


def test_no_topics_means_no_prefilter():
    assert Prefilter.from_matcher(TopicMatcher.from_config([])) is None


@pytest.mark.parametrize("body", [
    "<p>Leaders met at the summit.</p>",
    "<p>The SUMMIT opened.</p>",
    "<p>Talks in Pyong<b>yang</b> resumed.</p>",  # a tag inside the word: extraction joins it
    "<p>talks</p><p>Summit</p>",  # block tags: extraction puts a line break between
    "<p>North&nbsp;Korea said</p>",  # entity space
    "<p>North\n      Korea said</p>",  # source indentation
    "<p>Kim Jong-un arrived</p>",
    "<p>North <a href='https://example.com/" + "x" * 300 + "'>Korea</a> said</p>",  # long markup inside the phrase
    "<p>“Singapore” was chosen</p>",  # curly quotes around it (UTF-8, declared)
    "<p>" + "filler words here. " * 2000 + "denuclearisation</p>",  # far into a big page
])
def test_pages_whose_text_matches_are_kept(body):
    assert prefilter().keep(page(body), "text/html; charset=utf-8")


def test_json_ld_headline_is_text_other_scripts_are_not():
    ld = '<script type="application/ld+json">{"headline": "Singapore talks"}</script>'
    assert prefilter().keep(page("<p>nothing here</p>", head=ld))
    js = '<script>var regions = ["North Korea", "Singapore"];</script><style>.summit{color:red}</style>'
    assert not prefilter().keep(page("<p>nothing here</p>" + js))


@pytest.mark.parametrize("body", [
    "<p>Nothing about it.</p>",
    "<p><a href='/world/north-korea/summit-news'>World</a></p>",  # only in an attribute
    "<!-- summit --><p>other news</p>",  # only in a comment
    "<p>summitry is not the word</p>",
])
def test_pages_without_the_topic_in_their_text_are_dropped(body):
    assert not prefilter().keep(page(body))


def test_legacy_and_wide_charsets():
    pf = prefilter()
    cp1252 = "<html><head><meta charset='windows-1252'></head><body><p>“Singapore” – café</p></body></html>"
    assert pf.keep(cp1252.encode("cp1252"))
    utf16 = "<html><body><p>Talks in Singapore</p></body></html>"
    assert pf.keep(b"\xff\xfe" + utf16.encode("utf-16-le"))
    assert not pf.keep(b"\xff\xfe" + "<html><body><p>Other news</p></body></html>".encode("utf-16-le"))
    zurich = prefilter([TopicConfig("z", ["Zürich"])])
    assert zurich.keep("<p>in Zürich today</p>".encode("cp1252"), "text/html; charset=iso-8859-1")
    assert zurich.keep("<p>in Zürich today</p>".encode(), "text/html; charset=utf-8")
    assert not zurich.keep(b"<p>in Munich today</p>")


def test_keywords_without_a_factor_test_the_whole_page():
    pf = prefilter([TopicConfig("un", ["UN"])])
    assert pf.words is None
    assert pf.keep(page("<p>The UN met.</p>")) and not pf.keep(page("<p>Nothing.</p>"))


# --- differential: a real HTML parser's text against the prefilter ---------------------------
WORDS = ["the", "talks", "summit", "summitry", "North", "Korea", "Korean", "Kim", "Jong", "Un", "Pyong", "yang",
         "Singapore", "de", "nuclearization", "denuclearization", "news", "weather", "sport", "&amp;", "&nbsp;",
         "&#39;", "&quot;", "café", "–", "“", "”"]
INLINE = ["b", "i", "em", "strong", "span", "a"]
BLOCK = ["p", "div", "li", "h2", "section"]


def _fragment(rng: random.Random, depth: int = 0) -> str:
    out = []
    for _ in range(rng.randint(1, 8)):
        r = rng.random()
        if r < 0.55 or depth > 2:
            out.append(rng.choice(WORDS) + rng.choice([" ", " ", "", "\n  ", "&nbsp;"]))
        elif r < 0.75:
            tag = rng.choice(INLINE)
            attr = f" href='/{rng.choice(WORDS)}-{rng.choice(WORDS)}'" if tag == "a" else ""
            out.append(f"<{tag}{attr}>{_fragment(rng, depth + 1)}</{tag}>")
        elif r < 0.92:
            tag = rng.choice(BLOCK)
            out.append(f"<{tag}>{_fragment(rng, depth + 1)}</{tag}>")
        elif r < 0.96:
            out.append(f"<script>var x = '{rng.choice(WORDS)} {rng.choice(WORDS)}';</script>")
        else:
            out.append(f"<!-- {rng.choice(WORDS)} -->")
    return "".join(out)


def _parsed_texts(markup: str) -> list[str]:
    """What a real parser sees as text: scripts and comments out, tags joined with nothing or a space."""
    root = lxml.html.fromstring(markup)
    for bad in root.xpath("//script|//style|//comment()"):
        bad.drop_tree()
    return [fold_spaces(sep.join(root.itertext())) for sep in ("", " ")]


def test_never_drops_what_a_parser_would_match():
    rng = random.Random(19)
    matcher = TopicMatcher.from_config(SUMMIT)
    pf = prefilter()
    matched = 0
    for _ in range(1500):
        body = "<html><body>" + _fragment(rng) + "</body></html>"
        if any(matcher.match(t) for t in _parsed_texts(body)):
            matched += 1
            assert pf.keep(body.encode("utf-8"), "text/html; charset=utf-8"), body
    assert matched > 300  # the generator does produce matches


# --- hostile input: linear time --------------------------------------------------------------
@pytest.mark.parametrize("hostile", [
    b"<" * 3_000_000,
    b"<a" * 1_500_000,
    b"<script" * 400_000,
    b"&#" * 1_500_000,
    b"&" + b"a" * 3_000_000,
    b"summit " * 400_000,  # hits everywhere: windows give up, the whole page is tested
    b"korea" + b"<b>" * 1_000_000,
    b"<p>" + b"north " * 500_000 + b"</p>",
])
def test_hostile_pages_take_linear_time(hostile):
    pf = prefilter()
    t0 = time.perf_counter()
    pf.keep(hostile)
    assert time.perf_counter() - t0 < 5.0, "prefilter is not linear on this input"


def test_fold_spaces_is_what_backslash_s_does():
    text = "a\u00a0b\n\n  c\t\u2009d \u3000 e"
    assert fold_spaces(text) == re.sub(r"\s+", " ", text) == "a b c d e"
