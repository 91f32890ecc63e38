"""Rendering the engine's answers as HTML for the chat page: pure functions, every text escaped."""

from __future__ import annotations

import html
import re
from typing import TYPE_CHECKING

from ..answer import place as _place
from ..schema import WEAK_SCORE

if TYPE_CHECKING:
    from ..article import Article
    from ..schema import Answer, Passage

CLOSEST = "Closest passage, not an answer"
SHOWN_QUESTION_CHARS = 300
"""A longer question is shortened in its chat bubble (the engine still sees all of it)."""

_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""C0/C1 controls (newline and tab are kept), and the bidirectional marks, embeddings, overrides and isolates."""


def sanitize(text: str) -> str:
    """Text safe to display: without NUL, control characters (newline and tab stay) or bidi override characters."""
    return _HIDDEN.sub("", text)


def text_html(text: str) -> str:
    """Untrusted text as literal HTML text: sanitized, every markup character escaped, newlines as <br>."""
    return html.escape(sanitize(text), quote=True).replace("\r\n", "\n").replace("\n", "<br>")


def place(passage: Passage) -> str:
    """Where a passage stands: "¶8", or "¶8 · also ¶14" when the article repeats it."""
    return _place(passage, sep=" · ")


def score_text(score: float) -> str:
    return f"score {score:.2f}"


def split_highlight(passage: Passage) -> tuple[str, str, str]:
    """The passage text as (before, answering sentence, after); the sentence is empty if it cannot be placed."""
    text, h = passage.text, passage.highlight
    if 0 <= h.start < h.end <= len(text) and text[h.start : h.end] == h.text:
        start, end = h.start, h.end
    elif h.text and (start := text.find(h.text)) >= 0:
        end = start + len(h.text)
    else:
        return text, "", ""
    return text[:start], text[start:end], text[end:]


def sentence_html(passage: Passage, before: str, sentence: str) -> str:
    """The answering sentence as HTML, its short answer (if any) in <strong class="qa-short">; before is the passage
    text before the sentence, where split_highlight placed it."""
    s = passage.short
    a, b = (s.start - len(before), s.end - len(before)) if s else (0, 0)
    if s is None or not (0 <= a < b <= len(sentence) and sentence[a:b] == s.text):
        return text_html(sentence)
    bold = f'<strong class="qa-short">{text_html(sentence[a:b])}</strong>'
    return f"{text_html(sentence[:a])}{bold}{text_html(sentence[b:])}"


def highlighted_html(passage: Passage) -> str:
    """The passage text as HTML, its answering sentence wrapped in <mark class="qa-hl">, the short answer in it bold."""
    before, sentence, after = split_highlight(passage)
    if not sentence:
        return text_html(before)
    return f'{text_html(before)}<mark class="qa-hl">{sentence_html(passage, before, sentence)}</mark>{text_html(after)}'


def passage_html(passage: Passage, *, mark: bool = True) -> str:
    """A verbatim passage as a blockquote; with mark, its answering sentence highlighted."""
    body = highlighted_html(passage) if mark else text_html(passage.text)
    return f'<blockquote class="qa-text">{body}</blockquote>'


def quote_html(passage: Passage, *, label: str = "", mark: bool = True, kind: str = "") -> str:
    """One quoted passage: its ¶ number(s) and score above the verbatim text."""
    head = f'<span class="qa-label">{html.escape(label)}</span> ' if label else ""
    return (
        f'<div class="qa-quote{" " + kind if kind else ""}">'
        f'<div class="qa-meta"><span class="qa-place">{head}{html.escape(place(passage))}</span>'
        f'<span class="qa-score">{score_text(passage.score)}</span></div>'
        f"{passage_html(passage, mark=mark)}</div>"
    )


def render_answer(answer: Answer) -> str:
    """The chat reply: the short answer (or a yes/no question's verdict), the answering sentence with the short answer
    in bold, then each quoted passage with its sentence highlighted.

    An abstention says so plainly and shows the closest passage, labelled as not an answer.
    """
    if answer.abstained:
        parts = [f'<p class="qa-none">{text_html(answer.refusal)}</p>']
        if answer.passages:
            parts.append(quote_html(answer.passages[0], label=CLOSEST, mark=False, kind="qa-closest"))
        return _reply(parts)
    if not answer.passages:  # not expected from the engine; say what it said rather than nothing
        return _reply([f'<p class="qa-direct">{text_html(answer.text)}</p>'])
    best = answer.passages[0]
    before, sentence, _ = split_highlight(best)
    body = sentence_html(best, before, sentence) if sentence else text_html(best.text)
    ref = f'<span class="qa-ref">{html.escape(place(best))}</span>'
    if answer.verdict:
        parts = [f'<p class="qa-direct"><strong class="qa-verdict">{html.escape(answer.verdict)}.</strong> '
                 f"The article says: {body} {ref}</p>"]  # fmt: skip
    elif best.short is not None:
        parts = [f'<p class="qa-short-answer"><strong class="qa-lead">{text_html(best.short.text)}</strong></p>',
                 f'<p class="qa-direct">{body} {ref}</p>']  # fmt: skip
    else:
        parts = [f'<p class="qa-direct">{body} {ref}</p>']
    parts += [quote_html(p) for p in answer.cited]
    if weak := answer.weaker:
        n = len(weak)
        summary = f"{n} weaker {'match' if n == 1 else 'matches'} (score below {WEAK_SCORE:.2f})"
        inner = "".join(quote_html(p, kind="qa-weak") for p in weak)
        parts.append(f'<details class="qa-more"><summary>{summary}</summary>{inner}</details>')
    return _reply(parts)


def _reply(parts: list[str]) -> str:
    # One line: Gradio runs inspect.cleandoc over message text, which would re-indent a multi-line string.
    return f'<div class="qa-answer">{"".join(parts)}</div>'


def render_question(question: str) -> str:
    """The user's question as literal text (very long ones shortened for display)."""
    shown = question if len(question) <= SHOWN_QUESTION_CHARS else question[:SHOWN_QUESTION_CHARS] + "…"
    return f'<div class="qa-question">{text_html(shown)}</div>'


def render_notice(message: str) -> str:
    """A friendly message in the chat when a question cannot be answered (bad input, or an error)."""
    return f'<div class="qa-notice" role="alert">{text_html(message)}</div>'


def friendly(error: Exception) -> str:
    """What to tell the user about an error the engine raised on purpose: its message, as a sentence ("question: is
    empty; ..." reads "The question is empty; ...")."""
    message = str(error).strip() or "the question could not be answered"
    if message.startswith("question: "):
        message = "the question " + message.removeprefix("question: ")
    message = message[0].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


def cited(answer: Answer | None) -> dict[int, Passage]:
    """¶ number -> the passage quoted there, for every place an answer really cites (Answer.cited)."""
    marks: dict[int, Passage] = {}
    for p in answer.cited if answer is not None else ():
        for n in p.paragraphs:
            marks.setdefault(n, p)
    return marks


def render_article(article: Article, answer: Answer | None = None) -> str:
    """The article panel: title/source, then every paragraph with its ¶ number; paragraphs the answer quotes marked.

    In the first place a strong passage appears, its answering sentence is highlighted too.
    """
    marks = cited(answer)
    top = answer.passages[0].paragraph if marks else None
    title = article.title or "The article"
    about = [f"By {article.author}" if article.author else "", article.date or "",
             f"Source: {article.source}" if article.source else ""]  # fmt: skip
    byline = [article.name, f"{len(article.paragraphs)} paragraphs"] + ([article.url] if article.url else [])
    note = (
        "Quoted in the latest answer: " + ", ".join(f"¶{n}" for n in sorted(marks))
        if marks
        else "The paragraphs an answer quotes are marked here."
    )
    rows = []
    for p in article.paragraphs:
        passage = marks.get(p.number)
        if passage is not None and passage.paragraph == p.number and passage.text == p.text:
            body = highlighted_html(passage)
        else:
            body = text_html(p.text)
        classes = "qa-para" + (" cited" if passage is not None else "") + (" top" if p.number == top else "")
        rows.append(
            f'<div class="{classes}" id="qa-p{p.number}" data-paragraph="{p.number}">'
            f'<span class="qa-pnum">¶{p.number}</span><span class="qa-ptext">{body}</span></div>'
        )
    return (
        '<div class="qa-article">'
        f'<div class="qa-article-head"><div class="qa-title">{text_html(title)}</div>'
        + (f'<div class="qa-meta-line">{text_html(" · ".join(a for a in about if a))}</div>' if any(about) else "")
        + f'<div class="qa-byline">{text_html(" · ".join(byline))}</div>'
        f'<div class="qa-note">{html.escape(note)}</div></div>'
        f'<div class="qa-paras">{"".join(rows)}</div></div>'
    )
