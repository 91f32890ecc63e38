"""The fast path answers as the full one: ONNX (onnxruntime + tokenizers) against the sentence-transformers model
itself (torch, its own tokenization and batching), each building its own index and answering the same questions."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pytest

from assistant import Assistant
from assistant.embed import Encoded, resolve_model
from assistant.evaluate import load_squad
from assistant.export import load_sentence_transformer
from tests.conftest import DEFAULT_ARTICLE, ROOT

DEV = ROOT.parent / "shared" / "data" / "squad-v1.1-dev" / "dev.jsonl"
QUESTIONS = [json.loads(line)["q"] for line in (ROOT / "bench" / "data" / "default-article.jsonl").open()]


class TorchEmbedder:
    """The embedder interface over SentenceTransformer.encode: pooled vectors and token vectors from torch."""

    def __init__(self, onnx):
        import torch

        self.torch = torch
        self.model = load_sentence_transformer(*resolve_model(None))
        self.name, self.dimension = onnx.name, onnx.dimension
        # Tokenizer-level questions (no model run), answered from the same vocabulary.
        self.is_stopword, self.recognizes = onnx.is_stopword, onnx.recognizes
        self.special = torch.tensor(self.model.tokenizer.all_special_ids)

    def encode_tokens(self, texts: Sequence[str]) -> Encoded:
        outputs = self.model.encode(list(texts), output_value=None, batch_size=16)
        vectors = np.array([o["sentence_embedding"].numpy() for o in outputs], dtype=np.float32)
        tokens, ids = [], []
        for o in outputs:
            keep = o["attention_mask"].bool() & ~self.torch.isin(o["input_ids"], self.special)
            t = o["token_embeddings"][keep].numpy()
            tokens.append(t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12))
            ids.append(o["input_ids"][keep].numpy().astype(np.int32))
        return Encoded(vectors.reshape(len(texts), self.dimension), tokens, ids)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return self.encode_tokens(texts).vectors


@pytest.fixture(scope="module")
def torch_embedder(real_embedder):
    return TorchEmbedder(real_embedder)


def assert_same_answers(path, questions, tmp_path, onnx_embedder, torch_embedder, e5):
    """The same answers from MiniLM's two runtimes (beside the same e5)."""
    fast = Assistant.from_article(path, tmp_path / "onnx.index", embedder=onnx_embedder, e5=e5)
    full = Assistant.from_article(path, tmp_path / "torch.index", embedder=torch_embedder, e5=e5)
    assert np.allclose(fast.index.sentence_vectors, full.index.sentence_vectors, atol=1e-4)
    for q in questions:
        assert fast.retriever.rank(q).order[:3] == full.retriever.rank(q).order[:3], q
        a, b = fast.ask(q).to_dict(), full.ask(q).to_dict()
        assert a["abstained"] == b["abstained"], q
        for p, r in zip(a["passages"], b["passages"], strict=True):
            assert (p["paragraphs"], p["highlight"]) == (r["paragraphs"], r["highlight"]), q
            assert p["score"] == pytest.approx(r["score"], abs=2e-3), q


def test_onnx_answers_as_sentence_transformers_on_the_default_article(tmp_path, real_embedder, torch_embedder, real_e5):
    assert_same_answers(DEFAULT_ARTICLE, QUESTIONS, tmp_path, real_embedder, torch_embedder, real_e5)


def test_onnx_answers_as_sentence_transformers_on_a_squad_dev_article(tmp_path, real_embedder, torch_embedder, real_e5):
    if not DEV.exists():
        pytest.skip(f"{DEV} is not here")
    article = next(a for a in load_squad(DEV) if a["title"] == "Oxygen")
    path = tmp_path / "oxygen.txt"
    path.write_text("\n".join(p.replace("\n", " ") for p in article["paragraphs"]) + "\n", encoding="utf-8")
    questions = [q["q"] for q in article["questions"][::4]]
    assert len(questions) >= 50
    assert_same_answers(path, questions, tmp_path, real_embedder, torch_embedder, real_e5)
