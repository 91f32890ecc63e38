"""The answer every surface renders, defined once: the Python objects, their JSON, and the OpenAPI schema.

`Answer.to_dict()`, `assistant ask --json`, `POST /api/ask` and the chat page's `/ask` endpoint all give this JSON.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

WEAK_SCORE = 0.10
"""Quotes after the first scoring below this rarely answer anything: replies name them without quoting them."""
_EXAMPLE = (
    "Last week, Japan conducted joint naval exercises with the U.S., Canada and the Philippines in the South China Sea."
)
_FROZEN = ConfigDict(frozen=True)


class Highlight(BaseModel):
    """The sentence of a passage that best answers the question; offsets index into the passage's `text`."""

    model_config = _FROZEN

    start: int = Field(description="Offset of the sentence's first character in `text`.", examples=[0])
    end: int = Field(description="Offset just past the sentence's last character (`text[start:end]`).", examples=[114])
    text: str = Field(description="The sentence itself, verbatim.", examples=[_EXAMPLE])


class Short(BaseModel):
    """The exact phrase of the answering sentence that answers ("the Nikkei"); offsets index into the passage's
    `text`, and `text[start:end]` is this phrase, verbatim."""

    model_config = _FROZEN

    start: int = Field(description="Offset of the phrase's first character in the passage's `text`.", examples=[54])
    end: int = Field(description="Offset just past its last character (`text[start:end]`).", examples=[90])
    text: str = Field(description="The phrase itself, verbatim.", examples=["the U.S., Canada and the Philippines"])


class ArticleInfo(BaseModel):
    """Which article an answer quotes: its library id and what is known of it."""

    model_config = _FROZEN

    id: str = Field(description="The article's id: the first 16 hex digits of its content's sha256.",
                    examples=["3f2a9c0d1b7e4a55"])  # fmt: skip
    name: str = Field(description="The file name it was read from (or given when pasted).", examples=["article.txt"])
    format: str = Field(description="What it was read as: html, pdf, docx, markdown or text.", examples=["text"])
    title: str | None = Field(default=None, description="Its headline, when it has one.")
    author: str | None = Field(default=None, description="Its byline, when known.", examples=["Jane Doe"])
    date: str | None = Field(default=None, description="Its publication date, when known.", examples=["2024-03-01"])
    source: str | None = Field(default=None, description="Its publisher or agency, when known.", examples=["Reuters"])
    url: str | None = Field(default=None, description="Its canonical URL (news pages), when known.")
    paragraphs: int = Field(description="How many ¶ it has.", examples=[15])

    @classmethod
    def of(cls, article) -> ArticleInfo:
        """The info of an article.Article."""
        return cls(id=article.id, name=article.name, format=article.format, title=article.title,
                   author=article.author, date=article.date, source=article.source, url=article.url,
                   paragraphs=len(article.paragraphs))  # fmt: skip


class Passage(BaseModel):
    """A paragraph of the article quoted verbatim, where it appears, and how well it answers."""

    model_config = _FROZEN

    paragraph: int = Field(description="1-based ¶ number of the first place the text appears.", examples=[8])
    paragraphs: tuple[int, ...] = Field(description="Every ¶ number where this exact text appears.", examples=[[8, 14]])
    text: str = Field(description="The paragraph, verbatim.", examples=[_EXAMPLE])
    score: float = Field(
        description="The probability that this passage holds the answer, from 0 to 1 (rounded to 4 places).",
        examples=[0.8074],
    )
    highlight: Highlight
    short: Short | None = Field(
        default=None, description="The phrase of the highlighted sentence that answers; null when no phrase fits."
    )
    article: ArticleInfo | None = Field(
        default=None,
        exclude_if=lambda v: v is None,
        description="Only in answers from the archive (`scope`): the article this passage is quoted from; absent "
        "otherwise (the answer's `article` is then every passage's).",
    )

    @model_validator(mode="after")
    def _verbatim(self) -> Passage:
        """A short answer is always a verbatim substring of the passage, inside its highlighted sentence."""
        s = self.short
        if s is not None and not (
            self.highlight.start <= s.start < s.end <= self.highlight.end and self.text[s.start : s.end] == s.text
        ):
            raise ValueError("short answer is not the passage's text at its offsets, inside the highlighted sentence")
        return self

    @property
    def weak(self) -> bool:
        """A quote after the first that rarely answers anything (WEAK_SCORE)."""
        return self.score < WEAK_SCORE


