"""The library in the chat page, in a real browser: adding a news page and pasted text, switching between articles
with their own conversations, a hostile page, a file that is no article, and the chat's downloads."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import httpx
import pytest

from tests.documents import PDF_PARAGRAPHS, news_page, pdf

from .conftest import start_server, stop_server

# browser: the module-scoped Chromium fixture; pytestmark: skip where Chromium is not installed.
from .test_browser import ARTIFACTS, EXERCISES, TIMEOUT, Watched, browser, pytestmark  # noqa: F401

HARBOUR = "Harbour reopens after storm repairs"
HARBOUR_LABEL = f"{HARBOUR} · 2025-03-03"
VALDEMAR = "New library for Valdemar"
PASTED = f"# {VALDEMAR}\n\n" + "\n\n".join(PDF_PARAGRAPHS) + "\n"
BUNDLED_LABEL = "article.txt · Reuters"
COST = "How much did the work cost?"
BOOKS = "How many books will the library hold?"
JAPAN = "what exercises did Japan join"

HOSTILE_TITLE = "Fair <script>window.__pwned=1;alert(1)</script><img src=x onerror=alert(2)>"
_TITLE_ATTR = HOSTILE_TITLE.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
HOSTILE_PAGE = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>{_TITLE_ATTR}</title>
<meta property="og:title" content="{_TITLE_ATTR}">
<meta name="author" content="Eve &lt;script&gt;alert(3);window.__pwned=3&lt;/script&gt; &lt;img src=x onerror=alert(4)&gt;">
<meta property="article:published_time" content="2025-04-01T08:00:00Z">
<script>window.__pwned = 4; alert(5);</script>
</head><body><article>
<h1>{_TITLE_ATTR}</h1>
<p class="byline">By Eve <script>window.__pwned=5;alert(6)</script><img src=x onerror="window.__pwned=6;alert(7)"></p>
<p>The harbour fair opened on Monday with fireworks over the bay, the organisers said on Tuesday morning.</p>
<p>Tickets were sold through <a href="javascript:window.__pwned=7;alert(8)">the city website</a> and at the harbour
office for five euros each.</p>
<p>Organisers posted a photo <img src="http://example.com/x.png"> of the parade floats on the town square.</p>
<p>The mayor said &lt;img src=x onerror="window.__pwned=8;alert(9)"&gt; the fair drew ten thousand visitors.</p>
</article></body></html>
"""
MAYOR = 'The mayor said <img src=x onerror="window.__pwned=8;alert(9)"> the fair drew ten thousand visitors.'


@pytest.fixture(scope="module")
def library_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("library-e2e")
    running = start_server(folder / "article.index", folder / "server.log",
                           "--library", str(folder / "library"), "--allow-private-urls")  # fmt: skip
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("library-files")
    made = {"harbour": news_page(), "hostile": HOSTILE_PAGE.encode(), "scan": pdf(text=False)}
    paths = {}
    for name, data in made.items():
        paths[name] = folder / f"{name}.{'pdf' if name == 'scan' else 'html'}"
        paths[name].write_bytes(data)
    return paths


