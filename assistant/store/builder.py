"""Building an index: the embedders run over the article's sentences and passages; what an earlier build of the
same folder already embedded is reused."""

from __future__ import annotations

import contextlib

import numpy as np

from ..article import SPLITTING, Article
from ..embed import E5, Embedder, Encoded
from ..lexical import Lexical
from .index import Index, PassageVectors

APPROXIMATE_ABOVE = 50_000
"""Exact search up to this many passages; above it an inverted file over k-means cells (IVF) keeps queries in
milliseconds. bench/speed.py scale has the curve to 1M passages."""
IVF_PROBES = 64
"""Cells searched per query: recall@10 0.995 at 1M passages, about 4 ms (an HNSW graph reached 0.59 there)."""
E5_UP_TO = 500
"""Articles up to this many passages get e5 passage vectors (about 0.2 s each here); longer ones are ranked
without them, so that indexing an archive stays as fast as MiniLM alone."""


def e5_for(e5: E5 | None, passages: int) -> E5 | None:
    """The second model an index of this many passages gets: e5, up to E5_UP_TO passages."""
    return e5 if passages <= E5_UP_TO else None


def build(article: Article, embedder: Embedder, e5: E5 | None = None, *, previous: Index | None = None,
          progress: bool = False) -> Index:  # fmt: skip
    """Embed every sentence (one model run gives its vector and its token vectors); a passage's vector is
    the normalized mean of its sentences'. Sentences already embedded in `previous` are not embedded again."""
    chunks = article.chunks
    sentences = [c.text[a:b] for c in chunks for a, b in c.sentences]
    known = _known(previous, embedder)
    todo = sorted({s for s in sentences if s not in known})
    if todo:
        encoded = _encode(embedder, todo, progress)
        known |= {s: (encoded.vectors[i], encoded.tokens[i], encoded.ids[i]) for i, s in enumerate(todo)}
    rows = [known[s] for s in sentences]
    sentence_vectors = np.array([r[0] for r in rows], dtype=np.float32).reshape(len(rows), embedder.dimension)
    owner = np.repeat(np.arange(len(chunks)), [len(c.sentences) for c in chunks])
    passage_vectors = np.zeros((len(chunks), embedder.dimension), dtype=np.float32)
    np.add.at(passage_vectors, owner, sentence_vectors)
    passage_vectors /= np.maximum(np.linalg.norm(passage_vectors, axis=1, keepdims=True), 1e-12)
    e5 = e5_for(e5, len(chunks))
    e5_vectors = _e5_vectors(e5, [c.text for c in chunks], previous, progress) if e5 else None
    tokens = np.concatenate([r[1] for r in rows] + [np.zeros((0, embedder.dimension))]).astype(np.float16)
    token_info = np.concatenate(
        [np.stack([r[2], np.full(len(r[2]), n)], axis=1) for n, r in enumerate(rows)] + [np.zeros((0, 2))]
    ).astype(np.int32)
    manifest = {
        "model": embedder.name,
        "dimension": int(embedder.dimension),
        "e5": e5.name if e5 else None,
        "article": {"name": article.name, "sha256": article.sha256, "chars": len(article.text)},
        "splitting": SPLITTING,
        "counts": {"paragraphs": len(article.paragraphs), "passages": len(chunks), "sentences": len(sentences),
                   "tokens": len(tokens)},
        "versions": _versions(),
    }  # fmt: skip
    passage_lexical = Lexical.build([c.text for c in chunks])
    sentence_lexical = Lexical.build(sentences, stop=sorted(passage_lexical.stop))
    return Index(article, PassageVectors(index=_faiss_index(passage_vectors)), sentence_vectors, tokens, token_info,
                 passage_lexical, sentence_lexical, manifest, e5_vectors)  # fmt: skip


def _faiss_index(vectors: np.ndarray):
    """Exact inner-product search, or above APPROXIMATE_ABOVE an IVF index: 4·sqrt(n) cells, trained by k-means on
    a fixed sample (the same article always gives the same index)."""
    import faiss

    n, d = vectors.shape
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    if n <= APPROXIMATE_ABOVE:
        index = faiss.IndexFlatIP(d)
    else:
        cells = int(4 * np.sqrt(n))
        index = faiss.index_factory(d, f"IVF{cells},Flat", faiss.METRIC_INNER_PRODUCT)
        sample = np.sort(np.random.default_rng(0).choice(n, min(n, 50 * cells), replace=False))
        index.train(vectors[sample])
        index.nprobe = IVF_PROBES
    index.add(vectors)
    return index


def _known(previous: Index | None, embedder: Embedder) -> dict[str, tuple]:
    """Sentences an earlier build already embedded with the same model: text -> (vector, tokens, ids)."""
    if previous is None or previous.manifest.get("model") != embedder.name:
        return {}
    texts = [c.text[a:b] for c in previous.chunks for a, b in c.sentences]
    sentence = previous.token_info[:, 1]
    bounds = np.searchsorted(sentence, np.arange(len(texts) + 1))
    return {
        t: (
            previous.sentence_vectors[n],
            previous.tokens[bounds[n] : bounds[n + 1]],
            previous.token_info[bounds[n] : bounds[n + 1], 0],
        )
        for n, t in enumerate(texts)
    }  # fmt: skip


def _e5_vectors(e5: E5, texts: list[str], previous: Index | None, progress: bool) -> np.ndarray:
    """e5 vectors of the passages; those an earlier build of the folder already has are reused."""
    known = {}
    if previous is not None and previous.e5_vectors is not None and previous.manifest.get("e5") == e5.name:
        known = {c.text: v for c, v in zip(previous.chunks, previous.e5_vectors, strict=True)}
    todo = sorted({t for t in texts if t not in known})
    step = 16
    from tqdm import tqdm

    with tqdm(total=len(todo), desc="e5 passages", unit="passage", leave=False,
              disable=not progress or len(todo) < 16) as bar:  # fmt: skip
        for i in range(0, len(todo), step):
            known |= dict(zip(todo[i : i + step], e5.passages(todo[i : i + step]), strict=True))
            bar.update(len(todo[i : i + step]))
    return np.array([known[t] for t in texts], dtype=np.float32).reshape(len(texts), e5.dimension)


def _encode(embedder: Embedder, texts: list[str], progress: bool) -> Encoded:
    """encode_tokens in slices, with a progress bar on stderr for long articles."""
    step = 256
    if not progress or len(texts) < 64:
        return embedder.encode_tokens(texts)
    from tqdm import tqdm

    parts = []
    with tqdm(total=len(texts), desc="embedding sentences", unit="sentence", leave=False) as bar:
        for i in range(0, len(texts), step):
            parts.append(embedder.encode_tokens(texts[i : i + step]))
            bar.update(len(parts[-1].vectors))
    return Encoded(
        np.concatenate([p.vectors for p in parts]),
        [t for p in parts for t in p.tokens],
        [i for p in parts for i in p.ids],
    )


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for package in ("article-assistant", "faiss-cpu", "numpy", "onnxruntime", "tokenizers", "syntok"):
        with contextlib.suppress(PackageNotFoundError):
            out[package] = version(package)
    return out
