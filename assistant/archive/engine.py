"""The archive's passage store: every passage vector of every article in one Qdrant collection, embedded in a
folder (qdrant-client's local mode, no server) or on a Qdrant server or cluster by URL, with the same calls.

Points are keyed by uuid5(article id, passage row), so storing an article twice stores it once; an article counts as
stored only once its marker point is written, after all its passages (a kill in between leaves it unmarked, and the
next ingest stores it again over the same ids).
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import LibraryError

log = logging.getLogger("assistant")
NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "article-assistant/archive")
BATCH = 256
"""Points per upsert: one request to a server (or one pass in local mode) for a news article's passages."""
_MARK = [1.0]
"""The markers' one-dimensional vector: a collection needs one, and nobody searches it."""


@dataclass(frozen=True, slots=True)
class Hit:
    """A passage the engine found near a question: its article, its row in that article's index, its cosine."""

    article: str
    row: int
    score: float


def point_id(article_id: str, row: int) -> str:
    """The point of an article's passage (row: its number in the article's index), the same on every run."""
    return str(uuid.uuid5(NAMESPACE, f"{article_id}/{row}"))


def is_url(location: str | Path) -> bool:
    return str(location).lower().startswith(("http://", "https://"))


class PassageStore:
    """One collection of passage vectors for one embedding model (its name and dimension name the collection), and
    one of markers (which articles are stored in full). Thread-safe: local mode is one client per folder and process,
    and its collections must not be written from two threads at once."""

    def __init__(self, location: str | Path, model: str, dimension: int):
        """location: a folder (embedded Qdrant, created if missing) or an http(s) URL of a Qdrant server."""
        from qdrant_client import QdrantClient  # imported here: half a second, and only archive commands need it

        self.location = str(location)
        self.dimension = int(dimension)
        key = hashlib.sha256(f"{model}/{dimension}".encode()).hexdigest()[:12]
        self.passages, self.markers = f"passages_{key}", f"articles_{key}"
        self._lock = threading.RLock()
        try:
            if is_url(location):
                self.client = QdrantClient(url=self.location, timeout=30)
            else:
                self.client, self._lock = _embedded(Path(location))  # shared, with its lock
        except RuntimeError as e:  # local mode: another process holds the folder's lock
            raise LibraryError(
                f"the archive in {location} is open in another process (a running `assistant serve`?): stop it, or "
                "run a Qdrant server and pass --engine URL to both"
            ) from e
        try:
            self._ensure()
        except Exception as e:
            if not is_url(location):
                raise
            raise LibraryError(
                f"cannot reach the Qdrant server at {location} ({e}): start it, or check --engine URL"
            ) from None

    def _ensure(self) -> None:
        from qdrant_client import models

        for name, size, distance in ((self.passages, self.dimension, models.Distance.DOT),
                                     (self.markers, 1, models.Distance.DOT)):  # fmt: skip
            if not self.client.collection_exists(name):
                self.client.create_collection(name, vectors_config=models.VectorParams(size=size, distance=distance))
                if is_url(self.location):
                    self.client.create_payload_index(name, "article", models.PayloadSchemaType.KEYWORD)
        self._fast_commits()

    def _fast_commits(self) -> None:
        """Local mode commits every point to SQLite with an fsync (about 80 points/s here). In WAL mode with
        synchronous=NORMAL a commit waits for no disk (4,500 points/s): a killed process loses nothing it
        committed, a power cut at most the last commits, which the next ingest redoes (its markers come last)."""
        collections = getattr(getattr(self.client, "_client", None), "collections", None)
        for name in (self.passages, self.markers):
            connection = getattr(getattr(getattr((collections or {}).get(name), "storage", None), "storage", None),
                                 "execute", None)  # fmt: skip
            if connection is not None:
                connection("PRAGMA journal_mode=WAL")
                connection("PRAGMA synchronous=NORMAL")

    # ---- writing -------------------------------------------------------------------------------------------------

    def put(self, article_id: str, rows: Iterable[int], vectors: np.ndarray, paragraphs: Iterable[int]) -> None:
        """Store an article's passages (their rows in its index, unit vectors, ¶ numbers), then mark it stored."""
        from qdrant_client import models

        rows, paragraphs = list(rows), list(paragraphs)
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(rows), self.dimension)
        with self._lock:
            for s in range(0, len(rows), BATCH):
                batch = rows[s : s + BATCH]
                self.client.upsert(self.passages, wait=True, points=models.Batch(
                    ids=[point_id(article_id, r) for r in batch],
                    vectors=vectors[s : s + BATCH].tolist(),
                    payloads=[{"article": article_id, "row": r, "paragraph": p}
                              for r, p in zip(batch, paragraphs[s : s + BATCH], strict=True)],
                ))  # fmt: skip
            marker = models.PointStruct(id=point_id(article_id, -1), vector=_MARK,
                                        payload={"article": article_id, "passages": len(rows)})  # fmt: skip
            self.client.upsert(self.markers, wait=True, points=[marker])

    def remove(self, article_id: str) -> None:
        """Forget an article: its marker first (it no longer counts as stored), then its passages."""
        from qdrant_client import models

        match = models.Filter(must=[models.FieldCondition(key="article", match=models.MatchValue(value=article_id))])
        with self._lock:
            self.client.delete(self.markers, points_selector=models.PointIdsList(points=[point_id(article_id, -1)]))
            self.client.delete(self.passages, points_selector=models.FilterSelector(filter=match))

    # ---- reading -------------------------------------------------------------------------------------------------

    def stored(self) -> set[str]:
        """The ids of the articles stored in full."""
        found, offset = set(), None
        with self._lock:
            while True:
                points, offset = self.client.scroll(self.markers, limit=1000, offset=offset, with_payload=True)
                found |= {p.payload["article"] for p in points}
                if offset is None:
                    return found

    def count(self) -> int:
        """Passages stored."""
        with self._lock:
            return self.client.count(self.passages, exact=True).count

    def search(self, vector: np.ndarray, limit: int, articles: Iterable[str] | None = None) -> list[Hit]:
        """The passages nearest to a unit vector, best first; only those of `articles` when given."""
        from qdrant_client import models

        where = None
        if articles is not None:
            match = models.MatchAny(any=list(articles))
            where = models.Filter(must=[models.FieldCondition(key="article", match=match)])
        with self._lock:
            found = self.client.query_points(self.passages, query=np.asarray(vector, dtype=np.float32).tolist(),
                                             limit=limit, query_filter=where, with_payload=True).points  # fmt: skip
        return [Hit(p.payload["article"], int(p.payload["row"]), float(p.score)) for p in found]

    def close(self) -> None:
        """Let go of the engine (an embedded one closes, and unlocks its folder, when its last user closes it)."""
        with self._lock:
            if is_url(self.location):
                self.client.close()
            else:
                _release(Path(self.location))


