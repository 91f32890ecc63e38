"""Answerability (answer.py): follow-ups carry a bias of their own, fitted on the dev conversations."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from assistant.answer import answerability
from assistant.retrieve import CALIBRATION


def log_odds(p: float) -> float:
    return float(np.log(p / (1 - p)))


def test_a_follow_up_needs_more_evidence_by_its_fitted_bias(real_bot):
    ranking = real_bot.retriever.rank("Which countries joined Japan's naval exercises?")
    assert not ranking.follow_up
    as_follow_up = replace(ranking, follow_up=True)
    bias = CALIBRATION["follow_up"]["bias"]
    assert bias < 0
    drop = log_odds(answerability(as_follow_up, CALIBRATION)) - log_odds(answerability(ranking, CALIBRATION))
    assert drop == pytest.approx(bias, abs=1e-6)


@pytest.mark.parametrize(
    ("question", "history", "follow_up"),
    [("Where did they take place?", ["Which countries joined Japan's naval exercises?"], True),
     ("Where did they take place?", [], False),
     ("What did the EU official say?", ["Which countries joined Japan's naval exercises?"], False)],
)  # fmt: skip
def test_rankings_say_whether_they_leaned_on_the_history(real_bot, question, history, follow_up):
    assert real_bot.retriever.rank(question, history).follow_up is follow_up
