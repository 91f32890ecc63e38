"""The index folder: persistence, manifest checks, stale and damaged indexes, atomic writes."""

from __future__ import annotations

import json
import logging
import os

import numpy as np
import pytest

from assistant import Assistant, IndexStoreError, store
from assistant.article import read_article
from assistant.errors import ArticleError

ARTICLE = "Japan held naval exercises with Canada.\nThe EU wants a defense pact with Japan.\nSource: Reuters\n"


@pytest.fixture
def article(tmp_path):
    path = tmp_path / "news.txt"
    path.write_text(ARTICLE)
    return path


def test_index_lands_beside_the_article_and_holds_plain_files(article, fake):
    bot = Assistant.from_article(article, embedder=fake)
    folder = article.with_name("news.index")
    assert bot.index_dir == folder
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["model"] == "fake-words"
    assert manifest["dimension"] == 32
    assert manifest["counts"] == {"paragraphs": 3, "passages": 3, "sentences": 3, "tokens": 16}
    data = folder / manifest["data"]
    assert sorted(p.name for p in data.iterdir()) == sorted(manifest["files"])
    for name in manifest["files"]:
        assert b"pickle" not in (data / name).read_bytes()[:200]
    np.load(data / "tokens.npy", allow_pickle=False)  # no pickled objects anywhere


def test_second_open_loads_without_embedding(article, fake):
    Assistant.from_article(article, embedder=fake)
    calls = fake.calls
    bot = Assistant.from_article(article, embedder=fake)
    assert fake.calls == calls
    assert bot.ask("naval exercises with Canada").passages[0].paragraph == 1


def test_edited_article_is_rebuilt_reusing_unchanged_sentences(article, fake, caplog):
    caplog.set_level(logging.INFO, logger="assistant")
    Assistant.from_article(article, embedder=fake)
    article.write_text(ARTICLE.replace("Canada", "the Philippines"))
    before = fake.calls
    bot = Assistant.from_article(article, embedder=fake)
    assert "article changed" in caplog.text
    assert fake.calls == before + 1  # one run, for the one new sentence only
    assert "Philippines" in bot.ask("naval exercises with the Philippines").passages[0].text


def test_other_model_triggers_rebuild(article, fake):
    Assistant.from_article(article, embedder=fake)

    class Other(type(fake)):
        name = "other-model"

    bot = Assistant.from_article(article, embedder=Other())
    assert bot.index.manifest["model"] == "other-model"


@pytest.mark.parametrize("damage", ["delete", "truncate", "random", "manifest-dimension"])
def test_damaged_index_is_detected_before_reading_and_rebuilt(article, fake, damage):
    Assistant.from_article(article, embedder=fake)
    folder = article.with_name("news.index")
    manifest = json.loads((folder / "manifest.json").read_text())
    faiss_file = folder / manifest["data"] / "passages.faiss"
    if damage == "delete":
        faiss_file.unlink()
    elif damage == "truncate":
        faiss_file.write_bytes(faiss_file.read_bytes()[:40])
    elif damage == "random":
        faiss_file.write_bytes(os.urandom(faiss_file.stat().st_size))
    else:
        manifest["dimension"] = 384
        (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(store.Stale):
        store.open_index(folder, read_article(article), fake, None)
    bot = Assistant.from_article(article, embedder=fake)
    assert bot.ask("defense pact").passages[0].paragraph == 2


def test_crash_while_saving_keeps_the_previous_index(article, fake, monkeypatch):
    Assistant.from_article(article, embedder=fake)
    folder = article.with_name("news.index")
    before = (folder / "manifest.json").read_text()
    article.write_text(ARTICLE + "A new paragraph about submarines.\n")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt("killed mid-write")

    monkeypatch.setattr(np, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        Assistant.from_article(article, embedder=fake)
    monkeypatch.undo()
    assert (folder / "manifest.json").read_text() == before
    assert store.load(folder, store.read_manifest(folder)).manifest["counts"]["passages"] == 3


def test_load_reads_an_index_folder_on_its_own(article, fake):
    Assistant.from_article(article, embedder=fake)
    bot = Assistant.load(article.with_name("news.index"), embedder=fake)
    assert bot.article.source == "Reuters"
    assert bot.ask("defense pact").passages[0].paragraph == 2


def test_an_articles_metadata_survives_its_index(tmp_path, fake):
    """What a reloaded index tells of its article (an archive answer's date and byline) is what reading it gave."""
    path = tmp_path / "storm.md"
    path.write_text("# Storm hits the coast\n\nBy Jane Doe | Example News | 3 March 2025\n\nHeavy rain flooded "
                    "dozens of coastal towns on Monday.\n\nSchools were closed.\n")  # fmt: skip
    read = read_article(path)
    Assistant.from_article(path, embedder=fake)
    loaded = Assistant.load(path.with_name("storm.index"), embedder=fake).article
    assert (read.author, read.date, read.format) == ("Jane Doe", "2025-03-03", "markdown")
    fields = ("title", "source", "author", "date", "url", "format")
    assert {f: getattr(loaded, f) for f in fields} == {f: getattr(read, f) for f in fields}


def test_load_of_an_empty_folder_says_how_to_build(tmp_path, fake):
    with pytest.raises(IndexStoreError, match="assistant index ARTICLE --index"):
        Assistant.load(tmp_path, embedder=fake)


def test_bad_article_writes_nothing(tmp_path, fake):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ArticleError):
        Assistant.from_article(path, embedder=fake)
    assert list(tmp_path.iterdir()) == [path]


def test_stale_index_in_read_only_folder_is_a_clear_error(article, fake, monkeypatch):
    import filelock

    Assistant.from_article(article, embedder=fake)
    article.write_text(ARTICLE + "More.\n")

    def refuse(self, *args, **kwargs):  # what a read-only folder does (root ignores chmod, so simulate it)
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(filelock.FileLock, "acquire", refuse)
    with pytest.raises(IndexStoreError, match="not writable"):
        Assistant.from_article(article, embedder=fake)


def test_large_indexes_switch_to_ivf_that_finds_what_exact_search_finds(tmp_path, monkeypatch):
    import faiss

    monkeypatch.setattr(store.builder, "APPROXIMATE_ABOVE", 1_000)
    rng = np.random.default_rng(1)
    centers = rng.standard_normal((50, 32)).astype(np.float32)
    vectors = centers[rng.integers(0, 50, 5_000)] + 0.3 * rng.standard_normal((5_000, 32)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    assert isinstance(store.builder._faiss_index(vectors[:1_000]), faiss.IndexFlatIP)
    index = store.builder._faiss_index(vectors)
    path = tmp_path / "x.faiss"
    faiss.write_index(index, str(path))
    loaded = faiss.read_index(str(path))
    assert isinstance(loaded, faiss.IndexIVFFlat) and loaded.nprobe == store.IVF_PROBES
    exact = faiss.IndexFlatIP(32)
    exact.add(vectors)
    queries = vectors[:200] + 0.05 * rng.standard_normal((200, 32)).astype(np.float32)
    _, want = exact.search(queries, 10)
    _, got = loaded.search(queries, 10)
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, want, strict=True)]) >= 0.95
    assert (got >= 0).all()


