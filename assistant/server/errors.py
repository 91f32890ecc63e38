"""Error shaping: every error is JSON {"detail": "one sentence"}; never a stack trace, and never a 500."""

from __future__ import annotations

import json

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ..errors import ArticleError, LibraryError, QuestionError, UnknownArticle
from ..question import describe
from .engine import Busy
from .schema import RETRY_AFTER


def json_error(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(status_code=status, content={"detail": detail}, headers=headers)


def busy(detail: str) -> JSONResponse:
    """503 with Retry-After: the client may simply try again."""
    return json_error(503, detail, {"Retry-After": RETRY_AFTER})


async def json_content_type(request: Request) -> None:
    """415 unless the body is declared JSON (this also keeps web pages from posting here without CORS preflight)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json" and not (kind.startswith("application/") and kind.endswith("+json")):
        got = f"got {kind!r}" if kind else "got none"
        raise HTTPException(415, f"send the body as JSON with Content-Type: application/json ({got})")


def handle_errors(app: FastAPI) -> None:
    """Install the handlers that give every error its JSON shape."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        bad_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
        if bad_json is not None:
            return json_error(400, _malformed(bad_json))
        return json_error(422, describe(errors))

    @app.exception_handler(QuestionError)
    async def question_error(request: Request, exc: QuestionError):
        return json_error(422, str(exc))

    @app.exception_handler(ArticleError)
    async def article_error(request: Request, exc: ArticleError):  # a file or URL that cannot be read
        return json_error(422, str(exc))

    @app.exception_handler(LibraryError)
    async def library_error(request: Request, exc: LibraryError):
        return json_error(404 if isinstance(exc, UnknownArticle) else 409, str(exc))

    @app.exception_handler(Busy)
    async def too_busy(request: Request, exc: Busy):
        return busy("the server is busy answering other questions; retry in a second")

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            detail = "malformed JSON: the body must be a UTF-8 JSON object"
        if exc.status_code >= 500:  # never a 500: whatever failed, the client may retry
            return busy("internal error, try again")
        return json_error(exc.status_code, detail, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        # A backstop for errors outside middleware.Unexpected; Starlette re-raises, and uvicorn logs it.
        return busy("internal error, try again")


def _malformed(error: dict) -> str:
    reason = str(error.get("ctx", {}).get("error", "not JSON"))
    position = error.get("loc", ("body", None))[-1]
    where = f" at character {position}" if isinstance(position, int) else ""
    return f"malformed JSON: {reason}{where}"
