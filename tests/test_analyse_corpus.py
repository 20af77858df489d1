"""The judge over the SQLite corpus index on a real file: duplicate kinds, originals,
patchwork, boundedness."""
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.analyse import judge as judge_mod
from ingest.analyse.fingerprint import fingerprint
from ingest.analyse.synth import article, paragraphs, sentence
from ingest.store.sqlite.corpus import SQLiteCorpus
from ingest.text import normalise_lines

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # eval/ is a top-level package, not installed
    sys.path.insert(0, str(ROOT))

from eval.harness import IndexedCorpus  # noqa: E402


class Store(IndexedCorpus):
    """Texts stored at a given hour (and publication time), judged against what came before."""

    def put(self, site, title, text, hour, published=None, article_id=None):
        seen = datetime(2024, 5, 1, hour, tzinfo=UTC)
        aid, self.last = super().put(site, title, text, fingerprint(title, text), seen=seen, published=published,
                                     article_id=article_id)
        self.conn.commit()
        return aid, self.last.verdict


@pytest.fixture
def store(tmp_path):
    return Store(str(tmp_path / "t.db"))


def test_unrelated_articles_are_clean(store):
    for seed in range(20):
        _, v = store.put(f"site{seed % 4}.com", *article(seed), hour=seed)
        assert v.duplicate is None and v.garble is None


def test_exact_copy_points_at_original(store):
    title, text = article(1)
    a, _ = store.put("wire.com", title, text, 1)
    _, v = store.put("copy.com", title, text.replace("\n\n", "\n"), 2)
    assert (v.duplicate.kind, v.duplicate.of_article_id, v.duplicate.similarity) == ("exact", a, 1.0)


def test_near_copy(store):
    title, text = article(2, paragraphs=14)
    a, _ = store.put("wire.com", title, text, 1)
    paras = paragraphs(text)
    paras[5] = paras[5].replace("said", "stated", 1) + " It was not clear when."
    _, v = store.put("other.com", title, "\n\n".join(paras), 2)
    assert v.duplicate.kind == "near" and v.duplicate.of_article_id == a
    assert v.duplicate.similarity >= 0.8


def test_syndicated_copy_with_new_lede_dateline_byline_and_trimmed_end(store):
    title, text = article(3, paragraphs=12)
    a, _ = store.put("apnews.com", title, text, 1)
    paras = paragraphs(text)
    import random
    rng = random.Random(99)
    edited = ["By Local Staff Writer", "LONDON \u2014 " + sentence(rng) + " " + sentence(rng)] + paras[1:-2]
    _, v = store.put("localpaper.com", "Local take: " + title, "\n\n".join(edited), 2)
    assert v.duplicate is not None and v.duplicate.of_article_id == a
    assert v.duplicate.kind == "syndicated", v.duplicate.evidence


def test_truncated_copy_is_subset(store):
    title, text = article(4, paragraphs=16)
    a, _ = store.put("wire.com", title, text, 1)
    _, v = store.put("teaser.com", title, "\n\n".join(paragraphs(text)[:6]), 2)
    assert v.duplicate.kind == "subset" and v.duplicate.of_article_id == a
    assert v.duplicate.evidence["containment_new"] >= 0.95


def test_original_is_earliest_published_not_first_seen(store):
    title, text = article(5)
    late, v1 = store.put("copy.com", title, text, 1, published="2024-05-01T05:00:00Z")
    early, v2 = store.put("wire.com", title, text, 2, published="2024-04-30T09:00:00Z")
    assert v1.duplicate is None and v2.duplicate is None  # the second stored is the original
    third, v3 = store.put("third.com", title, text, 3)
    assert v3.duplicate.of_article_id == early
    assert store.corpus.cluster(late) == [early, late, third]


def test_versions_of_one_article_are_not_duplicates(store):
    title, text = article(6)
    a, _ = store.put("news.com", title, text, 1)
    _, v = store.put("news.com", title, text + "\n\nUpdate: the vote was delayed to Friday, officials said.", 2,
                     article_id=a)
    assert v.duplicate is None
    assert store.db.execute("SELECT count(*) FROM analysis_docs").fetchone()[0] == 1


