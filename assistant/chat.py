"""The chat page: Gradio Blocks over an Assistant, and the small pure functions that render answers as HTML."""

from __future__ import annotations

import hashlib
import html
import re
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .answer import NOT_COVERED, WEAK_SCORE
from .answer import place as _place
from .api import DEFAULT_ARTICLE, MAX_HISTORY
from .errors import AssistantError

if TYPE_CHECKING:
    import gradio as gr

    from .answer import Answer, Passage
    from .article import Article

CLOSEST = "Closest passage, not an answer"
SHOWN_QUESTION_CHARS = 300
"""A longer question is shortened in its chat bubble (the engine still sees all of it)."""
UNEXPECTED = "Sorry, something went wrong while answering. Please try again or rephrase the question."
EXAMPLES = (
    "what exercises did Japan join",
    "Who is Japan developing a fighter jet with?",
    "Why is Japan boosting defense spending?",
    "What could cooperation with the U.S. be extended to?",
    "Which agency is this from?",
)
"""Example questions for the bundled article."""

_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""C0/C1 controls (newline and tab are kept), and the bidirectional marks, embeddings, overrides and isolates."""


# ---- rendering: pure functions from the engine's objects to HTML -------------------------------------------------


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


def highlighted_html(passage: Passage) -> str:
    """The passage text as HTML, its answering sentence wrapped in <mark class="qa-hl">."""
    before, sentence, after = split_highlight(passage)
    if not sentence:
        return text_html(before)
    return f'{text_html(before)}<mark class="qa-hl">{text_html(sentence)}</mark>{text_html(after)}'


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
    """The chat reply: the answering sentence, then each quoted passage with its sentence highlighted.

    An abstention says so plainly and shows the closest passage, labelled as not an answer.
    """
    if answer.abstained:
        parts = [f'<p class="qa-none">{NOT_COVERED}</p>']
        if answer.passages:
            parts.append(quote_html(answer.passages[0], label=CLOSEST, mark=False, kind="qa-closest"))
        return _reply(parts)
    if not answer.passages:  # not expected from the engine; say what it said rather than nothing
        return _reply([f'<p class="qa-direct">{text_html(answer.text)}</p>'])
    best, *rest = answer.passages
    sentence = split_highlight(best)[1] or best.text
    parts = [
        f'<p class="qa-direct">{text_html(sentence)} <span class="qa-ref">{html.escape(place(best))}</span></p>',
        quote_html(best),
    ]
    strong = [p for p in rest if p.score >= WEAK_SCORE]
    weak = [p for p in rest if p.score < WEAK_SCORE]
    parts += [quote_html(p) for p in strong]
    if weak:
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
    """What to tell the user about an error the engine raised on purpose: its message, as a sentence."""
    message = str(error).strip() or "the question could not be answered"
    message = message[0].upper() + message[1:]
    return message if message.endswith((".", "!", "?")) else message + "."


def cited(answer: Answer | None) -> dict[int, Passage]:
    """¶ number -> the passage quoted there, for every place an answer really cites.

    That is the first passage and any other that is not weak; an abstention cites nothing.
    """
    if answer is None or answer.abstained:
        return {}
    marks: dict[int, Passage] = {}
    for i, p in enumerate(answer.passages):
        if i == 0 or p.score >= WEAK_SCORE:
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
    byline = [article.name]
    if article.source:
        byline.append(f"Source: {article.source}")
    byline.append(f"{len(article.paragraphs)} paragraphs")
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
        f'<div class="qa-byline">{text_html(" · ".join(byline))}</div>'
        f'<div class="qa-note">{html.escape(note)}</div></div>'
        f'<div class="qa-paras">{"".join(rows)}</div></div>'
    )


def examples_for(article: Article) -> tuple[str, ...]:
    """Example questions: the bundled article's; none for another article (they would not fit it)."""
    try:
        bundled = hashlib.sha256(DEFAULT_ARTICLE.read_bytes()).hexdigest()
    except OSError:
        return ()
    return EXAMPLES if article.sha256 == bundled else ()


# ---- one turn of the conversation (no Gradio) --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Turn:
    """What one question adds to the chat: its messages, and the answer (None when it could not be answered)."""

    messages: tuple[dict, ...]
    answer: Answer | None = None
    asked: str | None = None
    """The question to remember for follow-ups (None if it was refused)."""
    keep: bool = False
    """Leave the question in the textbox so that it can be fixed (it was refused)."""


def take_turn(assistant, question: str | None, earlier: Sequence[str] = ()) -> Turn:
    """Ask the engine, passing the chat's earlier questions (at most MAX_HISTORY) as history; never raises."""
    question = question or ""
    if not question.strip():
        return Turn((_bot(render_notice("Please type a question about the article first.")),))
    user = {"role": "user", "content": render_question(question)}
    try:
        answer = assistant.ask(question, history=list(earlier)[-MAX_HISTORY:])
    except AssistantError as e:
        return Turn((user, _bot(render_notice(friendly(e)))), keep=True)
    except Exception:
        print("assistant: chat: unexpected error while answering a question:", file=sys.stderr)
        traceback.print_exc(file=sys.stderr)
        return Turn((user, _bot(render_notice(UNEXPECTED))), keep=True)
    return Turn((user, _bot(render_answer(answer))), answer=answer, asked=question)


