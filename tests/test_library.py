"""The library: articles stored once by content, each with its own index, surviving restarts; e5 catching up."""

from __future__ import annotations

import json
import threading

import pytest

from assistant import Assistant, QuestionError
from assistant.errors import ArticleError, LibraryError, UnknownArticle
from assistant.library import Library, clean_name

HARBOUR = """# Harbour reopens after storm repairs

By Ana Ruiz

March 3, 2025

The harbour of Porto Lindo reopened on Monday after three weeks of repairs to its storm wall.

The work cost 4.2 million euros and was paid for by the regional government.

Fishermen said the closure had cost them most of the winter catch.
"""


def test_an_added_article_answers_and_names_itself(library):
    entry, new = library.add(HARBOUR.encode(), "harbour.md")
    assert new and entry.id == library.get(entry.id).article.id and len(entry.id) == 16
    assert (entry.title, entry.author, entry.date, entry.format) == (
        "Harbour reopens after storm repairs", "Ana Ruiz", "2025-03-03", "markdown"
    )  # fmt: skip
    answer = library.get(entry.id).ask("How much did the work cost?")
    assert not answer.abstained and "4.2 million euros" in answer.passages[0].text
    assert answer.article.id == entry.id and answer.article.title == entry.title
    assert [e.id for e in library.entries()] == [library.default_id, entry.id]