def test_add_replaces_previous_rows(store):
    title, text = article(7)
    a, _ = store.put("news.com", title, text, 1)
    rows = store.db.execute("SELECT count(*) FROM lsh_bands WHERE article_id = ?", [a]).fetchone()[0]
    t2, text2 = article(70)
    store.put("news.com", t2, text2, 2, article_id=a)
    assert store.db.execute("SELECT count(*) FROM lsh_bands WHERE article_id = ?", [a]).fetchone()[0] == rows == 32
    # the old text no longer finds this article
    _, v = store.put("other.com", title, text, 3)
    assert v.duplicate is None


def test_same_site_boilerplate_does_not_make_duplicates(store):
    footer = ("Sign up for our morning newsletter to get the top stories of the day delivered to you. "
              "Our journalism is supported by readers like you and we thank every one of them. "
              "Follow the local desk on social media for updates from across the whole region.")
    nav = "Home. News. Sport. Business. Weather."
    for seed in range(8):
        title, text = article(100 + seed, paragraphs=3)
        _, v = store.put("town.com", title, f"{nav}\n\n{text}\n\n{footer}", seed)
        assert v.duplicate is None, v.duplicate
        assert v.garble is None


def test_short_texts_use_exact_key_and_sentences(store):
    brief = "The council approved the new harbour budget on Friday after a long debate among members."
    a, _ = store.put("wire.com", "Brief", brief, 1)
    assert store.db.execute("SELECT count(*) FROM lsh_bands").fetchone()[0] == 0
    _, v = store.put("copy.com", "Brief", brief, 2)
    assert v.duplicate.kind == "exact" and v.duplicate.of_article_id == a


def make_patchwork(store, k):
    sources = []
    for i in range(k):
        title, text = article(200 + i, paragraphs=10)
        aid, _ = store.put(f"outlet{i}.com", title, text, i)
        sources.append((aid, paragraphs(text)))
    parts = []
    for j in range(3):
        for _aid, paras in sources:
            parts.append(paras[j])
    title = "Stitched story"
    return sources, title, "\n\n".join([title, title] + parts)


def test_patchwork_names_sources_and_sentences(store):
    sources, title, text = make_patchwork(store, 3)
    _, v = store.put("scraper.net", title, text, 10)
    assert v.duplicate is None
    assert v.garble is not None
    pw = next(r for r in v.garble.reasons if r.name == "patchwork")
    named = {s["article_id"] for s in pw.evidence["sources"]}
    assert named == {aid for aid, _ in sources}
    assert set(v.garble.sources) == {f"https://outlet{i}.com/a/{aid}" for i, (aid, _) in enumerate(sources)}
    first = pw.evidence["sources"][0]["sentences"][0]
    assert first["text"] in normalise_lines(text) and isinstance(first["source_pos"], int)
    assert pw.evidence["coverage"] >= 0.9


def test_patchwork_needs_earlier_articles_of_other_sites(store):
    sources, title, text = make_patchwork(store, 2)
    # the same stitching published on one of the source sites is not a patchwork of *other* sites
    _, v = store.put("outlet0.com", title, text.replace("Stitched story\n\nStitched story\n\n", ""), 10)
    assert v.garble is None or "patchwork" not in {r.name for r in v.garble.reasons}


def test_quotes_shared_between_outlets_are_not_patchwork(store):
    quote = '"We will not accept any deal that leaves our farmers worse off than before," the minister said.'
    for i in range(4):
        title, text = article(300 + i)
        paras = paragraphs(text)
        paras.insert(2, quote)
        _, v = store.put(f"paper{i}.com", title, "\n\n".join(paras), i)
        assert v.garble is None and v.duplicate is None


