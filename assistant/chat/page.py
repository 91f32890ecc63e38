"""The chat page: Gradio Blocks over an Assistant, chat on the left and the article on the right."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import AssistantError
from ..question import DEFAULT_K
from ..schema import ArticleInfo
from .export import Exports, chat_json, chat_markdown, file_stem
from .render import friendly, render_article, render_notice, text_html
from .turn import Chat, examples_for, take_turn

if TYPE_CHECKING:
    import gradio as gr

log = logging.getLogger("assistant")
EXAMPLE_SLOTS = 5
"""Example buttons on the page; an article without examples hides them."""
ADD_FAILED = "Sorry, something went wrong while adding the article. The articles already here are untouched."
KEEP_DEFAULT = "The article the page started with stays; add another one to switch to it, or remove that one."

ASK = "Ask about the article…"
EVERYWHERE = "Search every article (the archive): the answer's article opens beside the chat"
ASK_ARCHIVE = "Ask about every article…"
ARCHIVE = "all"
"""The archive's conversation among the page's conversations, which are kept per article id (16 hex digits)."""
ARCHIVE_INFO = {"name": "archive", "title": "Every article in the library (the archive)"}
"""What a download of the archive's conversation names as its article (each answer names its own)."""
ADD_LABEL, ADD_OR_REMOVE = "Add an article", "Add an article, or remove this one"
FORMATS = "A news page (.html), PDF, Word (.docx), Markdown or text file, a link, or pasted text:"

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
    "<p>Ask about the article (beside the chat, or below it on a narrow screen), or bring your own: a saved news "
    "page, a PDF, a Word file, text or a link. Every answer quotes the article word for word, with the answering "
    "sentence highlighted and its ¶ number; nothing is made up, and nothing leaves this computer unless you ask it "
    "to fetch a link.</p></div>"
    # On a narrow screen the article sits below the chat: a bar that stays in view jumps between them.
    '<nav class="qa-jump" aria-label="Go to"><a href="#qa-chat">Chat</a><a href="#qa-article">Article</a></nav>'
)


