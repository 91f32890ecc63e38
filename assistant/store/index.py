"""What an index holds in memory: everything a question needs, as built or as loaded from its folder."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..article import Article, Chunk
from ..lexical import Lexical
from ..parse import Parse


class Stale(Exception):
    """The folder holds no usable index for this article and model (the reason is the message)."""


class PassageVectors:
    """The passages' FAISS index: built in memory, or read from its file on the first search (importing faiss takes
    half a second, and only articles long enough for candidate search need it)."""

    def __init__(self, *, path: Path | None = None, index=None):
        self.path = path
        self._index = index
        self._lock = threading.Lock()

    def faiss(self):
        """The faiss.Index (inner product over normalized passage vectors)."""
        with self._lock:
            if self._index is None:
                import faiss

                self._index = faiss.read_index(str(self.path))
            return self._index

    def search(self, vector: np.ndarray, k: int) -> np.ndarray:
        """Row numbers of the k passages nearest to vector (fewer if the index holds fewer)."""
        _, nearest = self.faiss().search(vector[None].astype(np.float32), k)
        return nearest[0][nearest[0] >= 0]  # FAISS pads with -1 when it finds fewer than k


@dataclass(frozen=True)
class Index:
    """An article's index: passage and sentence vectors, token vectors for late interaction, BM25 columns, e5
    passage vectors (articles up to build.E5_UP_TO passages), the parse of every sentence, and the manifest that
    describes them."""

    article: Article
    passage_vectors: PassageVectors
    sentence_vectors: np.ndarray
    tokens: np.ndarray
    token_info: np.ndarray
    passage_lexical: Lexical
    sentence_lexical: Lexical
    manifest: dict
    e5_vectors: np.ndarray | None = None
    parse: Parse | None = None
    """Tokens, entities and noun chunks of every sentence (nlp.py, at indexing); None only for an Index made by hand."""

    @property
    def chunks(self) -> tuple[Chunk, ...]:
        return self.article.chunks