class Library(Watched):
    """The chat page, with the library's controls."""

    def open_add(self) -> None:
        if not self.page.locator("#qa-upload").is_visible():
            self.page.click("#qa-add .label-wrap")
            self.page.locator("#qa-upload").wait_for(timeout=TIMEOUT)

    def upload(self, path) -> None:
        self.open_add()
        self.page.set_input_files("#qa-upload input[type=file]", str(path))

    def paste(self, text: str) -> None:
        self.open_add()
        self.page.fill("#qa-paste textarea", text)
        self.page.click("#qa-paste-add")

    def wait_title(self, title: str) -> None:
        """Wait until the article pane shows the article of this title."""
        self.page.wait_for_function(
            "t => document.querySelector('#qa-article .qa-title')?.textContent === t", arg=title, timeout=TIMEOUT
        )

    def chosen(self) -> str:
        return self.page.input_value("#qa-choose input")

    def options(self) -> list[str]:
        self.page.click("#qa-choose input")
        options = self.page.locator("#qa-choose [data-testid=dropdown-option]")
        options.first.wait_for(timeout=TIMEOUT)
        labels = [o.get_attribute("aria-label") for o in options.all()]
        self.page.keyboard.press("Escape")
        options.first.wait_for(state="detached", timeout=TIMEOUT)
        self.page.locator("#qa-choose input").blur()  # the list opens on focus: a later click must focus it again
        return labels

    def choose(self, label: str, title: str) -> None:
        """Pick an article in the Article list and wait for the pane to show it."""
        self.page.click("#qa-choose input")
        self.page.locator(f'#qa-choose [data-testid=dropdown-option][aria-label="{label}"]').click()
        self.wait_title(title)
        self.page.wait_for_function("l => document.querySelector('#qa-choose input').value === l", arg=label,
                                    timeout=TIMEOUT)  # fmt: skip

    def pane_paragraphs(self) -> list[str]:
        return self.page.locator("#qa-article .qa-ptext").all_text_contents()

    def questions(self) -> list[str]:
        return self.page.locator("#qa-chat .qa-question").all_text_contents()

    def examples_shown(self) -> bool:
        return self.page.locator("#qa-examples").is_visible()

    def assert_quotes_the_pane(self) -> str:
        """The latest answer's first quote is a paragraph of the article shown, its answering sentence highlighted
        there and in the pane; returns the quote."""
        reply = self.latest()
        assert reply.locator(".qa-direct").count() == 1, reply.text_content()  # an answer, not an abstention
        quote = reply.locator(".qa-quote").first
        text = quote.locator("blockquote.qa-text").text_content()
        assert text in self.pane_paragraphs(), (text, self.pane_paragraphs())
        sentence = quote.locator("mark.qa-hl").text_content()
        assert sentence and sentence in text
        assert reply.locator(".qa-direct").text_content().startswith(sentence)
        number = quote.locator(".qa-place").text_content().split()[0].removeprefix("¶")
        assert self.page.locator(f"#qa-p{number} mark.qa-hl").text_content() == sentence
        assert self.page.locator(f"#qa-p{number}").get_attribute("class") == "qa-para cited top"
        return text


@pytest.fixture
def page(browser, library_server):  # noqa: F811
    watched = Library(browser, library_server.url)
    yield watched
    watched.close()


def shoot(page: Library, name: str) -> None:
    page.page.wait_for_timeout(400)  # the pane's smooth scroll to the quoted paragraph
    ARTIFACTS.mkdir(exist_ok=True)
    page.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def test_add_switch_and_ask_each_article(page, files):
    assert page.chosen() == BUNDLED_LABEL and page.examples_shown()
    assert not page.page.locator("#qa-remove").is_visible()  # the bundled article cannot be removed

    page.upload(files["harbour"])
    page.wait_title(HARBOUR)
    assert page.chosen() == HARBOUR_LABEL
    assert HARBOUR_LABEL in page.options()
    head = page.page.locator("#qa-article .qa-article-head")
    assert head.locator(".qa-meta-line").text_content() == "By Ana Ruiz · 2025-03-03 · Source: Harbour Herald"
    assert page.page.locator("#qa-add-notice .qa-added").text_content() == f"Added: {HARBOUR_LABEL}"
    assert not page.page.locator("#qa-upload").is_visible()  # the add panel folds away once the article is in
    assert not page.examples_shown() and page.page.locator("#qa-remove").count() == 1

    page.ask(COST)
    assert page.assert_quotes_the_pane().startswith("The work cost 4.2 million euros")
    shoot(page, "library-uploaded")
    page.page.set_viewport_size({"width": 390, "height": 844})
    shoot(page, "library-uploaded-phone")
    page.page.set_viewport_size({"width": 1280, "height": 820})

    page.paste(PASTED)
    page.wait_title(VALDEMAR)
    assert page.chosen() == VALDEMAR and page.questions() == [] and not page.examples_shown()
    assert page.page.input_value("#qa-paste textarea") == ""
    page.ask(BOOKS)
    assert "80,000 books" in page.assert_quotes_the_pane()

    page.choose(BUNDLED_LABEL, "The article")
    assert page.questions() == [] and page.examples_shown()
    page.ask(JAPAN)
    assert page.assert_quotes_the_pane() == EXERCISES

    page.choose(HARBOUR_LABEL, HARBOUR)
    assert page.questions() == [COST] and not page.examples_shown()
    page.ask("Who paid for the work?")
    assert "regional government" in page.assert_quotes_the_pane()
    assert page.questions() == [COST, "Who paid for the work?"]

    page.choose(VALDEMAR, VALDEMAR)
    assert page.questions() == [BOOKS] and not page.examples_shown()
    page.choose(BUNDLED_LABEL, "The article")
    assert page.questions() == [JAPAN] and page.examples_shown()
    assert page.options()[:1] == [BUNDLED_LABEL] and {HARBOUR_LABEL, VALDEMAR} <= set(page.options())

    page.choose(VALDEMAR, VALDEMAR)
    page.open_add()
    page.page.click("#qa-remove")
    page.wait_title("The article")
    assert page.page.locator("#qa-add-notice .qa-added").text_content() == f"Removed: {VALDEMAR}"
    assert VALDEMAR not in page.options() and HARBOUR_LABEL in page.options()
    assert page.chosen() == BUNDLED_LABEL and page.questions() == [JAPAN]  # the bundled article's chat is kept
    assert not page.dialogs and not page.errors and page.offsite() == []


