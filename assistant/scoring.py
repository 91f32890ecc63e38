"""Scoring policy: the fitted calibration, and every formula that reads it. The engine and bench/tune.py (which
fits the numbers) both call these, so what is fitted is what runs.

- fusion: signals standardized over the article's passages, summed with fitted weights;
- sentence choice: standardized sentence signals plus whether the sentence holds the kind of answer asked, and a
  phrase of the asked type that the question does not already contain;
- short answers: a linear score over each candidate phrase's features (spans.py), the best phrase shown;
- answerability: a logistic model on the best passage's signals, plus a second term for follow-ups;
- abstention: a threshold fitted at two article sizes, interpolated in log(passages);
- questions about the article itself: answered from its metadata lines unless the content answers them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .retrieve import Query, Ranking

CALIBRATION: dict = json.loads(Path(__file__).with_name("calibration.json").read_text(encoding="utf-8"))
"""Every fitted number, written by bench/tune.py on SQuAD dev (it records the command and the data)."""

PASSAGE_FEATURES = ("dense_sentence", "late", "late_sentence", "bm25", "bm25_sentence", "typed_phrase", "e5")
"""e5 last: the fusion without it (long articles) fits the others."""
SENTENCE_FEATURES = ("dense", "late", "bm25")
SENTENCE_WEIGHTS = (*SENTENCE_FEATURES, "answer_type", "typed_phrase")
ANSWERABLE_FEATURES = ("dense_sentence", "late", "late_sentence", "coverage", "dense_sentence_mean", "late_mean")
ANSWERABLE_FEATURES_E5 = (*ANSWERABLE_FEATURES, "e5", "e5_mean")
"""With e5 passage vectors (articles up to store.E5_UP_TO passages), the answerability model reads e5 too."""
FOLLOW_UP_FEATURES = ("margin", "kind_missing", "previous", "same_passage", "repeats", "alone", "own_words")


def standardize(x: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """z-scores over the masked rows (all rows without a mask); the others get the lowest score."""
    values = x if mask is None else x[mask]
    spread = values.std() if len(values) > 1 else 0.0
    z = (x - values.mean()) / (spread if spread > 1e-9 else 1.0)
    return z if mask is None else np.where(mask, z, -1e3)


def passage_weights(with_e5: bool, calibration: dict = CALIBRATION) -> dict[str, float]:
    """The fusion weights for an index with e5 passage vectors, or without them (long articles)."""
    return calibration["passage"]["weights" if with_e5 else "weights_without_e5"]


def fuse(signals: Mapping[str, np.ndarray], weights: Mapping[str, float], mask: np.ndarray) -> np.ndarray:
    """The fused passage score: each signal standardized over the masked (scored) passages, weighted, summed."""
    return sum(weights[f] * standardize(signals[f], mask) for f in signals)


def share(fused: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Share of belief per passage among the masked ones (a softmax; the others get 0)."""
    e = np.where(mask, np.exp(fused - fused[mask].max()), 0.0)
    return e / e.sum()


# ---- answerability ----------------------------------------------------------------------------------------------


def answerable_features(passage: Mapping[str, np.ndarray], top: int, coverage: float,
                        content: np.ndarray) -> dict[str, float]:  # fmt: skip
    """What the answerability model reads: the best passage's signals, the share of the question's content words the
    article knows, and how well the article matches on average (a question that matches every passage a little,
    matches none in particular)."""
    x = {f: float(v[top]) for f, v in passage.items()}
    x["coverage"] = coverage
    for f in ("dense_sentence", "late", "e5"):
        if f in passage:
            x[f"{f}_mean"] = float(passage[f][content].mean())
    return x


def answerable_model(ranking: Ranking, calibration: dict = CALIBRATION) -> dict:
    """The answerability model for this ranking's index: with e5's signals, or without them (a long article)."""
    if "e5" not in ranking.passage and "answerable_without_e5" in calibration:
        return calibration["answerable_without_e5"]
    return calibration["answerable"]


def content_log_odds(ranking: Ranking, calibration: dict = CALIBRATION) -> float:
    """Log-odds that the article answers, from its best passage alone (fitted on self-contained questions)."""
    model = answerable_model(ranking, calibration)
    x = answerable_features(ranking.passage, ranking.order[0], ranking.coverage, ranking.content)
    return model["bias"] + sum(w * x[f] for f, w in model["weights"].items())


