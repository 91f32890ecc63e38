"""Building an index: the embedders run over the article's sentences and passages; what an earlier build of the
same folder already embedded is reused."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import numpy as np

from ..article import SPLITTING, Article
from ..embed import E5, Embedder, Encoded
from ..lexical import Lexical
from ..parse import HEAD, SENTENCE, Parse
from .index import Index, PassageVectors

APPROXIMATE_ABOVE = 50_000
"""Exact search up to this many passages; above it an inverted file over k-means cells (IVF) keeps queries in
milliseconds. bench/speed.py scale has the curve to 1M passages."""
IVF_PROBES = 64
"""Cells searched per query: recall@10 0.995 at 1M passages, about 4 ms (an HNSW graph reached 0.59 there)."""
Progress = Callable[[str, float], None]
"""Told how indexing goes, as it goes: ("embedding sentences", 0.4), then ("e5 passages", 0.1), ..."""
E5_UP_TO = 500
"""Articles up to this many passages get e5 passage vectors (about 0.2 s each here); longer ones are ranked
without them, so that indexing an archive stays as fast as MiniLM alone."""


def e5_for(e5: E5 | None, passages: int) -> E5 | None:
    """The second model an index of this many passages gets: e5, up to E5_UP_TO passages."""
    return e5 if passages <= E5_UP_TO else None


def build(article: Article, embedder: Embedder, e5: E5 | None = None, *, previous: Index | None = None,
          progress: bool | Progress = False) -> Index:  # fmt: skip
    """Embed every sentence (one model run gives its vector and its token vectors); a passage's vector is
    the normalized mean of its sentences'. Sentences already embedded in `previous` are not embedded again.
    progress: True for bars on stderr, or a Progress to tell."""
    chunks = article.chunks
    sentences = [c.text[a:b] for c in chunks for a, b in c.sentences]
    known = _known(previous, embedder)
    todo = sorted({s for s in sentences if s not in known})
    if todo:
        encoded = _encode(embedder, todo, progress)
        known |= {s: (encoded.vectors[i], encoded.tokens[i], encoded.ids[i]) for i, s in enumerate(todo)}
    rows = [known[s] for s in sentences]
    sentence_vectors = np.array([r[0] for r in rows], dtype=np.float32).reshape(len(rows), embedder.dimension)
    passage_vectors = passage_means(sentence_vectors, [len(c.sentences) for c in chunks])
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
    parse = _parse(chunks, progress)
    manifest["nlp"] = parse.model
    return Index(article, PassageVectors(index=_faiss_index(passage_vectors)), sentence_vectors, tokens, token_info,
                 passage_lexical, sentence_lexical, manifest, e5_vectors, parse)  # fmt: skip


def passage_means(sentence_vectors: np.ndarray, counts: list[int]) -> np.ndarray:
    """A passage's vector: the normalized mean of its sentences' (counts: sentences per passage, in order); what
    FAISS searches, and what the archive's engine stores."""
    owner = np.repeat(np.arange(len(counts)), counts)
    vectors = np.zeros((len(counts), sentence_vectors.shape[1]), dtype=np.float32)
    np.add.at(vectors, owner, sentence_vectors)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    return vectors


def _parse(chunks, progress: bool | Progress) -> Parse:
    """Every sentence tagged, parsed and its entities found, once (nlp.py; the bundled article takes a second,
    most of it loading the pipeline); offsets are into the passage's text."""
    from .. import nlp

    texts = [c.text[a:b] for c in chunks for a, b in c.sentences]
    offsets = [a for c in chunks for a, _ in c.sentences]
    parts = list(_slices(len(texts), 512, progress, "parsing sentences", "sentence"))
    if len(parts) <= 1:
        return nlp.parse(texts, offsets)
    pieces = []
    for part in parts:  # slices, so that progress is told as it goes
        pieces.append((part.start, nlp.parse(texts[part], offsets[part])))
    return _joined(pieces)


def _joined(pieces: list[tuple[int, Parse]]) -> Parse:
    """Parses of consecutive slices of sentences as one: sentence numbers and token rows shifted."""
    tokens, spans, rows = [], [], 0
    for first, p in pieces:
        t, s = p.tokens.copy(), p.spans.copy()
        t[:, SENTENCE] += first
        t[:, HEAD] += rows
        s[:, 0] += first
        s[:, 1:3] += rows
        tokens.append(t)
        spans.append(s)
        rows += len(t)
    first = pieces[0][1]
    return Parse(np.concatenate(tokens), np.concatenate(spans), first.labels, first.model)


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


def _e5_vectors(e5: E5, texts: list[str], previous: Index | None, progress: bool | Progress) -> np.ndarray:
    """e5 vectors of the passages; those an earlier build of the folder already has are reused."""
    known = {}
    if previous is not None and previous.e5_vectors is not None and previous.manifest.get("e5") == e5.name:
        known = {c.text: v for c, v in zip(previous.chunks, previous.e5_vectors, strict=True)}
    todo = sorted({t for t in texts if t not in known})
    for part in _slices(len(todo), 16, progress, "e5 passages", "passage"):
        known |= dict(zip(todo[part], e5.passages(todo[part]), strict=True))
    return np.array([known[t] for t in texts], dtype=np.float32).reshape(len(texts), e5.dimension)


def _encode(embedder: Embedder, texts: list[str], progress: bool | Progress) -> Encoded:
    """encode_tokens in slices when progress is shown (on stderr, or told to a Progress), else in one call."""
    if not progress or len(texts) < 64:
        return embedder.encode_tokens(texts)
    parts = [embedder.encode_tokens(texts[part]) for part in _slices(len(texts), 256, progress, "embedding sentences",
                                                                     "sentence")]  # fmt: skip
    return Encoded(
        np.concatenate([p.vectors for p in parts]),
        [t for p in parts for t in p.tokens],
        [i for p in parts for i in p.ids],
    )


def _slices(total: int, step: int, progress: bool | Progress, stage: str, unit: str) -> Iterator[slice]:
    """Slices of step items over total, with progress on stderr (True; only when there are several) or told to a
    Progress after each slice."""
    from tqdm import tqdm

    with tqdm(total=total, desc=stage, unit=unit, leave=False, disable=progress is not True or total < step) as bar:
        for start in range(0, total, step):
            yield slice(start, min(start + step, total))
            bar.update(min(step, total - start))
            if callable(progress):
                progress(stage, min(start + step, total) / total)


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for package in ("article-assistant", "faiss-cpu", "numpy", "onnxruntime", "tokenizers", "syntok", "spacy"):
        with contextlib.suppress(PackageNotFoundError):
            out[package] = version(package)
    return out