def _bot(content: str) -> dict:
    return {"role": "assistant", "content": content}


# ---- the page ----------------------------------------------------------------------------------------------------

CSS = """
/* Gradio 6.31 ships a 5 KB SourceSansPro-SemiBold.woff2 that lacks most glyphs (semibold "A", "B", "P" fall back
   to another font); the last matching @font-face wins, so semibold text uses the complete bold face instead. */
@font-face { font-family: 'Source Sans Pro'; src: url('static/fonts/SourceSansPro/SourceSansPro-Bold.woff2')
  format('woff2'); font-weight: 600; font-style: normal; }
.qa-header { padding: 4px 2px 0; }
.qa-header .qa-h1 { font-size: 1.5rem; font-weight: 600; line-height: 1.2; }
.qa-header p { margin: 4px 0 0; color: var(--body-text-color-subdued); font-size: 0.95rem; }
.qa-answer { display: flex; flex-direction: column; gap: 10px; line-height: 1.55; }
.qa-answer p { margin: 0; }
.qa-direct { font-weight: 600; font-size: 1.05rem; }
.qa-ref, .qa-meta, .qa-more summary { color: var(--body-text-color-subdued); font-weight: 400; font-size: 0.85rem; }
.qa-ref { white-space: nowrap; margin-left: 4px; }
.qa-quote { border-left: 3px solid #f59e0b; background: var(--background-fill-primary); border-radius: 0 8px 8px 0;
  padding: 8px 12px; }
.qa-quote.qa-closest { border-left: 3px dashed var(--neutral-400); }
.qa-quote.qa-weak { border-left-color: var(--neutral-300); margin-top: 8px; }
.qa-meta { display: flex; justify-content: space-between; align-items: baseline; gap: 12px; margin-bottom: 4px; }
.qa-place { font-weight: 600; color: var(--body-text-color); }
.qa-score { font-variant-numeric: tabular-nums; white-space: nowrap; }
.qa-label { display: inline-block; font-weight: 600; font-size: 0.8rem; color: var(--body-text-color-subdued);
  background: var(--background-fill-secondary); border: 1px solid var(--border-color-primary); border-radius: 999px;
  padding: 0 8px; margin-right: 6px; }
blockquote.qa-text { margin: 0 !important; padding: 0 !important; border: none !important;
  font-style: normal !important; quotes: none; color: var(--body-text-color); }
mark.qa-hl { background: #fde68a !important; color: #1f2328 !important; padding: 1px 2px; border-radius: 3px;
  box-decoration-break: clone; -webkit-box-decoration-break: clone; }
.qa-weak mark.qa-hl { background: #fef3c7 !important; }
.qa-none { font-weight: 600; font-size: 1.05rem; }
.qa-notice { border-left: 3px solid #ef4444; padding: 2px 10px; }
.qa-more summary { cursor: pointer; }
#qa-article .html-container { padding: 0 !important; }
#qa-article .qa-article { display: flex; flex-direction: column; height: 618px; /* chat 560 + gap + question box */
  border: 1px solid var(--border-color-primary); border-radius: var(--radius-lg);
  background: var(--background-fill-primary); overflow: hidden; }
.qa-article-head { padding: 12px 16px 10px; border-bottom: 1px solid var(--border-color-primary);
  background: var(--background-fill-secondary); }
.qa-title { font-weight: 600; font-size: 1.1rem; }
.qa-byline, .qa-note { color: var(--body-text-color-subdued); font-size: 0.85rem; }
.qa-paras { position: relative; overflow-y: auto; padding: 8px 10px 12px; flex: 1; }
.qa-para { display: flex; gap: 8px; padding: 6px 8px; margin: 2px 0; border-radius: 6px; line-height: 1.5;
  border-left: 3px solid transparent; }
.qa-pnum { flex: 0 0 2.4em; color: var(--body-text-color-subdued); font-size: 0.85rem; padding-top: 2px;
  font-variant-numeric: tabular-nums; }
.qa-para.cited { background: rgba(253, 230, 138, 0.25); border-left-color: #f59e0b; }
.qa-para.cited .qa-pnum { color: #b45309; font-weight: 600; }
.qa-examples { gap: 6px !important; flex-wrap: wrap !important; align-items: center !important; }
.qa-examples > * { flex: 0 0 auto !important; min-width: 0 !important; width: auto !important; }
.qa-examples button { font-weight: 400 !important; }
#qa-examples .html-container { padding: 0 !important; }
.qa-try { color: var(--body-text-color-subdued); font-size: 0.85rem; margin-right: 2px; }
"""
"""Page styles, given to Gradio where the page is mounted (assistant/http.py)."""

