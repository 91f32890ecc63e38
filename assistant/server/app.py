"""The app factory: the FastAPI routes of /api, their docs at /docs, and the chat page at /."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Depends, FastAPI, Request

from ..api import Assistant
from ..library import Library
from ..question import MAX_HISTORY, MAX_K, MAX_QUESTION_CHARS, AskRequest
from ..schema import Answer
from .articles import MAX_UPLOAD_BODY, article_routes
from .auth import ApiKey
from .engine import MAX_WAIT_SECONDS, MAX_WAITING, Engine
from .errors import busy, handle_errors, json_content_type, json_error
from .middleware import BodyLimit, Unexpected
from .mount import chat_blocks, mount_chat, mount_chat_later
from .openai import openai_routes
from .schema import (
    ASK_ERRORS,
    BUSY_DOC,
    CHAT_NOT_READY,
    MAX_API_BODY,
    MAX_PAGE_BODY,
    STARTING_DOC,
    ArticleResponse,
    HealthResponse,
    article_json,
)


def create_app(
    library: Library | Assistant,
    *,
    max_waiting: int = MAX_WAITING,
    max_wait: float = MAX_WAIT_SECONDS,
    chat: bool | Literal["later"] = True,
    api_key: str | None = None,
    archive: str | None = None,
) -> FastAPI:
    """The FastAPI app: /api/* routes and their docs at /docs, and the chat page at /: mounted now (chat=True),
    once Gradio has loaded in the background while the API already answers (chat="later"), or never (False).

    library: the articles to answer from (an Assistant alone gets a library beside its index folder); api_key: the
    bearer token that /api/* and /v1/* then require (None: open); archive: the archive's engine (a folder or a Qdrant
    server's URL; default: $ASSISTANT_ENGINE, else library/.archive)."""
    from fastapi_offline import FastAPIOffline

    engine = Engine(library, max_waiting=max_waiting, max_wait=max_wait, archive=archive)
    assistant = engine.library.default
    # FastAPI's own /docs and /redoc load Swagger UI and ReDoc from a CDN: blank offline, and a request leaving this
    # computer. fastapi-offline serves the same pages from files in its wheel (Swagger UI 5, ReDoc 2).
    app = FastAPIOffline(
        static_url="/api/docs-assets",
        title="Article assistant",
        version="0.1.0",
        description=(
            "Ask questions about a news article; get the answering sentence and verbatim quotes. Offline, no LLM.\n\n"
            f"Limits: question ≤ {MAX_QUESTION_CHARS:,} characters, history ≤ {MAX_HISTORY} items, "
            f"1 ≤ k ≤ {MAX_K}, request body ≤ {MAX_API_BODY // 1024} KB. Every error is JSON "
            '`{"detail": "what was wrong"}`; no endpoint answers 500.'
        ),
        openapi_tags=[
            {"name": "assistant", "description": "Questions about the article."},
            {"name": "articles", "description": "The library: bring your own articles, list them, delete them."},
        ],
    )
    handle_errors(app)
    app.add_middleware(BodyLimit, api_limit=MAX_API_BODY, page_limit=MAX_PAGE_BODY,
                       uploads={"/api/articles": MAX_UPLOAD_BODY})  # fmt: skip
    app.add_middleware(ApiKey, api_key=api_key)  # inside Unexpected, outside BodyLimit: no key, no body read
    app.add_middleware(Unexpected)  # added last: the outermost of ours
    article = article_json(assistant.article)

    @app.post(
        "/api/ask",
        response_model=Answer,
        responses=ASK_ERRORS,
        tags=["assistant"],
        summary="Ask a question about the article",
        operation_id="ask",
        response_description="The answer: quoted passages, best first, or an abstention.",
        dependencies=[Depends(json_content_type)],
    )
    async def ask(request: AskRequest) -> Answer:
        """Answer a question by quoting the article: the same JSON as the Python API and `assistant ask --json`.
        With `scope` ("all" or article ids) it asks the archive, and each passage names its `article`."""
        return await engine.reply(request)

    @app.get(
        "/api/article",
        response_model=ArticleResponse,
        responses={503: BUSY_DOC},
        tags=["assistant"],
        summary="The article, paragraph by paragraph",
        operation_id="article",
    )
    async def get_article() -> dict:
        """The article's title, source and paragraphs with their ¶ numbers."""
        return article

    @app.get(
        "/api/health",
        response_model=HealthResponse,
        responses={503: STARTING_DOC},
        tags=["assistant"],
        summary="Is the server ready?",
        operation_id="health",
    )
    async def health() -> Any:
        """200 once the index is loaded and the chat page is up; 503 with Retry-After while the page is starting."""
        if app.state.chat != "ready":
            return busy(CHAT_NOT_READY[app.state.chat])
        return {"status": "ok", "model": assistant.embedder.name, "passages": len(assistant.index.chunks)}

    app.include_router(article_routes(engine))
    app.include_router(openai_routes(engine))

    @app.api_route(
        "/api/{rest:path}",
        methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
        include_in_schema=False,
    )
    async def not_found(request: Request):
        """Unknown /api/ routes get JSON, not the chat page's HTML; a known route with the wrong method gets 405."""
        path = request.url.path
        allowed = sorted(m for r in app.routes if getattr(r, "path", None) == path for m in getattr(r, "methods", ()))
        if allowed and request.method not in allowed:
            return json_error(405, f"use {' or '.join(allowed)} for {path}", {"Allow": ", ".join(allowed)})
        return json_error(404, f"no such endpoint: {request.method} {path} (see /docs)")

    app.state.chat = "starting" if chat == "later" else "ready"
    if chat == "later":
        mount_chat_later(app, engine)
    elif chat:
        mount_chat(app, chat_blocks(engine), engine)
    return app
