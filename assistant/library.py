"""The library: the articles a user has brought (uploaded, pasted or fetched), each stored once under the sha256 of
its content with its own index folder, beside the default article the server started with.

    library/
      <id>/                  id: the first 16 hex digits of the sha256 of the article's bytes
        source.<ext>         the bytes as brought (.html, .pdf, .docx, .md, .txt)
        article.index/       its index folder (store/: atomic, checksummed)
        entry.json           written last: an entry without it is an interrupted add, finished or removed later
      .lock                  held while an article is added or deleted

An article answers first with what is quick to build (MiniLM and BM25, ranked with the weights fitted for indexes
without e5), and with e5 as well once its passage vectors are done, in the background.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from . import store
from .api import Assistant
from .article import MAX_ARTICLE_BYTES, Article, parse_article
from .embed import E5, Embedder
from .errors import ArticleError, LibraryError, UnknownArticle
from .question import ARTICLE_ID
from .schema import ArticleEntry, ArticleInfo

log = logging.getLogger("assistant")
EXTENSIONS = {"html": ".html", "pdf": ".pdf", "docx": ".docx", "markdown": ".md", "text": ".txt"}
MAX_NAME_CHARS = 200
OPEN_AT_ONCE = 32
"""Articles kept open in memory; the least recently asked is closed beyond this (it reopens from disk in ms)."""

Progress = Callable[[str, float], None]
"""Told what indexing is doing ("embedding", 0.4) as it goes."""


class Library:
    """The default article and the articles added to it; answers open each one's Assistant on first use."""

    def __init__(self, default: Assistant, folder: Path, *, embedder: Embedder | None = None, e5: E5 | None = None,
                 allow_private_urls: bool = False, progress_bars: bool = False):  # fmt: skip
        """default: the article the server started with; folder: where added articles live; the models are the
        default article's unless given; allow_private_urls lets add_url reach loopback and private addresses (for
        tests against a local server: never on a server others can reach); progress_bars shows indexing on stderr
        (the CLI)."""
        self.default = default
        self.allow_private_urls = allow_private_urls
        self.progress_bars = progress_bars
        self.folder = Path(folder)
        self.embedder = embedder or default.embedder
        self.e5 = e5 if embedder is not None else default.e5
        self._open: dict[str, Assistant] = {default.article.id: default}
        self._full: set[str] = set()  # ids whose index has e5 vectors (or never will: too long, or no e5)
        self._lock = threading.RLock()
        self._upgrades: dict[str, threading.Thread] = {}

    # ---- reading -----------------------------------------------------------------------------------------------

    @property
    def default_id(self) -> str:
        return self.default.article.id

    def entries(self) -> list[ArticleEntry]:
        """The default article first, then the added ones, newest first."""
        added = []
        for path in sorted(self.folder.glob("*/entry.json")) if self.folder.is_dir() else ():
            entry = self._read_entry(path)
            if entry is not None and entry.id != self.default_id:
                added.append(entry)
        added.sort(key=lambda e: e.added or "", reverse=True)
        default = ArticleEntry(**ArticleInfo.of(self.default.article).model_dump(), default=True)
        return [default, *added]

    def entry(self, article_id: str | None) -> ArticleEntry:
        """The entry of an id (None: the default article); UnknownArticle if there is none."""
        if article_id in (None, self.default_id):
            return self.entries()[0]
        self._check_id(article_id)
        entry = self._read_entry(self.folder / article_id / "entry.json")
        if entry is None:
            raise UnknownArticle(f"no article {article_id} in the library: list them with GET /api/articles")
        return entry

    def get(self, article_id: str | None = None) -> Assistant:
        """The Assistant of an article (None: the default one), opened from its index folder on first use."""
        if article_id is None or article_id == self.default_id:
            return self.default
        entry = self.entry(article_id)
        with self._lock:
            bot = self._open.get(entry.id)
            if bot is not None:
                self._open[entry.id] = self._open.pop(entry.id)  # most recently used last
                return bot
        bot = self._assistant(entry)
        with self._lock:
            self._open[entry.id] = bot
            while len(self._open) > OPEN_AT_ONCE + 1:
                oldest = next(i for i in self._open if i != self.default_id)
                del self._open[oldest]
        return bot

    def ready(self, article_id: str) -> bool:
        """Whether the article answers at full quality (its e5 vectors are done, or it will never have them)."""
        return article_id == self.default_id or article_id in self._full

    # ---- adding and deleting -------------------------------------------------------------------------------------

    def add(self, data: bytes, name: str, *, url: str | None = None, progress: Progress | None = None,
            upgrade: bool = True) -> tuple[ArticleEntry, bool]:  # fmt: skip
        """Store an article (bytes in any supported format) and index it; (its entry, whether it is new). The same
        bytes added twice, at once or not, are stored once. With upgrade, e5 catches up in the background."""
        name = clean_name(name)
        if len(data) > MAX_ARTICLE_BYTES:
            raise ArticleError(f"{name} is {len(data):,} bytes; the limit is {MAX_ARTICLE_BYTES:,}: send a smaller one")
        article = parse_article(data, name=name)  # ArticleError before anything is written
        if article.id == self.default_id:
            return self.entries()[0], False
        from filelock import FileLock

        self.folder.mkdir(parents=True, exist_ok=True)
        with FileLock(str(self.folder / ".lock"), timeout=store.locks.LOCK_TIMEOUT):
            home = self.folder / article.id
            if (home / "entry.json").exists():
                return self.entry(article.id), False
            shutil.rmtree(home, ignore_errors=True)  # an add that was interrupted
            tmp = self.folder / f".add-{article.id}-{uuid.uuid4().hex[:8]}"
            tmp.mkdir()
            try:
                (tmp / f"source{EXTENSIONS[article.format]}").write_bytes(data)
                if progress:
                    progress("indexing", 0.1)
                fast = store.open_or_build(tmp / "article.index", article, self.embedder, None,
                                           progress=self.progress_bars)  # fmt: skip
                added = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
                entry = ArticleEntry(**ArticleInfo.of(article).model_dump(), added=added)
                if url and not entry.url:
                    entry = entry.model_copy(update={"url": url})
                _write_json(tmp / "entry.json", entry.model_dump(mode="json", exclude={"default", "complete"}))
                os.replace(tmp, home)
            except OSError as e:
                shutil.rmtree(tmp, ignore_errors=True)
                raise LibraryError(
                    f"cannot store the article in {self.folder} ({e.strerror}): choose a folder with --library DIR"
                ) from None
        with self._lock:
            self._open[entry.id] = Assistant(fast, self.embedder, None, home / "article.index")
            if self.e5 is None or store.e5_for(self.e5, len(article.chunks)) is None:
                self._full.add(entry.id)
        if progress:
            progress("ready", 1.0)
        if upgrade and entry.id not in self._full:
            self._start_upgrade(entry.id, article)
        return entry.model_copy(update={"complete": self.ready(entry.id)}), True

    def add_text(self, text: str, name: str | None = None, *, progress: Progress | None = None
                 ) -> tuple[ArticleEntry, bool]:  # fmt: skip
        """Add pasted text (plain, or Markdown when it opens with a "# " heading), listed under its first words
        unless a name is given."""
        if name is None:
            first = next((line for line in text.splitlines() if line.strip()), "")
            words = first.lstrip("#").split()
            name = " ".join(words[:8]) + ("…" if len(words) > 8 else "") or "pasted"
        return self.add(text.encode("utf-8", "surrogatepass"), name, progress=progress)

    def add_url(self, url: str, *, progress: Progress | None = None) -> tuple[ArticleEntry, bool]:
        """Fetch a news page, PDF or DOCX (fetch.py refuses private addresses unless allow_private_urls) and add it."""
        from .fetch import fetch

        fetched = fetch(url, allow_private=self.allow_private_urls)
        name = fetched.url.split("?")[0].rstrip("/").rsplit("/", 1)[-1] or "page.html"
        return self.add(fetched.data, name, url=fetched.url, progress=progress)

    def delete(self, article_id: str) -> ArticleEntry:
        """Remove an added article and all its files; the default article cannot be deleted."""
        if article_id == self.default_id:
            raise LibraryError("the default article cannot be deleted (it is the one the server started with)")
        entry = self.entry(article_id)
        from filelock import FileLock

        with FileLock(str(self.folder / ".lock"), timeout=store.locks.LOCK_TIMEOUT), self._lock:
            self._open.pop(entry.id, None)
            self._full.discard(entry.id)
            gone = self.folder / f".deleted-{entry.id}-{uuid.uuid4().hex[:8]}"
            os.replace(self.folder / entry.id, gone)  # one step: the entry is gone for every reader at once
            shutil.rmtree(gone, ignore_errors=True)
        return entry

    def wait(self, article_id: str, timeout: float | None = None) -> bool:
        """Wait for an article's e5 upgrade to finish (tests and the CLI); whether it is at full quality."""
        thread = self._upgrades.get(article_id)
        if thread is not None:
            thread.join(timeout)
        return self.ready(article_id)

    # ---- internals -----------------------------------------------------------------------------------------------

    def _assistant(self, entry: ArticleEntry) -> Assistant:
        home = self.folder / entry.id
        source = next(home.glob("source.*"), None)
        if source is None:
            raise LibraryError(f"article {entry.id} has lost its file: delete it and add it again")
        article = parse_article(source.read_bytes(), name=entry.name)
        folder = home / "article.index"
        try:
            index = store.open_index(folder, article, self.embedder, self.e5)
        except store.Stale:  # its e5 vectors never came (the server stopped first): answer without, catch up
            index = store.open_or_build(folder, article, self.embedder, None)
            self._start_upgrade(entry.id, article)
            return Assistant(index, self.embedder, None, folder)
        with self._lock:
            self._full.add(entry.id)
        return Assistant(index, self.embedder, self.e5, folder)

    def _start_upgrade(self, article_id: str, article: Article) -> None:
        def upgrade() -> None:
            try:
                home = self.folder / article_id
                index = store.open_or_build(home / "article.index", article, self.embedder, self.e5,
                                            progress=self.progress_bars)  # fmt: skip
                with self._lock:
                    if article_id in self._open:
                        self._open[article_id] = Assistant(index, self.embedder, self.e5, home / "article.index")
                    self._full.add(article_id)
            except Exception:  # the article still answers without e5; its next open tries again
                log.exception("could not add e5 vectors to article %s", article_id)

        thread = threading.Thread(target=upgrade, name=f"e5-{article_id}", daemon=True)
        self._upgrades[article_id] = thread
        thread.start()

    def _check_id(self, article_id: object) -> None:
        if not isinstance(article_id, str) or not ARTICLE_ID.fullmatch(article_id):
            raise UnknownArticle(f"{article_id!r} is not an article id (16 hex digits, from GET /api/articles)")

    def _read_entry(self, path: Path) -> ArticleEntry | None:
        """The entry in an entry.json, or None if it is missing or damaged (the article is then not listed)."""
        try:
            entry = ArticleEntry.model_validate_json(path.read_bytes())
        except (OSError, ValueError):
            return None
        if entry.id != path.parent.name:
            return None
        return entry.model_copy(update={"complete": self.ready(entry.id) or entry.id not in self._open})


def default_folder(index_dir: Path | None) -> Path:
    """Where the library lives by default: beside the default article's index folder (index/library/)."""
    import tempfile

    return Path(index_dir).parent / "library" if index_dir else Path(tempfile.mkdtemp(prefix="assistant-library-"))


def clean_name(name: object) -> str:
    """A file name as given, made safe to show and store: its last path part, no control characters, at most
    MAX_NAME_CHARS ("../../etc/passwd" -> "passwd"); "article" when nothing is left."""
    text = str(name or "").replace("\\", "/").split("/")[-1]
    text = "".join(c for c in text if c.isprintable()).strip().lstrip(".")
    return text[:MAX_NAME_CHARS] or "article"


def _write_json(path: Path, value: dict) -> None:
    with path.open("w", encoding="utf-8") as f:
        json.dump(value, f, ensure_ascii=False)
        f.flush()
        os.fsync(f.fileno())


__all__ = ["ArticleError", "Library", "LibraryError", "clean_name", "default_folder"]
