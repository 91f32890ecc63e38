"""Answerability and answer kinds (answer.py): what a follow-up's conversation adds, and what a sentence holds."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.cues import KINDS, question_kinds, sentence_kinds
from assistant.retrieve import FOLLOW_UP_DEPTH
from assistant.scoring import (
    CALIBRATION,
    FOLLOW_UP_FEATURES,
    answerability,
    content_log_odds,
    follow_up_features,
    log_odds,
    threshold,
    threshold_log_odds,
)

EXERCISES = "Which countries joined Japan's naval exercises?"


def kinds(row: np.ndarray) -> set[str]:
    return {k for k, v in zip(KINDS, row, strict=True) if v}


@pytest.mark.parametrize(
    ("question", "asked"),
    [("Where did they take place?", {"place"}), ("When was that treaty signed?", {"time"}),
     ("By when?", {"time"}), ("How many ships took part?", {"number"}), ("With whom?", {"name"}),
     ("What did they eat there?", set())],
)  # fmt: skip
def test_questions_ask_for_kinds_of_answer(question, asked):
    assert kinds(question_kinds(question)) == asked


@pytest.mark.parametrize(
    ("sentence", "held"),
    [("Last week, Japan conducted joint naval exercises with the U.S., Canada and the Philippines in the South "
      "China Sea.", {"time", "name", "place"}),
     ("Last year saw Tokyo sign a treaty to establish a programme.", {"time", "name"}),
     ("The bloc hopes to reach a ministerial agreement by the end of 2024.", {"time", "number"}),
     ("About three thousand people were there.", {"number"}),
     ("it rained.", set())],
)  # fmt: skip
def test_sentences_hold_kinds_of_answer(sentence, held):
    assert kinds(sentence_kinds([sentence])[0]) == held


def test_a_follow_up_is_scored_with_the_ranking_of_the_question_before(real_bot):
    ranking = real_bot.retriever.rank("Where did they take place?", [EXERCISES])
    assert ranking.follow_up and not ranking.previous.follow_up
    assert ranking.previous.order == real_bot.retriever.rank(EXERCISES).order
    x = follow_up_features(ranking, CALIBRATION)
    assert set(x) == set(FOLLOW_UP_FEATURES)
    assert x["same_passage"] == 1.0  # both lead with the exercises paragraph
    assert x["kind_missing"] == 0.0  # "in the South China Sea" is a place
    assert x["previous"] == pytest.approx(
        log_odds(ranking.previous, CALIBRATION) - threshold_log_odds(ranking.previous, CALIBRATION)
    )


def test_a_follow_up_that_only_points_back_at_the_answer_just_given_is_told_apart(real_bot):
    """¶8 is one sentence, which answers "Which countries joined ...?" with "the U.S., Canada and the Philippines":
    asked "Who else joined them?", it has no one new to offer (a repeat, and it declines); asked where, it holds
    a new place. ¶5's treaty sentence answers "Which countries ...?" and, with a date, "When did they sign ...?"."""
    retriever = real_bot.retriever
    told = retriever.told(retriever.rank(EXERCISES))
    assert {"canada", "philippin", "exercis"} <= told  # the answer's words and the question's
    who, where = (retriever.rank(q, [EXERCISES]) for q in ("Who else joined them?", "Where did they take place?"))
    x, y = follow_up_features(who, CALIBRATION), follow_up_features(where, CALIBRATION)
    assert x["same_passage"] == y["same_passage"] == 1.0
    assert x["repeats"] == 1.0 and y["repeats"] == 0.0
    assert CALIBRATION["follow_up"]["weights"]["repeats"] < 0  # dev: pointing back at it, mostly unanswerable
    assert real_bot.ask("Who else joined them?", history=[EXERCISES]).abstained
    warplane = "Which countries is Japan building a new warplane with?"
    deal = real_bot.ask("When did they sign that deal?", history=[warplane])
    assert not deal.abstained and deal.passages[0].paragraph == 5 and deal.short.text == "Last year"
    assert follow_up_features(retriever.rank("When did they sign that deal?", [warplane]), CALIBRATION)["repeats"] == 0


