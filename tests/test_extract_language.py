"""Every article gets its language (py3langid on the extracted text), short stubs none."""
from ingest.extract.language import detect_language
from ingest.extract.worker import extract_document


def page(text: str) -> str:
    return f"<html><head><title>T</title></head><body><article><p>{text}</p></article></body></html>"


def test_language_of_extracted_articles():
    en = "The summit between the two leaders takes place in Singapore on Tuesday, officials said on Monday."
    de = "Der Gipfel zwischen den beiden Staatschefs findet am Dienstag in Singapur statt, sagten Beamte am Montag."
    fr = "Le sommet entre les deux dirigeants aura lieu mardi à Singapour, ont indiqué lundi des responsables."
    assert [extract_document(page(t * 2), "https://x.example/a").language for t in (en, de, fr)] == ["en", "de", "fr"]


def test_too_short_to_tell_is_none():
    assert detect_language("Summit today") is None
    assert detect_language("") is None
