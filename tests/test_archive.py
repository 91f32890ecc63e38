"""Archive mode: a folder of articles added once (nested, mixed formats, broken files skipped, resumable after
kill -9), and questions answered from every article at once, in Python, over HTTP and on the command line."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from assistant import AskRequest, Assistant, QuestionError
from assistant.archive import Archive, PassageStore, add_folder, article_files, engine_location
from assistant.errors import LibraryError, UnknownArticle
from assistant.library import Library
from tests import documents
from tests.conftest import ROOT

BRIDGE = (
    "The old bridge over the Tagus river was closed for inspection on Tuesday.\n\n"
    "Engineers found cracks in two of its steel cables.\n\n"
    "Traffic will go through the tunnel until the repairs are done in August.\n"
)
ELECTION = """# Mayor re-elected in Lindholm

March 9, 2025

Source: Nordic Wire

Karin Berg won a second term as mayor of Lindholm with 61 percent of the vote.

Turnout was the highest in twenty years, the electoral office said.
"""
FESTIVAL = [
    "The summer music festival in Aldport will move to the riverside park this year.",
    "Organisers expect forty thousand visitors over three days in July.",
    "Tickets go on sale in May, with a discount for students.",
]


def write_folder(root) -> dict[str, str]:
    """Nested folders of mixed formats, one broken file, and files the archive must not read; name -> file."""
    files = {
        "harbour": root / "news" / "2025" / "harbour.html",
        "library": root / "news" / "valdemar-library.pdf",
        "bridge": root / "reports" / "bridge.txt",
        "election": root / "reports" / "deep" / "election.md",
        "festival": root / "notes" / "festival.docx",
        "broken": root / "reports" / "deep" / "broken.pdf",
    }
    for path in files.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    files["harbour"].write_bytes(documents.news_page())
    files["library"].write_bytes(documents.pdf())
    files["bridge"].write_text(BRIDGE)
    files["election"].write_text(ELECTION)
    files["festival"].write_bytes(documents.docx(FESTIVAL, title="Festival moves to the river"))
    files["broken"].write_bytes(b"%PDF-1.4\nthis is not really a PDF")
    (root / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(32))
    (root / ".hidden").mkdir()
    (root / ".hidden" / "secret.txt").write_text("Not an article to add.")
    return {k: str(v) for k, v in files.items()}


@pytest.fixture(autouse=True)
def uncalibrated(monkeypatch):
    """The fake embedder's scores are not calibrated: the archive's model (fitted on the real models) is replaced by
    one that merges every answer an article gives alone. The CLI test, with the real models in a new process, keeps
    it."""
    monkeypatch.setattr("assistant.archive.search.ARCHIVE_MODEL", {"bias": 0.0, "weights": {}})


@pytest.fixture
def filled(library, tmp_path):
    """An archive with the folder added: (archive, its report, name -> file)."""
    files = write_folder(tmp_path / "articles")
    archive = Archive(library)
    return archive, add_folder(archive, tmp_path / "articles"), files


def ids_by_name(library: Library) -> dict[str, str]:
    names = {"harbour.html": "harbour", "valdemar-library.pdf": "library", "bridge.txt": "bridge",
             "election.md": "election", "festival.docx": "festival"}  # fmt: skip
    return {names[e.name]: e.id for e in library.entries() if e.name in names}


# ---- adding a folder ----------------------------------------------------------------------------------------------


def test_a_folder_is_added_at_every_depth_and_a_broken_file_is_reported(filled, library):
    archive, report, files = filled
    assert len(report.added) == 5 and report.skipped == []
    assert [str(p) for p, _ in report.failed] == [files["broken"]] and "PDF" in report.failed[0][1]
    ids = ids_by_name(library)
    assert sorted(ids) == ["bridge", "election", "festival", "harbour", "library"]
    assert set(report.added) == set(ids.values())
    assert archive.store.stored() == set(ids.values())  # the default article joins at the first question
    passages = sum(len([c for c in library.get(i).index.chunks if not c.metadata]) for i in ids.values())
    assert archive.store.count() == passages


def test_only_article_files_are_read_and_hidden_ones_never(tmp_path):
    files = write_folder(tmp_path)
    assert [str(p) for p in article_files(tmp_path)] == sorted(files.values())


def test_adding_again_skips_everything_without_reading_it_twice(filled, library, monkeypatch):
    archive, first, _ = filled
    count = archive.store.count()
    calls, add = [], library.add
    monkeypatch.setattr(library, "add", lambda data, name, **k: calls.append(name) or add(data, name, **k))
    again = add_folder(archive, archive.library.folder.parent / "articles")
    assert again.added == [] and sorted(again.skipped) == sorted(first.added) and len(again.failed) == 1
    assert calls == ["broken.pdf"] and archive.store.count() == count  # only the file that failed is tried again


def test_a_kill_9_in_mid_ingest_loses_nothing_and_stores_nothing_twice(tmp_path):
    """A real SIGKILL: the child dies after the second article's passages are in the engine but before its marker."""
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from qdrant_client import QdrantClient
        from tests.conftest import DEFAULT_TEXT, FakeEmbedder
        from tests.test_archive import write_folder
        from assistant import Assistant
        from assistant.archive import Archive, add_folder
        from assistant.library import Library

        tmp = Path({str(tmp_path)!r})
        (tmp / "default.txt").write_text(DEFAULT_TEXT)
        fake = FakeEmbedder()
        library = Library(Assistant.from_article(tmp / "default.txt", embedder=fake), tmp / "library", embedder=fake)
        write_folder(tmp / "articles")
        markers = []
        upsert = QdrantClient.upsert

        def dying(self, collection_name, *args, **kwargs):
            if collection_name.startswith("articles_"):
                markers.append(collection_name)
                if len(markers) == 2:
                    os.kill(os.getpid(), signal.SIGKILL)
            return upsert(self, collection_name, *args, **kwargs)

        QdrantClient.upsert = dying
        add_folder(Archive(library), tmp / "articles")
    """)
    died = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert died.returncode == -9, died.stderr
    from tests.conftest import FakeEmbedder

    fake = FakeEmbedder()
    library = Library(Assistant.from_article(tmp_path / "default.txt", embedder=fake), tmp_path / "library",
                      embedder=fake)  # fmt: skip
    archive = Archive(library)
    assert len(archive.store.stored()) == 1  # the first article only: the second was never marked
    report = add_folder(archive, tmp_path / "articles")
    ids = ids_by_name(library)
    assert len(ids) == 5 and len(report.failed) == 1
    assert len(report.added) + len(report.skipped) == 5
    assert archive.store.stored() == set(ids.values())
    passages = sum(len([c for c in library.get(i).index.chunks if not c.metadata]) for i in ids.values())
    assert archive.store.count() == passages  # every passage once: the second article's were written over
    assert len({e.id for e in library.entries()}) == len(library.entries()) == 6


# ---- asking every article -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "name", "words"),
    [
        ("How much did the work cost and who paid for it?", "harbour", "4.2 million euros"),
        ("How many books will the new library hold?", "library", "80,000 books"),
        ("What did engineers find in the bridge cables?", "bridge", "cracks in two of its steel cables"),
        ("Who won a second term as mayor of Lindholm?", "election", "Karin Berg"),
        ("How many visitors do the festival organisers expect?", "festival", "forty thousand visitors"),
    ],
)
def test_the_archive_answers_from_the_right_article(filled, library, question, name, words):
    archive, _, _ = filled
    answer = archive.ask(question)
    assert not answer.abstained
    best = answer.passages[0]
    assert best.article.id == ids_by_name(library)[name] == answer.article.id
    assert words in best.text and all(p.article is not None for p in answer.passages)
    assert best.highlight.text == best.text[best.highlight.start : best.highlight.end]


def test_each_quote_names_its_article_title_date_and_source(filled, library):
    archive, _, _ = filled
    answer = archive.ask("Who won a second term as mayor of Lindholm?")
    best = answer.to_dict()["passages"][0]
    assert best["article"]["title"] == "Mayor re-elected in Lindholm"
    assert (best["article"]["date"], best["article"]["source"]) == ("2025-03-09", "Nordic Wire")
    assert "Mayor re-elected in Lindholm (2025-03-09, Nordic Wire), ¶" in answer.text


def test_an_archive_answer_gives_k_passages_as_one_article_does(filled, library):
    """The archive quotes at least as many passages as the answering article alone would (the weak ones named, not
    quoted), up to k, best first."""
    archive, _, _ = filled
    question = "Who won a second term as mayor of Lindholm?"
    article = library.get(ids_by_name(library)["election"])
    for k in (1, 2, 5):
        alone, answer = article.ask(question, k=k), archive.ask(question, k=k)
        assert len(alone.passages) <= len(answer.passages) <= k and len(alone.passages) == min(k, 2)
        assert answer.passages[0].text == alone.passages[0].text
        assert [p.score for p in answer.passages] == sorted((p.score for p in answer.passages), reverse=True)


@pytest.mark.parametrize("question", ["Who won a second term as mayor of Lindholm?", "What did engineers find?",
                                      "Which planet has the largest moon?", "How much did the work cost?"])
def test_quotes_are_asked_only_of_the_articles_that_answer_and_the_answer_is_the_same(filled, library, question):
    """Stage two asks each candidate for its verdict first (k=1), then the k quotes of those merged: the answer is
    the one merging every candidate's full answer would give."""
    from assistant.archive.search import merge

    archive, _, _ = filled
    full = [library.get(i).judged(AskRequest.of(question, k=5, article=i)) for i in archive.candidates(question)]
    assert archive.ask(question, k=5).to_dict() == merge(question, full, 5).to_dict()