class ArticleEntry(ArticleInfo):
    """An article the library holds."""

    added: str | None = Field(default=None, description="When it was added (UTC, ISO 8601); null for the default.")
    default: bool = Field(default=False, description="The article the server started with (it cannot be deleted).")
    complete: bool = Field(
        default=True,
        description="Whether answers use every signal; false for a few seconds after an upload, while the e5 passage "
        "vectors are computed (answers come at once, from MiniLM and BM25).",
    )


class Answer(BaseModel):
    """The reply to one question: the same JSON as `Answer.to_dict()`, `assistant ask --json` and Gradio's /ask."""

    model_config = ConfigDict(
        frozen=True,
        populate_by_name=True,
        serialize_by_alias=True,
        json_schema_extra={
            "examples": [
                {
                    "question": "what exercises did Japan join",
                    "answer": f"{_EXAMPLE} (¶8, also ¶14)\n\nQuoted from the article:\n"
                    f'¶8, also ¶14 (score 0.81): "{_EXAMPLE}"',
                    "abstained": False,
                    "passages": [
                        {
                            "paragraph": 8,
                            "paragraphs": [8, 14],
                            "text": _EXAMPLE,
                            "score": 0.8074,
                            "highlight": {"start": 0, "end": 114, "text": _EXAMPLE},
                            "short": {"start": 54, "end": 90, "text": "the U.S., Canada and the Philippines"},
                        }
                    ],
                    "short": {"start": 54, "end": 90, "text": "the U.S., Canada and the Philippines"},
                    "verdict": None,
                    "article": {"id": "3f2a9c0d1b7e4a55", "name": "article.txt", "format": "text", "title": None,
                                "author": None, "date": None, "source": "Reuters", "url": None, "paragraphs": 15},
                }
            ]
        },
    )  # fmt: skip

    question: str = Field(description="The question as understood: whitespace and control characters tidied.")
    text: str = Field(
        alias="answer",
        description="The reply as plain text: the short answer or verdict, the answering sentence, then the quotes.",
    )
    abstained: bool = Field(
        description="True when the article does not answer; `passages` then holds at most the closest one."
    )
    passages: tuple[Passage, ...] = Field(description="Quoted passages, best first (at most k).")
    short: Short | None = Field(
        default=None,
        description="The short answer: the first passage's `short` (offsets into `passages[0].text`); null when it "
        "abstained or no phrase fits.",
    )
    verdict: Literal["Yes", "No"] | None = Field(
        default=None,
        description="For a yes/no question, the answer when the highlighted sentence states it; null otherwise.",
    )
    article: ArticleInfo | None = Field(
        default=None,
        description="The article the passages are quoted from; from the archive (`scope`), the best passage's.",
    )

    @property
    def cited(self) -> tuple[Passage, ...]:
        """The passages the answer really quotes (none if it abstained): see split_quotes."""
        return () if self.abstained else split_quotes(self.passages)[0]

    @property
    def refusal(self) -> str | None:
        """An abstention's first line, as composed: the article's ("The article does not answer this question.") or
        the archive's ("No article in the archive answers this question."); None for an answer."""
        return self.text.partition("\n")[0] if self.abstained else None

    @property
    def weaker(self) -> tuple[Passage, ...]:
        """The passages after the first that are named, not quoted (weak matches)."""
        return () if self.abstained else split_quotes(self.passages)[1]

    def to_dict(self) -> dict:
        """The JSON shape shared by the CLI, the HTTP API and the Gradio endpoint."""
        return self.model_dump(mode="json")


def split_quotes(passages: tuple[Passage, ...]) -> tuple[tuple[Passage, ...], tuple[Passage, ...]]:
    """(quoted, named only): the first passage and every other that is not weak are quoted; weak ones are named."""
    return passages[:1] + tuple(p for p in passages[1:] if not p.weak), tuple(p for p in passages[1:] if p.weak)
