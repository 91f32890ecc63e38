"""The Python API end to end: the fake embedder for exact behaviour, the real model on the default article."""

from __future__ import annotations

import pytest

from assistant import Answer, Assistant, QuestionError
from assistant.question import MAX_QUESTION_CHARS, AskRequest

EXERCISES = (
    "Last week, Japan conducted joint naval exercises with the U.S., Canada and the Philippines in the South China Sea."
)
FIGHTER = "Last year saw Tokyo sign a treaty to establish a programme to develop an advanced fighter jet alongside Britain and Italy."


def test_default_article_exercises_question(real_bot):
    answer = real_bot.ask("what exercises did Japan join")
    top = answer.passages[0]
    assert not answer.abstained
    assert (top.paragraph, top.paragraphs) == (8, (8, 14))
    assert top.highlight.text == EXERCISES
    assert top.text[top.highlight.start : top.highlight.end] == EXERCISES
    assert answer.short is not None and answer.short.text in EXERCISES
    assert answer.text.startswith(f"Answer: {answer.short.text}\n{EXERCISES} (¶8, also ¶14)")  # the short answer first


def test_default_article_fighter_jet_question(real_bot):
    answer = real_bot.ask("Which countries is Japan building a fighter jet with?")
    assert answer.passages[0].paragraphs == (5, 11)
    assert answer.passages[0].highlight.text == FIGHTER


@pytest.mark.parametrize(
    "question",
    [
        "What is the capital of France?",
        "Give me a recipe for chocolate cake",
        "asdkjh qwpoeiru zmxncb",
        "Who won the 2018 football World Cup?",
        "How do I reset my password?",
    ],
)
def test_off_topic_questions_abstain(real_bot, question):
    answer = real_bot.ask(question)
    assert answer.abstained
    assert answer.text.startswith("The article does not answer this question.")
    assert len(answer.passages) <= 1


@pytest.mark.parametrize(
    "question",
    ["what exercises did Japan join", "Why has Tokyo boosted defense spending?", "What is the capital of France?",
     "Who won the 2018 football World Cup?"],
)
def test_judged_gives_the_answer_and_a_margin_whose_sign_is_the_abstention(real_bot, question):
    """Assistant.judged: reply's answer, and how far the article's log-odds clear its threshold (the archive weighs
    articles by it): below zero exactly when it abstains."""
    answer, margin = real_bot.judged(AskRequest.of(question))
    assert answer == real_bot.ask(question)
    assert answer.abstained == (margin < 0)
    assert abs(margin) < 20


@pytest.mark.parametrize(
    "question", ["Which news agency is this article from?", "Who reported this?", "Who published this?"]
)
def test_source_question_reaches_the_source_line(real_bot, question):
    answer = real_bot.ask(question)
    assert answer.passages[0].paragraph == 15
    assert answer.passages[0].text == "Source: Reuters" and not answer.abstained


def test_source_line_never_outranks_content(real_bot):
    questions = ["what exercises did Japan join", "What did the EU official say?", "Who commented on the report?",
                 "Who reported the talks with the U.S.?"]  # fmt: skip
    for question in questions:
        assert 15 not in [p.paragraph for p in real_bot.ask(question, k=10).passages]


def test_every_quote_is_verbatim_and_never_repeated(real_bot):
    text = real_bot.article.text
    for question in [
        "what exercises did Japan join",
        "Why is Tokyo spending more on defense?",
        "What is the capital of France?",
    ]:
        answer = real_bot.ask(question, k=10)
        quoted = [p.text for p in answer.passages]
        assert len(quoted) == len(set(quoted))
        for p in answer.passages:
            assert p.text in text
            assert p.text[p.highlight.start : p.highlight.end] == p.highlight.text
            assert text[real_bot.article.paragraphs[p.paragraph - 1].start :].startswith(p.text)


