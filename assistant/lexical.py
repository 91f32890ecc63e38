"""Word-level matching: stemmed terms, BM25 (bm25s), and how much of a question a text covers."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

_WORD = re.compile(r"\w+")
_local = threading.local()  # a PyStemmer object must not be used by two threads at once


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


def terms(text: str) -> list[str]:
    """Lower-cased, stemmed words without English stopwords: 'Japan's exercises' -> ['japan', 'exercis']."""
    stemmer = getattr(_local, "stemmer", None)
    if stemmer is None:
        import Stemmer

        stemmer = _local.stemmer = Stemmer.Stemmer("english")
    stop = _stopwords()
    return stemmer.stemWords([w for w in _WORD.findall(text.lower()) if w not in stop])


class Lexical:
    """BM25 and term coverage over a fixed list of documents (passages or sentences)."""

    def __init__(self, docs: Sequence[Sequence[str]]):
        # bm25s: sparse BM25 in numpy/scipy; imported here since only question answering needs it.
        import bm25s

        self.vocab: dict[str, int] = {}
        ids = [[self.vocab.setdefault(t, len(self.vocab)) for t in doc] for doc in docs]
        self.size = len(docs)
        self.bm25 = bm25s.BM25(k1=1.2, b=0.75)
        if self.vocab:
            self.bm25.index(bm25s.tokenization.Tokenized(ids=ids, vocab=self.vocab), show_progress=False)
        df = np.zeros(len(self.vocab))
        self.rows = [np.unique(np.array(doc, dtype=np.int64)) for doc in ids]
        for row in self.rows:
            df[row] += 1
        self.idf = np.log(1 + (self.size - df + 0.5) / (df + 0.5))

    def known(self, query: Sequence[str]) -> list[int]:
        return [self.vocab[t] for t in dict.fromkeys(query) if t in self.vocab]

    def scores(self, query: Sequence[str]) -> np.ndarray:
        """BM25 score of every document for the query terms."""
        ids = self.known(query)
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        return self.bm25.get_scores(ids).astype(np.float32)

    def coverage(self, query: Sequence[str]) -> np.ndarray:
        """Share of the query's idf weight present in each document (0 to 1); unknown terms weigh 1 each."""
        unique = list(dict.fromkeys(query))
        if not unique:
            return np.zeros(self.size, dtype=np.float32)
        ids = self.known(unique)
        total = self.idf[ids].sum() + (len(unique) - len(ids)) * self.idf.max(initial=1.0)
        out = np.zeros(self.size, dtype=np.float32)
        if ids:
            weights = dict(zip(ids, self.idf[ids], strict=False))
            for i, row in enumerate(self.rows):
                out[i] = sum(weights.get(t, 0.0) for t in row.tolist())
        return out / total