JETS = (
    "Japan held naval exercises with Canada in the South China Sea.\n"
    "The EU wants a defense pact with Japan and South Korea.\n"
    "Japan is building an advanced fighter jet with Britain and Italy under a treaty.\n"
)


def test_e5_passage_vectors_are_stored_checked_and_reused(tmp_path, fake, fake_e5):
    path = tmp_path / "jets.txt"
    path.write_text(JETS)
    bot = Assistant.from_article(path, embedder=fake, e5=fake_e5)
    manifest = json.loads((bot.index_dir / "manifest.json").read_text())
    assert manifest["e5"] == "fake-e5" and "e5.npy" in manifest["files"]
    assert bot.index.e5_vectors.shape == (3, 384)
    e5 = fake_e5
    Assistant.from_article(path, embedder=fake, e5=fake_e5)
    assert e5.calls == 1  # loaded, not embedded again
    path.write_text(JETS + "Tokyo has boosted defense spending.\n")
    Assistant.from_article(path, embedder=fake, e5=fake_e5)
    assert e5.calls == 2  # the rebuild embedded the new passage only
    assert Assistant.load(bot.index_dir, embedder=fake, e5=fake_e5).index.e5_vectors.shape == (4, 384)


def test_e5_is_what_finds_a_paraphrase(tmp_path, fake, fake_e5):
    path = tmp_path / "jets.txt"
    path.write_text(JETS)
    question = "Which warplane?"  # no word of the article: only e5, which knows a warplane is a jet, can tell
    without = Assistant.from_article(path, tmp_path / "without", embedder=fake).retriever.rank(question)
    with_e5 = Assistant.from_article(path, tmp_path / "with", embedder=fake, e5=fake_e5).retriever.rank(question)
    assert "e5" not in without.passage and "e5" in with_e5.passage
    assert with_e5.order[0] == 2 and without.order[0] != 2


def test_index_built_without_e5_is_rebuilt_when_e5_arrives_and_long_articles_go_without(
    tmp_path, fake, fake_e5, monkeypatch, caplog
):
    caplog.set_level(logging.INFO, logger="assistant")
    path = tmp_path / "jets.txt"
    path.write_text(JETS)
    assert Assistant.from_article(path, embedder=fake).index.e5_vectors is None
    assert Assistant.from_article(path, embedder=fake, e5=fake_e5).index.e5_vectors is not None
    assert "built without e5" in caplog.text
    with pytest.raises(IndexStoreError, match="with 'fake-e5'"):
        Assistant.load(path.with_name("jets.index"), embedder=fake)
    monkeypatch.setattr(store.builder, "E5_UP_TO", 2)  # 3 passages: too long for e5
    bot = Assistant.from_article(path, tmp_path / "long", embedder=fake, e5=fake_e5)
    assert bot.index.e5_vectors is None and bot.index.manifest["e5"] is None
    assert bot.ask("naval exercises with Canada").passages[0].paragraph == 1