SCROLL_TO_CITED = """
watch('value', () => {
  const box = element.querySelector('.qa-paras');
  const first = element.querySelector('.qa-para.top');
  if (box && first) box.scrollTo({top: Math.max(0, first.offsetTop - 12), behavior: 'smooth'});
});
"""
"""After each answer, the article panel scrolls to the paragraph of the answer's best passage."""

HEADER = (
    '<div class="qa-header"><div class="qa-h1">Article assistant</div>'
    "<p>Ask about the article shown alongside. Every answer quotes it word for word, with the answering sentence "
    "highlighted and its ¶ number; nothing is made up, and nothing leaves this computer.</p></div>"
)


def build_app(assistant, examples: Sequence[str] | None = None) -> gr.Blocks:
    """The chat page for an Assistant: chat on the left, the article on the right, and the /ask API endpoint.

    examples: the example questions to offer (default: EXAMPLES for the bundled article, none for another).
    """
    # Gradio takes seconds to import; only the page needs it, not the CLI or the Python API.
    import gradio as gr

    article = assistant.article
    examples = examples_for(article) if examples is None else tuple(examples)

    def send(question: str, messages: list, earlier: list):
        turn = take_turn(assistant, question, earlier)
        messages = [*messages, *turn.messages]
        if turn.answer is None:
            return (question if turn.keep else ""), messages, messages, earlier, gr.skip()
        earlier = [*earlier, turn.asked][-MAX_HISTORY:]
        return "", messages, messages, earlier, render_article(article, turn.answer)

    def clear():
        return "", [], [], [], render_article(article)

    def ask(question: str, history: list[str] | None = None, k: int = 3) -> dict:
        """Answer a question about the article: the same JSON as `assistant ask --json` and POST /api/ask.

        history lists the chat's earlier questions, oldest first (at most 20); k is the number of passages (1-10).
        """
        try:
            return assistant.ask(question, history=history, k=k).to_dict()
        except AssistantError as e:
            raise gr.Error(str(e)) from None
        except Exception:
            traceback.print_exc(file=sys.stderr)
            raise gr.Error("unexpected error while answering; see the server's log") from None

    with gr.Blocks(title="Article assistant", analytics_enabled=False) as app:
        gr.HTML(HEADER, js_on_load=None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=3, min_width=380):
                chatbot = gr.Chatbot(
                    elem_id="qa-chat",
                    show_label=False,
                    height=560,
                    # Messages are HTML built here from escaped text: no Markdown, no LaTeX, and Gradio's sanitizer
                    # as a second line of defence. allow_tags=False: no custom tag passes through unescaped.
                    render_markdown=False,
                    latex_delimiters=[],
                    sanitize_html=True,
                    allow_tags=False,
                    buttons=[],
                    feedback_options=None,
                    placeholder="Ask a question about the article. Answers quote it verbatim, with ¶ numbers.",
                )
                with gr.Row(equal_height=True):
                    box = gr.Textbox(
                        elem_id="qa-question",
                        show_label=False,
                        placeholder="Ask a question about the article…",
                        lines=1,
                        max_lines=4,
                        autofocus=True,
                        container=False,
                        scale=6,
                    )
                    send_button = gr.Button("Send", variant="primary", scale=0, min_width=88, elem_id="qa-send")
                    clear_button = gr.Button("Clear", variant="secondary", scale=0, min_width=80, elem_id="qa-clear")
                example_buttons = []
                if examples:
                    with gr.Row(elem_classes="qa-examples", elem_id="qa-examples"):
                        gr.HTML('<span class="qa-try">Try:</span>', js_on_load=None)
                        example_buttons = [gr.Button(q, size="sm", variant="secondary") for q in examples]
            with gr.Column(scale=2, min_width=320):
                panel = gr.HTML(
                    render_article(article),
                    elem_id="qa-article",
                    js_on_load=SCROLL_TO_CITED,
                )
        # The conversation lives on the server (State), so the browser does not upload it again with every turn.
        log = gr.State([])
        earlier = gr.State([])

        outputs = [box, chatbot, log, earlier, panel]
        turn = dict(outputs=outputs, show_progress="minimal", show_progress_on=[chatbot], api_visibility="private")
        box.submit(send, [box, log, earlier], **turn)
        send_button.click(send, [box, log, earlier], **turn)
        for button, question in zip(example_buttons, examples, strict=True):
            button.click(lambda m, e, q=question: send(q, m, e), [log, earlier], **turn)
        clear_button.click(clear, None, outputs, show_progress="hidden", api_visibility="private")
        # The chat's own trash icon empties the chat; forget its questions and unmark the article too.
        chatbot.clear(clear, None, outputs, show_progress="hidden", api_visibility="private")
        gr.api(ask, api_name="ask")
    return app
