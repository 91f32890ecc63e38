"""The HTTP API's own JSON: the article, health and error bodies, and the documented error responses. The request
(question.AskRequest) and the answer (schema.Answer) are the engine's own types."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from ..question import MAX_K, MAX_QUESTION_CHARS

MAX_API_BODY = 512 * 1024
"""Bytes in a request to /api/*. Any request within the field limits fits: 21 texts of 2,000 characters, each
written as a 12-byte JSON escape (an emoji as a surrogate pair), make 504,000 bytes; everyday ones are < 10 KB."""
MAX_PAGE_BODY = 2 * 1024 * 1024
"""Bytes in a request to the chat page's own routes (Gradio sends the whole conversation with each turn)."""
RETRY_AFTER = "1"


class ArticleParagraph(BaseModel):
    paragraph: int = Field(description="1-based ¶ number.", examples=[1])
    text: str = Field(description="The paragraph, verbatim.")


class ArticleResponse(BaseModel):
    """The article the assistant answers from, paragraph by paragraph (repeats included, as in the file)."""

    title: str | None = Field(description="The title, when the article starts with a '# ' heading line.")
    source: str | None = Field(description="Its source, from a line such as 'Source: Reuters'.", examples=["Reuters"])
    paragraphs: list[ArticleParagraph]


class HealthResponse(BaseModel):
    """The server is up: its index is loaded and the chat page is mounted."""

    status: str = Field(examples=["ok"])
    model: str = Field(description="The embedding model.", examples=["sentence-transformers/all-MiniLM-L6-v2"])
    passages: int = Field(description="Distinct passages in the index.", examples=[9])


class ErrorResponse(BaseModel):
    """Every error: one sentence saying what was wrong."""

    detail: str = Field(examples=[f"k: must be a whole number from 1 to {MAX_K}, not 0"])


def article_json(article) -> dict:
    """An article.Article as ArticleResponse's JSON."""
    return {
        "title": article.title,
        "source": article.source,
        "paragraphs": [{"paragraph": p.number, "text": p.text} for p in article.paragraphs],
    }


def error_doc(description: str, example: str) -> dict[str, Any]:
    """An OpenAPI response entry for an error status."""
    return {
        "model": ErrorResponse,
        "description": description,
        "content": {"application/json": {"example": {"detail": example}}},
    }


CHAT_NOT_READY = {
    "starting": "starting: the chat page is loading; /api/ask already answers",
    "failed": "the chat page could not start; /api/ask still answers (the server's log says why)",
}
BUSY_DOC = error_doc("Busy or an internal error: retry after `Retry-After` seconds.", "internal error, try again")
STARTING_DOC = error_doc(
    "Still starting (the chat page is loading; /api/ask already answers), or the chat page could not start: retry "
    "after `Retry-After` seconds.",
    CHAT_NOT_READY["starting"],
)
ASK_ERRORS: dict[int | str, dict[str, Any]] = {
    400: error_doc("The body is not valid JSON.", "malformed JSON: Expecting ',' delimiter at character 31"),
    413: error_doc(f"The body is over {MAX_API_BODY // 1024} KB.", f"the request body is over {MAX_API_BODY:,} bytes"),
    415: error_doc(
        "The body is not sent as application/json.", "send the body as JSON with Content-Type: application/json"
    ),
    404: error_doc("No article with this id in the library.", "no article 0123456789abcdef in the library"),
    422: error_doc(
        "A field is missing or out of range, or the question cannot be asked.",
        f"question: is 2,345 characters; the limit is {MAX_QUESTION_CHARS:,}",
    ),
    503: BUSY_DOC,
}