NOWHERE = "Who won the Eurovision Song Contest in 2021?"


def wait_questions(page: Library, questions: list[str]) -> None:
    """Wait until the chat shows these questions (a conversation switched in)."""
    page.page.wait_for_function(
        "qs => JSON.stringify([...document.querySelectorAll('#qa-chat .qa-question')].map(e => e.textContent)) === qs",
        arg=json.dumps(questions, ensure_ascii=False, separators=(",", ":")), timeout=TIMEOUT,
    )  # fmt: skip


def test_the_archive_has_its_own_conversation_and_opens_the_answers_article(page, files):
    """Ticked, the archive's conversation replaces the article's; an answer from another article opens it in the pane
    and the chooser, naming its date; unticked, the chat goes on about that article; choosing an article unticks."""
    page.upload(files["harbour"])  # there already if the test above ran: then it is only shown
    page.wait_title(HARBOUR)
    harbour = page.questions()
    page.choose(BUNDLED_LABEL, "The article")
    bundled = page.questions()
    page.page.click("#qa-everywhere input")
    wait_questions(page, [])
    page.page.wait_for_function("p => document.querySelector('#qa-question textarea').placeholder === p",
                                arg="Ask about every article…", timeout=TIMEOUT)  # fmt: skip

    page.ask(COST)
    page.wait_title(HARBOUR)
    assert page.chosen() == HARBOUR_LABEL
    reply = page.latest()
    assert reply.locator(".qa-direct").count() == 1, reply.text_content()
    assert "(2025-03-03, Harbour Herald)" in reply.locator(".qa-place").first.text_content()
    quote = reply.locator(".qa-quote blockquote.qa-text").first.text_content()
    assert quote.startswith("The work cost 4.2 million euros") and quote in page.pane_paragraphs()
    assert page.page.locator("#qa-article .qa-para.cited.top .qa-ptext").text_content() == quote
    assert page.ask(NOWHERE).startswith("No article in the archive answers this question.")
    assert page.page.locator("#qa-article .qa-title").text_content() == HARBOUR  # a decline opens nothing
    shoot(page, "library-archive")

    page.page.click("#qa-everywhere input")  # unticked: the harbour article's own conversation, and asking it
    wait_questions(page, harbour)
    page.ask("Who paid for the work?")
    assert "regional government" in page.assert_quotes_the_pane()

    page.page.click("#qa-everywhere input")  # ticked again: the archive's conversation as it was
    wait_questions(page, [COST, NOWHERE])
    page.choose(BUNDLED_LABEL, "The article")  # choosing an article ends asking the archive
    wait_questions(page, bundled)
    assert not page.page.is_checked("#qa-everywhere input")
    assert not page.dialogs and not page.errors and page.offsite() == []