def test_the_same_bytes_are_stored_once_even_at_once(library):
    results = []
    threads = [threading.Thread(target=lambda: results.append(library.add(HARBOUR.encode(), "h.md"))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(new for _, new in results) == [False, False, False, True]
    assert len({entry.id for entry, _ in results}) == 1
    assert len([p for p in library.folder.iterdir() if not p.name.startswith(".")]) == 1


def test_e5_catches_up_in_the_background_and_the_library_survives_a_restart(library, default, fake, fake_e5, tmp_path):
    entry, _ = library.add(HARBOUR.encode(), "harbour.md")
    assert library.wait(entry.id, timeout=60)
    assert library.get(entry.id).index.e5_vectors is not None  # the full index replaced the quick one
    again = Library(default, tmp_path / "library", embedder=fake, e5=fake_e5)
    assert [e.id for e in again.entries()] == [library.default_id, entry.id]
    calls = fake_e5.calls
    assert again.get(entry.id).ask("Who paid for the work?").passages[0].text.startswith("The work cost")
    assert fake_e5.calls == calls  # loaded from disk, nothing embedded again


def test_an_interrupted_upgrade_answers_at_once_and_catches_up_on_the_next_open(library, default, fake, fake_e5, tmp_path):
    entry, _ = library.add(HARBOUR.encode(), "harbour.md", upgrade=False)  # as if the server stopped first
    again = Library(default, tmp_path / "library", embedder=fake, e5=fake_e5)
    assert again.get(entry.id).index.e5_vectors is None  # answers without e5 rather than wait for it
    assert again.wait(entry.id, timeout=60) and again.get(entry.id).index.e5_vectors is not None


def test_delete_removes_its_files_and_leaves_the_others(library):
    harbour, _ = library.add(HARBOUR.encode(), "harbour.md")
    other, _ = library.add(b"The bridge opened in May.\nIt cost 3 million euros.\n", "bridge.txt")
    library.wait(harbour.id, 60)
    library.delete(harbour.id)
    assert not (library.folder / harbour.id).exists()
    assert [e.id for e in library.entries()] == [library.default_id, other.id]
    with pytest.raises(UnknownArticle, match="no article"):
        library.get(harbour.id)
    assert library.get(other.id).ask("When did the bridge open?").passages[0].paragraph == 1


def test_the_default_article_cannot_be_deleted_and_bad_ids_are_unknown(library):
    with pytest.raises(LibraryError, match="cannot be deleted"):
        library.delete(library.default_id)
    for bad in ("../../etc", "0123456789abcdef", "", "X" * 16):
        with pytest.raises(UnknownArticle):
            library.get(bad)


def test_bad_input_is_refused_and_loses_nothing(library):
    kept, _ = library.add(HARBOUR.encode(), "harbour.md")
    before = sorted(p.name for p in library.folder.iterdir())
    for data, name in [(b"", "empty.txt"), (b"\x89PNG\r\n\x1a\n" + bytes(100), "photo.txt"), (b"   \n\n", "x.md")]:
        with pytest.raises(ArticleError):
            library.add(data, name)
    with pytest.raises(ArticleError, match="the limit is"):
        library.add(b"a" * 10_000_001, "huge.txt")
    assert sorted(p.name for p in library.folder.iterdir()) == before
    assert library.get(kept.id).ask("How much did the work cost?").passages


def test_a_damaged_entry_is_not_listed(library):
    entry, _ = library.add(HARBOUR.encode(), "harbour.md")
    (library.folder / entry.id / "entry.json").write_text("{not json")
    assert [e.id for e in library.entries()] == [library.default_id]
    (library.folder / entry.id / "entry.json").write_text(json.dumps({"id": "0" * 16}))
    assert [e.id for e in library.entries()] == [library.default_id]


def test_asking_one_article_for_another_is_refused(library):
    entry, _ = library.add(HARBOUR.encode(), "harbour.md")
    with pytest.raises(UnknownArticle):
        library.default.ask("What did Japan do?", article=entry.id)
    with pytest.raises(QuestionError, match="article: must be an article id"):
        library.default.ask("What did Japan do?", article="../x")


@pytest.mark.parametrize(
    ("given", "kept"),
    [("../../etc/passwd", "passwd"), ("C:\\Users\\x\\story.pdf", "story.pdf"), ("\x00\u202e.txt", "txt"),
     ("", "article"), (".hidden.html", "hidden.html"), ("é" * 300, "é" * 200)],
)  # fmt: skip
def test_names_are_made_safe(given, kept):
    assert clean_name(given) == kept


@pytest.fixture(scope="module")
def news_bot(real_embedder, real_e5, tmp_path_factory):
    from tests import documents

    path = tmp_path_factory.mktemp("news") / "harbour.html"
    path.write_bytes(documents.news_page())
    return Assistant.from_article(path, embedder=real_embedder, e5=real_e5)


@pytest.mark.parametrize(
    ("question", "line"),
    [("Who wrote this article?", "Author: Ana Ruiz"), ("Who wrote this?", "Author: Ana Ruiz"),
     ("When was this article published?", "Published: 2025-03-03"), ("When was it published?", "Published: 2025-03-03"),
     ("Which site published this story?", "Source: Harbour Herald")],
)  # fmt: skip
def test_questions_about_the_article_are_answered_from_its_metadata(news_bot, question, line):
    answer = news_bot.ask(question)
    assert not answer.abstained and answer.passages[0].text == line
    assert news_bot.article.text.rstrip().endswith("Source: Harbour Herald")  # shown as the last lines of the pane


def test_content_questions_are_not_answered_from_metadata(news_bot):
    answer = news_bot.ask("When will the audit be published?")
    assert not answer.abstained and "audit of the contract would be published in June" in answer.passages[0].text


def test_a_date_question_of_an_article_without_a_date_is_not_answered_by_its_source(real_bot):
    answer = real_bot.ask("When was it published?")
    assert answer.passages[0].text != "Source: Reuters"
    assert real_bot.ask("Who reported this?").passages[0].text == "Source: Reuters"


def test_pasted_text_is_listed_under_its_first_words_and_read_as_markdown_when_it_is(library):
    plain, _ = library.add_text("The bridge opened in May after two years of work on its deck.\nIt cost 3 million.\n")
    assert plain.name == "The bridge opened in May after two years…" and plain.format == "text"
    marked, _ = library.add_text(HARBOUR)
    assert marked.format == "markdown" and marked.title == "Harbour reopens after storm repairs"
    assert "#" not in library.get(marked.id).article.text