_EMBEDDED: dict[Path, list] = {}
"""Embedded engines open in this process, by folder: [client, users, lock]. Local mode locks its folder for one client,
so every PassageStore of a folder (the server's, a test's) shares it."""
_EMBEDDED_LOCK = threading.Lock()


def _embedded(folder: Path):
    from qdrant_client import QdrantClient

    key = folder.resolve()
    with _EMBEDDED_LOCK:
        if key not in _EMBEDDED:
            key.mkdir(parents=True, exist_ok=True)
            _EMBEDDED[key] = [QdrantClient(path=str(key), force_disable_check_same_thread=True), 0, threading.RLock()]
        _EMBEDDED[key][1] += 1
        return _EMBEDDED[key][0], _EMBEDDED[key][2]


@atexit.register
def _close_all() -> None:
    """Close embedded engines before the interpreter tears down the modules their __del__ would need."""
    with _EMBEDDED_LOCK:
        for client, _, _ in _EMBEDDED.values():
            client.close()
        _EMBEDDED.clear()


def _release(folder: Path) -> None:
    key = folder.resolve()
    with _EMBEDDED_LOCK:
        held = _EMBEDDED.get(key)
        if held is not None:
            held[1] -= 1
            if held[1] <= 0:
                del _EMBEDDED[key]
                held[0].close()
