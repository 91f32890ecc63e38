"""Scoring passages for a question: dense, late-interaction and BM25 signals at passage and sentence level, fused.

Every signal is computed for every passage of the article:

- dense_sentence   best cosine between the question vector and one of the passage's sentence vectors
- late             late interaction (as in ColBERT): each content token of the question finds its most
                   similar token of the passage (contextual MiniLM token vectors); idf-weighted mean
- late_sentence    the same, inside the passage's best single sentence
- bm25, bm25_sentence   BM25 (bm25s) on stemmed words, over passages and over sentences
- e5               cosine between the question and the passage under a second model, e5 (store.E5_UP_TO)
- typed_phrase     the passage holds a phrase of the type the question asks for (answer_types: a date for "when",
                   an organisation for "which newspaper") that the question does not already contain

How they are fused, and what answers, is scoring policy (`scoring.py`); what a question's wording says (the kind
of answer, follow-up, about the article) is in `cues.py`. A follow-up question ("Where did they take place?")
borrows the previous question's tokens, words and vectors at a lower weight.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property, lru_cache

import numpy as np

from . import cues, spans
from .answer_types import Asked, asked
from .article import metadata_field
from .embed import E5, Embedder
from .parse import END, ENTITY, START, Parse
from .scoring import CALIBRATION, best_sentence, follow_up_weight, fuse, passage_weights
from .store import Index

EXHAUSTIVE_UP_TO = 2_000
"""Articles up to this many passages are scored passage by passage. Above, the FAISS index of passage vectors
and BM25 each nominate CANDIDATES passages, and only those are scored (the others rank last)."""
CANDIDATES = 100

FOLLOW_UP_DEPTH = 3
"""How far back a chain of follow-ups reaches: each earlier question weighs follow_up.weight (0.25) times less than
the one after it, so the fourth one back would weigh under 2%."""


@dataclass(frozen=True)
class Query:
    """A question embedded once: its vector, content-token vectors with weights, weighted stemmed terms, and its e5
    vector (None when the index has no e5 vectors)."""

    vector: np.ndarray
    tokens: np.ndarray
    weights: np.ndarray
    terms: tuple[tuple[tuple[str, ...], float], ...]
    content: tuple[tuple[tuple[str, ...], float], ...]
    """The terms that say what the question is about (without question words, pronouns, ...), weighted as `terms`."""
    asks: np.ndarray
    """The kinds of answer the question asks for (cues.KINDS)."""
    e5: np.ndarray | None = None
    asked: Asked = Asked("description")
    """The type of answer it expects (answer_types.asked)."""

    @property
    def has_own_words(self) -> bool:
        """Does it name something of its own ("When did they sign that deal?"), or only lean on the conversation
        ("Who else?", "Where did that happen?")?"""
        return bool(self.content[0][0])

    def plus(self, earlier: Query, weight: float) -> Query:
        """This question with an earlier one mixed in at `weight` (a follow-up's context)."""
        return Query(
            _mix(self.vector, earlier.vector, weight),
            np.concatenate([self.tokens, earlier.tokens]),
            np.concatenate([self.weights, weight * earlier.weights]),
            self.terms + tuple((t, w * weight) for t, w in earlier.terms),
            self.content + tuple((t, w * weight) for t, w in earlier.content),
            self.asks,
            None if self.e5 is None else _mix(self.e5, earlier.e5, weight),
            self.asked,
        )


def _mix(vector: np.ndarray, earlier: np.ndarray, weight: float) -> np.ndarray:
    mixed = vector + weight * earlier
    return mixed / np.linalg.norm(mixed)


@dataclass(frozen=True)
class Ranking:
    """One question's signals over every passage and sentence, the fused scores, and the passage order."""

    query: Query
    passage: dict[str, np.ndarray]
    sentence: dict[str, np.ndarray]
    fused: np.ndarray
    order: list[int]
    content: np.ndarray
    first_sentence: np.ndarray
    sentence_counts: np.ndarray
    sentence_kinds: np.ndarray
    coverage: float
    metadata: list[int]
    meta_similarity: float
    typed: np.ndarray | None = None
    """Per sentence: it holds a phrase of the asked type that the question does not contain (Retriever.typed)."""
    parse: Parse | None = None
    """The article's parse (store.Index.parse), where short answers are found."""
    previous: Ranking | None = None
    """For a follow-up, the ranking of the earlier question it leans on (the one before it, or that one's topic),
    whose query was mixed into its own."""
    alone: Ranking | None = None
    """For a follow-up, the ranking of the question on its own, without the conversation: whether it would be
    answered by itself ("Is Japan allowed to wage war under its constitution?" needs no question before it)."""
    fresh: np.ndarray | None = None
    """For a follow-up, per sentence: it holds a phrase of the asked type that is new to the conversation, named by
    neither question nor given as the answer before ("Last year" for "When did they sign that deal?" after "Which
    countries ...?" was answered "Britain and Italy" from the same sentence)."""

    @property
    def follow_up(self) -> bool:
        return self.previous is not None

    @property
    def asks(self) -> np.ndarray:
        return self.query.asks

    @property
    def topic(self) -> Ranking:
        """What a follow-up after this question leans on: this ranking, or for a follow-up with no content words of
        its own ("Where did they take place?"), what that leaned on, so that a chain of them keeps its topic."""
        if self.previous is not None and not self.query.has_own_words:
            return self.previous.topic
        return self


class Retriever:
    """An index's arrays in the shapes scoring needs; rank() is the hot path."""

    def __init__(self, index: Index, embedder: Embedder, e5: E5 | None = None, calibration: dict = CALIBRATION):
        """e5 is the second model, needed when the index holds e5 vectors; calibration is scoring's fitted numbers
        (bench/tune.py tries others)."""
        self.index = index
        self.embedder = embedder
        self.e5 = e5 if index.e5_vectors is not None else None
        self.calibration = calibration
        chunks = index.chunks
        self.counts = counts = np.array([len(c.sentences) for c in chunks], dtype=np.int64)
        self.owner = np.repeat(np.arange(len(chunks)), counts)  # sentence -> passage
        self.first_sentence = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        self.content = np.array([not c.metadata for c in chunks])
        self.metadata = [i for i, c in enumerate(chunks) if c.metadata]
        self.metadata_fields = {i: metadata_field(chunks[i].text)[0] for i in self.metadata}
        token_sentence = index.token_info[:, 1].astype(np.int64)
        self.token_bounds = np.searchsorted(token_sentence, np.arange(len(self.owner) + 1))  # sentence -> tokens
        self.exhaustive = len(chunks) <= EXHAUSTIVE_UP_TO
        # Token vectors are kept as float16 for long articles, and widened per question for the candidates only.
        self.tokens = np.asarray(index.tokens, dtype=np.float32) if self.exhaustive else index.tokens
        self.sentence_vectors = index.sentence_vectors
        self.e5_vectors = index.e5_vectors
        # Document frequency of each model token over passages, for idf weights of question tokens.
        token_ids = index.token_info[:, 0].astype(np.int64)
        base = int(token_ids.max(initial=0)) + 1
        ids, df = np.unique(np.unique(self.owner[token_sentence] * base + token_ids) % base, return_counts=True)
        self.df = dict(zip(ids.tolist(), df.tolist(), strict=False))
        sentences = [c.text[a:b] for c in chunks for a, b in c.sentences]
        self.passage_lexical = index.passage_lexical
        self.sentence_lexical = index.sentence_lexical
        self.sentence_kinds = cues.sentence_kinds(sentences)
        self.parse = index.parse
        self._entities = _entities(index.parse, chunks, self.owner, index.passage_lexical)
        self.query = lru_cache(maxsize=256)(self._query)

    def rank(self, question: str, history: list[str] = ()) -> Ranking:
        """Score every passage for the question; a follow-up ("Where did they take place?") is scored with the
        question before it mixed in (its topic), as that question was itself scored (up to FOLLOW_UP_DEPTH back)."""
        query = self.query(question)
        meta = self.meta_similarity(question, query.vector) if self.metadata else 0.0
        history = list(history)[-FOLLOW_UP_DEPTH:]
        if not (history and cues.is_follow_up(question, query.terms[0][0], query.content[0][0])):
            ranking = self.score(query, meta)
        else:
            previous = self.rank(history[-1], history[:-1]).topic
            mixed = query.plus(previous.query, follow_up_weight(query, self.calibration))
            ranking = replace(self.score(mixed, meta), previous=previous, alone=self.score(query, meta),
                              fresh=self.typed(query, known=self.told(previous)))  # fmt: skip
        if self.metadata:  # the line a question about the article asks for (its date, author or source) first
            wanted = [f for f in cues.asked_fields(question) if f in self.metadata_fields.values()]
            if not wanted:  # "When was it published?" of an article that does not say
                return replace(ranking, meta_similarity=0.0)
            order = {f: n for n, f in enumerate(wanted)}
            first = sorted(self.metadata, key=lambda i: order.get(self.metadata_fields[i], len(order)))
            ranking = replace(ranking, metadata=first)
        return ranking

    def score(self, query: Query, meta_similarity: float = 0.0) -> Ranking:
        """Every signal for every (candidate) passage, fused; metadata lines lead only for questions about the
        article."""
        bm25 = sum(w * self.passage_lexical.scores(t) for t, w in query.terms)
        bm25_sentence = sum(w * self.sentence_lexical.scores(t) for t, w in query.terms)
        scored = self.content if self.exhaustive else self.content & self._candidates(query, bm25)
        if self.exhaustive:
            passages, sentences, starts = np.arange(len(self.content)), np.arange(len(self.owner)), self.first_sentence
        else:
            passages = np.flatnonzero(scored)
            sentences = np.concatenate([np.arange(self.first_sentence[i], self.first_sentence[i] + n)
                                        for i, n in zip(passages, self.counts[passages], strict=True)])  # fmt: skip
            starts = np.concatenate([[0], np.cumsum(self.counts[passages])[:-1]]).astype(np.int64)
        dense = self.sentence_vectors[sentences] @ query.vector
        # Late interaction, laid out (token, question token) so that reductions run over contiguous rows.
        lo, hi = self.token_bounds[sentences], self.token_bounds[sentences + 1]
        has_tokens = hi > lo
        if self.exhaustive:
            tokens = self.tokens
        else:
            tokens = np.asarray(self.tokens[np.concatenate([np.arange(a, b) for a, b in zip(lo, hi, strict=True)])],
                                dtype=np.float32)  # fmt: skip
        by_sentence = np.full((len(sentences), len(query.tokens)), -1.0, dtype=np.float32)
        if has_tokens.any():
            first_token = np.concatenate([[0], np.cumsum(hi - lo)[:-1]])
            sim = tokens @ query.tokens.T
            by_sentence[has_tokens] = np.maximum.reduceat(sim, first_token[has_tokens], axis=0)
        total = query.weights.sum()
        late_sentence = by_sentence @ query.weights / total
        signals = {
            "dense_sentence": np.maximum.reduceat(dense, starts),
            "late": np.maximum.reduceat(by_sentence, starts, axis=0) @ query.weights / total,
            "late_sentence": np.maximum.reduceat(late_sentence, starts),
            "bm25": bm25[passages],
            "bm25_sentence": np.maximum.reduceat(bm25_sentence[sentences], starts),
        }
        typed = self.typed(query)
        signals["typed_phrase"] = np.maximum.reduceat(typed[sentences], starts)
        if query.e5 is not None:
            signals["e5"] = self.e5_vectors[passages] @ query.e5
        passage = {f: _spread(v, passages, len(self.content)) for f, v in signals.items()}
        sentence = {
            "dense": _spread(dense, sentences, len(self.owner)),
            "late": _spread(late_sentence, sentences, len(self.owner)),
            "bm25": bm25_sentence,
        }
        fused = fuse(passage, passage_weights("e5" in passage, self.calibration), scored)
        order = [int(i) for i in np.argsort(-fused, kind="stable") if self.content[i]]
        vocab = self.passage_lexical.vocab
        words = sum(w * len(terms) for terms, w in query.content)
        coverage = sum(w * sum(t in vocab for t in terms) for terms, w in query.content) / words if words else 0.0
        return Ranking(
            query, passage, sentence, fused, order, self.content, self.first_sentence, self.counts, self.sentence_kinds,
            coverage, self.metadata, meta_similarity, typed, self.parse,
        )  # fmt: skip

    def typed(self, query: Query, known: frozenset[str] = frozenset()) -> np.ndarray:
        """Per sentence, 1.0 if it holds an entity of the type the question asks for whose words are not all in the
        question, nor among the known words ("Which newspaper revealed the story?" of a sentence naming an
        organisation); a question of no entity type (why, yes/no, a description) finds none."""
        out = np.zeros(len(self.owner), dtype=np.float32)
        sentence, labels, stems = self._entities
        if not query.asked.labels or not len(sentence):
            return out
        own = set(query.content[0][0]) | known
        wanted = np.isin(labels, [n for n, name in enumerate(self.parse.labels["ent"]) if name in query.asked.labels])
        fresh = np.array([not words <= own for words in stems], dtype=bool)
        out[sentence[wanted & fresh]] = 1.0
        return out

    def told(self, ranking: Ranking) -> frozenset[str]:
        """What a question and its answer have said, as stemmed content words: the question's own, and those of the
        short answer of its best passage's answering sentence (answer.decide quotes the same)."""
        top = ranking.order[0]
        n = best_sentence(ranking, top, self.calibration)
        text = self.index.chunks[top].text
        own = frozenset(ranking.query.content[0][0])
        phrase = None
        if self.parse is not None:
            row = int(self.first_sentence[top]) + n
            phrase = spans.best(self.parse, row, text, own, ranking.query.asked, self.calibration)
        given = self.passage_lexical.content_terms(text[phrase.start : phrase.end]) if phrase else ()
        return own | frozenset(given)

    def _candidates(self, query: Query, bm25: np.ndarray) -> np.ndarray:
        """Passages worth scoring in a long article: the nearest passage vectors (FAISS) and the best BM25."""
        chosen = np.zeros(len(self.content), dtype=bool)
        k = min(CANDIDATES, len(self.content))
        chosen[self.index.passage_vectors.search(query.vector, k)] = True
        chosen[np.argpartition(-bm25, k - 1)[:k]] = True
        return chosen

    def meta_similarity(self, question: str, vector: np.ndarray) -> float:
        """How much the question resembles one about the article itself; 0 if it names neither the article
        nor its origin ("Which agency is this article from?" does; "Who commented on the report?" does not)."""
        if not cues.names_the_article(question):
            return 0.0
        return float((self.meta_vectors @ vector).max())

    @cached_property
    def meta_vectors(self) -> np.ndarray:
        return self.embedder.encode(list(cues.META_QUESTIONS))

    def _query(self, text: str) -> Query:
        vector, ids, tokens = _embedded(self.embedder, text)
        keep = np.array([not self.embedder.is_stopword(int(i)) for i in ids], dtype=bool)
        if not keep.any():
            keep[:] = True
        n = len(self.index.chunks)
        df = np.array([self.df.get(int(i), 0) for i in ids[keep]], dtype=np.float32)
        weights = np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)
        e5 = _embedded_e5(self.e5, text) if self.e5 is not None else None
        terms = ((tuple(self.passage_lexical.terms(text)), 1.0),)
        expects = asked(text)
        named = set(self.passage_lexical.content_terms(expects.head)) if expects.head else set()
        content = ((tuple(t for t in self.passage_lexical.content_terms(text) if t not in named), 1.0),)
        return Query(vector, tokens[keep], weights, terms, content, cues.question_kinds(text), e5, expects)


