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


TEXTS = [
    "The summit between the two leaders takes place in Singapore on Tuesday, officials said on Monday.",
    "Der Gipfel zwischen den beiden Staatschefs findet am Dienstag in Singapur statt, sagten Beamte am Montag.",
    "Le sommet entre les deux dirigeants aura lieu mardi à Singapour, ont indiqué lundi des responsables.",
    "La cumbre entre los dos líderes se celebrará el martes en Singapur, dijeron el lunes los funcionarios.",
    "Встреча двух лидеров пройдет во вторник в Сингапуре, сообщили в понедельник официальные лица.",
    "两国领导人的峰会将于周二在新加坡举行，官员周一表示。",
    "Het overleg tussen de twee leiders vindt dinsdag plaats in Singapore, zeiden functionarissen maandag.",
    "ok ok ok ok ok", "1234 5678 90 12 34", "ÃƒÂ© mojibake Ã© text â€™ here and there",
]


def answers(ident):
    from ingest.analyse.synth import article

    texts = TEXTS + [article(seed)[1][:2000] for seed in range(20)]
    return [ident.classify(t) for t in texts]


def test_the_cached_model_answers_as_py3langid(tmp_path):
    """The model's arrays, written uncompressed to the cache and mapped from there, give
    py3langid's own answers and scores (language.py: the cache only changes where the bytes come from)."""
    import py3langid.langid

    from ingest.extract.language import ARRAYS, load_identifier

    reference = answers(py3langid.langid._load_identifier())
    cache = tmp_path / "cache" / "py3langid"
    first = load_identifier(cache)  # no cache yet: py3langid's own load, then written
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{a}.npy" for a in ARRAYS)
    mapped = load_identifier(cache)
    assert isinstance(mapped.tk_nextmove, memoryview)  # from the cache this time
    assert answers(first) == answers(mapped) == reference


def test_a_damaged_or_unwritable_cache_falls_back_to_py3langid(tmp_path):
    import py3langid.langid

    from ingest.extract.language import load_identifier

    reference = answers(py3langid.langid._load_identifier())
    cache = tmp_path / "py3langid"
    load_identifier(cache)
    (cache / "nextmove.npy").write_bytes((cache / "nextmove.npy").read_bytes()[:1000])  # truncated
    assert answers(load_identifier(cache)) == reference  # loaded as py3langid does, and the cache rewritten
    assert isinstance(load_identifier(cache).tk_nextmove, memoryview)
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    assert answers(load_identifier(blocked / "py3langid")) == reference
    assert answers(load_identifier(None)) == reference  # no home to keep a cache in
