"""OpenAI-compatible routes: POST /v1/chat/completions (streamed or not) and GET /v1/models, over the same engine."""

from __future__ import annotations

import calendar
import json
import time
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field, Strict

from ..errors import UnknownArticle
from ..question import DEFAULT_K, MAX_HISTORY, MAX_K, AskRequest
from ..schema import Answer, ArticleEntry
from .auth import ERROR_DOCS, OpenAIRoute, Refused, error_body, openai_error
from .engine import Engine
from .errors import json_content_type

DEFAULT_MODEL = "article"
"""The model name of the default article (the one the server started with), besides its id."""
OWNER = "article-assistant"


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str = Field(description='Only "text" parts are read; others are refused.', examples=["text"])
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_calls, ...: accepted, ignored
    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None


class ChatRequest(BaseModel):
    """A Chat Completions request: the last message is the question (from the user), the earlier user messages its
    follow-up history; other roles are ignored. Sampling fields are accepted and ignored: the reply quotes."""

    model_config = ConfigDict(
        extra="allow", json_schema_extra={"examples": [{"model": "article", "messages": [
            {"role": "user", "content": "Which countries joined Japan's naval exercises?"},
            {"role": "assistant", "content": "..."}, {"role": "user", "content": "Where did they take place?"}]}]},
    )  # fmt: skip
    model: str = Field(description=f'"{DEFAULT_MODEL}" (the default article) or an article id from GET /v1/models.')
    messages: list[ChatMessage] = Field(min_length=1, description="The conversation, oldest first.")
    stream: bool = Field(default=False, description="Answer with server-sent events (chat.completion.chunk).")
    stream_options: dict[str, Any] | None = Field(default=None, description="include_usage: a last usage chunk.")
    n: int | None = Field(default=None, description="Only 1.")
    k: Annotated[int, Strict()] | None = Field(
        default=None, description=f"Not OpenAI's: passages to quote, 1 to {MAX_K} (default {DEFAULT_K})."
    )


class Usage(BaseModel):
    """Tokens counted as whitespace-separated words."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class ReplyMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str = Field(description="The reply text: the answering sentence, then the quotes (or the abstention).")


class CompletionChoice(BaseModel):
    index: int = 0
    message: ReplyMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class ChatCompletion(BaseModel):
    """The reply, as OpenAI's chat.completion object, with the structured answer beside it."""

    id: str = Field(examples=["chatcmpl-5b0d3c6e8f9a4b1c9d2e7f6a5b4c3d2e"])
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(description="Unix time.")
    model: str = Field(description="The request's model.", examples=[DEFAULT_MODEL])
    choices: list[CompletionChoice]
    usage: Usage
    answer: Answer = Field(description="Not OpenAI's: the answer as POST /api/ask returns it (passages, scores).")