def test_the_default_article_is_part_of_the_archive(filled, library):
    archive, _, _ = filled
    answer = archive.ask("Which countries held naval exercises with Japan?")
    assert not answer.abstained and answer.passages[0].article.id == library.default_id


def test_a_question_no_article_answers_abstains(filled):
    archive, _, _ = filled
    answer = archive.ask("Which planet has the largest moon?")
    assert answer.abstained and len(answer.passages) <= 1
    assert answer.text.startswith("No article in the archive answers this question.")


def test_a_scope_list_restricts_the_articles(filled, library):
    archive, _, _ = filled
    ids = ids_by_name(library)
    question = "How many books will the new library hold?"
    within = archive.ask(question, scope=[ids["bridge"], ids["festival"]])
    assert all(p.article.id in (ids["bridge"], ids["festival"]) for p in within.passages)
    assert archive.ask(question, scope=[ids["library"]]).passages[0].article.id == ids["library"]
    with pytest.raises(UnknownArticle):
        archive.ask(question, scope=["0123456789abcdef"])
    with pytest.raises(QuestionError, match="scope"):
        archive.ask(question, scope="everything")


def test_one_article_answers_keep_their_json(filled, library):
    """Backward compatible: an answer about one article has no per-passage article, as before."""
    answer = library.get(ids_by_name(library)["bridge"]).ask("What did engineers find?")
    assert list(answer.to_dict()["passages"][0]) == ["paragraph", "paragraphs", "text", "score", "highlight", "short"]
    with pytest.raises(QuestionError, match="scope"):
        library.default.reply(_request(scope="all"))


