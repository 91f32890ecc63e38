"""The assistant as the server shares it: one question at a time, with a bounded queue in front for the HTTP API."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from ..api import Assistant
from ..library import Library, default_folder
from ..question import DEFAULT_K, AskRequest
from ..schema import Answer

MAX_WAITING = 64
"""Questions that may wait for the engine at once; more get 503 at once rather than a growing queue."""
MAX_WAIT_SECONDS = 10.0
"""How long one question may wait for the engine before it gets 503."""


class Busy(Exception):
    """Too many questions are waiting for the engine."""


class Engine:
    """The library's articles behind one lock. One question at a time: onnxruntime and e5 already use every core for
    one question, so two side by side would not be faster, and a bounded wait turns overload into a quick 503 instead
    of a growing pile of threads."""

    def __init__(self, library: Library | Assistant, *, max_waiting: int = MAX_WAITING,
                 max_wait: float = MAX_WAIT_SECONDS, archive: str | None = None):  # fmt: skip
        """library: the articles to answer from; an Assistant alone gets a library beside its index folder; archive:
        the archive's engine, a folder or a Qdrant server's URL (default: archive.engine_location's)."""
        if not isinstance(library, Library):
            library = Library(library, default_folder(library.index_dir))
        self.library = library
        self.archive_location = archive
        self._archive = None
        self.lock = threading.Lock()
        self.max_waiting = max_waiting
        self.max_wait = max_wait
        self.waiting = 0
        self._turn: Any = None  # anyio.Lock, made inside the event loop

    def ask(self, question: str, history: Sequence[str] | None = None, k: int = DEFAULT_K,
            article: str | None = None, scope: str | Sequence[str] | None = None) -> Answer:  # fmt: skip
        """Ask an article (None: the default one), or the archive (scope: "all" or article ids), one question at a
        time (the chat page calls this from Gradio's threads)."""
        return self._reply(AskRequest.of(question, history, k, article, scope))

    @property
    def archive(self):
        """Every article at once (archive/), opened on the first question that asks it."""
        from ..archive import Archive

        with self.lock:
            if self._archive is None:
                self._archive = Archive(self.library, self.archive_location)
            return self._archive

    async def reply(self, request: AskRequest) -> Answer:
        """Wait in the event loop (not in a thread) for our turn, then answer in a worker thread; Busy when too many
        wait or the wait is too long."""
        import anyio
        import anyio.to_thread

        if self._turn is None:
            self._turn = anyio.Lock()
        if self.waiting >= self.max_waiting:
            raise Busy
        self.waiting += 1
        try:
            with anyio.move_on_after(self.max_wait) as waited:
                await self._turn.acquire()
        finally:
            self.waiting -= 1
        if waited.cancelled_caught:
            raise Busy
        try:
            return await anyio.to_thread.run_sync(self._reply, request)
        finally:
            self._turn.release()

    def _reply(self, request: AskRequest) -> Answer:
        if request.scope is not None:
            archive = self.archive
            with self.lock:
                return archive.reply(request)
        assistant = self.library.get(request.article)  # may open an index: outside the lock
        with self.lock:
            return assistant.reply(request)
