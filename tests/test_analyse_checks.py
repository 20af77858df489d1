"""Per-document garble checks: each reason fires on its artefact and stays quiet on clean prose."""
import pickle

from ingest.analyse.checks import combine
from ingest.analyse.fingerprint import fingerprint
from ingest.analyse.synth import article, paragraphs

THRESHOLD = 0.5  # AnalysisConfig.garble_threshold


def reasons(title, text):
    return {r.name: r for r in fingerprint(title, text).garble}


CLEAN = (
    "WASHINGTON (AP) \u2014 The Senate on Tuesday approved a $1.2 trillion spending bill, sending it to the "
    "president\u2019s desk hours before a midnight deadline.\n\n"
    "\u201cThis is a good day for the country,\u201d said Sen. Chuck Schumer, D-N.Y. \u201cWe kept the "
    "government open.\u201d\n\n"
    "\u201cWe will keep working,\u201d he added. \u201cThere is more to do.\u201d\n\n"
    "The bill funds the Defense Department, the World Health Organization contribution and the Kennedy "
    "Center through September. The U.S. Treasury said the measure costs $1.2 trillion.\n\n"
    "Lawmakers spent months negotiating over border security, and the final deal came at 11 p.m. after "
    "a series of late votes. Visit apnews.com for more.\n\n"
    "The Associated Press contributed to this report.\n\n"
    "Reporting by Jane Doe; Editing by John Smith"
)


def test_clean_article_has_no_reasons():
    assert reasons("Senate passes spending bill", CLEAN) == {}


def test_generated_clean_articles_stay_below_threshold():
    for seed in range(100):
        title, text = article(seed)
        assert combine(fingerprint(title, text).garble) < THRESHOLD, seed


def test_mojibake_from_wrong_decoding_and_replacement_chars():
    good = "The caf\u00e9\u2019s owner said \u201cit\u2019s over\u201d \u2014 and left for S\u00e3o Paulo."
    bad = good.encode("utf-8").decode("cp1252", errors="replace")
    r = reasons("t", bad)["mojibake"]
    assert r.score >= THRESHOLD and r.evidence["repairable"]
    assert "mojibake" not in reasons("t", good)
    assert reasons("t", "The mayor said \ufffd\ufffd that the plan works.")["mojibake"].evidence["replacement_chars"] == 2


def test_repeated_title():
    title, text = article(1)
    assert "repeated_title" not in reasons(title, f"{title}\n\n{text}")  # one copy: normal extraction
    r = reasons(title, f"{title}\n\n{title}\n\n{title}\n\n{text}")["repeated_title"]
    assert r.evidence["count"] == 3 and r.score >= THRESHOLD


def test_repeated_text():
    title, text = article(2)
    paras = paragraphs(text)
    r = reasons(title, "\n\n".join(paras + paras[1:4]))["repeated_text"]
    assert r.evidence["repeated_lines"] == 3 and r.score >= THRESHOLD


def test_splice_joined_words_and_dangling_quote():
    title, text = article(3)
    spliced = text + "\n\nThe leaders will shake hands, sit down face-to-face and.do what exactly?"
    r = reasons(title, spliced)["splice"]
    assert r.evidence["counts"]["joined"] == 1 and r.score >= THRESHOLD
    assert "splice" not in reasons(title, text + "\n\nSee example.com and node.js docs.")
    broken = reasons(title, text + '\n\nHe said "we will win and then.\n\nThe vote is due on Friday.')
    assert broken["splice"].evidence["counts"]["broken_quote"] == 1
    # a quote running on into the next paragraph re-opens with a quote mark: not broken
    assert "splice" not in reasons(title, text + '\n\n"We will win this vote.\n\n"And the next one," he said.')


def test_boilerplate_tail():
    title, text = article(4)
    r = reasons(title, text + "\n\nLatest News")["boilerplate"]
    assert r.evidence["at_tail"] and r.score >= 0.4  # below the flag threshold alone: real pages end "Related"
    assert "boilerplate" not in reasons(title, text + "\n\nThe latest news came on Friday, officials said.")


def test_truncated():
    title, text = article(5)
    cut = text + "\n\nThe council said the new budget would pay for repairs to the bridge and the"
    r = reasons(title, cut)["truncated"]
    assert r.evidence["why"] == "ends_with_function_word" and r.score >= THRESHOLD
    assert "truncated" not in reasons(title, text + "\n\nReporting by Jane Doe; Editing by John Smith")


def test_mixed_spelling_ignores_quotes_and_names():
    title, text = article(6)
    mixed = text + "\n\nThe talks on denuclearization stalled. Both sides want denuclearisation by May."
    r = reasons(title, mixed)["mixed_spelling"]
    assert "denucleariz" in r.evidence["families"]
    uk_with_names = text + ('\n\nThe World Health Organization backed the organisation\'s plan. '
                            'He said "we realize it" and the group will realise it soon.')
    assert "mixed_spelling" not in reasons(title, uk_with_names)


def test_example_like_garbled_page():
    """Headline x3, spliced sentences, mixed spellings, a lost quote mark and a 'Latest News' tail."""
    title, text = article(7)
    paras = paragraphs(text)
    page = "\n\n".join(
        [title] * 3 + paras[:3]
        + ["Pompeo says denuclearization is not something that ends badly for them."]
        + paras[3:6]
        + ["Leaders are ready to sit down face-to-face and.do what exactly?",
           "Key gaps remain over what denuclearisation would entail for both countries."]
        + paras[6:] + ["Latest News"])
    fp = fingerprint(title, page)
    got = {r.name for r in fp.garble}
    assert {"repeated_title", "splice", "mixed_spelling", "boilerplate"} <= got
    assert combine(fp.garble) >= 0.9


def test_fingerprint_is_picklable_and_shaped():
    title, text = article(8, paragraphs=20)
    fp = fingerprint(title, text)
    assert pickle.loads(pickle.dumps(fp)) == fp
    assert len(fp.band_keys) == 32 and len(fp.minhash) == 128 * 4 and fp.sentences
    short = fingerprint("t", "A short brief of twelve words about the council vote on Friday.")
    assert short.band_keys == () and short.exact_key
