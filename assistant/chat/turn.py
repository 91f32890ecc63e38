"""One turn of the conversation, without Gradio: ask the engine, and say what the chat shows."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..api import DEFAULT_ARTICLE
from ..article import Article
from ..errors import AssistantError
from ..question import MAX_HISTORY
from ..schema import Answer
from .render import friendly, render_answer, render_notice, render_question

log = logging.getLogger("assistant")
UNEXPECTED = "Sorry, something went wrong while answering. Please try again or rephrase the question."
EXAMPLES = (
    "what exercises did Japan join",
    "Who is Japan developing a fighter jet with?",
    "Why is Japan boosting defense spending?",
    "What could cooperation with the U.S. be extended to?",
    "Which agency is this from?",
)
"""Example questions for the bundled article."""


def examples_for(article: Article) -> tuple[str, ...]:
    """Example questions: the bundled article's; none for another article (they would not fit it)."""
    try:
        bundled = hashlib.sha256(DEFAULT_ARTICLE.read_bytes()).hexdigest()
    except OSError:
        return ()
    return EXAMPLES if article.sha256 == bundled else ()


@dataclass(frozen=True, slots=True)
class Turn:
    """What one question adds to the chat: its messages, and the answer (None when it could not be answered)."""

    messages: tuple[dict, ...]
    answer: Answer | None = None
    asked: str | None = None
    """The question to remember for follow-ups (None if it was refused)."""
    keep: bool = False
    """Leave the question in the textbox so that it can be fixed (it was refused)."""


@dataclass(frozen=True, slots=True)
class Chat:
    """One article's conversation: what the chat shows, the questions follow-ups lean on, and each question with its
    answer (Answer.to_dict(), for the downloads)."""

    messages: tuple[dict, ...] = ()
    earlier: tuple[str, ...] = ()
    turns: tuple[dict, ...] = ()

    def then(self, turn: Turn) -> Chat:
        """The conversation after a turn (a refused question only adds its messages)."""
        messages = (*self.messages, *turn.messages)
        if turn.answer is None:
            return replace(self, messages=messages)
        asked = {"question": turn.asked, "answer": turn.answer.to_dict()}
        return Chat(messages, (*self.earlier, turn.asked)[-MAX_HISTORY:], (*self.turns, asked))


def take_turn(assistant, question: str | None, earlier: Sequence[str] = (), article: str | None = None,
              scope: str | Sequence[str] | None = None) -> Turn:  # fmt: skip
    """Ask the engine about an article (None: the default one), or with a scope ("all") the archive, passing the
    chat's earlier questions (at most MAX_HISTORY) as history; never raises."""
    question = question or ""
    if not question.strip():
        return Turn((_bot(render_notice("Please type a question about the article first.")),))
    user = {"role": "user", "content": render_question(question)}
    try:
        where = {"scope": scope} if scope is not None else {"article": article}
        answer = assistant.ask(question, history=list(earlier)[-MAX_HISTORY:], **where)
    except AssistantError as e:
        return Turn((user, _bot(render_notice(friendly(e)))), keep=True)
    except Exception:
        log.exception("chat: unexpected error while answering a question")
        return Turn((user, _bot(render_notice(UNEXPECTED))), keep=True)
    return Turn((user, _bot(render_answer(answer))), answer=answer, asked=question)


def _bot(content: str) -> dict:
    return {"role": "assistant", "content": content}
