"""The server's two ASGI middlewares: request bodies within their limits, and no exception without an answer."""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import busy, json_error

log = logging.getLogger("assistant")


class Unexpected:
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
            log.exception("unexpected error on %s %s", scope["method"], scope["path"])
            if not started:
                await busy("internal error, try again")(scope, receive, send)


class BodyLimit:
    """413 for oversized request bodies: by Content-Length before reading, and by counting as chunks arrive.

    Nothing is buffered here. The connection is not closed: uvicorn reads and discards the rest of the body after
    the response, so the client reads its 413 instead of a connection reset.
    """

    def __init__(self, app: ASGIApp, *, api_limit: int, page_limit: int, uploads: dict[str, int]):
        """api_limit for /api/*, page_limit for the chat page's routes, uploads for the paths named there."""
        self.app = app
        self.api_limit = api_limit
        self.page_limit = page_limit
        self.uploads = uploads

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        limit = self.uploads.get(path) or (self.api_limit if path.startswith("/api/") else self.page_limit)
        too_large = f"the request body is over {limit:,} bytes"
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is not None:
            if not length.strip().isdigit():
                await json_error(400, "Content-Length must be a whole number of bytes")(scope, receive, send)
                return
            if int(length) > limit:
                await json_error(413, too_large)(scope, receive, send)
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
            await json_error(413, too_large)(scope, receive, send)
