"""Scoring passages for a question: dense, late-interaction and BM25 signals at passage and sentence level, fused.

Every signal is computed for every passage of the article:

- dense_sentence   best cosine between the question vector and one of the passage's sentence vectors
- late             late interaction (as in ColBERT): each content token of the question finds its most
                   similar token of the passage (contextual MiniLM token vectors); idf-weighted mean
- late_sentence    the same, inside the passage's best single sentence
- bm25, bm25_sentence   BM25 (bm25s) on stemmed words, over passages and over sentences

Signals are z-scored across the article's passages and summed with weights fitted on SQuAD dev
(`assistant/calibration.json`, written by `bench/tune.py`). A follow-up question ("Where did they
take place?") borrows the previous question's tokens and words at a lower weight. Choosing the
answer sentence and abstaining live in `answer.py`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

import numpy as np

from .answer import sentence_kinds

CALIBRATION = json.loads(Path(__file__).with_name("calibration.json").read_text(encoding="utf-8"))
PASSAGE_FEATURES = ("dense_sentence", "late", "late_sentence", "bm25", "bm25_sentence")

META_QUESTIONS = (
    "What is the source of this article?",
    "Which news agency published this article?",
    "Who wrote this article?",
    "Where is this story from?",
    "Which newspaper reported this?",
    "Who is the author of this piece?",
)
"""Questions about the article itself, answered from its metadata lines ("Source: Reuters")."""
_ABOUT_ARTICLE = re.compile(
    r"\b(article|story|piece|sources?|author|wrote|written|writer|publication|publisher|outlet|agency|wire)\b"
    r"|\bthis (newspaper|paper|report|news)\b",
    re.IGNORECASE,
)
"""A question about the article itself names it or its origin ("Which agency is this article from?")."""

_FOLLOW_UP = re.compile(
    r"\b(it|its|they|them|their|this|that|these|those|there|then|he|him|his|she|her|the same|such|else)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Query:
    """A question embedded once: its vector, content-token vectors with weights, and weighted stemmed terms."""

    vector: np.ndarray
    tokens: np.ndarray
    weights: np.ndarray
    terms: tuple[tuple[tuple[str, ...], float], ...]

    def plus(self, earlier: Query, weight: float) -> Query:
        """This question with an earlier one mixed in at `weight` (a follow-up's context)."""
        vector = self.vector + weight * earlier.vector
        return Query(
            vector / np.linalg.norm(vector),
            np.concatenate([self.tokens, earlier.tokens]),
            np.concatenate([self.weights, weight * earlier.weights]),
            self.terms + tuple((t, w * weight) for t, w in earlier.terms),
        )


@dataclass(frozen=True)
class Ranking:
    """One question's signals over every passage and sentence, the fused scores, and the passage order."""

    passage: dict[str, np.ndarray]
    sentence: dict[str, np.ndarray]
    fused: np.ndarray
    order: list[int]
    content: np.ndarray
    first_sentence: np.ndarray
    sentence_kinds: np.ndarray
    coverage: float
    metadata: list[int]
    meta_similarity: float


class Retriever:
    """An index's arrays in the shapes scoring needs; rank() is the hot path."""

    def __init__(self, index, embedder):
        self.index = index
        self.embedder = embedder
        chunks = index.chunks
        counts = np.array([len(c.sentences) for c in chunks])
        self.owner = np.repeat(np.arange(len(chunks)), counts)  # sentence -> passage
        self.first_sentence = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        self.content = np.array([not c.metadata for c in chunks])
        self.metadata = [i for i, c in enumerate(chunks) if c.metadata]
        token_sentence = index.token_info[:, 1].astype(np.int64)
        self.first_token = np.searchsorted(token_sentence, np.arange(len(self.owner)))
        self.has_tokens = np.bincount(token_sentence, minlength=len(self.owner)) > 0
        self.tokens = np.asarray(index.tokens, dtype=np.float32)
        self.sentence_vectors = index.sentence_vectors
        # Document frequency of each model token over passages, for idf weights of question tokens.
        token_ids = index.token_info[:, 0].astype(np.int64)
        base = int(token_ids.max(initial=0)) + 1
        ids, df = np.unique(np.unique(self.owner[token_sentence] * base + token_ids) % base, return_counts=True)
        self.df = dict(zip(ids.tolist(), df.tolist(), strict=False))
        sentences = [c.text[a:b] for c in chunks for a, b in c.sentences]
        self.passage_lexical = index.passage_lexical
        self.sentence_lexical = index.sentence_lexical
        self.sentence_kinds = sentence_kinds(sentences)
        self.query = lru_cache(maxsize=256)(self._query)

    def rank(self, question: str, history: list[str] = ()) -> Ranking:
        """Score every passage for the question, using the latest earlier question if this one leans on it."""
        query = self.query(question)
        meta = self.meta_similarity(question, query.vector) if self.metadata else 0.0
        if history and self.is_follow_up(question):
            query = query.plus(self.query(history[-1]), CALIBRATION["follow_up"]["weight"])
        return self.score(query, meta)

    def score(self, query: Query, meta_similarity: float = 0.0) -> Ranking:
        """Every signal for every passage, fused; metadata lines lead only for questions about the article."""
        starts = self.first_sentence
        dense = self.sentence_vectors @ query.vector
        # Late interaction, laid out (token, question token) so that reductions run over contiguous rows.
        by_sentence = np.full((len(self.owner), len(query.tokens)), -1.0, dtype=np.float32)
        if self.has_tokens.any():
            sim = self.tokens @ query.tokens.T
            by_sentence[self.has_tokens] = np.maximum.reduceat(sim, self.first_token[self.has_tokens], axis=0)
        total = query.weights.sum()
        late_sentence = by_sentence @ query.weights / total
        late = np.maximum.reduceat(by_sentence, starts, axis=0) @ query.weights / total
        bm25_sentence = sum(w * self.sentence_lexical.scores(t) for t, w in query.terms)
        passage = {
            "dense_sentence": np.maximum.reduceat(dense, starts),
            "late": late,
            "late_sentence": np.maximum.reduceat(late_sentence, starts),
            "bm25": sum(w * self.passage_lexical.scores(t) for t, w in query.terms),
            "bm25_sentence": np.maximum.reduceat(bm25_sentence, starts),
        }
        weights = CALIBRATION["passage"]["weights"]
        fused = sum(weights[f] * standardize(passage[f], self.content) for f in PASSAGE_FEATURES)
        order = [int(i) for i in np.argsort(-fused, kind="stable") if self.content[i]]
        own = query.terms[0][0] if query.terms else ()
        coverage = float(np.mean([t in self.passage_lexical.vocab for t in own])) if own else 0.0
        return Ranking(
            passage, {"dense": dense, "late": late_sentence, "bm25": bm25_sentence}, fused, order,
            self.content, starts, self.sentence_kinds, coverage, self.metadata, meta_similarity,
        )  # fmt: skip

    def is_follow_up(self, question: str) -> bool:
        """Does the question lean on the conversation: a pronoun or "there", or one word only?"""
        return bool(_FOLLOW_UP.search(question)) or len(self.passage_lexical.terms(question)) <= 1

    def meta_similarity(self, question: str, vector: np.ndarray) -> float:
        """How much the question resembles one about the article itself; 0 if it names neither the article
        nor its origin ("Which agency is this article from?" does; "Who commented on the report?" does not)."""
        if not _ABOUT_ARTICLE.search(question):
            return 0.0
        return float((self.meta_vectors @ vector).max())

    @cached_property
    def meta_vectors(self) -> np.ndarray:
        return self.embedder.encode(list(META_QUESTIONS))

    def _query(self, text: str) -> Query:
        encoded = self.embedder.encode_tokens([text])
        ids, tokens = encoded.ids[0], encoded.tokens[0]
        keep = np.array([not self.embedder.is_stopword(int(i)) for i in ids], dtype=bool)
        if not keep.any():
            keep[:] = True
        n = len(self.index.chunks)
        df = np.array([self.df.get(int(i), 0) for i in ids[keep]], dtype=np.float32)
        weights = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        return Query(encoded.vectors[0], tokens[keep], weights, ((tuple(self.passage_lexical.terms(text)), 1.0),))


def standardize(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Standardize over the masked (content) passages; the others get the lowest score."""
    values = x[mask]
    spread = values.std() if len(values) > 1 else 0.0
    z = (x - values.mean()) / (spread if spread > 1e-9 else 1.0)
    return np.where(mask, z, -1e3)
