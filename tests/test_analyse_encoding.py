"""ingest.analyse.encoding.fix_encoding must give exactly ftfy.fix_encoding's answer, faster."""
import json
import random
import sys
from pathlib import Path

import ftfy
import pytest
from ftfy.badness import BADNESS_RE, MOJIBAKE_CATEGORIES, is_bad

from ingest.analyse import encoding
from ingest.analyse.encoding import fix_encoding, looks_bad
from ingest.analyse.synth import article

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _same(text: str) -> None:
    assert looks_bad(text) == is_bad(text), repr(text)
    assert fix_encoding(text) == ftfy.fix_encoding(text), repr(text)


def test_trigger_set_is_derived_from_ftfy():
    # derived, not copied: when it cannot be derived every call goes to ftfy
    assert encoding.TRIGGERS and encoding._WIDTH
    assert not any(c in encoding.TRIGGERS for c in "\u2019\u201c\u201d\u2014\u2013\u00a0")  # clean prose
    assert "\u00c3" in encoding.TRIGGERS  # the start of most UTF-8-as-cp1252 mojibake


def test_clean_text_is_returned_as_is():
    title, text = article(7, paragraphs=8)
    text = text.replace("'", "\u2019") + " \u201cQuoted\u201d \u2014 done."
    assert fix_encoding(text) is text
    assert not looks_bad(text)


@pytest.mark.parametrize("text", [
    "He's Justin\u00e2\u009d\u00a4", "caf\u00c3\u00a9 au lait", "The \u00e2\u20ac\u0153quote\u00e2\u20ac\u009d",
    "\u00c3 start", "\u00c3\u00a0 la plage", "sm\u00c3\u00b6rg\u00c3\u00a5sbord", "\ufffd\ufffd broken",
    "na\u00efve caf\u00e9 \u00a35 r\u00e9sum\u00e9", "\u0432\u0402\u045a test", "x\u00d7\u00b2", "\u00c3",
])
def test_mojibake_examples(text):
    _same(text)


def test_ftfy_test_cases_when_shared_is_present():
    from eval.corpora import shared_dir

    shared = shared_dir()
    if shared is None:
        pytest.skip("../shared not present")
    cases = []
    for f in sorted((shared / "corpora" / "ftfy-mojibake" / "test-cases").glob("*.json")):
        cases += json.loads(f.read_text())
    assert len(cases) > 100
    for case in cases:
        for text in (case["original"], case["fixed"]):
            _same(text)


def test_random_strings_of_mojibake_characters():
    """Strings dense in the characters BADNESS_RE is made of, so that matches straddle windows."""
    rng = random.Random(3)
    alphabet = "".join(MOJIBAKE_CATEGORIES.values()).replace("-", "") + "abcXYZ .,!?\n\t" + "\u00c3\u00c2\u00d8\u00d9"
    alphabet += "\u0412\u0413\u0420\u0421\u0392\u0393\u039e\u039f\u03b2\u20ac\u0101\u221a\u2248\u201a"
    bad = 0
    for _ in range(4000):
        prefix = "".join(rng.choice("the quick brown fox ") for _ in range(rng.randint(0, 40)))
        core = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8)))
        text = prefix + core + "".join(rng.choice(" plain text.") for _ in range(rng.randint(0, 30)))
        assert looks_bad(text) == is_bad(text), repr(text)
        bad += bool(BADNESS_RE.search(text))
    assert 500 < bad < 3900  # both outcomes are well exercised
