"""Word-level matching: stemmed terms, and BM25 scores precomputed at indexing by bm25s.

bm25s scores eagerly: at indexing it stores, for every term, the BM25 contribution of that term to
every document that contains it (a sparse column). A question's BM25 scores are then the sum of its
terms' columns. Those arrays are saved in the index, so answering needs only numpy, not bm25s and
scipy (which take most of a second to import).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .cues import EVENT, FUNCTION_WORDS

_WORD = re.compile(r"\w+")
_local = threading.local()  # a PyStemmer object must not be used by two threads at once


def stopwords() -> list[str]:
    """bm25s's English stopwords (imported at indexing only)."""
    from bm25s.stopwords import STOPWORDS_EN

    return sorted(STOPWORDS_EN)


def stem_words(words: list[str]) -> list[str]:
    """Lower-cased and stemmed as Lexical.terms stems them (no stopwords removed): ["Exercises"] -> ["exercis"]."""
    return _stem([w.lower() for w in words])


def _stem(words: list[str]) -> list[str]:
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        import Stemmer

        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    return stemmer.stemWords(words)


class Lexical:
    """Stemmed terms and BM25 over a fixed list of documents (an article's passages, or its sentences)."""

    def __init__(self, vocab: dict[str, int], data: np.ndarray, indices: np.ndarray, indptr: np.ndarray,
                 size: int, stop: Sequence[str]):  # fmt: skip
        self.vocab = vocab
        self.data, self.indices, self.indptr = data, indices, indptr
        self.size = size
        self.stop = frozenset(stop)

    @classmethod
    def build(cls, texts: Sequence[str], stop: Sequence[str] | None = None) -> Lexical:
        """Index texts with bm25s (k1=1.2, b=0.75, Lucene idf)."""
        import bm25s

        stop = stopwords() if stop is None else stop
        empty = cls({}, np.zeros(0, np.float32), np.zeros(0, np.int32), np.zeros(1, np.int64), len(texts), stop)
        docs = [empty.terms(t) for t in texts]
        vocab: dict[str, int] = {}
        ids = [[vocab.setdefault(t, len(vocab)) for t in doc] for doc in docs]
        if not vocab:
            return empty
        bm25 = bm25s.BM25(k1=1.2, b=0.75)
        bm25.index(bm25s.tokenization.Tokenized(ids=ids, vocab=vocab), create_empty_token=False, show_progress=False)
        s = bm25.scores
        return cls(vocab, s["data"].astype(np.float32), s["indices"].astype(np.int32),
                   s["indptr"].astype(np.int64), len(texts), stop)  # fmt: skip

    def terms(self, text: str) -> list[str]:
        """Lower-cased, stemmed words without stopwords: "Japan's exercises" -> ["japan", "s", "exercis"]."""
        return _stem([w for w in _WORD.findall(text.lower()) if w not in self.stop])

    def content_terms(self, text: str) -> list[str]:
        """The stemmed words that say what a question is about: "Where did they take place?" -> []."""
        words = _WORD.findall(EVENT.sub(" ", text.lower()))
        return _stem([w for w in words if w not in self.stop and w not in FUNCTION_WORDS])

    def scores(self, query: Sequence[str]) -> np.ndarray:
        """BM25 score of every document for the query's (distinct) terms."""
        out = np.zeros(self.size, dtype=np.float32)
        for t in dict.fromkeys(query):
            if (i := self.vocab.get(t)) is not None:
                lo, hi = self.indptr[i], self.indptr[i + 1]
                np.add.at(out, self.indices[lo:hi], self.data[lo:hi])
        return out

    def save(self, folder: Path, name: str) -> None:
        """name.json (vocabulary, stopwords, size) and name.npz (the score columns), no pickle."""
        (folder / f"{name}.json").write_text(
            json.dumps({"size": self.size, "stopwords": sorted(self.stop), "vocab": self.vocab}, ensure_ascii=False),
            encoding="utf-8",
        )
        with open(folder / f"{name}.npz", "wb") as f:
            np.savez(f, data=self.data, indices=self.indices, indptr=self.indptr)

    @classmethod
    def load(cls, folder: Path, name: str) -> Lexical:
        meta = json.loads((folder / f"{name}.json").read_text(encoding="utf-8"))
        with np.load(folder / f"{name}.npz", allow_pickle=False) as z:
            data, indices, indptr = z["data"], z["indices"], z["indptr"]
        if len(indptr) != len(meta["vocab"]) + 1 or len(data) != len(indices) or indptr[-1] != len(data):
            raise ValueError("inconsistent BM25 arrays")
        if len(indices) and not 0 <= indices.min() <= indices.max() < meta["size"]:
            raise ValueError("BM25 arrays point outside the documents")
        return cls(meta["vocab"], data, indices, indptr, meta["size"], meta["stopwords"])