def test_to_dict_is_the_shared_contract(real_bot):
    d = real_bot.ask("what exercises did Japan join", k=2).to_dict()
    assert list(d) == ["question", "answer", "abstained", "passages", "short", "verdict", "article"]
    assert d["article"] == {"id": real_bot.article.id, "name": "article.txt", "format": "text", "title": None,
                            "author": None, "date": None, "source": "Reuters", "url": None, "paragraphs": 15}
    assert list(d["passages"][0]) == ["paragraph", "paragraphs", "text", "score", "highlight", "short"]
    assert d["short"] == d["passages"][0]["short"] and d["verdict"] is None
    assert d["passages"][0]["paragraphs"] == [8, 14]
    assert set(d["passages"][0]["highlight"]) == {"start", "end", "text"}
    assert 0 <= d["passages"][1]["score"] <= d["passages"][0]["score"] <= 1


def test_follow_up_uses_the_previous_question(real_bot):
    for first in ("Which countries joined Japan's naval exercises?", "what exercises did Japan join"):
        answer = real_bot.ask("Where did they take place?", history=[first])
        assert answer.passages[0].paragraph == 8 and not answer.abstained, first
        assert "in the South China Sea" in answer.passages[0].highlight.text
    treaty = real_bot.ask("When was that treaty signed?", history=["Who is Japan developing a fighter jet with?"])
    assert treaty.passages[0].paragraph == 5 and not treaty.abstained


@pytest.mark.parametrize(
    ("first", "follow_up"),
    [("Why is Japan worried about China?", "what about Russia?"),
     ("Which countries joined Japan's naval exercises?", "What did they eat there?"),
     ("Who is Japan developing a fighter jet with?", "How much does it cost?")],
)  # fmt: skip
def test_follow_up_the_article_does_not_answer_abstains(real_bot, first, follow_up):
    assert real_bot.ask(follow_up, history=[first]).abstained


def test_self_contained_question_is_not_dragged_by_history(real_bot):
    answer = real_bot.ask("What did the EU official say?", history=["Which countries joined Japan's naval exercises?"])
    assert answer.passages[0].paragraph == 2


def test_model_is_loaded_once(real_bot, monkeypatch):
    from assistant import embed

    monkeypatch.setattr(embed, "load_embedder", lambda *a, **k: pytest.fail("model reloaded"))
    for q in ["what exercises did Japan join", "Who is Tokyo worried about?"]:
        assert isinstance(real_bot.ask(q), Answer)


@pytest.mark.parametrize(
    ("question", "message"),
    [
        ("", "question: is empty"),
        ("   \n\t", "question: is empty"),
        ("?!?! ...", "has no words"),
        ("x" * (MAX_QUESTION_CHARS + 1), "the limit is 2,000"),
        ("what\x00exercises", "NUL"),
        ("what \ud800 exercises", "surrogate"),
        (None, "must be text"),
    ],
)
def test_bad_questions_are_clear_errors(question, message):
    with pytest.raises(QuestionError, match=message):
        AskRequest.of(question)


def test_bad_k_and_history(tmp_path, fake):
    path = tmp_path / "a.txt"
    path.write_text("Japan held naval exercises.\nThe EU wants a pact.\n")
    bot = Assistant.from_article(path, embedder=fake)
    for k in (0, -1, 11, "3", 2.5, True):
        with pytest.raises(QuestionError, match="k: must be"):
            bot.ask("naval exercises", k=k)
    with pytest.raises(QuestionError, match="history"):
        bot.ask("naval exercises", history="not a list")
    with pytest.raises(QuestionError, match="limit is 20"):
        bot.ask("naval exercises", history=["q"] * 21)
    assert len(bot.ask("naval exercises", k=10).passages) == 2  # only real passages, however large k is


def test_questions_only_of_unknown_tokens_are_refused(real_bot):
    with pytest.raises(QuestionError, match="has no word the model knows"):
        real_bot.ask("𓀀𓀁𓀂")
