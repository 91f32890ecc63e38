"""What the NLP pipeline said about an article's sentences, as plain arrays: the query path reads these and never
imports the pipeline itself (nlp.py runs it once, at indexing).

- tokens: one row per token, (sentence, start, end, pos, dep, head): start/end are character offsets in the
  passage's text, pos/dep index `labels["pos"]`/`labels["dep"]`, head is the row of the token's syntactic head
  (its own row for a sentence's root);
- spans: one row per phrase, (sentence, first token, last token + 1, kind, label): kind ENTITY (label indexes
  `labels["ent"]`) or CHUNK (a noun chunk, label -1).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

ENTITY, CHUNK = 0, 1
SENTENCE, START, END, POS, DEP, HEAD = range(6)
FILES = ("parse.json", "parse_tokens.npy", "parse_spans.npy")


@dataclass(frozen=True)
class Parse:
    """Tokens, entities and noun chunks of every sentence (in the index's sentence order), and the label names."""

    tokens: np.ndarray
    spans: np.ndarray
    labels: dict[str, list[str]]
    model: str

    @cached_property
    def token_bounds(self) -> np.ndarray:
        """sentence -> its first token row (and, at sentence + 1, one past its last)."""
        return np.searchsorted(self.tokens[:, SENTENCE], np.arange(self.sentences + 1))

    @cached_property
    def span_bounds(self) -> np.ndarray:
        return np.searchsorted(self.spans[:, 0], np.arange(self.sentences + 1))

    @cached_property
    def sentences(self) -> int:
        return int(self.tokens[-1, SENTENCE]) + 1 if len(self.tokens) else 0

    def pos(self, row: int) -> str:
        return self.labels["pos"][self.tokens[row, POS]]

    def dep(self, row: int) -> str:
        return self.labels["dep"][self.tokens[row, DEP]]

    def save(self, folder: Path) -> None:
        (folder / "parse.json").write_text(json.dumps({"model": self.model, "labels": self.labels}), encoding="utf-8")
        np.save(folder / "parse_tokens.npy", self.tokens, allow_pickle=False)
        np.save(folder / "parse_spans.npy", self.spans, allow_pickle=False)

    @classmethod
    def load(cls, folder: Path, sentences: int) -> Parse:
        """Read and check the three files (ValueError if they disagree with each other or with the sentences)."""
        meta = json.loads((folder / "parse.json").read_text(encoding="utf-8"))
        tokens = np.load(folder / "parse_tokens.npy", allow_pickle=False)
        spans = np.load(folder / "parse_spans.npy", allow_pickle=False)
        labels = meta["labels"]
        if tokens.ndim != 2 or tokens.shape[1] != 6 or spans.ndim != 2 or spans.shape[1] != 5:
            raise ValueError("parse arrays of the wrong shape")
        if len(tokens) and not (
            tokens[:, SENTENCE].min() >= 0 and tokens[:, SENTENCE].max() < sentences
            and np.all(np.diff(tokens[:, SENTENCE]) >= 0)
            and tokens[:, POS].min() >= 0 and tokens[:, POS].max() < len(labels["pos"])
            and tokens[:, DEP].min() >= 0 and tokens[:, DEP].max() < len(labels["dep"])
            and tokens[:, HEAD].min() >= 0 and tokens[:, HEAD].max() < len(tokens)
        ):  # fmt: skip
            raise ValueError("parse tokens point outside the sentences or the labels")
        if len(spans) and not (
            np.all(np.diff(spans[:, 0]) >= 0) and spans[:, 1].min() >= 0 and spans[:, 2].max() <= len(tokens)
            and np.all(spans[:, 1] < spans[:, 2]) and spans[:, 4].max() < len(labels["ent"])
        ):  # fmt: skip
            raise ValueError("parse spans point outside the tokens or the labels")
        return cls(tokens, spans, labels, meta["model"])