def follow_up_weight(query: Query, calibration: dict = CALIBRATION) -> float:
    """How much of the question before a follow-up borrows: fitted apart for one with words of its own ("When did
    they sign that deal?") and one without ("Who else?", "Where did that happen?"), which has nothing else to go by."""
    model = calibration["follow_up"]
    return model["weight"] if query.has_own_words else model.get("weight_without_words", model["weight"])


def follow_up_features(ranking: Ranking, calibration: dict = CALIBRATION) -> dict[str, float]:
    """What a follow-up's conversation says about its answer, beyond the words it borrows from the question before
    (margins are log-odds over the abstention threshold's, so that they mean the same at every article size):

    - margin: how much its best passage, scored with the borrowed words, clears the threshold as a self-contained
      question's would; weighed by the follow-up model, since a follow-up with no words of its own matches weakly
      however right its passage is;
    - kind_missing: it asks for a kind of answer (a time, a place, a number, a name) that the sentence it would
      quote does not hold ("How many ships did they send?" of a sentence without a number);
    - previous: how much the question before cleared the threshold (a follow-up on a question the article does not
      answer is rarely answered either);
    - same_passage: its best passage is the one the question before was answered from, where conversations
      mostly stay;
    - repeats: it would quote the very sentence that answered the question before, and that sentence holds no
      phrase of the asked type new to the conversation (Ranking.fresh): a follow-up asks for something new, and
      one that can only point back at what was just quoted ("Who else aired it?" where one station is named) is,
      on the dev conversations, mostly one the article does not answer;
    - alone: for a question with words of its own, how much it clears the threshold without the conversation
      ("Is Japan allowed to wage war under its constitution?" needs no question before it); 0 for one without;
    - own_words: whether it has content words of its own ("What did they eat there?" asks about eating, which
      the article may never mention; "Who else?" has none and can only go by the conversation).
    """
    top, previous, alone = ranking.order[0], ranking.previous, ranking.alone
    sentence = best_sentence(ranking, top, calibration)
    row = ranking.first_sentence[top] + sentence
    held = ranking.sentence_kinds[row]
    same_passage = top == previous.order[0]
    own_words = alone.query.has_own_words
    limit = threshold_log_odds(ranking, calibration)  # the question before and alone are ranked on the same index
    return {
        "margin": content_log_odds(ranking, calibration) - limit,
        "kind_missing": float(ranking.asks.any() and not held @ ranking.asks > 0),
        "previous": log_odds(previous, calibration) - limit,
        "same_passage": float(same_passage),
        "repeats": float(same_passage and sentence == best_sentence(previous, top, calibration)
                         and not ranking.fresh[row]),
        "alone": content_log_odds(alone, calibration) - limit if own_words else 0.0,
        "own_words": float(own_words),
    }


def log_odds(ranking: Ranking, calibration: dict = CALIBRATION) -> float:
    """Log-odds that the article answers: how well its best passage matches; for a follow-up, a model of its own
    over that match's margin and what the conversation says (follow_up_features), placed against the same
    threshold."""
    if ranking.previous is None:
        return content_log_odds(ranking, calibration)
    model = calibration["follow_up"]
    x = follow_up_features(ranking, calibration)
    return threshold_log_odds(ranking, calibration) + model["bias"] + sum(w * x[f] for f, w in model["weights"].items())


def margin(ranking: Ranking, calibration: dict = CALIBRATION) -> float:
    """How far the article's log-odds of answering clear its abstention threshold (negative when it abstains)."""
    return log_odds(ranking, calibration) - threshold_log_odds(ranking, calibration)


def archive_log_odds(score: float, margin: float, model: Mapping) -> float:
    """Log-odds, over the archive's bar, that one article's answer to an archive question is right: from its best
    passage's score and its margin over its own threshold. A question no article holds still finds its nearest
    articles, one of which often clears its own threshold; fitted on the SQuAD dev articles as one archive with
    some held out (bench/archive.py fit), its bar set for at most 3% false answers on the held-out ones; model is
    calibration.json's "archive"."""
    x = archive_features(score, margin)
    return model["bias"] + sum(w * x[f] for f, w in model["weights"].items())


