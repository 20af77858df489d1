"""Normalisation, hashing and sentence cutting shared by all analysis layers."""
from ingest.text import (
    fold_spelling,
    indexed_sentences,
    normalise_text,
    sentence_key,
    spelling_family,
    split_sentences,
    text_hash,
)


def test_normalise_folds_typography_and_whitespace():
    raw = "\u201cHello\u201d \u2014 it\u2019s\u00a0here.\n\n  Next\tline\u2026"
    assert normalise_text(raw) == "\"Hello\" - it's here. Next line..."


def test_text_hash_ignores_layout_but_not_words():
    a = "First paragraph.\n\nSecond \u2018one\u2019."
    assert text_hash(a) == text_hash("First   paragraph.\nSecond 'one'.")
    assert text_hash(a) != text_hash("First paragraph. Second two.")
    assert text_hash(a) != text_hash(a.lower())  # a case edit is a real edit of the text


def test_split_sentences_keeps_abbreviations():
    text = "Mr. Smith met U.S. officials on Monday. They agreed. \"Fine,\" he said.\nNew paragraph here"
    assert split_sentences(text) == [
        "Mr. Smith met U.S. officials on Monday.", "They agreed.", "\"Fine,\" he said.", "New paragraph here"]


def test_sentence_key_folds_case_punctuation_and_uk_spelling():
    a = sentence_key("The organisation will analyse the colour of the centre, officials said.")
    b = sentence_key("the organization will analyze the color of the center officials said")
    assert a is not None and a == b
    assert sentence_key("Too short to index.") is None


def test_spelling_families():
    assert spelling_family("denuclearization")[:2] == ("denucleariz", "us")
    assert spelling_family("denuclearise")[:2] == ("denucleariz", "uk")
    assert spelling_family("supervised") is None  # -ise in both varieties
    assert spelling_family("four") is None
    assert fold_spelling("favourite") == "favorite"


def test_indexed_sentences_positions_and_dedup():
    text = "One two three four five six seven. Short one.\nOne two three four five six seven."
    got = indexed_sentences(text)
    assert [(pos, s) for _, pos, s in got] == [(0, "One two three four five six seven.")]


def test_normalise_text_equals_its_regex_definition():
    """normalise_text is written for speed (str.split, str.replace); it must keep giving what
    the plain definition gives: NFKC, quotes folded by the table, \\s+ runs collapsed, stripped."""
    import re
    import sys
    import unicodedata

    from ingest.text import _QUOTES

    spaces = "".join(chr(c) for c in range(sys.maxunicode + 1) if re.fullmatch(r"\s", chr(c)))
    quotes = "".join(chr(k) for k in _QUOTES)
    raw = f" {spaces}a{quotes}b \u00e9\uff21 {quotes[::-1]}c{spaces[::-1]}\n\nd\u2019e\ufb01 "
    expected = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", raw).translate(_QUOTES)).strip()
    assert normalise_text(raw) == expected


def test_one_tokenisation_gives_the_sentences_lines_and_text_tokens():
    """tokenised_lines replaces three tokenisations in the fingerprint: it must give the same
    sentences, line keys and text tokens as each computed on its own."""
    from ingest.analyse.checks import _key
    from ingest.text import (
        collapse_lines,
        indexed_normalised_sentences,
        indexed_tokenised_sentences,
        normalise_lines,
        split_sentences,
        tokenised_lines,
        words,
    )

    text = normalise_lines("İstanbul'da STRASSE straße\tmit Tab. Mr. Smith went home. U.S. officials said so!\x1c"
                           "Next part  here.\u2028Line two, \"quoted\n\n  \"and next line. It ends here...\nx")
    lines = tokenised_lines(text)
    assert [s for line in lines for s, _ in line] == split_sentences(text)
    assert [t for line in lines for _, toks in line for t in toks] == words(collapse_lines(text))
    plain = [line.strip() for line in text.splitlines() if line.strip()]
    assert [" ".join(t for _, toks in line for t in toks) for line in lines] == [_key(p) for p in plain]
    assert indexed_tokenised_sentences(lines) == indexed_normalised_sentences(text)
    assert "strasse" in words(collapse_lines(text)) and len(lines) == len(plain) == 5