def build_app(target, examples: Sequence[str] | None = None) -> gr.Blocks:
    """The chat page: chat on the left; on the right the article, and the articles held (add, switch, remove);
    and the /ask API endpoint. target: an Assistant (its article is the default one), or the server's Engine.

    examples: the example questions to offer (default: EXAMPLES for the bundled article, none for another).
    """
    # Gradio takes seconds to import; only the page needs it, not the CLI or the Python API.
    import gradio as gr

    from ..server.engine import Engine

    engine = target if isinstance(target, Engine) else Engine(target)
    library = engine.library
    first = library.default_id
    exports = Exports()

    def offered(article_id: str) -> tuple[str, ...]:
        if examples is not None:
            return tuple(examples) if article_id == first else ()
        return examples_for(library.get(article_id).article)

    def choices() -> list[tuple[str, str]]:
        return [(entry_label(e), e.id) for e in library.entries()]

    def downloads(chat: Chat, article_id: str) -> tuple:
        """The download buttons' row and files: shown once the conversation has an answer."""
        if not chat.turns:
            return gr.update(visible=False), None, None
        if article_id == ARCHIVE:
            info = ARCHIVE_INFO
        else:
            info = ArticleInfo.of(library.get(article_id).article).model_dump(mode="json")
        stem, turns = file_stem(info), list(chat.turns)
        try:
            return (gr.update(visible=True), exports.write(f"{stem}.md", chat_markdown(info, turns)),
                    exports.write(f"{stem}.json", chat_json(info, turns)))  # fmt: skip
        except OSError:  # a full disk costs the downloads, not the answer
            log.exception("chat: cannot write the chat's downloads")
            return gr.update(visible=False), None, None

    def send(question: str, chat: Chat, current: str, everywhere: bool = False):
        """One turn of the conversation shown: the current article's, or the archive's. An archive answer opens its
        article in the pane and the chooser, so that unticking the archive goes on about that article."""
        turn = take_turn(engine, question, chat.earlier, article=current, scope="all" if everywhere else None)
        chat = chat.then(turn)
        shown = list(chat.messages)
        if turn.answer is None:
            return (question if turn.keep else ""), shown, chat, *(gr.skip(),) * 6
        answer = turn.answer
        opened = answer.article.id if everywhere and not answer.abstained and answer.article else current
        return ("", shown, chat, answered_pane(opened, answer), *downloads(chat, ARCHIVE if everywhere else current),
                gr.update(value=opened), opened)  # fmt: skip

    def answered_pane(opened: str, answer) -> str:
        """The article pane after an answer, its cited paragraphs marked; from the archive, only the passages of the
        opened article (an archive that declines leaves the current one open: its closest passage may be another's)."""
        if not answer.passages or answer.passages[0].article is None:
            return render_article(library.get(opened).article, answer)
        own = tuple(p for p in answer.passages if p.article is not None and p.article.id == opened)
        return render_article(library.get(opened).article, answer.model_copy(update={"passages": own}))

    def toggle(archive: bool, chats: dict, current: str, chat: Chat):
        """Ticked, the archive's own conversation takes the chat's place (the article's is kept); unticked, back."""
        chats = {**chats, (current if archive else ARCHIVE): chat}
        key = ARCHIVE if archive else current
        chat = chats.get(key, Chat())
        return (chats, list(chat.messages), chat, render_article(library.get(current).article), *downloads(chat, key),
                gr.update(placeholder=ASK_ARCHIVE if archive else ASK))  # fmt: skip

    def clear(current: str):
        return "", [], Chat(), render_article(library.get(current).article), *downloads(Chat(), current)

    def switch(chats: dict, current: str, chat: Chat, chosen: str, notice: str = "", added: bool = False,
               archive: bool = False):  # fmt: skip
        """Keep the chat shown (the current article's, or the archive's), and show the chosen article with its own:
        choosing an article ends asking the archive."""
        chats = {**chats, (ARCHIVE if archive else current): chat}
        chat = chats.get(chosen, Chat())
        shown = offered(chosen)
        # After an add: fold the add panel away (the new article shows), and empty what was used to add it.
        folded = {"open": False} if added else {}
        add_panel_update = gr.update(label=ADD_LABEL if chosen == first else ADD_OR_REMOVE, **folded)
        after_add = (None, "", "") if added else (gr.skip(),) * 3
        return (
            gr.update(choices=choices(), value=chosen), chosen, chats, list(chat.messages), chat,
            render_article(library.get(chosen).article), notice, gr.update(visible=bool(shown)),
            *[gr.update(value=q, visible=True) for q in shown],
            *[gr.update(visible=False) for _ in range(len(example_buttons) - len(shown))],
            gr.update(visible=chosen != first), *downloads(chat, chosen), add_panel_update, *after_add,
            gr.update(value=False), gr.update(placeholder=ASK),
        )  # fmt: skip

    def choose(chosen: str, chats: dict, current: str, chat: Chat, archive: bool):
        if not chosen or (chosen == current and not archive):
            return gr.skip()
        return switch(chats, current, chat, chosen, archive=archive)

    def adding(make):
        """An add handler: make() brings the article's bytes; then index it and switch to it, or say what failed."""

        # Gradio finds the progress bar by this default value.
        def handler(value, chats: dict, current: str, chat: Chat, archive: bool, progress=gr.Progress()):  # noqa: B008
            def told(stage: str, fraction: float) -> None:
                progress(fraction, desc=f"{stage}…")

            try:
                progress(0.0, desc="reading…")
                entry, new = make(value, told)
            except AssistantError as e:
                return only_notice(friendly(e))
            except Exception:
                log.exception("chat: unexpected error while adding an article")
                return only_notice(ADD_FAILED)
            said = "Added" if new else "Already here"
            note = f'<div class="qa-added">{said}: {text_html(entry_label(entry))}</div>'
            return switch(chats, current, chat, entry.id, note, added=True, archive=archive)

        return handler

    def from_file(path: str | None, told):
        if not path:
            raise AssistantError("choose a file first")
        data = Path(path).read_bytes()
        return library.add(data, Path(path).name, progress=told)

    def from_text(text: str | None, told):
        if not (text or "").strip():
            raise AssistantError("paste the article's text first")
        return library.add_text(text, progress=told)

    def from_url(url: str | None, told):
        if not (url or "").strip():
            raise AssistantError("type the address of a news page, PDF or Word file first")
        told("fetching", 0.05)
        return library.add_url(url.strip(), progress=told)

    def only_notice(message: str) -> tuple:
        """Every output of an article change left as it is, but for a notice saying why."""
        return tuple(render_notice(message) if o is notice else gr.skip() for o in outputs)

    def remove(chats: dict, current: str, chat: Chat, archive: bool):
        if archive:
            chats = {**chats, ARCHIVE: chat}
        if current == first:
            return only_notice(KEEP_DEFAULT)
        try:
            entry = library.delete(current)
        except AssistantError as e:
            return only_notice(friendly(e))
        chats = {k: v for k, v in chats.items() if k != current}
        removed = f'<div class="qa-added">Removed: {text_html(entry_label(entry))}</div>'
        return switch(chats, first, chats.get(first, Chat()), first, removed)  # the default's chat as it was

    def ask(question: str, history: list[str] | None = None, k: int = DEFAULT_K, article: str | None = None,
            scope: str | list[str] | None = None) -> dict:  # fmt: skip
        """Answer a question about an article: the same JSON as `assistant ask --json` and POST /api/ask.

        history lists the chat's earlier questions, oldest first (at most 20); k is the number of passages (1-10);
        article is an id from GET /api/articles (default: the article the server started with); scope ("all" or a
        list of ids) asks the archive instead.
        """
        try:
            return engine.ask(question, history=history, k=k, article=article, scope=scope).to_dict()
        except AssistantError as e:
            raise gr.Error(str(e)) from None
        except Exception:
            log.exception("chat: unexpected error in /ask")
            raise gr.Error("unexpected error while answering; see the server's log") from None

    shown = offered(first)
    # Gradio keeps a copy of every download it serves; a week-old one is dropped (every day), all at a restart.
    with gr.Blocks(title="Article assistant", analytics_enabled=False, delete_cache=(86400, 7 * 86400)) as app:
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
                with gr.Row(equal_height=True, elem_id="qa-ask"):
                    box = gr.Textbox(elem_id="qa-question", show_label=False, placeholder=ASK, lines=1,
                                     max_lines=4, autofocus=True, container=False, scale=6)  # fmt: skip
                    send_button = gr.Button("Send", variant="primary", scale=0, min_width=88, elem_id="qa-send")
                    clear_button = gr.Button("Clear", variant="secondary", scale=0, min_width=80, elem_id="qa-clear")
                everywhere = gr.Checkbox(False, label=EVERYWHERE, elem_id="qa-everywhere", container=False)
                with gr.Row(elem_classes="qa-examples", elem_id="qa-examples", visible=bool(shown)) as examples_row:
                    gr.HTML('<span class="qa-try">Try:</span>', js_on_load=None)
                    example_buttons = [
                        gr.Button(q, size="sm", variant="secondary", elem_classes="qa-example")
                        for q in shown or EXAMPLE_SLOTS * ("",)
                    ]
                with gr.Row(elem_id="qa-downloads", visible=False) as download_row:
                    md_button = gr.DownloadButton("Download chat (Markdown)", size="sm", elem_id="qa-download-md")
                    json_button = gr.DownloadButton("Download chat (JSON)", size="sm", elem_id="qa-download-json")
            with gr.Column(scale=2, min_width=320):
                chooser = gr.Dropdown(choices=choices(), value=first, label="Article", elem_id="qa-choose",
                                      filterable=False)  # fmt: skip
                with gr.Accordion(ADD_LABEL, open=False, elem_id="qa-add") as add_panel:
                    gr.HTML(f'<p class="qa-formats">{FORMATS}</p>', js_on_load=None)
                    upload = gr.File(label=FORMATS, show_label=False, file_count="single", type="filepath",
                                     elem_id="qa-upload", height=120)  # fmt: skip
                    with gr.Row(equal_height=True):
                        url_box = gr.Textbox(show_label=False, placeholder="…or a link: https://…", scale=5,
                                             elem_id="qa-url", container=False)  # fmt: skip
                        fetch_button = gr.Button("Fetch", size="sm", scale=0, min_width=80, elem_id="qa-fetch")
                    paste_box = gr.Textbox(show_label=False, placeholder="…or paste the article's text here",
                                           lines=3, max_lines=12, elem_id="qa-paste", container=False)  # fmt: skip
                    with gr.Row(elem_id="qa-add-actions"):
                        paste_button = gr.Button("Add pasted text", size="sm", elem_id="qa-paste-add")
                        remove_button = gr.Button("Remove this article", size="sm", variant="stop", visible=False,
                                                  elem_id="qa-remove")  # fmt: skip
                notice = gr.HTML("", elem_id="qa-add-notice")
                panel = gr.HTML(render_article(library.default.article), elem_id="qa-article",
                                js_on_load=SCROLL_TO_CITED)  # fmt: skip
        # The conversation lives on the server (State), so the browser does not upload it again with every turn;
        # each article keeps its own (chats), so switching back finds it where it was.
        chat_state = gr.State(Chat())
        current = gr.State(first)
        chats = gr.State({})

        downloads_out = [download_row, md_button, json_button]
        outputs = [chooser, current, chats, chatbot, chat_state, panel, notice, examples_row, *example_buttons,
                   remove_button, *downloads_out, add_panel, upload, url_box, paste_box, everywhere, box]  # fmt: skip
        turn = dict(
            outputs=[box, chatbot, chat_state, panel, *downloads_out, chooser, current],
            show_progress="minimal",
            show_progress_on=[chatbot],
            api_visibility="private",
        )
        box.submit(send, [box, chat_state, current, everywhere], **turn)
        send_button.click(send, [box, chat_state, current, everywhere], **turn)
        for button in example_buttons:
            button.click(send, [button, chat_state, current, everywhere], **turn)
        cleared = dict(outputs=turn["outputs"][:-2], show_progress="hidden", api_visibility="private")
        clear_button.click(clear, [current], **cleared)
        # The chat's own trash icon empties the chat; forget its questions and unmark the article too.
        chatbot.clear(clear, [current], **cleared)
        everywhere.input(toggle, [everywhere, chats, current, chat_state],
                         [chats, chatbot, chat_state, panel, *downloads_out, box], api_visibility="private",
                         show_progress="hidden")  # fmt: skip
        state = [chats, current, chat_state, everywhere]
        chooser.input(choose, [chooser, *state], outputs, api_visibility="private", show_progress="hidden")
        added = dict(outputs=outputs, api_visibility="private", show_progress="full", show_progress_on=[notice])
        upload.upload(adding(from_file), [upload, *state], **added)
        fetch_button.click(adding(from_url), [url_box, *state], **added)
        url_box.submit(adding(from_url), [url_box, *state], **added)
        paste_button.click(adding(from_text), [paste_box, *state], **added)
        remove_button.click(remove, state, outputs, api_visibility="private", show_progress="hidden")
        # Articles added elsewhere (another tab, the API, the CLI) are offered when the page loads.
        app.load(lambda: gr.update(choices=choices()), None, chooser, api_visibility="private", show_progress="hidden")
        gr.api(ask, api_name="ask")
    return app


def entry_label(entry) -> str:
    """How an article is listed: its title (or file name), then its date, or else its source."""
    label = " ".join((entry.title or entry.name).split())
    label = label if len(label) <= 80 else label[:79] + "…"
    extra = entry.date or entry.source
    return f"{label} · {extra}" if extra else label
