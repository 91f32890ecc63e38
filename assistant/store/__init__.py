"""An article's index: built by running the embedders (build.py), kept in a folder of plain, checksummed files
written atomically (folder.py), guarded by a builder's lock and a readers' lock (locks.py)."""

from __future__ import annotations

import logging
from pathlib import Path

from ..article import Article
from ..embed import E5, Embedder
from ..errors import IndexStoreError
from . import locks
from .builder import APPROXIMATE_ABOVE, E5_UP_TO, IVF_PROBES, Progress, build, e5_for, passage_means
from .folder import FORMAT, check, load, read_data, read_manifest, save
from .index import Index, PassageVectors, Stale

__all__ = [
    "APPROXIMATE_ABOVE",
    "E5_UP_TO",
    "FORMAT",
    "IVF_PROBES",
    "Index",
    "PassageVectors",
    "Progress",
    "Stale",
    "build",
    "check",
    "default_index_dir",
    "e5_for",
    "load",
    "open_index",
    "open_or_build",
    "passage_means",
    "read_data",
    "read_manifest",
    "save",
]

log = logging.getLogger("assistant")


def default_index_dir(article_path: str | Path) -> Path:
    """index/article.txt -> index/article.index/: the index lands beside its article."""
    path = Path(article_path)
    return path.with_name(path.stem + ".index")


def open_or_build(folder: Path, article: Article, embedder: Embedder, e5: E5 | None = None, *,
                  progress: bool | Progress = False) -> Index:  # fmt: skip
    """The index of this article in folder; built (and saved atomically) when missing, stale or damaged."""
    try:
        return open_index(folder, article, embedder, e5)
    except Stale as why:
        reason = why
    from filelock import Timeout

    try:
        folder.mkdir(parents=True, exist_ok=True)
        with locks.building(folder):
            try:  # another process may have built it while this one waited for the lock
                return open_index(folder, article, embedder, e5)
            except Stale as why:
                reason = why
            log.info("indexing %s into %s (%s)", article.name, folder, reason)
            index = build(article, embedder, e5, previous=_previous(folder), progress=progress)
            save(index, folder)
            return index
    except Timeout:
        raise IndexStoreError(f"{folder} is locked by another indexing process: try again when it finishes") from None
    except OSError as e:
        raise IndexStoreError(
            f"the index in {folder} must be rebuilt ({reason}) but the folder is not writable ({e.strerror}): "
            "make it writable or choose another folder with --index DIR"
        ) from None


def open_index(folder: Path, article: Article, embedder: Embedder, e5: E5 | None) -> Index:
    """The index of this article in folder as built with these models; Stale if there is none (nothing is built)."""
    with locks.reading(folder):  # the manifest and the data folder it names are read together
        manifest = read_manifest(folder)
        check(manifest, embedder, e5, article_sha256=article.sha256)
        return read_data(folder, manifest)


def _previous(folder: Path) -> Index | None:
    """The folder's last good index whatever its article, so unchanged texts need no new embedding."""
    try:
        return load(folder, read_manifest(folder))
    except Stale:
        return None