def _request(**fields):
    from assistant.question import AskRequest

    return AskRequest(question="What did engineers find?", **fields)


def test_articles_added_later_any_way_join_and_deleted_ones_leave(filled, library):
    archive, _, _ = filled
    entry, _ = library.add(b"The lighthouse of Cabo Alto was painted red and white in April.\n", "lighthouse.txt")
    answer = archive.ask("What colours was the lighthouse painted?")
    assert answer.passages[0].article.id == entry.id and not answer.abstained
    library.delete(entry.id)
    answer = archive.ask("What colours was the lighthouse painted?")
    assert all(p.article.id != entry.id for p in answer.passages) and entry.id not in archive.store.stored()


def test_the_engine_is_found_by_flag_then_variable_then_beside_the_library(tmp_path, monkeypatch):
    monkeypatch.delenv("ASSISTANT_ENGINE", raising=False)
    assert engine_location(None, tmp_path) == str(tmp_path / ".archive")
    monkeypatch.setenv("ASSISTANT_ENGINE", "http://localhost:6333")
    assert engine_location(None, tmp_path) == "http://localhost:6333"
    assert engine_location(tmp_path / "elsewhere", tmp_path) == str(tmp_path / "elsewhere")


def test_an_embedded_engine_open_elsewhere_says_what_to_do(tmp_path):
    first = PassageStore(tmp_path / "engine", "fake", 4)
    try:
        code = f"from assistant.archive import PassageStore; PassageStore({str(tmp_path / 'engine')!r}, 'fake', 4)"
        other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
        assert other.returncode != 0 and "--engine URL" in other.stderr and "LibraryError" in other.stderr
    finally:
        first.close()
    with pytest.raises(LibraryError, match="cannot reach the Qdrant server"):
        PassageStore("http://127.0.0.1:9", "fake", 4)


# ---- HTTP -------------------------------------------------------------------------------------------------------


@pytest.fixture
def client(filled, library):
    from fastapi.testclient import TestClient

    from assistant.server.app import create_app

    with TestClient(create_app(library, chat=False)) as c:
        yield c


