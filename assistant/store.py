"""The index folder: a manifest naming a data folder of plain files, written atomically and checked on load.

    article.index/
      manifest.json          replaced atomically, last; names the data folder and every file's sha256
      .lock                  held while building, so two processes never write at once
      .readers               shared-locked while loading; a builder deletes old data folders only between loads
      data-<id>/
        article.json         the article text, ¶ spans, title and source (an index is self-contained)
        passages.jsonl       one distinct paragraph per line: ¶ numbers, verbatim text, sentence spans
        passages.faiss       paragraph vectors (inner product over normalized vectors)
        sentences.npy        sentence vectors, in passage order
        tokens.npy           contextual token vectors of every sentence (float16), for late interaction
        token_info.npy       per token: model token id, sentence number
        e5.npy               passage vectors of the second model, e5 (articles up to E5_UP_TO passages)
        bm25_passages.json/.npz, bm25_sentences.json/.npz   BM25 columns precomputed by bm25s

A crash while building leaves the previous manifest, and so the previous index, untouched.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .article import SPLITTING, Article, Chunk, Paragraph
from .embed import E5
from .errors import IndexStoreError
from .lexical import Lexical

FORMAT = 2
APPROXIMATE_ABOVE = 50_000
"""Exact search up to this many passages; above it an inverted file over k-means cells (IVF) keeps queries in
milliseconds. bench/speed.py scale has the curve to 1M passages."""
IVF_PROBES = 64
"""Cells searched per query: recall@10 0.995 at 1M passages, about 4 ms (an HNSW graph reached 0.59 there)."""
E5_UP_TO = 500
"""Articles up to this many passages get e5 passage vectors (about 0.2 s each here); longer ones are ranked
without them, so that indexing an archive stays as fast as MiniLM alone."""
LOCK_TIMEOUT = 600.0
CLEANUP_WAIT = 30.0
"""Seconds a builder waits for loads in progress before deleting old data folders (else the next build does)."""
_DATA_NAME = re.compile(r"data-[0-9A-Za-z-]+")
_SHA256 = re.compile(r"[0-9a-f]{64}")


class Stale(Exception):
    """The folder holds no usable index for this article and model (the reason is the message)."""


@dataclass(frozen=True)
class Index:
    """Everything a question needs, loaded from (or about to be written to) an index folder."""

    article: Article
    vectors: Any  # faiss.Index over passage vectors; the path of passages.faiss until faiss_index() reads it
    sentence_vectors: np.ndarray
    tokens: np.ndarray
    token_info: np.ndarray
    passage_lexical: Lexical
    sentence_lexical: Lexical
    manifest: dict
    e5_vectors: np.ndarray | None = None

    @property
    def chunks(self) -> tuple[Chunk, ...]:
        return self.article.chunks

    def faiss_index(self):
        """The passage vectors' FAISS index, read on first use (importing faiss takes half a second)."""
        if isinstance(self.vectors, Path):
            import faiss

            object.__setattr__(self, "vectors", faiss.read_index(str(self.vectors)))
        return self.vectors


def default_index_dir(article_path: str | Path) -> Path:
    """index/article.txt -> index/article.index/: the index lands beside its article."""
    path = Path(article_path)
    return path.with_name(path.stem + ".index")


