"""The JSON API (FastAPI) with the Gradio chat page mounted beside it: one process, one port."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .api import MAX_HISTORY, MAX_K, MAX_QUESTION_CHARS, Assistant
from .errors import AssistantError, QuestionError

MAX_API_BODY = 512 * 1024
"""Bytes in a request to /api/*. Any request within the field limits fits: 21 texts of 2,000 characters, each
written as a 12-byte JSON escape (an emoji as a surrogate pair), make 504,000 bytes; everyday ones are < 10 KB."""
MAX_PAGE_BODY = 2 * 1024 * 1024
"""Bytes in a request to the chat page's own routes (Gradio sends the whole conversation with each turn)."""
MAX_WAITING = 64
"""Questions that may wait for the engine at once; more get 503 at once rather than a growing queue."""
MAX_WAIT_SECONDS = 10.0
"""How long one question may wait for the engine before it gets 503."""
RETRY_AFTER = "1"

EXAMPLE_QUESTION = "what exercises did Japan join"
_EXAMPLE_TEXT = (
    "Last week, Japan conducted joint naval exercises with the U.S., Canada and the Philippines in the South China Sea."
)


# ---- the JSON the API speaks ------------------------------------------------------------------------------------

HistoryItem = Annotated[StrictStr, Field(max_length=MAX_QUESTION_CHARS)]


class AskRequest(BaseModel):
    """A question about the article, with the chat's earlier questions so that follow-ups work."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"question": EXAMPLE_QUESTION},
                {
                    "question": "When was that treaty signed?",
                    "history": ["Who is Japan developing a fighter jet with?"],
                },
                {"question": "Which countries is Japan building a fighter jet with?", "k": 1},
            ]
        },
    )

    question: StrictStr = Field(
        min_length=1,
        max_length=MAX_QUESTION_CHARS,
        description=f"The question, in plain text (at most {MAX_QUESTION_CHARS:,} characters). "
        "It must contain at least one word; NUL and unpaired surrogates are refused.",
        examples=[EXAMPLE_QUESTION],
    )
    history: list[HistoryItem] = Field(
        default_factory=list,
        max_length=MAX_HISTORY,
        description=f"Earlier questions of the same chat, oldest first (at most {MAX_HISTORY}). "
        "A follow-up such as 'When was that treaty signed?' borrows context from the latest one.",
        examples=[["Who is Japan developing a fighter jet with?"]],
    )
    k: StrictInt = Field(
        default=3,
        ge=1,
        le=MAX_K,
        description=f"How many passages to quote: a whole number from 1 to {MAX_K}. Fewer come back when the "
        "article has fewer distinct paragraphs, and an abstention quotes at most the closest one.",
        examples=[3],
    )


class Highlight(BaseModel):
    """The sentence of a passage that best answers the question; offsets index into the passage's `text`."""

    start: int = Field(description="Offset of the sentence's first character in `text`.", examples=[0])
    end: int = Field(description="Offset just past the sentence's last character (`text[start:end]`).", examples=[114])
    text: str = Field(description="The sentence itself, verbatim.", examples=[_EXAMPLE_TEXT])


class Passage(BaseModel):
    """A paragraph of the article quoted verbatim, where it appears, and how well it answers."""

    paragraph: int = Field(description="1-based ¶ number of the first place the text appears.", examples=[8])
    paragraphs: list[int] = Field(description="Every ¶ number where this exact text appears.", examples=[[8, 14]])
    text: str = Field(description="The paragraph, verbatim.", examples=[_EXAMPLE_TEXT])
    score: float = Field(description="How well it answers, from 0 to 1 (rounded to 4 places).", examples=[0.8074])
    highlight: Highlight


class Answer(BaseModel):
    """The reply to one question: the same JSON as `Answer.to_dict()`, `assistant ask --json` and Gradio's /ask."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "question": EXAMPLE_QUESTION,
                    "answer": f"{_EXAMPLE_TEXT} (¶8, also ¶14)\n\nQuoted from the article:\n"
                    f'¶8, also ¶14 (score 0.81): "{_EXAMPLE_TEXT}"',
                    "abstained": False,
                    "passages": [
                        {
                            "paragraph": 8,
                            "paragraphs": [8, 14],
                            "text": _EXAMPLE_TEXT,
                            "score": 0.8074,
                            "highlight": {"start": 0, "end": 114, "text": _EXAMPLE_TEXT},
                        }
                    ],
                }
            ]
        }
    )

    question: str = Field(description="The question as understood: whitespace and control characters tidied.")
    answer: str = Field(description="The reply as plain text: the answering sentence, then the quotes.")
    abstained: bool = Field(
        description="True when the article does not answer; `passages` then holds at most the closest one."
    )
    passages: list[Passage] = Field(description="Quoted passages, best first (at most k).")


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


def _error_doc(description: str, example: str) -> dict:
    return {
        "model": ErrorResponse,
        "description": description,
        "content": {"application/json": {"example": {"detail": example}}},
    }


_BUSY_DOC = _error_doc("Busy or an internal error: retry after `Retry-After` seconds.", "internal error, try again")
_CHAT_NOT_READY = {
    "starting": "starting: the chat page is loading; /api/ask already answers",
    "failed": "the chat page could not start; /api/ask still answers (the server's log says why)",
}
_STARTING_DOC = _error_doc(
    "Still starting (the chat page is loading; /api/ask already answers), or the chat page could not start: retry "
    "after `Retry-After` seconds.",
    _CHAT_NOT_READY["starting"],
)
_ASK_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _error_doc("The body is not valid JSON.", "malformed JSON: Expecting ',' delimiter at character 31"),
    413: _error_doc(f"The body is over {MAX_API_BODY // 1024} KB.", f"the request body is over {MAX_API_BODY:,} bytes"),
    415: _error_doc(
        "The body is not sent as application/json.", "send the body as JSON with Content-Type: application/json"
    ),
    422: _error_doc(
        "A field is missing or out of range, or the question cannot be asked.",
        f"question: is 2,345 characters; the limit is {MAX_QUESTION_CHARS:,}",
    ),
    503: _BUSY_DOC,
}


# ---- the app ----------------------------------------------------------------------------------------------------


class Busy(Exception):
    """Too many questions are waiting for the engine."""


class _Engine:
    """The assistant behind one lock, with a bounded queue in front for the HTTP API.

    One question at a time: the shared PyStemmer stemmer is documented as not thread-safe, and onnxruntime
    already uses every core for one question, so running questions side by side would not be faster.
    """

    def __init__(self, assistant: Assistant, *, max_waiting: int, max_wait: float):
        self.assistant = assistant
        self.lock = threading.Lock()
        self.max_waiting = max_waiting
        self.max_wait = max_wait
        self.waiting = 0
        self._turn: Any = None  # anyio.Lock, made inside the event loop

    def ask(self, question: str, history: Sequence[str] | None = None, k: int = 3):
        """Assistant.ask under the lock (the chat page's handlers call this from Gradio's worker threads)."""
        with self.lock:
            return self.assistant.ask(question, history, k)

    async def ask_async(self, question: str, history: list[str], k: int) -> dict:
        """Wait in the event loop (not in a thread) for our turn, then answer in a worker thread."""
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
            return await anyio.to_thread.run_sync(lambda: self.ask(question, history, k).to_dict())
        finally:
            self._turn.release()


class _Serialized:
    """What the chat page gets: the assistant, with ask() taking the engine's lock."""

    def __init__(self, engine: _Engine):
        self._engine = engine

    def ask(self, question: str, history: Sequence[str] | None = None, k: int = 3):
        return self._engine.ask(question, history, k)

    def __getattr__(self, name: str):
        return getattr(self._engine.assistant, name)


def create_app(
    assistant: Assistant,
    *,
    max_waiting: int = MAX_WAITING,
    max_wait: float = MAX_WAIT_SECONDS,
    chat: bool | Literal["later"] = True,
) -> FastAPI:
    """The FastAPI app: /api/* routes and their docs at /docs, and the chat page at /: mounted now (chat=True),
    once Gradio has loaded in the background while the API already answers (chat="later"), or never (False)."""
    engine = _Engine(assistant, max_waiting=max_waiting, max_wait=max_wait)
    app = FastAPI(
        title="Article assistant",
        version="0.1.0",
        description=(
            "Ask questions about a news article; get the answering sentence and verbatim quotes. Offline, no LLM.\n\n"
            f"Limits: question ≤ {MAX_QUESTION_CHARS:,} characters, history ≤ {MAX_HISTORY} items, "
            f"1 ≤ k ≤ {MAX_K}, request body ≤ {MAX_API_BODY // 1024} KB. Every error is JSON "
            '`{"detail": "what was wrong"}`; no endpoint answers 500.'
        ),
        openapi_tags=[{"name": "assistant", "description": "Questions about the article."}],
    )
    _handle_errors(app)
    app.add_middleware(_BodyLimit, api_limit=MAX_API_BODY, page_limit=MAX_PAGE_BODY)
    app.add_middleware(_Unexpected)  # added last: the outermost of ours
    article = _article_json(assistant)

    @app.post(
        "/api/ask",
        response_model=Answer,
        responses=_ASK_ERRORS,
        tags=["assistant"],
        summary="Ask a question about the article",
        operation_id="ask",
        response_description="The answer: quoted passages, best first, or an abstention.",
        dependencies=[Depends(_json_content_type)],
    )
    async def ask(request: AskRequest) -> dict:
        """Answer a question by quoting the article: the same JSON as the Python API and `assistant ask --json`."""
        return await engine.ask_async(request.question, request.history, request.k)

    @app.get(
        "/api/article",
        response_model=ArticleResponse,
        responses={503: _BUSY_DOC},
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
        responses={503: _STARTING_DOC},
        tags=["assistant"],
        summary="Is the server ready?",
        operation_id="health",
    )
    async def health() -> Any:
        """200 once the index is loaded and the chat page is up; 503 with Retry-After while the page is starting."""
        if app.state.chat != "ready":
            return _busy(_CHAT_NOT_READY[app.state.chat])
        return {"status": "ok", "model": assistant.embedder.name, "passages": len(assistant.index.chunks)}

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
            return _json_error(405, f"use {' or '.join(allowed)} for {path}", {"Allow": ", ".join(allowed)})
        return _json_error(404, f"no such endpoint: {request.method} {path} (see /docs)")

    app.state.chat = "starting" if chat == "later" else "ready"
    if chat == "later":
        _mount_chat_later(app, _Serialized(engine), assistant)
    elif chat:
        _mount_chat(app, _chat_blocks(_Serialized(engine)), assistant)
    return app


def _chat_blocks(assistant: _Serialized):
    """The chat page's Gradio Blocks (the first call imports Gradio: seconds)."""
    from .chat import build_app

    return build_app(assistant)


def _mount_chat(app: FastAPI, blocks, real: Assistant):
    """Mount the chat page at /, serving no file from outside Gradio's own folders; return the mounted Gradio app."""
    import gradio as gr

    from .chat import CSS

    gr.mount_gradio_app(
        app,
        blocks,
        path="/",
        css=CSS,
        allowed_paths=[],
        blocked_paths=_private_folders(real),
        show_error=False,  # only gr.Error messages reach the page; other exceptions could name local files
        max_file_size="1mb",
        mcp_server=False,
    )
    return app.router.routes[-1].app


def _chat_not_ready_page(state: str) -> str:
    """What / shows before the chat page is mounted: a page that reloads itself, or why it will not come."""
    if state == "starting":
        head, text = '<meta http-equiv="refresh" content="1">', "The chat page is starting; it appears in a moment."
    else:
        head, text = "", "The chat page could not start (the server's log says why); the JSON API at /api/ask answers."
    return (
        f'<!doctype html><html lang="en"><meta charset="utf-8">{head}<title>Article assistant</title>'
        f'<p style="font-family:sans-serif;margin:3em">{text}</p></html>'
    )


def _mount_chat_later(app: FastAPI, assistant: _Serialized, real: Assistant) -> None:
    """Answer the API at once and mount the chat page when Gradio has loaded: importing Gradio takes seconds,
    answering does not. Until then / is a 503 page that reloads itself. Gradio's start-up and shutdown hooks then
    run as mount_gradio_app would run them, around the rest of the server's life."""
    from fastapi.responses import HTMLResponse

    async def starting(request: Request) -> HTMLResponse:
        page = _chat_not_ready_page(app.state.chat)
        return HTMLResponse(page, status_code=503, headers={"Retry-After": RETRY_AFTER})

    app.add_route("/", starting, include_in_schema=False)
    placeholder = app.router.routes[-1]
    parent = app.router.lifespan_context

    async def serve_chat(stop) -> None:
        import anyio.to_thread

        try:
            blocks = await anyio.to_thread.run_sync(_chat_blocks, assistant, abandon_on_cancel=True)
            gradio_app = _mount_chat(app, blocks, real)
        except Exception:
            print("assistant: the chat page could not start (the API still answers):", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            app.state.chat = "failed"
            return
        app.router.routes.remove(placeholder)  # same event-loop step as the mount: / is never unrouted
        async with gradio_app.router.lifespan_context(gradio_app):
            gradio_app.get_blocks().run_startup_events()
            await gradio_app.get_blocks().run_extra_startup_events()
            app.state.chat = "ready"
            await stop.wait()

    @contextlib.asynccontextmanager
    async def lifespan(app_: FastAPI):
        import anyio

        async with parent(app_) as state, anyio.create_task_group() as tasks:
            stop = anyio.Event()
            tasks.start_soon(serve_chat, stop)
            try:
                yield state
            finally:
                stop.set()
                if app.state.chat == "starting":  # still importing Gradio: abandon it
                    tasks.cancel_scope.cancel()

    app.router.lifespan_context = lifespan


def _private_folders(assistant: Assistant) -> list[str]:
    """The index, the exported encoders and the model's files: never served, whatever Gradio is told to allow."""
    from . import embed

    folders = [embed.cache_dir(), Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface")]
    if assistant.index_dir is not None:
        folders.append(Path(assistant.index_dir))
    with contextlib.suppress(AssistantError):  # a model that is not installed has no folder to hide
        folders.append(Path(embed.resolve_model(assistant.embedder.name)[1]))
    return sorted({str(f.expanduser().resolve()) for f in folders})


def _article_json(assistant: Assistant) -> dict:
    a = assistant.article
    return {
        "title": a.title,
        "source": a.source,
        "paragraphs": [{"paragraph": p.number, "text": p.text} for p in a.paragraphs],
    }


# ---- errors: one shape, {"detail": "..."}, never a stack trace and never a 500 ---------------------------------------


def _json_error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail}, headers=headers)


def _busy(detail: str) -> JSONResponse:
    return _json_error(503, detail, {"Retry-After": RETRY_AFTER})


async def _json_content_type(request: Request) -> None:
    """415 unless the body is declared JSON (this also keeps web pages from posting here without CORS preflight)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json" and not (kind.startswith("application/") and kind.endswith("+json")):
        got = f"got {kind!r}" if kind else "got none"
        raise HTTPException(415, f"send the body as JSON with Content-Type: application/json ({got})")


def _handle_errors(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        bad_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
        if bad_json is not None:
            return _json_error(400, _malformed(bad_json))
        return _json_error(422, describe_errors(errors))

    @app.exception_handler(QuestionError)
    async def question_error(request: Request, exc: QuestionError):
        return _json_error(422, str(exc))

    @app.exception_handler(Busy)
    async def busy(request: Request, exc: Busy):
        return _busy("the server is busy answering other questions; retry in a second")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            detail = "malformed JSON: the body must be a UTF-8 JSON object"
        if exc.status_code >= 500:  # never a 500: whatever failed, the client may retry
            return _busy("internal error, try again")
        return _json_error(exc.status_code, detail, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        # A backstop for errors outside _Unexpected; Starlette re-raises, and uvicorn logs it and drops the connection.
        return _busy("internal error, try again")


def _malformed(error: dict) -> str:
    reason = str(error.get("ctx", {}).get("error", "not JSON"))
    position = error.get("loc", ("body", None))[-1]
    where = f" at character {position}" if isinstance(position, int) else ""
    return f"malformed JSON: {reason}{where}"


_FIELDS = ("question", "history", "k")


def describe_errors(errors: Sequence[dict]) -> str:
    """Pydantic's validation errors as one sentence per problem, naming the field and its limit."""
    messages = list(dict.fromkeys(_describe(e) for e in errors))
    return "; ".join(messages[:5])


def _describe(error: dict) -> str:
    loc = [p for p in error.get("loc", ()) if p != "body"]
    kind = error.get("type", "")
    value = error.get("input")
    if not loc:
        if kind == "missing":
            return f'the body is empty: send a JSON object such as {{"question": "{EXAMPLE_QUESTION}"}}'
        return f'the body must be a JSON object such as {{"question": "{EXAMPLE_QUESTION}"}}'
    field = str(loc[0])
    where = field + "".join(f"[{p}]" for p in loc[1:])
    if kind == "extra_forbidden":
        return f"unknown field {_safe(field)}: the fields are {', '.join(_FIELDS)}"
    if kind == "missing":
        return f"{field}: required"
    if kind == "string_unicode":
        return f"{where}: contains an unpaired surrogate (U+D800 to U+DFFF); send valid Unicode text"
    if field == "k":
        return f"k: must be a whole number from 1 to {MAX_K}, not {_safe(value)}"
    if field == "question" and kind == "string_too_short":
        return "question: is empty; please ask a question about the article"
    if kind == "string_too_long" and isinstance(value, str):
        return f"{where}: is {len(value):,} characters; the limit is {MAX_QUESTION_CHARS:,}"
    if field == "history" and kind == "too_long" and isinstance(value, list):
        return f"history: has {len(value):,} items; the limit is {MAX_HISTORY} (only recent turns matter)"
    if field == "history" and len(loc) == 1:
        return f"history: must be a list of earlier questions (strings), at most {MAX_HISTORY}"
    if kind == "string_type":
        return f"{where}: must be a string, not {_json_type(value)}"
    return f"{where}: {error.get('msg', 'invalid').lower()}"


def _safe(value: object) -> str:
    """A short, ASCII-only rendering of a client's value (lone surrogates and control characters included)."""
    text = json.dumps(value, ensure_ascii=True, default=str) if not isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _json_type(value: object) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", list: "an array", dict: "an object"}
    return "null" if value is None else names.get(type(value), "a " + type(value).__name__)


class _Unexpected:
    """503 for any exception no route handled: its traceback goes to stderr, the client gets JSON and keeps its
    connection (uvicorn closes a connection whose app raised, which a kept-alive client sees as a reset)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            print(f"assistant: unexpected error on {scope['method']} {scope['path']}:", file=sys.stderr)
            traceback.print_exc(file=sys.stderr)
            if not started:
                await _busy("internal error, try again")(scope, receive, send)


class _BodyLimit:
    """413 for oversized request bodies: by Content-Length before reading, and by counting as chunks arrive.

    Nothing is buffered here. The connection is not closed: uvicorn reads and discards the rest of the body after
    the response, so the client reads its 413 instead of a connection reset.
    """

    def __init__(self, app: ASGIApp, *, api_limit: int, page_limit: int):
        self.app = app
        self.api_limit = api_limit
        self.page_limit = page_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.api_limit if scope["path"].startswith("/api/") else self.page_limit
        too_large = f"the request body is over {limit:,} bytes"
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None:
            if not length.strip().isdigit():
                await _json_error(400, "Content-Length must be a whole number of bytes")(scope, receive, send)
                return
            if int(length) > limit:
                await _json_error(413, too_large)(scope, receive, send)
                return
        state = {"received": 0, "over": False, "started": False}

        async def counted() -> Message:
            if state["over"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > limit:  # a chunked body: stop the app reading, answer 413 below
                    state["over"] = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded(message: Message) -> None:
            if state["over"] and not state["started"]:  # the app's answer to the cut-off body; ours follows
                return
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, counted, guarded)
        except Exception:
            if not state["over"]:
                raise
        if state["over"] and not state["started"]:
            await _json_error(413, too_large)(scope, receive, send)


# ---- serving ------------------------------------------------------------------------------------------------------


def serve(
    *,
    article: Path | None = None,
    index_dir: Path | None = None,
    model: str | None = None,
    host: str = "127.0.0.1",
    port: int = 7860,
) -> None:
    """Load (or build) the article's index, then serve the page and the API until interrupted."""
    import uvicorn

    listener = _listen(host, port)  # before loading: a busy port fails in a second, not after indexing
    assistant = Assistant.from_article(article, index_dir, model, progress=True)
    app = create_app(assistant, chat="later")
    bound = listener.getsockname()
    url = f"http://{_url_host(host)}:{bound[1]}"
    print(f"assistant: API on {url}/api (docs at {url}/docs); the chat page at {url} follows in a few seconds",
          file=sys.stderr, flush=True)  # fmt: skip
    if not _is_loopback(host):
        print(f"assistant: listening on {host}: anyone who can reach it can use it (no login)", file=sys.stderr)
    config = uvicorn.Config(app, log_level="warning", server_header=False, timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[listener])


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or an AssistantError saying how to pick another port."""
    sock = None
    try:
        # proto must be IPPROTO_TCP, not 0 (as socket.create_server leaves it): asyncio sets TCP_NODELAY on
        # accepted connections only then, and without it every kept-alive request waits ~40 ms (Nagle).
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )[0]
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except socket.gaierror as e:
        raise AssistantError(f"cannot listen on {host!r} ({e.strerror}): pass --host 127.0.0.1 or an address") from None
    except OSError as e:
        if sock is not None:
            sock.close()
        raise AssistantError(
            f"cannot listen on {host}:{port} ({e.strerror or e}): is another server using it? Pass --port N"
        ) from None
    return sock


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _is_loopback(host: str) -> bool:
    import ipaddress

    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
