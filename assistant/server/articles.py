"""The library's routes: add an article (upload, pasted text or URL), list them, read one, delete one."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..article import MAX_ARTICLE_BYTES
from ..errors import ArticleError
from ..question import ARTICLE_ID, describe
from ..schema import ArticleEntry
from .engine import Engine
from .errors import json_error
from .schema import ArticleParagraph, error_doc

MAX_UPLOAD_BODY = MAX_ARTICLE_BYTES + 64 * 1024
"""Bytes in a request to POST /api/articles: an article at the size limit, and room for multipart's framing."""


class AddArticle(BaseModel):
    """An article as JSON: pasted text (plain or Markdown), or the URL of a news page, PDF or DOCX to fetch."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"text": "# Harbour reopens\n\nThe harbour reopened on Monday after repairs.", "name": "harbour.md"},
                {"url": "https://www.example.com/news/harbour-reopens"},
            ]
        },
    )

    text: str | None = Field(default=None, description=f"The article itself (at most {MAX_ARTICLE_BYTES:,} bytes).")
    name: str | None = Field(default=None, description="A name to list pasted text under (default: its first words).")
    url: str | None = Field(default=None, description="An http(s) URL for the server to fetch, once, now.")


class ArticleList(BaseModel):
    articles: list[ArticleEntry] = Field(description="The default article first, then the added ones, newest first.")


class ArticleDetail(ArticleEntry):
    """An article with its text, paragraph by paragraph (repeats included, as in the file)."""

    text: list[ArticleParagraph]


_ADD_ERRORS: dict[int | str, dict[str, Any]] = {
    413: error_doc(f"The body is over {MAX_UPLOAD_BODY:,} bytes.", "the request body is over 10,065,536 bytes"),
    415: error_doc("Neither multipart/form-data nor JSON.", "send a file as multipart/form-data, or JSON text or url"),
    422: error_doc(
        "The file, text or URL cannot be read as an article (empty, encrypted, scanned, damaged, refused, ...).",
        "this PDF has no text layer (a scan?): OCR it first, for example with ocrmypdf",
    ),
}
_UPLOAD_FORM = {
    "requestBody": {
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
            "application/json": {"schema": {"$ref": "#/components/schemas/AddArticle"}},
        },
        "required": True,
    }
}


def article_routes(engine: Engine) -> APIRouter:
    """The /api/articles routes over the engine's library."""
    import anyio
    import anyio.to_thread

    router = APIRouter(tags=["articles"])
    library = engine.library
    adding = anyio.Semaphore(1)  # indexing uses every core: one article at a time

    @router.post(
        "/api/articles",
        status_code=201,
        response_model=ArticleEntry,
        responses={200: {"model": ArticleEntry, "description": "Already in the library: stored once."}, **_ADD_ERRORS},
        summary="Add an article: upload a file, paste text, or give a URL",
        operation_id="add_article",
        openapi_extra=_UPLOAD_FORM,
    )
    async def add_article(request: Request, response: Response) -> Any:
        """Read the article (news HTML, PDF, DOCX, Markdown or text, told apart by content), index it and keep it.
        It answers at once; `complete` turns true a few seconds later, when every retrieval signal is ready."""
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind == "multipart/form-data":
            form = await request.form(max_files=1, max_fields=4, max_part_size=MAX_UPLOAD_BODY)
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                return json_error(422, "file: required (send the article as the form field 'file')")
            data, name = await upload.read(), upload.filename or "upload"
        elif kind == "application/json":
            try:
                body = AddArticle.model_validate_json(await request.body())
            except ValidationError as e:
                return json_error(422, describe(e.errors()))
            if (body.text is None) == (body.url is None):
                return json_error(422, 'send either "text" (the article) or "url" (a page to fetch), not both')
            if body.url is not None:
                async with adding:
                    entry, new = await anyio.to_thread.run_sync(library.add_url, body.url)
                response.status_code = 201 if new else 200
                return entry
            if not body.text.strip():
                raise ArticleError("the text is empty: paste an article")
            async with adding:
                entry, new = await anyio.to_thread.run_sync(library.add_text, body.text, body.name)
            response.status_code = 201 if new else 200
            return entry
        else:
            return json_error(415, "send a file as multipart/form-data, or JSON with text or url")
        if not data:
            raise ArticleError(f"{name} is empty: send a file with an article in it")
        async with adding:
            entry, new = await anyio.to_thread.run_sync(library.add, data, name)
        response.status_code = 201 if new else 200
        return entry

    @router.get("/api/articles", response_model=ArticleList, summary="The articles held", operation_id="articles")
    async def list_articles() -> Any:
        """Every article the library holds, with its title, date and source."""
        return {"articles": library.entries()}

    @router.get(
        "/api/articles/{article_id}",
        response_model=ArticleDetail,
        responses={404: error_doc("No such article.", "no article 0123456789abcdef in the library")},
        summary="One article, paragraph by paragraph",
        operation_id="article_by_id",
    )
    async def get_article(article_id: str) -> Any:
        """The article's metadata and its paragraphs with their ¶ numbers."""
        entry = library.entry(_id(article_id))
        article = (await anyio.to_thread.run_sync(library.get, entry.id)).article
        paragraphs = [{"paragraph": p.number, "text": p.text} for p in article.paragraphs]
        return {**entry.model_dump(), "complete": library.ready(entry.id), "text": paragraphs}

    @router.delete(
        "/api/articles/{article_id}",
        response_model=ArticleEntry,
        responses={
            404: error_doc("No such article.", "no article 0123456789abcdef in the library"),
            409: error_doc("The default article.", "the default article cannot be deleted"),
        },
        summary="Delete an article and its files",
        operation_id="delete_article",
    )
    async def delete_article(article_id: str) -> Any:
        """Remove an added article, its file and its index; the other articles are untouched."""
        return await anyio.to_thread.run_sync(library.delete, _id(article_id))

    return router


def _id(article_id: str) -> str:
    """An id from a URL path, lower-cased; UnknownArticle (404) from the library for anything else."""
    return article_id.lower() if ARTICLE_ID.fullmatch(article_id.lower()) else article_id