@lru_cache(maxsize=1024)
def _embedded(embedder: Embedder, text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A question's vector, model token ids and token vectors: the same whatever the article, so the articles of a
    library (the archive asks six at once) embed a question once between them. Read-only: shared."""
    encoded = embedder.encode_tokens([text])
    arrays = encoded.vectors[0], np.asarray(encoded.ids[0]), encoded.tokens[0]
    for a in arrays:
        a.setflags(write=False)
    return arrays


@lru_cache(maxsize=1024)
def _embedded_e5(e5: E5, text: str) -> np.ndarray:
    """A question's e5 vector, shared between articles as _embedded is."""
    vector = e5.query(text)
    vector.setflags(write=False)
    return vector


def _entities(parse: Parse | None, chunks, owner: np.ndarray, lexical) -> tuple[np.ndarray, np.ndarray, list]:
    """The parse's entities: their sentence, their label, and their content words stemmed (as a question's are)."""
    if parse is None:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), []
    rows = parse.spans[parse.spans[:, 3] == ENTITY]
    stems = []
    for s, a, b, _, _ in rows:
        text = chunks[owner[s]].text
        stems.append(frozenset(lexical.content_terms(text[parse.tokens[a, START] : parse.tokens[b - 1, END]])))
    return rows[:, 0].astype(np.int64), rows[:, 4].astype(np.int64), stems


def _spread(values: np.ndarray, rows: np.ndarray, size: int) -> np.ndarray:
    """Values of some rows placed in a full-length array; rows not scored get -1 (below any real signal)."""
    if len(rows) == size:
        return values
    out = np.full(size, -1.0, dtype=np.float32)
    out[rows] = values
    return out
