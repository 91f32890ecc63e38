"""The chat page: answers as HTML (render.py), one turn of the chat (turn.py), the chat as a download (export.py), the
Gradio page (page.py) and its styles (page.css)."""

from functools import cache
from pathlib import Path

from ..answer import NOT_COVERED
from .export import chat_json, chat_markdown
from .page import build_app
from .render import (
    CLOSEST,
    friendly,
    place,
    render_answer,
    render_article,
    render_notice,
    render_question,
    sanitize,
    score_text,
    split_highlight,
    text_html,
)
from .turn import EXAMPLES, UNEXPECTED, Chat, Turn, examples_for, take_turn


@cache
def page_css() -> str:
    """The page's styles, given to Gradio where the page is mounted (server/mount.py)."""
    return Path(__file__).with_name("page.css").read_text(encoding="utf-8")


__all__ = [
    "CLOSEST",
    "EXAMPLES",
    "NOT_COVERED",
    "UNEXPECTED",
    "Chat",
    "Turn",
    "build_app",
    "chat_json",
    "chat_markdown",
    "examples_for",
    "friendly",
    "page_css",
    "place",
    "render_answer",
    "render_article",
    "render_notice",
    "render_question",
    "sanitize",
    "score_text",
    "split_highlight",
    "take_turn",
    "text_html",
]