def archive_features(score: float, margin: float) -> dict[str, float]:
    """What the archive model reads: the best passage's score as log-odds (clipped off 0 and 1), and the margin."""
    score = min(max(score, 1e-4), 1 - 1e-4)
    return {"logit_score": float(np.log(score / (1 - score))), "margin": float(margin)}


def answerability(ranking: Ranking, calibration: dict = CALIBRATION) -> float:
    """Probability that the article answers the question at all."""
    return float(1.0 / (1.0 + np.exp(-log_odds(ranking, calibration))))


def threshold(ranking: Ranking, calibration: dict = CALIBRATION) -> float:
    """The answerability below which to abstain, for an article of this many passages: fitted at two sizes
    (news-sized and whole SQuAD articles) and interpolated in log(passages), since the best of more passages
    matches better by chance."""
    passages = len(ranking.order)
    (n0, t0), (n1, t1) = answerable_model(ranking, calibration)["thresholds"]
    return float(np.interp(np.log(max(passages, 1)), [np.log(n0), np.log(n1)], [t0, t1]))


def threshold_log_odds(ranking: Ranking, calibration: dict = CALIBRATION) -> float:
    """The threshold as log-odds, against which margins are measured."""
    t = threshold(ranking, calibration)
    return float(np.log(t / (1 - t)))


def about_article(ranking: Ranking, answerable: float, calibration: dict = CALIBRATION) -> bool:
    """Is this a question about the article itself, to answer from its metadata lines? It must resemble one
    (retrieve.Retriever.meta_similarity) and the content must not answer it confidently."""
    meta = calibration["meta"]
    return ranking.meta_similarity >= meta["threshold"] and answerable < meta["unless_content_above"]


# ---- the answering sentence -------------------------------------------------------------------------------------


def sentence_features(sentence: Mapping[str, np.ndarray], holds_kind: np.ndarray,
                      typed: np.ndarray) -> dict[str, np.ndarray]:  # fmt: skip
    """What sentence choice reads for the sentences of one passage: each signal standardized among them, whether
    each holds the kind of answer the question asks for (cues.sentence_kinds), and whether it holds a phrase of the
    asked type that the question does not contain (retrieve.Retriever.typed)."""
    return {f: standardize(sentence[f]) for f in SENTENCE_FEATURES} | {"answer_type": holds_kind, "typed_phrase": typed}


def sentence_scores(features: Mapping[str, np.ndarray], calibration: dict = CALIBRATION) -> np.ndarray:
    score = np.zeros(len(features["answer_type"]))
    for f, w in calibration["sentence"]["weights"].items():
        score += w * features[f]
    return score


def best_sentence(ranking: Ranking, passage: int, calibration: dict = CALIBRATION) -> int:
    """Index (within the passage) of the sentence that best answers."""
    first = int(ranking.first_sentence[passage])
    count = ranking.sentence_counts[passage]
    if count == 1:
        return 0
    rows = slice(first, first + count)
    holds = ranking.sentence_kinds[rows] @ ranking.asks > 0
    features = sentence_features({f: ranking.sentence[f][rows] for f in SENTENCE_FEATURES}, holds, ranking.typed[rows])
    return int(np.argmax(sentence_scores(features, calibration)))


# ---- the short answer -------------------------------------------------------------------------------------------


def span_scores(features: list[dict[str, float]], calibration: dict = CALIBRATION) -> np.ndarray:
    """The score of each candidate phrase (spans.candidates): its features weighed by the fitted model, a softmax
    over one sentence's candidates in bench/tune.py; a feature without a weight (never seen on dev) counts zero."""
    weights = calibration["short"]["weights"]
    return np.array([sum(weights.get(f, 0.0) * v for f, v in x.items()) for x in features])


def best_span(features: list[dict[str, float]], calibration: dict = CALIBRATION) -> int | None:
    """Which candidate phrase is the short answer: the best scored; None when the sentence offers none."""
    if not features:
        return None
    return int(np.argmax(span_scores(features, calibration)))
