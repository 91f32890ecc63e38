"""The chat page: Gradio Blocks over an Assistant, chat on the left and the article on the right."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..errors import AssistantError
from ..question import DEFAULT_K, MAX_HISTORY
from .render import render_article
from .turn import examples_for, take_turn

if TYPE_CHECKING:
    import gradio as gr

log = logging.getLogger("assistant")

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

    def ask(question: str, history: list[str] | None = None, k: int = DEFAULT_K) -> dict:
        """Answer a question about the article: the same JSON as `assistant ask --json` and POST /api/ask.

        history lists the chat's earlier questions, oldest first (at most 20); k is the number of passages (1-10).
        """
        try:
            return assistant.ask(question, history=history, k=k).to_dict()
        except AssistantError as e:
            raise gr.Error(str(e)) from None
        except Exception:
            log.exception("chat: unexpected error in /ask")
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
