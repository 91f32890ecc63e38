"""BM25 precomputed by bm25s and scored with numpy: the same scores as bm25s itself, saved without pickle."""

import bm25s
import numpy as np
import pytest

from assistant.lexical import Lexical

TEXTS = [
    "Japan held naval exercises with Canada and the Philippines.",
    "The EU wants a defense pact with Japan; Japan's ministry declined to comment.",
    "Exercises in the South China Sea worried Beijing.",
    "",
]


def test_scores_equal_bm25s_get_scores():
    lexical = Lexical.build(TEXTS)
    docs = [lexical.terms(t) for t in TEXTS]
    vocab: dict[str, int] = {}
    ids = [[vocab.setdefault(t, len(vocab)) for t in d] for d in docs]
    reference = bm25s.BM25(k1=1.2, b=0.75)
    reference.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), show_progress=False)
    for question in [
        "naval exercises Japan",
        "Japan's defense ministry",
        "South China Sea exercises exercises",
        "nothing",
    ]:
        terms = lexical.terms(question)
        known = [vocab[t] for t in dict.fromkeys(terms) if t in vocab]
        expected = reference.get_scores(known) if known else np.zeros(len(TEXTS))
        assert np.allclose(lexical.scores(terms), expected, atol=1e-5)


def test_terms_are_stemmed_without_stopwords():
    assert Lexical.build(["x"]).terms("The exercises with Japan's navy") == ["exercis", "japan", "s", "navi"]


def test_save_and_load_round_trip(tmp_path):
    lexical = Lexical.build(TEXTS)
    lexical.save(tmp_path, "bm25")
    loaded = Lexical.load(tmp_path, "bm25")
    assert loaded.vocab == lexical.vocab and loaded.stop == lexical.stop
    assert np.array_equal(loaded.scores(["japan", "exercis"]), lexical.scores(["japan", "exercis"]))
    np.load(tmp_path / "bm25.npz", allow_pickle=False).close()


def test_empty_corpus_scores_zero():
    assert Lexical.build(["", "the a"]).scores(["japan"]).tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    ("question", "content"),
    [("Where did they take place?", []), ("When did it happen?", []), ("By when?", []),
     ("What did they eat there?", ["eat"]), ("How many ships took part?", ["ship"]),
     ("Which countries joined Japan's naval exercises?", ["countri", "join", "japan", "naval", "exercis"])],
)  # fmt: skip
def test_content_terms_leave_out_question_words_pronouns_and_event_verbs(question, content):
    assert Lexical.build(["x"]).content_terms(question) == content
