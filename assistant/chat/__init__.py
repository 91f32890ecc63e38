"""The chat page: rendering answers as HTML (render.py), one turn of the chat (turn.py), the Gradio page (page.py)
and its styles (page.css)."""

from functools import cache
from pathlib import Path

from ..answer import NOT_COVERED
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
from .turn import EXAMPLES, UNEXPECTED, Turn, examples_for, take_turn


@cache
def page_css() -> str:
    """The page's styles, given to Gradio where the page is mounted (server/mount.py)."""
    return Path(__file__).with_name("page.css").read_text(encoding="utf-8")


__all__ = [
    "CLOSEST",
    "EXAMPLES",
    "NOT_COVERED",
    "UNEXPECTED",
    "Turn",
    "build_app",
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