def test_hostile_page_is_shown_as_text_and_never_runs(page, files):
    page.upload(files["hostile"])
    page.wait_title(HOSTILE_TITLE)  # textContent: the markup is literal text
    label = f"{HOSTILE_TITLE} · 2025-04-01"
    assert page.chosen() == label and label in page.options()
    reply = page.ask("What did the mayor say?")
    assert MAYOR in reply and page.assert_quotes_the_pane() == MAYOR
    page.ask("How were tickets sold?")
    assert "the city website" in page.assert_quotes_the_pane()
    page.page.wait_for_timeout(500)  # time for any injected handler or image to act
    shoot(page, "library-hostile")

    assert page.dialogs == []
    assert page.page.evaluate("() => window.__pwned") is None
    assert page.offsite() == [], page.offsite()
    rendered = "#qa-chat .qa-question, #qa-chat .qa-answer, #qa-article .qa-article, #qa-add-notice, #qa-choose"
    count = "(els, tag) => els.reduce((n, e) => n + e.querySelectorAll(tag).length, 0)"
    for tag in ("img", "a", "script", "iframe"):
        assert page.page.eval_on_selector_all(rendered, count, tag) == 0, tag
    assert HOSTILE_TITLE in page.page.locator("#qa-add-notice").text_content()
    assert page.page.get_by_text(HOSTILE_TITLE, exact=True).first.is_visible()

    with page.page.expect_download(timeout=TIMEOUT) as md:
        page.page.click("#qa-download-md")
    text = Path(md.value.path()).read_text(encoding="utf-8")
    assert text.startswith("# Fair \\<script\\>window.\\_\\_pwned=1;alert(1)\\</script\\>\\<img src=x onerror=alert(2)\\>\n")
    assert re.findall(r"(?<!\\)[<>]", text.replace("\n> ", "\n")) == []  # every < and > escaped: no raw HTML
    assert not page.errors and page.dialogs == []


def test_a_file_that_is_no_article_is_refused_kindly(page, files, library_server):
    before = httpx.get(f"{library_server.url}/api/articles", timeout=30).json()
    shown = page.options()
    page.upload(files["scan"])
    notice = page.page.locator("#qa-add-notice .qa-notice")
    notice.wait_for(timeout=TIMEOUT)
    said = notice.text_content()
    assert said[0].isupper() and said.endswith(".") and "scan" in said.lower(), said
    assert "Traceback" not in said and "Error" not in said
    assert page.chosen() == BUNDLED_LABEL and page.options() == shown
    assert page.page.locator("#qa-article .qa-title").text_content() == "The article"
    assert httpx.get(f"{library_server.url}/api/articles", timeout=30).json() == before
    assert not page.dialogs and not page.errors


def wait_complete(server, title: str) -> dict:
    """The library entry of an article once its e5 vectors are done (answers no longer change)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        listed = httpx.get(f"{server.url}/api/articles", timeout=30).json()["articles"]
        entry = next(e for e in listed if e["title"] == title)
        if entry["complete"]:
            return entry
        time.sleep(0.25)
    raise AssertionError(f"{title} never got its e5 vectors")


def test_chat_downloads_as_markdown_and_json(page, files, library_server):
    page.upload(files["harbour"])
    page.wait_title(HARBOUR)
    assert not page.page.locator("#qa-downloads").is_visible()  # nothing to download before an answer
    entry = wait_complete(library_server, HARBOUR)
    page.ask(COST)
    page.ask("What is the capital of France?")
    page.page.locator("#qa-download-json").wait_for(timeout=TIMEOUT)
    with page.page.expect_download(timeout=TIMEOUT) as md:
        page.page.click("#qa-download-md")
    with page.page.expect_download(timeout=TIMEOUT) as js:
        page.page.click("#qa-download-json")
    assert md.value.suggested_filename == "chat-harbour-reopens-after-storm-repairs.md"
    assert js.value.suggested_filename == "chat-harbour-reopens-after-storm-repairs.json"
    text = Path(md.value.path()).read_text(encoding="utf-8")
    data = json.loads(Path(js.value.path()).read_text(encoding="utf-8"))

    lines = text.splitlines()
    assert lines[0] == f"# {HARBOUR}"
    assert "By Ana Ruiz · 2025-03-03 · Source: Harbour Herald" in lines
    assert text.index(f"## 1. {COST}") < text.index("## 2. What is the capital of France?")
    assert "\n> **The work cost 4.2 million euros" in text
    assert "**¶2** · score 0." in text
    assert "\nThe article does not answer this question.\n" in text.split("## 2.")[1]

    info = {k: v for k, v in entry.items() if k not in {"added", "default", "complete"}}
    assert data["article"] == info
    assert [t["question"] for t in data["turns"]] == [COST, "What is the capital of France?"]
    history: list[str] = []
    for turn in data["turns"]:  # the same answer as the API gives, with the same history
        body = {"question": turn["question"], "history": history, "article": entry["id"]}
        assert turn["answer"] == httpx.post(f"{library_server.url}/api/ask", json=body, timeout=30).json()
        history.append(turn["question"])
    assert data["turns"][0]["answer"]["article"] == info and data["turns"][1]["answer"]["abstained"] is True
    assert not page.dialogs and not page.errors and page.offsite() == []