class Delta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta
    finish_reason: Literal["stop"] | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    """One event of a streamed reply (`data: {chunk}`): the role, pieces of the text, then finish_reason "stop"; the
    last chunk before `data: [DONE]` carries the structured answer (and usage, with stream_options.include_usage)."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None
    answer: Answer | None = None


class ModelCard(BaseModel):
    """An article, as an OpenAI model: ask it by naming its id as the model."""

    id: str = Field(examples=[DEFAULT_MODEL, "3f2a9c0d1b7e4a55"])
    object: Literal["model"] = "model"
    created: int = Field(description="Unix time it was added (for the default article: when the server started).")
    owned_by: str = OWNER
    name: str = Field(description="Not OpenAI's: its title or file name, for model pickers.")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


def openai_routes(engine: Engine) -> APIRouter:
    """The /v1/ routes over the engine's library. Their bodies are limited by BodyLimit's page limit (2 MB: it
    applies that to every path outside /api/), which leaves room for a long conversation."""
    router = APIRouter(tags=["openai"], route_class=OpenAIRoute)
    library = engine.library
    started = int(time.time())

    def cards() -> list[ModelCard]:
        entries = library.entries()
        default = entries[0]
        return [_card(default, started, DEFAULT_MODEL), *(_card(e, started) for e in entries)]

    def article_of(model: str) -> str | None:
        """The library id a model names (None: the default article); 404 unless it is one."""
        if model in (DEFAULT_MODEL, library.default_id):
            return None
        try:
            return library.entry(model).id
        except UnknownArticle:
            raise Refused(404, f"the model {model[:64]!r} does not exist: use {DEFAULT_MODEL!r} or an id from GET "
                          "/v1/models", param="model", code="model_not_found") from None  # fmt: skip

    @router.post(
        "/v1/chat/completions",
        # response_model only registers the chunk's schema: every return is a Response, and responses[200] puts
        # ChatCompletion on application/json
        response_model=ChatCompletionChunk,
        responses={
            200: {
                "model": ChatCompletion,
                "description": "The reply; with stream: true, server-sent events.",
                "content": {"text/event-stream": {"schema": {"$ref": "#/components/schemas/ChatCompletionChunk"}}},
            },
            **ERROR_DOCS,
        },
        summary="Ask a question, as an OpenAI chat completion",
        operation_id="chat_completions",
        dependencies=[Depends(json_content_type)],
    )
    async def chat_completions(body: ChatRequest) -> Response:
        """The last user message is the question; the earlier user messages are its history (the latest
        MAX_HISTORY). The reply's content is the answer's text; `answer` holds the structured answer."""
        if body.n not in (None, 1):
            raise Refused(400, f"n: only 1 choice can be given, not {body.n}", param="n")
        question, history = _conversation(body.messages)
        k = DEFAULT_K if body.k is None else body.k
        answer = await engine.reply(AskRequest.of(question, history, k, article_of(body.model)))
        # computed before any byte is sent: an error is a JSON error, never a broken stream
        text = answer.text
        prompt = sum(len(_text(m).split()) for m in body.messages)
        usage = Usage(prompt_tokens=prompt, completion_tokens=len(text.split()),
                      total_tokens=prompt + len(text.split()))  # fmt: skip
        head = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": body.model}
        if not body.stream:
            choice = CompletionChoice(message=ReplyMessage(content=text))
            completion = ChatCompletion(**head, choices=[choice], usage=usage, answer=answer)
            return JSONResponse(completion.model_dump(mode="json"))
        events = [_chunk(head, {"role": "assistant"}), *(_chunk(head, {"content": piece})
                  for piece in text.splitlines(keepends=True)), _chunk(head, {}, "stop")]  # fmt: skip
        if (body.stream_options or {}).get("include_usage"):
            events.append({**head, "object": "chat.completion.chunk", "choices": [], "usage": usage.model_dump()})
        events[-1]["answer"] = answer.to_dict()
        lines = [f"data: {json.dumps(e, ensure_ascii=False)}\n\n" for e in events] + ["data: [DONE]\n\n"]
        return StreamingResponse(iter(lines), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})  # fmt: skip

    @router.get("/v1/models", response_model=ModelList, responses={401: ERROR_DOCS[401]}, summary="The articles, as "
                "OpenAI models", operation_id="models")  # fmt: skip
    async def models() -> Any:
        """Every article: the default one as "article" and by its id, then the added ones, newest first."""
        return {"object": "list", "data": cards()}

    @router.get("/v1/models/{model}", response_model=ModelCard, responses={401: ERROR_DOCS[401], 404: ERROR_DOCS[404]},
                summary="One article, as an OpenAI model", operation_id="model")  # fmt: skip
    async def model(model: str) -> Any:
        """The model (article) of this name, or 404."""
        found = next((c for c in cards() if c.id == model), None)
        if found is None:
            raise Refused(404, f"the model {model[:64]!r} does not exist", param="model", code="model_not_found")
        return found

    @router.api_route("/v1/{rest:path}", methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                      include_in_schema=False)  # fmt: skip
    async def not_found(request: Request) -> Response:
        """Unknown /v1/ routes get an OpenAI error, not the chat page; a known route with another method gets 405."""
        path = request.url.path
        allowed = sorted(m for r in router.routes if isinstance(r, APIRoute) and r.endpoint is not not_found
                         and r.path_regex.match(path) for m in r.methods)  # fmt: skip
        if allowed:
            body = error_body(405, f"use {' or '.join(allowed)} for {path}")
            return JSONResponse(body, status_code=405, headers={"Allow": ", ".join(allowed)})
        return openai_error(404, f"no such endpoint: {request.method} {path} (this server has /v1/chat/completions "
                            "and /v1/models)", code="unknown_url")  # fmt: skip

    return router


def _card(entry: ArticleEntry, started: int, alias: str | None = None) -> ModelCard:
    added = calendar.timegm(time.strptime(entry.added, "%Y-%m-%dT%H:%M:%SZ")) if entry.added else started
    name = entry.title or entry.name
    return ModelCard(id=alias or entry.id, created=added, name=f"{name} (default)" if alias else name)


def _chunk(head: dict, delta: dict, finish: str | None = None) -> dict:
    choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
    return {**head, "object": "chat.completion.chunk", "choices": [choice]}


def _text(message: ChatMessage) -> str:
    if message.content is None or isinstance(message.content, str):
        return message.content or ""
    return "\n".join(part.text or "" for part in message.content)


def _conversation(messages: list[ChatMessage]) -> tuple[str, list[str]]:
    """(question, history): the last message (the user's) and the earlier user messages, the latest MAX_HISTORY."""
    for n, message in enumerate(messages):
        for p, part in enumerate(message.content if isinstance(message.content, list) else ()):
            if part.type != "text" or part.text is None:
                raise Refused(400, f"messages[{n}].content[{p}]: only text parts are read, not {part.type!r} (this "
                              "assistant answers from the article's text)", param="messages")  # fmt: skip
    if messages[-1].role != "user":
        raise Refused(400, f"the last message must be the user's question (role 'user'), not {messages[-1].role!r}",
                      param="messages")  # fmt: skip
    earlier = [_text(m) for m in messages[:-1] if m.role == "user"]
    return _text(messages[-1]), earlier[-MAX_HISTORY:]