def test_candidate_search_is_bounded(store, monkeypatch):
    """Hundreds of stored articles sharing a bucket and stock sentences: bounded work per judge."""
    stock = ("This article was produced with the support of the regional news fund and its partners. "
             "Readers can contact the newsroom with tips and corrections at any time of day.")
    for seed in range(120):
        title, text = article(400 + seed, paragraphs=4)
        store.put(f"s{seed}.com", title, f"{text}\n\n{stock}", seed % 24)
    calls = []
    real = SQLiteCorpus.docs

    def spy(self, ids, with_text=False):
        ids = list(ids)
        calls.append((len(ids), with_text))
        return real(self, ids, with_text)

    monkeypatch.setattr(SQLiteCorpus, "docs", spy)
    title, text = article(999, paragraphs=4)
    _, v = store.put("new.com", title, f"{text}\n\n{stock}", 23)
    assert v.duplicate is None
    assert store.last.candidates <= judge_mod.MAX_VERIFY
    assert all(n <= judge_mod.MAX_VERIFY for n, with_text in calls if with_text)
    # the stock sentences hit 120 articles but at most SENT_CAP+1 rows are read per sentence
    assert max(n for n, with_text in calls if not with_text) <= 2 * (judge_mod.SENT_CAP + 1) + 4 * judge_mod.MAX_VERIFY


def test_patchwork_with_lightly_edited_lifts(store):
    """A changed word breaks the sentence hash; the fuzzy pass still credits the source."""
    sources, title, text = make_patchwork(store, 3)
    paras = text.split("\n\n")
    edited = [p.replace(" the ", " a ", 1) if i % 2 else p for i, p in enumerate(paras)]
    _, v = store.put("scraper.net", title, "\n\n".join(edited), 10)
    pw = next(r for r in v.garble.reasons if r.name == "patchwork")
    assert {s["article_id"] for s in pw.evidence["sources"]} == {aid for aid, _ in sources}
    assert pw.evidence["coverage"] >= 0.8


def test_extended_copy_is_subset_and_mojibake_copy_is_exact(store):
    title, text = article(8, paragraphs=10)
    a, _ = store.put("wire.com", title, text + "\n\nThe caf\u00e9 owner said it\u2019s \u201cgood news\u201d.", 1)
    _, v = store.put("ext.com", title, text + "\n\nThe caf\u00e9 owner said it\u2019s \u201cgood news\u201d."
                     + "\n\n" + "\n\n".join(paragraphs(article(81)[1])[:3]), 2)
    assert v.duplicate.kind == "subset" and v.duplicate.evidence["containment_old"] >= 0.95
    moji = (text + "\n\nThe caf\u00e9 owner said it\u2019s \u201cgood news\u201d.").encode("utf-8").decode("latin-1")
    _, v = store.put("mirror.com", title, moji, 3)
    assert v.duplicate.kind == "exact" and v.duplicate.of_article_id == a
    assert "mojibake" in {r.name for r in v.garble.reasons}


def test_lookups_answer_the_same_whatever_the_padding(store):
    """Sentence and band look-ups take their keys padded with NULLs (a few statement texts for
    every article, so SQLite's statement cache keeps them): the rows are those of one plain
    query per key, at every key count around the padding steps and past a chunk; and the
    template look-up beside them."""
    footer = "Follow the local desk on social media for updates from across the whole region."
    for seed in range(12):
        title, text = article(500 + seed, paragraphs=12)
        store.put("site.com", title, f"{text}\n\n{footer}", seed)
    conn, corpus = store.conn, store.corpus
    sents = [h for (h,) in conn.execute("SELECT h FROM sentences ORDER BY article_id, pos")]
    lines = [h for (h,) in conn.execute("SELECT h FROM site_lines WHERE site = 'site.com'")]
    assert len(sents) > 210  # one more than a chunk of compound arms
    for n in (1, 15, 16, 17, 33, 200, 201, len(sents)):
        keys = sents[:n]
        plain = [r for h in keys for r in conn.execute("SELECT h, article_id, pos FROM sentences WHERE h = ? LIMIT 2",
                                                       (h,))]
        assert corpus._capped("sentences", "h", ", pos", keys, 2) == plain
        hits = corpus.sentence_hits(keys, exclude=1, cap=2)
        assert sorted((h, aid, pos) for h, got in hits.items() for aid, pos in got) == sorted(
            r for r in plain if r[1] != 1)
    for n in (1, 17, len(lines)):
        keys = lines[:n]
        want = {h for h in keys
                if conn.execute("SELECT n FROM site_lines WHERE site = 'site.com' AND h = ?", (h,)).fetchone()[0] >= 3}
        assert corpus.template("site.com", keys, exclude=0) == want
    assert want  # the footer line is the site's template
