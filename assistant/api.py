"""The Assistant facade: an article's index, its embedder and its retriever, joined behind ask()."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from pathlib import Path

from . import store
from .answer import Answer, decide
from .article import Article, read_article
from .embed import Embedder, load_embedder
from .errors import IndexStoreError, QuestionError
from .retrieve import CALIBRATION, Retriever

DEFAULT_ARTICLE = Path(__file__).resolve().parents[1] / "index" / "article.txt"
MAX_QUESTION_CHARS = 2000
MAX_HISTORY = 20
MAX_K = 10


class Assistant:
    """Answers questions about one article. Build it once, then ask() as often as you like."""

    def __init__(self, index: store.Index, embedder: Embedder, index_dir: Path | None = None):
        self.index = index
        self.embedder = embedder
        self.index_dir = index_dir
        self.retriever = Retriever(index, embedder)

    @classmethod
    def from_article(
        cls,
        path: str | Path | None = None,
        index_dir: str | Path | None = None,
        model: str | None = None,
        *,
        progress: bool = False,
        embedder: Embedder | None = None,
    ) -> Assistant:
        """Open the article's index, building it first if it is missing, damaged or out of date."""
        path = Path(path) if path else DEFAULT_ARTICLE
        article = read_article(path)
        folder = Path(index_dir) if index_dir else store.default_index_dir(path)
        embedder = embedder or load_embedder(model)
        return cls(store.open_or_build(folder, article, embedder, progress=progress), embedder, folder)

    @classmethod
    def load(cls, index_dir: str | Path, *, embedder: Embedder | None = None) -> Assistant:
        """Open an index folder as built; it records its own model."""
        folder = Path(index_dir)
        try:
            manifest = store.read_manifest(folder)
            embedder = embedder or load_embedder(manifest.get("model"))
            store.check(manifest, embedder)
            index = store.load(folder, manifest)
        except store.Stale as why:
            raise IndexStoreError(
                f"no usable index in {folder} ({why}): build it with `assistant index ARTICLE --index {folder}`"
            ) from None
        return cls(index, embedder, folder)

    @property
    def article(self) -> Article:
        return self.index.article

    def ask(self, question: str, history: Sequence[str] | None = None, k: int = 3) -> Answer:
        """Answer a question, quoting up to k passages; history lists the earlier questions of the chat."""
        question = clean_question(question)
        history = [h for h in map(_earlier, _history(history)) if h]
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= MAX_K:
            raise QuestionError(f"k must be a whole number from 1 to {MAX_K}, not {k!r}")
        if not self.embedder.recognizes(question):
            raise QuestionError("please ask a question about the article: no word of it is known to the model")
        return decide(question, self.retriever.rank(question, history), self.index.chunks, k, CALIBRATION)


def clean_question(text: object, *, what: str = "question") -> str:
    """The question as asked, stripped; QuestionError for anything that is not a readable question."""
    if not isinstance(text, str):
        raise QuestionError(f"the {what} must be text, not {type(text).__name__}")
    if len(text) > MAX_QUESTION_CHARS:
        raise QuestionError(f"the {what} is {len(text):,} characters; the limit is {MAX_QUESTION_CHARS:,}")
    if "\x00" in text:
        raise QuestionError(f"the {what} contains a NUL character")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        raise QuestionError(f"the {what} contains an unpaired surrogate: send valid Unicode text")
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in text).strip()
    text = " ".join(text.split())
    if not any(unicodedata.category(c)[0] in "LN" for c in text):
        raise QuestionError(f"please ask a question about the article: the {what} has no words")
    return text


def _earlier(text: object) -> str:
    """An earlier question, cleaned; one without words ("???") is skipped, as it says nothing to follow."""
    try:
        return clean_question(text, what="history item")
    except QuestionError as e:
        if "has no words" in str(e):
            return ""
        raise


def _history(history: Sequence[str] | None) -> list[str]:
    if history is None:
        return []
    if isinstance(history, str) or not isinstance(history, Sequence):
        raise QuestionError("history must be a list of earlier questions")
    if len(history) > MAX_HISTORY:
        raise QuestionError(
            f"history has {len(history):,} items; the limit is {MAX_HISTORY} (only recent turns matter)"
        )
    return list(history)