def test_a_follow_up_asking_for_what_the_sentence_lacks_is_flagged(real_bot):
    ranking = real_bot.retriever.rank("How many ships did they send?", [EXERCISES])
    assert follow_up_features(ranking, CALIBRATION)["kind_missing"] == 1.0


def test_the_follow_up_model_weighs_the_content_models_margin_and_the_conversation(real_bot):
    ranking = real_bot.retriever.rank("Where did they take place?", [EXERCISES])
    model = CALIBRATION["follow_up"]
    x = follow_up_features(ranking, CALIBRATION)
    limit = np.log(threshold(ranking, CALIBRATION) / (1 - threshold(ranking, CALIBRATION)))
    assert threshold_log_odds(ranking, CALIBRATION) == pytest.approx(limit)
    assert x["margin"] == pytest.approx(content_log_odds(ranking, CALIBRATION) - limit)
    shift = model["bias"] + sum(model["weights"][f] * x[f] for f in FOLLOW_UP_FEATURES)
    assert log_odds(ranking, CALIBRATION) == pytest.approx(limit + shift)
    alone = real_bot.retriever.rank("Where did they take place?")
    assert log_odds(alone, CALIBRATION) == pytest.approx(content_log_odds(alone, CALIBRATION))
    assert x["alone"] == 0.0 and x["own_words"] == 0.0  # no words of its own: the question alone says nothing
    own = real_bot.retriever.rank("When did those naval exercises take place?", [EXERCISES])
    assert own.follow_up  # "those" points back
    y = follow_up_features(own, CALIBRATION)
    alone_own = real_bot.retriever.rank("When did those naval exercises take place?")
    assert y["own_words"] == 1.0
    assert y["alone"] == pytest.approx(content_log_odds(alone_own, CALIBRATION) - limit)


def test_a_question_that_names_its_subject_is_answered_whatever_came_before(real_bot):
    history = ["Which navies did Japan train with recently?", "Where did that happen?"]
    answer = real_bot.ask("Is Japan allowed to wage war under its constitution?", history=history)
    assert not answer.abstained and answer.passages[0].paragraph == 4


def test_a_follow_up_on_a_question_the_article_answers_is_likelier_answered(real_bot):
    covered = real_bot.retriever.rank("When did they happen?", [EXERCISES])
    uncovered = real_bot.retriever.rank("When did they happen?", ["Which countries joined the Olympic boycott?"])
    assert answerability(covered, CALIBRATION) > answerability(uncovered, CALIBRATION)


def test_a_chain_of_follow_ups_reaches_back_a_bounded_way(real_bot):
    history = [EXERCISES] + ["What did their navies practise?", "Which of their ships sailed?"] * 5
    ranking, depth = real_bot.retriever.rank("Why did they go?", history), 0
    while ranking.previous is not None:
        ranking, depth = ranking.previous, depth + 1
    assert depth == FOLLOW_UP_DEPTH


def test_a_chain_of_follow_ups_without_words_of_their_own_keeps_its_topic(real_bot):
    chain = [EXERCISES, "Where did they take place?"]
    ranking = real_bot.retriever.rank("When did they happen?", chain)
    assert ranking.previous.query is real_bot.retriever.query(EXERCISES)  # it leans on the exercises question
    answer = real_bot.ask("When did they happen?", history=chain)
    assert not answer.abstained and answer.passages[0].paragraph == 8
    assert answer.passages[0].highlight.text.startswith("Last week")


def test_a_follow_up_with_words_of_its_own_is_what_the_next_one_leans_on(real_bot):
    chain = ["Who is Japan developing a fighter jet with?", "When was that treaty signed?"]
    ranking = real_bot.retriever.rank("When was it signed?", chain)
    assert ranking.previous.previous is not None  # "that treaty", itself scored after the fighter jet
    assert real_bot.index.chunks[ranking.order[0]].paragraph == 5


@pytest.mark.parametrize(
    ("question", "history", "follow_up"),
    [("Where did they take place?", [EXERCISES], True),
     ("Where did they take place?", [], False),
     ("What did the EU official say?", [EXERCISES], False),
     ("Who took part?", [EXERCISES], True)],
)  # fmt: skip
def test_rankings_say_whether_they_leaned_on_the_history(real_bot, question, history, follow_up):
    assert real_bot.retriever.rank(question, history).follow_up is follow_up
