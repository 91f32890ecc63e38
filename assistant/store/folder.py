"""The index folder's format: a manifest naming a data folder of plain files, written atomically and checked on load.

    article.index/
      manifest.json          replaced atomically, last; names the data folder and every file's sha256
      .lock                  held while building, so two processes never write at once
      .readers               shared-locked while loading; a builder deletes old data folders only between loads
      data-<id>/
        article.json         the article text, ¶ spans and metadata (title, source, author, date, url, format)
        passages.jsonl       one distinct paragraph per line: ¶ numbers, verbatim text, sentence spans
        passages.faiss       paragraph vectors (inner product over normalized vectors)
        sentences.npy        sentence vectors, in passage order
        tokens.npy           contextual token vectors of every sentence (float16), for late interaction
        token_info.npy       per token: model token id, sentence number
        e5.npy               passage vectors of the second model, e5 (articles up to E5_UP_TO passages)
        parse.json, parse_tokens.npy, parse_spans.npy   tokens (POS, dependency), entities and noun chunks (nlp.py)
        bm25_passages.json/.npz, bm25_sentences.json/.npz   BM25 columns precomputed by bm25s

A crash while building leaves the previous manifest, and so the previous index, untouched.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import time
import uuid
from pathlib import Path

import numpy as np

from ..article import SPLITTING, Article, Chunk, Paragraph
from ..embed import E5, Embedder
from ..errors import IndexStoreError
from ..lexical import Lexical
from ..parse import END, SENTENCE, Parse
from ..parse import FILES as PARSE_FILES
from . import locks
from .builder import e5_for
from .index import Index, PassageVectors, Stale

FORMAT = 3
"""The manifest's format number: a change to the folder's layout bumps it, and older folders are rebuilt (3: the
parse files, for short answers and answer types)."""
_DATA_NAME = re.compile(r"data-[0-9A-Za-z-]+")
_SHA256 = re.compile(r"[0-9a-f]{64}")


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
            "author": a.author, "date": a.date, "url": a.url, "format": a.format,
            "paragraphs": [[p.start, p.end] for p in a.paragraphs],
        }, ensure_ascii=False))  # fmt: skip
        _write(tmp / "passages.jsonl", "".join(json.dumps({
            "paragraphs": list(c.paragraphs), "start": c.start, "text": c.text,
            "sentences": [list(s) for s in c.sentences], "metadata": c.metadata,
        }, ensure_ascii=False) + "\n" for c in a.chunks))  # fmt: skip
        faiss.write_index(index.passage_vectors.faiss(), str(tmp / "passages.faiss"))
        np.save(tmp / "sentences.npy", index.sentence_vectors, allow_pickle=False)
        np.save(tmp / "tokens.npy", index.tokens, allow_pickle=False)
        np.save(tmp / "token_info.npy", index.token_info, allow_pickle=False)
        if index.e5_vectors is not None:
            np.save(tmp / "e5.npy", index.e5_vectors, allow_pickle=False)
        index.passage_lexical.save(tmp, "bm25_passages")
        index.sentence_lexical.save(tmp, "bm25_sentences")
        index.parse.save(tmp)
        files = {f.name: _digest(f) for f in sorted(tmp.iterdir())}
        for f in tmp.iterdir():
            _fsync(f)
        tmp.rename(folder / data)
        _fsync(folder)
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        manifest = {"format": FORMAT, **index.manifest, "data": data, "files": files, "created": created}
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


def check(manifest: dict, embedder: Embedder, e5: E5 | None, *, article_sha256: str | None = None) -> None:
    """Raise Stale if the manifest does not describe an index of this article built with these models (e5 for an
    article short enough to get it, build.e5_for)."""
    if article_sha256 and manifest.get("article", {}).get("sha256") != article_sha256:
        raise Stale("the article changed since it was indexed")
    model = embedder.name
    if manifest.get("model") != model or manifest.get("dimension") != embedder.dimension:
        raise Stale(f"built with model {manifest.get('model')!r} ({manifest.get('dimension')}-d), not {model!r}")
    e5 = e5_for(e5, manifest["counts"]["passages"])
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
    with locks.reading(folder):
        try:
            return read_data(folder, manifest)
        except Stale:
            try:
                current = read_manifest(folder)
            except Stale:
                current = manifest
            if current.get("data") == manifest.get("data") or any(
                current.get(key) != manifest.get(key) for key in ("model", "dimension", "splitting")
            ):
                raise
            return read_data(folder, current)


def read_data(folder: Path, manifest: dict) -> Index:
    """The data folder a checked manifest names, every file's checksum verified before it is parsed (the caller
    holds the readers' lock)."""
    data = folder / str(manifest.get("data", ""))
    files = manifest.get("files") or {}
    expected = {"article.json", "passages.jsonl", "passages.faiss", "sentences.npy", "tokens.npy", "token_info.npy"}
    expected |= {f"bm25_{level}.{ext}" for level in ("passages", "sentences") for ext in ("json", "npz")}
    expected |= {"e5.npy"} if manifest.get("e5") else set()
    expected |= set(PARSE_FILES)
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
        article = Article(a["name"], text, a["sha256"], paragraphs, chunks, a["title"], a["source"], a.get("author"),
                          a.get("date"), a.get("url"), a.get("format", "text"))  # fmt: skip
        sentence_vectors = np.load(data / "sentences.npy", allow_pickle=False)
        tokens = np.load(data / "tokens.npy", allow_pickle=False)
        token_info = np.load(data / "token_info.npy", allow_pickle=False)
        passage_lexical = Lexical.load(data, "bm25_passages")
        sentence_lexical = Lexical.load(data, "bm25_sentences")
        e5_vectors = np.load(data / "e5.npy", allow_pickle=False) if manifest.get("e5") else None
        parse = Parse.load(data, sum(len(c.sentences) for c in chunks))
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
    passage_chars = np.array([len(c.text) for c in chunks for _ in c.sentences], dtype=np.int64)
    if len(parse.tokens) and (parse.tokens[:, END] > passage_chars[parse.tokens[:, SENTENCE]]).any():
        raise Stale("index files disagree with the manifest")
    vectors = PassageVectors(path=data / "passages.faiss")
    return Index(article, vectors, sentence_vectors, tokens, token_info, passage_lexical, sentence_lexical, manifest,
                 e5_vectors, parse)  # fmt: skip



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
    with locks.readers(folder, exclusive=True) as locked:
        if not locked:
            return  # loads kept going for CLEANUP_WAIT seconds: the next build deletes these instead
        for entry in folder.iterdir():
            if (
                entry.is_dir()
                and entry.name != keep
                and (entry.name.startswith("data-") or entry.name.startswith(".data-"))
            ):
                shutil.rmtree(entry, ignore_errors=True)
