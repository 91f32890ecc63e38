"""The edge of /v1/ and /api/: the optional bearer-token check, and OpenAI's shape for every error under /v1/."""

from __future__ import annotations

import hmac
import json
import logging
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import ArticleError, LibraryError, QuestionError, UnknownArticle
from .engine import Busy
from .errors import json_error
from .schema import RETRY_AFTER

log = logging.getLogger("assistant")
CHALLENGE = {"WWW-Authenticate": "Bearer"}
OPEN_PATHS = ("/api/docs-assets",)
"""Under /api/ but not the API: the scripts and styles of /docs, which stays reachable without a key."""
_CODES = {401: "invalid_api_key", 404: "not_found", 405: "method_not_allowed", 413: "request_too_large",
          415: "unsupported_media_type", 422: "invalid_value", 503: "server_busy"}  # fmt: skip


class OpenAIErrorDetail(BaseModel):
    message: str = Field(examples=["question: is empty; please ask a question about the article"])
    type: str = Field(description="invalid_request_error (4xx) or server_error (503).")
    param: str | None = Field(examples=["messages"])
    code: str | None = Field(examples=["invalid_value"])


class OpenAIErrorResponse(BaseModel):
    """Every /v1/ error, in OpenAI's shape."""

    error: OpenAIErrorDetail


ERROR_DOCS: dict[int | str, dict[str, Any]] = {
    s: {"model": OpenAIErrorResponse, "description": d}
    for s, d in [(400, "Malformed or invalid request."), (401, "Missing or wrong API key (with --api-key)."),
                 (404, "No such model (article)."), (413, "The body is over 2 MB."), (415, "The body is not JSON."),
                 (422, "The question cannot be asked (empty, too long, ...)."), (503, "Busy: retry after Retry-After.")]
}  # fmt: skip


def error_body(status: int, message: str, *, param: str | None = None, code: str | None = None) -> dict:
    """OpenAI's error JSON: {"error": {"message", "type", "param", "code"}}."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    return {"error": {"message": message, "type": kind, "param": param, "code": code or _CODES.get(status)}}


def openai_error(status: int, message: str, *, param: str | None = None, code: str | None = None,
                 headers: dict[str, str] | None = None) -> JSONResponse:  # fmt: skip
    """An error response in OpenAI's shape (what the openai client and Open WebUI read)."""
    return JSONResponse(error_body(status, message, param=param, code=code), status_code=status, headers=headers)


class Refused(Exception):
    """A request an OpenAI route refuses, with its status and OpenAI's error fields."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None):
        super().__init__(message)
        self.status, self.param, self.code = status, param, code


class OpenAIRoute(APIRoute):
    """A route whose every failure is an OpenAI error (the app's handlers answer {"detail"}, as /api/ has it)."""

    def get_route_handler(self):
        handler = super().get_route_handler()

        async def answered(request: Request) -> Response:
            try:
                return await handler(request)
            except Refused as e:
                return openai_error(e.status, str(e), param=e.param, code=e.code)
            except RequestValidationError as e:
                message, param = _invalid(e.errors())
                return openai_error(400, message, param=param)
            except HTTPException as e:  # 415 from json_content_type
                return openai_error(e.status_code, str(e.detail))
            except QuestionError as e:
                return openai_error(422, str(e), param="k" if str(e).startswith("k:") else "messages")
            except UnknownArticle as e:  # deleted since the model was looked up
                return openai_error(404, str(e), param="model", code="model_not_found")
            except (ArticleError, LibraryError) as e:
                return openai_error(422 if isinstance(e, ArticleError) else 409, str(e), param="model")
            except Busy:
                message = "the server is busy answering other questions; retry in a second"
                return openai_error(503, message, headers={"Retry-After": RETRY_AFTER})
            except Exception:  # never a 500; and middleware.Unexpected would answer {"detail"}
                log.exception("unexpected error on %s %s", request.method, request.url.path)
                return openai_error(503, "internal error, try again", headers={"Retry-After": RETRY_AFTER})

        return answered


def _invalid(errors: list[dict]) -> tuple[str, str | None]:
    """(message, param) for a body that failed validation."""
    first = errors[0]
    loc = [p for p in first.get("loc", ()) if p != "body"]
    if first.get("type") == "json_invalid":
        return f"malformed JSON: {first.get('ctx', {}).get('error', 'not JSON')}", None
    if not loc:
        return 'the body must be a JSON object such as {"model": "article", "messages": [{"role": "user", ' \
               '"content": "what exercises did Japan join"}]}', None  # fmt: skip
    said = [f"{''.join(f'[{p}]' if isinstance(p, int) else f'.{p}' for p in e['loc'][1:]).lstrip('.')}: "
            f"{str(e.get('msg', 'invalid')).lower()}" for e in errors[:3]]  # fmt: skip
    return "; ".join(dict.fromkeys(said)), str(loc[0])


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix + "/")


class ApiKey:
    """With a key, 401 for any /api/* or /v1/* request without `Authorization: Bearer <key>`; the chat page, /docs
    and /openapi.json stay open (the page asks the engine in-process, not over HTTP). Under /v1/, the `{"detail"}`
    errors of the layers around the routes (BodyLimit's 413) go out in OpenAI's shape."""

    def __init__(self, app: ASGIApp, *, api_key: str | None = None):
        """api_key: the key clients must send; None (or empty) leaves the API open."""
        self.app = app
        self.key = api_key.encode() if api_key else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        v1 = _under(path, "/v1")
        guarded = v1 or (_under(path, "/api") and not any(_under(path, p) for p in OPEN_PATHS))
        if self.key is not None and guarded and not self._authorized(scope):
            message = "a valid API key is required: send the header Authorization: Bearer <key> (see --api-key)"
            response = openai_error(401, message, headers=CHALLENGE) if v1 else json_error(401, message, CHALLENGE)
            await response(scope, receive, send)
            return
        await self.app(scope, receive, _reshaped(send) if v1 else send)

    def _authorized(self, scope: Scope) -> bool:
        header = next((v for k, v in scope["headers"] if k == b"authorization"), b"")
        scheme, _, token = header.strip().partition(b" ")
        # compare_digest: the time taken does not tell how much of a guessed key was right
        return scheme.lower() == b"bearer" and hmac.compare_digest(token.strip(), self.key)


def _reshaped(send: Send) -> Send:
    """send, except that a JSON error {"detail": "..."} goes out as {"error": {...}} (a small body, held whole)."""
    held: list[Message] = []

    async def reshaping(message: Message) -> None:
        if message["type"] == "http.response.start":
            kind = dict(message.get("headers", [])).get(b"content-type", b"")
            if message["status"] >= 400 and kind.startswith(b"application/json"):
                held.append(message)
                return
        if not held or message["type"] != "http.response.body":
            await send(message)
            return
        held.append(message)
        if message.get("more_body"):
            return
        start, body = held[0], b"".join(m.get("body", b"") for m in held[1:])
        held.clear()
        try:
            value = json.loads(body)
        except ValueError:  # not ours to reshape (or a HEAD request's empty body): as it was
            value = None
        if isinstance(value, dict) and list(value) == ["detail"] and isinstance(value["detail"], str):
            body = json.dumps(error_body(start["status"], value["detail"]), ensure_ascii=False).encode()
            headers = [(k, v) for k, v in start["headers"] if k != b"content-length"]
            start = {**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]}
        await send(start)
        await send({"type": "http.response.body", "body": body})

    return reshaping