def build(article: Article, embedder, *, previous: Index | None = None, progress: bool = False) -> Index:
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
    e5 = e5_for(embedder, len(chunks))
    e5_vectors = _e5_vectors(e5, [c.text for c in chunks], previous, progress) if e5 else None
    tokens = np.concatenate([r[1] for r in rows] + [np.zeros((0, embedder.dimension))]).astype(np.float16)
    token_info = np.concatenate(
        [np.stack([r[2], np.full(len(r[2]), n)], axis=1) for n, r in enumerate(rows)] + [np.zeros((0, 2))]
    ).astype(np.int32)
    manifest = {
        "format": FORMAT,
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
    return Index(article, _faiss_index(passage_vectors), sentence_vectors, tokens, token_info,
                 passage_lexical, sentence_lexical, manifest, e5_vectors)  # fmt: skip


def e5_for(embedder, passages: int):
    """The second model an index of this many passages gets: the embedder's e5, up to E5_UP_TO passages."""
    return embedder.e5 if passages <= E5_UP_TO else None


def save(index: Index, folder: Path) -> None:
    """Write index to folder atomically: a new data folder first, then the manifest that names it."""
    import faiss

    folder.mkdir(parents=True, exist_ok=True)
    data = f"data-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:8]}"
    tmp = folder / f".{data}.tmp"
    tmp.mkdir()
    try:
        a = index.article
        _write(tmp / "article.json", json.dumps({
            "name": a.name, "text": a.text, "sha256": a.sha256, "title": a.title, "source": a.source,
            "paragraphs": [[p.start, p.end] for p in a.paragraphs],
        }, ensure_ascii=False))  # fmt: skip
        _write(tmp / "passages.jsonl", "".join(json.dumps({
            "paragraphs": list(c.paragraphs), "start": c.start, "text": c.text,
            "sentences": [list(s) for s in c.sentences], "metadata": c.metadata,
        }, ensure_ascii=False) + "\n" for c in a.chunks))  # fmt: skip
        faiss.write_index(index.faiss_index(), str(tmp / "passages.faiss"))
        np.save(tmp / "sentences.npy", index.sentence_vectors, allow_pickle=False)
        np.save(tmp / "tokens.npy", index.tokens, allow_pickle=False)
        np.save(tmp / "token_info.npy", index.token_info, allow_pickle=False)
        if index.e5_vectors is not None:
            np.save(tmp / "e5.npy", index.e5_vectors, allow_pickle=False)
        index.passage_lexical.save(tmp, "bm25_passages")
        index.sentence_lexical.save(tmp, "bm25_sentences")
        files = {f.name: _digest(f) for f in sorted(tmp.iterdir())}
        for f in tmp.iterdir():
            _fsync(f)
        tmp.rename(folder / data)
        _fsync(folder)
        manifest = dict(
            index.manifest, data=data, files=files, created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        )
        _write(folder / "manifest.json.tmp", json.dumps(manifest, indent=2, ensure_ascii=False))
        _fsync(folder / "manifest.json.tmp")  # on disk before it replaces the old one, or a power cut could empty it
        os.replace(folder / "manifest.json.tmp", folder / "manifest.json")
        _fsync(folder)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise IndexStoreError(
            f"cannot write the index to {folder} ({e.strerror}): choose a writable folder with --index DIR"
        ) from None
    _remove_unused(folder, keep=data)


def read_manifest(folder: Path) -> dict:
    """The manifest, or Stale saying why there is none."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise Stale("no index built yet") from None
    except (OSError, ValueError) as e:
        raise Stale(f"unreadable manifest ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise Stale(f"index format {manifest.get('format') if isinstance(manifest, dict) else '?'} is not {FORMAT}")
    if problem := _malformed(manifest):
        raise Stale(f"malformed manifest: {problem}")
    return manifest


def _malformed(manifest: dict) -> str | None:
    """What is wrong with a manifest's shape (so that nothing after this check meets a surprising type)."""
    article, files = manifest.get("article"), manifest.get("files")
    if not isinstance(manifest.get("model"), str) or type(manifest.get("dimension")) is not int:
        return "model or dimension"
    if not isinstance(manifest.get("e5"), str | None):
        return "e5 model"
    if not isinstance(manifest.get("counts"), dict) or type(manifest["counts"].get("passages")) is not int:
        return "counts"
    if not isinstance(article, dict) or not isinstance(article.get("sha256"), str):
        return "article"
    if not isinstance(manifest.get("data"), str) or not _DATA_NAME.fullmatch(manifest["data"]):
        return "data folder name"
    if not isinstance(files, dict) or not all(
        isinstance(d, dict) and type(d.get("bytes")) is int and d["bytes"] >= 0
        and isinstance(d.get("sha256"), str) and _SHA256.fullmatch(d["sha256"])
        for d in files.values()
    ):  # fmt: skip
        return "file list"
    return None


def check(manifest: dict, embedder, *, article_sha256: str | None = None) -> None:
    """Raise Stale if the manifest does not describe an index of this article with this embedder (and its e5)."""
    if article_sha256 and manifest.get("article", {}).get("sha256") != article_sha256:
        raise Stale("the article changed since it was indexed")
    model = embedder.name
    if manifest.get("model") != model or manifest.get("dimension") != embedder.dimension:
        raise Stale(f"built with model {manifest.get('model')!r} ({manifest.get('dimension')}-d), not {model!r}")
    e5 = e5_for(embedder, manifest["counts"]["passages"])
    if manifest.get("e5") != (e5.name if e5 else None):
        raise Stale(f"built {_with_e5(manifest.get('e5'))}, not {_with_e5(e5.name if e5 else None)}")
    if manifest.get("splitting") != SPLITTING:
        raise Stale("built with different splitting rules")


def _with_e5(name: str | None) -> str:
    return f"with {name!r}" if name else "without e5"


def load(folder: Path, manifest: dict) -> Index:
    """Load the data folder a checked manifest names, verifying every file's checksum before parsing it.

    Another process may rebuild the index meanwhile. It deletes the old data folder only when no load is in
    progress (a shared lock); and if the folder named here is already gone because the manifest now names a
    newer index built the same way (model, dimension, splitting), that one is loaded instead.
    """
    with _reading(folder):
        try:
            return _load_data(folder, manifest)
        except Stale:
            try:
                current = read_manifest(folder)
            except Stale:
                current = manifest
            if current.get("data") == manifest.get("data") or any(
                current.get(key) != manifest.get(key) for key in ("model", "dimension", "splitting")
            ):
                raise
            return _load_data(folder, current)


def _load_data(folder: Path, manifest: dict) -> Index:
    data = folder / str(manifest.get("data", ""))
    files = manifest.get("files") or {}
    expected = {"article.json", "passages.jsonl", "passages.faiss", "sentences.npy", "tokens.npy", "token_info.npy"}
    expected |= {f"bm25_{level}.{ext}" for level in ("passages", "sentences") for ext in ("json", "npz")}
    expected |= {"e5.npy"} if manifest.get("e5") else set()
    if set(files) != expected or "/" in str(manifest.get("data")) or not data.is_dir():
        raise Stale("the index data folder is missing or incomplete")
    for name, digest in files.items():
        path = data / name
        try:
            if path.stat().st_size != digest["bytes"] or _digest(path)["sha256"] != digest["sha256"]:
                raise Stale(f"{name} is damaged (checksum mismatch)")
        except OSError:
            raise Stale(f"{name} is missing") from None
    try:
        a = json.loads((data / "article.json").read_text(encoding="utf-8"))
        text = a["text"]
        paragraphs = tuple(Paragraph(i, s, e, text[s:e]) for i, (s, e) in enumerate(a["paragraphs"], start=1))
        chunks = tuple(
            Chunk(text=c["text"], paragraphs=tuple(c["paragraphs"]), start=c["start"],
                  sentences=tuple(tuple(s) for s in c["sentences"]), metadata=c["metadata"])
            for c in map(json.loads, (data / "passages.jsonl").read_text(encoding="utf-8").splitlines())
        )  # fmt: skip
        article = Article(a["name"], text, a["sha256"], paragraphs, chunks, a["title"], a["source"])
        sentence_vectors = np.load(data / "sentences.npy", allow_pickle=False)
        tokens = np.load(data / "tokens.npy", allow_pickle=False)
        token_info = np.load(data / "token_info.npy", allow_pickle=False)
        passage_lexical = Lexical.load(data, "bm25_passages")
        sentence_lexical = Lexical.load(data, "bm25_sentences")
        e5_vectors = np.load(data / "e5.npy", allow_pickle=False) if manifest.get("e5") else None
    except (OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
        raise Stale(f"unreadable index data ({type(e).__name__})") from None
    n, d, s = len(chunks), manifest.get("dimension"), sum(len(c.sentences) for c in chunks)
    if (
        sentence_vectors.shape != (s, d) or tokens.shape[1:] != (d,)
        or token_info.shape != (len(tokens), 2)
        or (len(token_info) and not 0 <= token_info[:, 1].min() <= token_info[:, 1].max() < s)
    ):  # fmt: skip
        raise Stale("index files disagree with the manifest")
    if passage_lexical.size != n or sentence_lexical.size != s:
        raise Stale("index files disagree with the manifest")
    if e5_vectors is not None and (e5_vectors.shape != (n, E5.dimension) or e5_vectors.dtype != np.float32):
        raise Stale("index files disagree with the manifest")
    return Index(article, data / "passages.faiss", sentence_vectors, tokens, token_info, passage_lexical,
                 sentence_lexical, manifest, e5_vectors)  # fmt: skip


def open_or_build(folder: Path, article: Article, embedder, *, progress: bool = False) -> Index:
    """The index of this article in folder; built (and saved atomically) when missing, stale or damaged."""
    try:
        return _open(folder, article, embedder)
    except Stale as why:
        reason = why
    from filelock import FileLock, Timeout

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with FileLock(str(folder / ".lock"), timeout=LOCK_TIMEOUT):
            try:  # another process may have built it while this one waited for the lock
                return _open(folder, article, embedder)
            except Stale as why:
                reason = why
            print(f"assistant: indexing {article.name} into {folder} ({reason})", file=sys.stderr)
            index = build(article, embedder, previous=_previous(folder), progress=progress)
            save(index, folder)
            return index
    except Timeout:
        raise IndexStoreError(f"{folder} is locked by another indexing process: try again when it finishes") from None
    except OSError as e:
        raise IndexStoreError(
            f"the index in {folder} must be rebuilt ({reason}) but the folder is not writable ({e.strerror}): "
            "make it writable or choose another folder with --index DIR"
        ) from None


def _open(folder: Path, article: Article, embedder) -> Index:
    with _reading(folder):  # the manifest and the data folder it names are read together
        manifest = read_manifest(folder)
        check(manifest, embedder, article_sha256=article.sha256)
        return _load_data(folder, manifest)


def _previous(folder: Path) -> Index | None:
    """The folder's last good index whatever its article, so unchanged texts need no new embedding."""
    try:
        return load(folder, read_manifest(folder))
    except Stale:
        return None


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


def _known(previous: Index | None, embedder) -> dict[str, tuple]:
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


def _e5_vectors(e5, texts: list[str], previous: Index | None, progress: bool) -> np.ndarray:
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


def _encode(embedder, texts: list[str], progress: bool):
    """encode_tokens in slices, with a progress bar on stderr for long articles."""
    from .embed import Encoded

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


def _digest(path: Path) -> dict:
    with path.open("rb") as f:
        return {"bytes": path.stat().st_size, "sha256": hashlib.file_digest(f, "sha256").hexdigest()}


def _write(path: Path, text: str) -> None:
    with path.open("w", encoding="utf-8") as f:
        f.write(text)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_unused(folder: Path, keep: str) -> None:
    """Delete data folders no manifest names any more (older builds, crashed builds), once no load is reading them.

    Called with the build lock held, so no other process is writing a data folder meanwhile.
    """
    with _readers_lock(folder, exclusive=True) as locked:
        if not locked:
            return  # loads kept going for CLEANUP_WAIT seconds: the next build deletes these instead
        for entry in folder.iterdir():
            if (
                entry.is_dir()
                and entry.name != keep
                and (entry.name.startswith("data-") or entry.name.startswith(".data-"))
            ):
                shutil.rmtree(entry, ignore_errors=True)


def _reading(folder: Path):
    """Held while a manifest's data folder is checked and read: builders do not delete data folders meanwhile."""
    return _readers_lock(folder, exclusive=False)


@contextlib.contextmanager
def _readers_lock(folder: Path, *, exclusive: bool):
    """flock on folder/.readers; yields whether it is held. Without the file (a read-only folder that never had a
    builder, or no folder at all) a reader goes ahead unlocked: nothing there can delete its files."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock (as before); the loader's fallback to the current manifest still applies
        yield True
        return
    path = folder / ".readers"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        try:
            fd = os.open(path, os.O_RDONLY)  # a read-only folder: a shared lock still works
        except OSError:
            yield False
            return
    try:
        if not exclusive:
            fcntl.flock(fd, fcntl.LOCK_SH)
            yield True
            return
        deadline = time.monotonic() + CLEANUP_WAIT
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    yield False
                    return
                time.sleep(0.01)
        yield True
    finally:
        os.close(fd)
