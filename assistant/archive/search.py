"""Asking the archive: candidate passages from the engine (MiniLM vectors, any article), grouped by article; then
each candidate article answers as it would alone (its own index: every signal, its calibrated abstention), and the
answers are merged by their calibrated scores. A question no article answers abstains."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from ..answer import compose
from ..errors import QuestionError
from ..library import Library
from ..question import ARTICLE_ID, DEFAULT_K, AskRequest
from ..schema import Answer, ArticleInfo, Passage
from ..scoring import CALIBRATION, archive_log_odds
from ..store import passage_means
from .engine import PassageStore

log = logging.getLogger("assistant")
ENGINE_VARIABLE = "ASSISTANT_ENGINE"
CANDIDATES = 40
"""Passages the engine nominates for a question (stage one). On the 48 SQuAD articles as one archive, the right
article is among those of the top 40 for nearly every question (bench/archive.py)."""
ARTICLES = 6
"""Candidate articles that answer in full (stage two), best first by their nearest passage: each costs one
per-article ranking (a few ms, and e5's question vector once per article)."""
ARCHIVE_MODEL: dict = CALIBRATION["archive"]
"""When an article's answer takes part in the archive's (scoring.archive_log_odds): each article's own threshold
allows about 3% false answers when a question is asked of one random article, but the archive asks the six articles
nearest the question, and one of them answered 61% of the questions about articles it does not hold."""


def engine_location(given: str | Path | None, library_folder: Path) -> str:
    """Where the archive's engine is: --engine, else $ASSISTANT_ENGINE, else an embedded Qdrant folder inside the
    library folder (library/.archive/)."""
    chosen = given or os.environ.get(ENGINE_VARIABLE) or None
    return str(chosen) if chosen else str(Path(library_folder) / ".archive")


class Archive:
    """Every article of a library, searchable at once. The engine is kept in step with the library: an article
    added any way (the CLI, the API, the page) is stored in the engine before the next archive question."""

    def __init__(self, library: Library, location: str | Path | None = None):
        """location: an engine folder or a Qdrant server's URL (engine_location's default when None)."""
        self.library = library
        self.location = engine_location(location, library.folder)
        self._store: PassageStore | None = None
        self._lock = threading.RLock()
        self._listing: tuple[float, frozenset[str]] | None = None  # (the library folder's mtime, its ids)
        self._stored: set[str] | None = None
        self._seen: frozenset[str] = frozenset()  # the ids of the last sync: one missing since was deleted

    @property
    def store(self) -> PassageStore:
        """The engine, opened on first use (local mode holds its folder's lock from then on)."""
        with self._lock:
            if self._store is None:
                embedder = self.library.embedder
                self._store = PassageStore(self.location, embedder.name, embedder.dimension)
            return self._store

    # ---- keeping the engine in step with the library -----------------------------------------------------------

    def ids(self) -> frozenset[str]:
        """The ids of the library's articles (the default one and every complete add), re-read only when the library
        folder changed (an add or a delete renames a folder in it)."""
        folder = self.library.folder
        try:
            mtime = folder.stat().st_mtime
        except OSError:
            return frozenset({self.library.default_id})
        if self._listing is None or self._listing[0] != mtime:
            found = {e.name for e in os.scandir(folder) if ARTICLE_ID.fullmatch(e.name)
                     and os.path.exists(os.path.join(e.path, "entry.json"))}  # fmt: skip
            self._listing = (mtime, frozenset(found | {self.library.default_id}))
        return self._listing[1]

    def stored(self) -> set[str]:
        with self._lock:
            if self._stored is None:
                self._stored = self.store.stored()
            return self._stored

    def put(self, article_id: str) -> int:
        """Store an article's passages in the engine (again, if it was: the same points); how many."""
        index = self.library.get(article_id).index
        chunks = index.chunks
        vectors = passage_means(index.sentence_vectors, [len(c.sentences) for c in chunks])
        rows = [i for i, c in enumerate(chunks) if not c.metadata]  # "Source: Reuters" is no passage to search
        with self._lock:
            self.store.put(article_id, rows, vectors[rows], [chunks[i].paragraph for i in rows])
            self.stored().add(article_id)
        return len(rows)

    def sync(self) -> int:
        """Store every library article the engine lacks, and forget those deleted since; how many were stored."""
        with self._lock:
            ids, stored = self.ids(), self.stored()
            missing = sorted(ids - stored)
            for article_id in missing:
                self.put(article_id)
            gone = self._seen - ids
            for article_id in gone & stored:  # only ones this library held: a shared cluster holds others' too
                self.store.remove(article_id)
                stored.discard(article_id)
            self._seen = ids
            if missing:
                log.info("archive: stored %d article(s) in the engine", len(missing))
            return len(missing)

    # ---- asking -------------------------------------------------------------------------------------------------

    def ask(self, question: str, history: Sequence[str] | None = None, k: int = DEFAULT_K,
            scope: str | Sequence[str] = "all") -> Answer:  # fmt: skip
        """Ask the archive: every article ("all") or those of a list of ids; see reply."""
        return self.reply(AskRequest.of(question, history, k, scope=scope))

    def reply(self, request: AskRequest) -> Answer:
        """Answer a validated request whose scope is "all" or a list of ids (UnknownArticle for an id the library
        lacks); passages are quoted from any of those articles, each naming its own."""
        if request.scope is None:
            raise QuestionError('scope: ask the archive with "all" or a list of article ids')
        within = None if request.scope == "all" else [self.library.entry(i).id for i in request.scope]
        if not self.library.embedder.recognizes(request.question):
            raise QuestionError("question: has no word the model knows; please ask a question about the articles")
        answers = []
        for article_id in self.candidates(request.question, within):
            # Each candidate's verdict and best passage first; the k quotes (each with its short answer, the costly
            # part) only from those that answer well enough to be merged: the same answer for a fraction of the work.
            bot, alone = self.library.get(article_id), request.model_copy(update={"scope": None, "article": article_id})
            verdict = bot.judged(alone.model_copy(update={"k": 1}))
            answers.append(bot.judged(alone) if merged(verdict) and request.k > 1 else verdict)
        return merge(request.question, answers, request.k)

    def candidates(self, question: str, within: Sequence[str] | None = None) -> list[str]:
        """Stage one: the articles of the engine's CANDIDATES passages nearest the question, nearest first, at most
        ARTICLES (within: only these ids)."""
        self.sync()
        ids = self.ids()
        vector = self.library.embedder.encode([question])[0]
        order: list[str] = []
        for hit in self.store.search(vector, CANDIDATES, within):
            if hit.article in ids and hit.article not in order:  # a shared cluster may hold others' articles
                order.append(hit.article)
        return order[:ARTICLES]


Judged = tuple[Answer, float]
"""An article's answer and its margin over its own threshold (Assistant.judged)."""


def merged(judged: Judged) -> bool:
    """Does an article's answer take part in the archive's: it answers, and well enough for an archive
    (ARCHIVE_MODEL: its best passage's score and its margin)."""
    answer, margin = judged
    return not answer.abstained and archive_log_odds(answer.passages[0].score, margin, ARCHIVE_MODEL) >= 0


def merge(question: str, judged: list[Judged], k: int) -> Answer:
    """One answer from several articles' answers: those merged, best first by their first passage's calibrated score
    (the probability that it holds the answer), their passages interleaved by score (k in all, as for one article:
    the weak ones named, not quoted); if none is, an abstention offering the closest passage of any."""
    answered = sorted((j[0] for j in judged if merged(j)), key=lambda a: -a.passages[0].score)
    answers = [a for a, _ in judged]
    if answered:
        top = answered[0]
        others = [_named(p, a.article) for a in answered for p in (a.passages[1:] if a is top else a.passages)]
        passages = [_named(top.passages[0], top.article), *sorted(others, key=lambda p: -p.score)][:k]
        return compose(question, passages, False, top.article, top.verdict, archive=True)
    closest = sorted((a for a in answers if a.passages), key=lambda a: -a.passages[0].score)
    if not closest:
        return compose(question, [], True, None, archive=True)
    best = closest[0]
    return compose(question, [_named(best.passages[0], best.article)], True, best.article, archive=True)


def _named(passage: Passage, article: ArticleInfo | None) -> Passage:
    return passage.model_copy(update={"article": article})
