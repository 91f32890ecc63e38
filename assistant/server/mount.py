"""The chat page (Gradio) mounted at / beside the API: at once, or once Gradio's multi-second import is done while
the API already answers."""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

from fastapi import FastAPI, Request

from ..article import MAX_ARTICLE_BYTES
from ..chat import page_css
from ..errors import AssistantError
from .engine import Engine
from .schema import RETRY_AFTER

log = logging.getLogger("assistant")


def chat_blocks(engine: Engine):
    """The chat page's Gradio Blocks (the first call imports Gradio: seconds)."""
    from ..chat import build_app

    return build_app(engine)


def mount_chat(app: FastAPI, blocks, engine: Engine):
    """Mount the chat page at /, serving no file from outside Gradio's own folders; return the mounted Gradio app."""
    import gradio as gr

    gr.mount_gradio_app(
        app,
        blocks,
        path="/",
        css=page_css(),
        allowed_paths=[],
        blocked_paths=_private_folders(engine),
        show_error=False,  # only gr.Error messages reach the page; other exceptions could name local files
        max_file_size=MAX_ARTICLE_BYTES,  # uploads of articles; larger ones are refused before they are read
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


def mount_chat_later(app: FastAPI, engine: Engine) -> None:
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
            blocks = await anyio.to_thread.run_sync(chat_blocks, engine, abandon_on_cancel=True)
            gradio_app = mount_chat(app, blocks, engine)
        except Exception:
            log.exception("the chat page could not start (the API still answers)")
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


def _private_folders(engine: Engine) -> list[str]:
    """The index, the library, the exported encoders and the model's files: never served, whatever Gradio is told
    to allow."""
    from .. import embed

    assistant = engine.library.default
    folders = [embed.cache_dir(), Path(os.environ.get("HF_HOME") or Path.home() / ".cache" / "huggingface"),
               engine.library.folder]  # fmt: skip
    if assistant.index_dir is not None:
        folders.append(Path(assistant.index_dir))
    with contextlib.suppress(AssistantError):  # a model that is not installed has no folder to hide
        folders.append(Path(embed.resolve_model(assistant.embedder.name)[1]))
    return sorted({str(f.expanduser().resolve()) for f in folders})
