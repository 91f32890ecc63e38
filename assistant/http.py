"""The JSON API (FastAPI) with the Gradio chat page mounted beside it: one process, one port."""

from __future__ import annotations

import sys
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from .api import MAX_HISTORY, MAX_K, MAX_QUESTION_CHARS, Assistant
from .errors import QuestionError


class AskRequest(BaseModel):
    """A question about the article, with the chat's earlier questions for follow-ups."""

    question: str = Field(max_length=MAX_QUESTION_CHARS, examples=["what exercises did Japan join"])
    history: list[str] = Field(default_factory=list, max_length=MAX_HISTORY)
    k: int = Field(default=3, ge=1, le=MAX_K)


def create_app(assistant: Assistant) -> FastAPI:
    """The FastAPI app: /api/* routes, and the chat page at /."""
    import gradio as gr

    from .chat import build_app

    app = FastAPI(title="Article assistant", version="0.1.0")

    @app.post("/api/ask")
    def ask(request: AskRequest):
        try:
            return assistant.ask(request.question, request.history, request.k).to_dict()
        except QuestionError as e:
            return JSONResponse(status_code=422, content={"detail": str(e)})

    @app.get("/api/article")
    def article():
        a = assistant.article
        return {
            "title": a.title,
            "source": a.source,
            "paragraphs": [{"paragraph": p.number, "text": p.text} for p in a.paragraphs],
        }

    @app.get("/api/health")
    def health():
        return {"status": "ok", "model": assistant.embedder.name, "passages": len(assistant.index.chunks)}

    return gr.mount_gradio_app(app, build_app(assistant), path="/")


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

    assistant = Assistant.from_article(article, index_dir, model, progress=True)
    app = create_app(assistant)
    print(f"assistant: chat page and API on http://{host}:{port}  (API docs at /docs)", file=sys.stderr, flush=True)
    uvicorn.run(app, host=host, port=port, log_level="warning")