def test_http_ask_with_scope_all_and_a_list(client, library):
    ids = ids_by_name(library)
    body = {"question": "How many books will the new library hold?", "scope": "all"}
    response = client.post("/api/ask", json=body)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["passages"][0]["article"]["id"] == ids["library"] == answer["article"]["id"]
    answer = client.post("/api/ask", json=body | {"scope": [ids["bridge"]]}).json()
    assert {p["article"]["id"] for p in answer["passages"]} <= {ids["bridge"]}
    plain = client.post("/api/ask", json={"question": "what exercises did Japan join"}).json()
    assert "article" not in plain["passages"][0]  # no scope: one article, the JSON as before


@pytest.mark.parametrize(
    ("scope", "status", "words"),
    [
        ("everything", 422, "scope"),
        ([], 422, "scope"),
        (["not-an-id"], 422, "scope[0]"),
        (42, 422, "scope"),
        ([{"id": 1}], 422, "scope[0]"),
        (["0123456789abcdef"], 404, "no article 0123456789abcdef"),
    ],
)
def test_http_bad_scopes_get_a_clear_4xx(client, scope, status, words):
    response = client.post("/api/ask", json={"question": "Who won?", "scope": scope})
    assert response.status_code == status and words in response.json()["detail"]


def test_http_scope_and_article_together_are_refused(client, library):
    body = {"question": "Who won?", "scope": "all", "article": library.default_id}
    response = client.post("/api/ask", json=body)
    assert response.status_code == 422 and "not both" in response.json()["detail"]


# ---- the chat page ----------------------------------------------------------------------------------------------


def test_the_page_toggle_asks_every_article_and_opens_the_best_answers(filled, library):
    from assistant.chat import build_app
    from assistant.chat.turn import Chat
    from assistant.server.engine import Engine

    app = build_app(Engine(library))
    send = next(f.fn for f in app.fns.values() if getattr(f.fn, "__name__", "") == "send")
    question = "Who won a second term as mayor of Lindholm?"
    _, shown, _, pane, *_ = send(question, Chat(), library.default_id, True)
    assert "Mayor re-elected in Lindholm (2025-03-09, Nordic Wire)" in shown[-1]["content"]
    assert "Karin Berg" in pane and "qa-para cited" in pane and "naval exercises" not in pane
    _, shown, _, pane, *_ = send(question, Chat(), library.default_id, False)  # the toggle off: this article only
    assert "naval exercises" in pane and "Nordic Wire" not in shown[-1]["content"]


# ---- the command line (the real model) -------------------------------------------------------------------------


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "assistant", *args], capture_output=True, text=True, timeout=900)


def test_cli_add_a_folder_then_ask_all(tmp_path, real_embedder):
    write_folder(tmp_path / "articles")
    library = str(tmp_path / "library")
    added = run("add", str(tmp_path / "articles"), "--library", library)
    assert added.returncode == 1, added.stderr  # one file could not be added
    assert "added 5, already there 0, could not add 1" in added.stdout and "broken.pdf" in added.stdout
    assert "adding" in added.stderr  # the progress bar: one for the folder, no article's own lines or bars
    assert f"into {library}" not in added.stderr and "embedding sentences" not in added.stderr  # (the bundled
    # article's own index, built on a first run, may say "indexing")
    assert "skipped" in added.stderr and "broken.pdf" in added.stderr  # warnings still show, above the bar
    again = run("add", str(tmp_path / "articles"), "--library", library, "--json")
    assert len(json.loads(again.stdout)["skipped"]) == 5
    done = run("ask", "--all", "How many books will the new library hold?", "--library", library, "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["passages"][0]["article"]["title"] == "New library for Valdemar" and not answer["abstained"]
    assert "80,000 books" in answer["passages"][0]["text"]
    text = run("ask", "--all", "Who won a second term as mayor of Lindholm?", "--library", library)
    assert text.returncode == 0 and "Karin Berg" in text.stdout and "Mayor re-elected in Lindholm" in text.stdout


def test_the_shipped_archive_model_trusts_higher_scores_and_margins_more():
    """calibration.json's archive model (bench/archive.py fit): a better passage score or a wider margin over the
    article's own threshold never makes an answer less trusted, and a weak answer of a barely answering article is
    left out while a strong one joins."""
    from assistant.scoring import CALIBRATION, archive_log_odds

    model = CALIBRATION["archive"]
    assert all(w > 0 for w in model["weights"].values())
    assert archive_log_odds(0.3, 0.2, model) < 0 < archive_log_odds(0.95, 4.0, model)
    assert archive_log_odds(0.6, 1.0, model) < archive_log_odds(0.8, 1.0, model) < archive_log_odds(0.8, 2.0, model)
