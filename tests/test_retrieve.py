"""Retrieval: the candidate path used for long articles agrees with exhaustive scoring."""

from __future__ import annotations

import numpy as np
import pytest

from assistant import Assistant, retrieve
from assistant.retrieve import Retriever

ARTICLE = "\n".join(
    f"Paragraph {i} tells of {topic}. It adds a second sentence about {topic} and {other}."
    for i, (topic, other) in enumerate(
        [("naval drills", "Canada"), ("fighter jets", "Britain"), ("ship repairs", "Washington"),
         ("the Taiwan strait", "China"), ("defense budgets", "Tokyo"), ("a ministerial deal", "Brussels")] * 4
    )
)  # fmt: skip


@pytest.fixture
def bot(tmp_path, fake):
    path = tmp_path / "long.txt"
    path.write_text(ARTICLE + "\nPlus one closing remark.\n")
    return Assistant.from_article(path, embedder=fake)


@pytest.mark.parametrize("question", ["naval drills with Canada", "who repairs ships in Washington", "Taiwan"])
def test_candidates_that_cover_the_article_rank_like_exhaustive_scoring(bot, monkeypatch, question):
    exhaustive = bot.retriever.rank(question)
    monkeypatch.setattr(retrieve, "EXHAUSTIVE_UP_TO", 0)
    monkeypatch.setattr(retrieve, "CANDIDATES", len(bot.index.chunks))
    candidate = Retriever(bot.index, bot.embedder)
    assert not candidate.exhaustive
    ranked = candidate.rank(question)
    assert ranked.order == exhaustive.order
    assert np.allclose(ranked.fused, exhaustive.fused, atol=1e-5)


def test_few_candidates_score_only_those(bot, monkeypatch):
    monkeypatch.setattr(retrieve, "EXHAUSTIVE_UP_TO", 0)
    monkeypatch.setattr(retrieve, "CANDIDATES", 3)
    ranked = Retriever(bot.index, bot.embedder).rank("fighter jets with Britain")
    assert "tells of fighter jets" in bot.index.chunks[ranked.order[0]].text
    scored = ranked.passage["late"] > -1
    assert 3 <= scored.sum() <= 6  # FAISS's 3 and BM25's 3, which may overlap
