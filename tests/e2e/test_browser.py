"""The chat page in a real browser (Debian's Chromium driven by Playwright): answers, follow-ups, errors, hostile text."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from .conftest import ROOT, start_server, stop_server

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = ROOT / "artifacts"
SCREENSHOT = ROOT / "docs" / "screenshot.png"
TIMEOUT = 30_000  # ms; a wait, never a threshold: replies normally take a fraction of a second
EXERCISES = (
    "Last week, Japan conducted joint naval exercises with the U.S., Canada and the Philippines in the South China Sea."
)
LOCAL_HOSTS = {"127.0.0.1", "localhost"}
CHAT_READY = ("#qa-question textarea", "#qa-article .qa-para")

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists() and not shutil.which("chromium"),
    reason="Debian's chromium is not installed (apt-get install chromium; .ci/run does it)",
)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM if Path(CHROMIUM).exists() else shutil.which("chromium"),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


class Watched:
    """A page whose every request, dialog and uncaught error is recorded; requests off this machine are refused."""

    def __init__(self, browser, url: str, *, ready: tuple[str, ...] = CHAT_READY):
        """Open url and wait until every selector of ready is on the page (default: the chat page's)."""
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.context = browser.new_context(viewport={"width": 1280, "height": 820})
        self.page = self.context.new_page()
        self.page.route("**/*", self._route)
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.goto(url)
        for selector in ready:
            self.page.wait_for_selector(selector, timeout=TIMEOUT)

    def _route(self, route):
        url = route.request.url
        self.requests.append(url)
        if urlsplit(url).hostname in LOCAL_HOSTS or url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            route.abort()

    def _dialog(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def ask(self, question: str) -> str:
        """Type a question, send it, wait for the reply; return the reply's text."""
        replies = self.reply_count()
        self.page.fill("#qa-question textarea", question)
        self.page.click("#qa-send")
        self.page.wait_for_function(
            "n => document.querySelectorAll('#qa-chat .qa-answer, #qa-chat .qa-notice').length > n",
            arg=replies,
            timeout=TIMEOUT,
        )
        return self.latest().text_content()

    def reply_count(self) -> int:
        return self.page.locator("#qa-chat .qa-answer, #qa-chat .qa-notice").count()

    def latest(self):
        return self.page.locator("#qa-chat .qa-answer, #qa-chat .qa-notice").last

    def offsite(self) -> list[str]:
        return [
            u for u in self.requests if not u.startswith(("data:", "blob:")) and urlsplit(u).hostname not in LOCAL_HOSTS
        ]

    def close(self):
        self.context.close()


@pytest.fixture
def page(browser, server):
    watched = Watched(browser, server.url)
    yield watched
    watched.close()


def test_answer_quotes_the_passage_with_the_sentence_highlighted(page):
    page.ask("what exercises did Japan join")
    reply = page.latest()
    assert reply.locator(".qa-direct").text_content().startswith(EXERCISES)
    quote = reply.locator(".qa-quote").first
    assert quote.locator(".qa-place").text_content() == "¶8 · also ¶14"
    assert quote.locator(".qa-score").text_content().startswith("score 0.")
    assert quote.locator("mark.qa-hl").text_content() == EXERCISES
    assert quote.locator("mark.qa-hl").is_visible()

    cited = page.page.locator("#qa-article .qa-para.cited")
    assert cited.evaluate_all("els => els.map(e => e.dataset.paragraph)") == ["8", "14"]
    assert page.page.locator("#qa-p8 mark.qa-hl").text_content() == EXERCISES
    assert page.page.locator("#qa-p8 .qa-pnum").text_content() == "¶8"
    ARTIFACTS.mkdir(exist_ok=True)
    page.page.screenshot(path=str(ARTIFACTS / "chat-answer.png"))
    assert not page.dialogs and not page.errors and not page.offsite()


def test_follow_up_questions(page):
    page.ask("Which countries joined Japan's naval exercises?")
    assert page.latest().locator("mark.qa-hl").first.text_content() == EXERCISES
    reply = page.ask("Where did they take place?")
    assert "¶8 · also ¶14" in reply and EXERCISES in reply
    assert page.latest().locator(".qa-direct").text_content().startswith(EXERCISES)  # an answer, not a closest passage

    page.ask("Who is Japan developing a fighter jet with?")
    reply = page.ask("When was that treaty signed?")
    assert page.latest().locator(".qa-quote .qa-place").first.text_content() == "¶5 · also ¶11"
    assert "treaty" in page.latest().locator("mark.qa-hl").first.text_content()
    assert page.page.locator("#qa-article .qa-para.top").get_attribute("data-paragraph") == "5"

    page.page.wait_for_timeout(400)  # let the article panel's smooth scroll settle for the picture
    ARTIFACTS.mkdir(exist_ok=True)
    page.page.screenshot(path=str(ARTIFACTS / "chat-follow-up.png"))
    assert not page.dialogs and not page.errors and not page.offsite()


def test_clear_forgets_the_conversation(page):
    page.ask("what exercises did Japan join")
    page.page.click("#qa-clear")
    page.page.wait_for_function("() => !document.querySelector('#qa-chat .qa-answer')", timeout=TIMEOUT)
    page.page.wait_for_function("() => !document.querySelector('#qa-article .qa-para.cited')", timeout=TIMEOUT)
    page.ask("what exercises did Japan join")
    assert page.reply_count() == 1


def test_errors_are_friendly_and_the_page_keeps_working(page):
    assert page.ask("") == "Please type a question about the article first."
    assert page.ask("   \n\t ") == "Please type a question about the article first."
    long = "why " * 500 + "x"
    assert page.ask(long) == "The question is 2,001 characters; the limit is 2,000."
    assert page.page.input_value("#qa-question textarea") == long  # kept, so that it can be shortened
    assert page.ask("???") == "The question has no words; please ask a question about the article."
    text = page.page.locator("#qa-chat").inner_text()
    assert "Traceback" not in text and "Error" not in text
    page.ask("what exercises did Japan join")
    assert page.latest().locator("mark.qa-hl").first.text_content() == EXERCISES
    assert page.page.input_value("#qa-question textarea") == ""
    assert not page.dialogs and not page.errors


def test_example_question_button_asks_it(page):
    page.page.get_by_role("button", name="what exercises did Japan join").click()
    page.page.wait_for_selector("#qa-chat .qa-answer", timeout=TIMEOUT)
    assert page.latest().locator("mark.qa-hl").first.text_content() == EXERCISES


@pytest.mark.skipif(os.environ.get("UPDATE_SCREENSHOT") != "1", reason="set UPDATE_SCREENSHOT=1 to redraw the README's")
def test_readme_screenshot(browser, server):
    """docs/screenshot.png: a real answer and a follow-up on the page, as the README shows it."""
    watched = Watched(browser, server.url)
    try:
        watched.page.set_viewport_size({"width": 1200, "height": 760})
        watched.ask("what exercises did Japan join")
        watched.ask("Where did they take place?")
        assert watched.latest().locator(".qa-direct").count() == 1  # answered, not a closest passage
        watched.page.wait_for_timeout(600)
        watched.page.screenshot(path=str(SCREENSHOT))
    finally:
        watched.close()
    assert SCREENSHOT.stat().st_size < 300_000


# ---- an article written to attack the page ---------------------------------------------------------------------------

PAYLOADS = {
    3: '<img src=x onerror="window.__pwned=1;alert(1)">',
    4: '<img src="http://example.com/x.png">',
    5: "![](http://example.com/y.png)",
    6: "[link](http://example.com)",
    7: "**bold**",
    8: "$x^2$ and $$y^2$$",
}
HOSTILE = "\n".join(
    [
        '# Harbour <img src=x onerror="window.__pwned=1"> festival',
        "The harbour festival opened on Monday with <script>window.__pwned=1;alert(1)</script> fireworks over the bay.",
        f"The mayor said {PAYLOADS[3]} the festival drew ten thousand visitors.",
        f"Organisers posted a photo {PAYLOADS[4]} of the parade floats.",
        f"The poster showed {PAYLOADS[5]} a lighthouse at dusk.",
        f"Tickets were sold through {PAYLOADS[6]} the city website.",
        f"The band played {PAYLOADS[7]} music until midnight.",
        f"Engineers computed {PAYLOADS[8]} for the stage rigging.",
        "The control room rang a bell\x07 and printed \x1b[31m red text; a sign read \u202eevil\u202c and "
        "\u2066isolated\u2069 words.",
        "Volunteers wrote ${alert(1)} and {{constructor.constructor('alert(1)')()}} on the banners.",
        'A sponsor added <a href="http://example.com/a">an anchor</a>, <iframe src="http://example.com/f"></iframe> '
        "and <style>body{display:none}</style> to the page.",
        "Source: Test Wire",
    ]
)
HOSTILE_QUESTION = (
    'what did the mayor say <img src=x onerror="window.__pwned=2;alert(2)"> ![](http://example.com/q.png) '
    "[l](http://example.com/l) **bold** $x^2$ $$y$$ <script>window.__pwned=3</script> \u202eevil"
)


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    article = folder / "hostile.txt"
    article.write_text(HOSTILE + "\n", encoding="utf-8")
    running = start_server(folder / "hostile.index", folder / "server.log", "--article", str(article))
    yield running
    stop_server(running)


def test_hostile_article_is_shown_never_executed(browser, hostile_server):
    watched = Watched(browser, hostile_server.url)
    page = watched.page
    try:
        reply = watched.ask("What did the organisers post?")
        assert PAYLOADS[4] in reply
        reply = watched.ask(HOSTILE_QUESTION)
        assert PAYLOADS[3] in reply
        for question, payload in [
            ("What did the poster show?", 5),
            ("How were tickets sold?", 6),
            ("What did the band play?", 7),
            ("What did engineers compute?", 8),
        ]:
            assert PAYLOADS[payload] in watched.ask(question), question
        page.wait_for_timeout(500)  # time for any injected handler, image or stylesheet to act
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "chat-hostile.png"), full_page=True)

        assert watched.dialogs == []
        assert page.evaluate("() => window.__pwned") is None
        assert watched.offsite() == [], watched.offsite()
        assert page.evaluate("() => getComputedStyle(document.body).display") != "none"
        rendered = "#qa-chat .qa-question, #qa-chat .qa-answer, #qa-article .qa-article"  # what this app rendered
        ours = "strong:not(.qa-short):not(.qa-lead):not(.qa-verdict)"  # the short answer and verdict are ours
        for tag in ("img", "a", "script", "iframe", "style", ours, "em", ".katex", "math", "svg"):
            count = "(els, tag) => els.reduce((n, e) => n + e.querySelectorAll(tag).length, 0)"
            assert page.eval_on_selector_all(rendered, count, tag) == 0, tag

        # Verbatim: the question as typed (minus the bidi override), every paragraph's payload in the article panel.
        questions = page.locator("#qa-chat .qa-question").all_text_contents()
        assert HOSTILE_QUESTION.replace("\u202e", "") in questions
        article_text = page.locator("#qa-article").text_content()
        for payload in [
            *PAYLOADS.values(),
            "<script>window.__pwned=1;alert(1)</script>",
            "<style>body{display:none}</style>",
        ]:
            assert payload in article_text
        assert "${alert(1)} and {{constructor.constructor('alert(1)')()}}" in article_text
        assert 'Harbour <img src=x onerror="window.__pwned=1"> festival' in article_text
        assert "a bell and printed [31m red text; a sign read evil and isolated words." in article_text
        for hidden in ("\x07", "\x1b", "\u202e", "\u202c", "\u2066", "\u2069"):
            assert hidden not in article_text and hidden not in page.locator("#qa-chat").text_content()
        assert page.get_by_text('<img src="http://example.com/x.png">', exact=False).first.is_visible()
    finally:
        watched.close()


# ---- the API's docs ----------------------------------------------------------------------------------------------


def test_docs_page_renders_offline(browser, server):
    """/docs: Swagger UI from the server's own files (fastapi-offline), no request leaving this machine."""
    watched = Watched(browser, f"{server.url}/docs", ready=(".opblock",))
    page = watched.page
    try:
        ask = page.locator(".opblock", has=page.locator(".opblock-summary-path", has_text="/api/ask")).first
        ask.wait_for(timeout=TIMEOUT)
        assert ask.is_visible()
        paths = page.locator(".opblock-summary-path").all_text_contents()
        assert "/api/ask" in [p.strip().replace("\u200b", "") for p in paths], paths
        assert page.locator(".swagger-ui .info .title").first.text_content().startswith("Article assistant")
        ask.locator(".opblock-summary").click()  # expanding an operation loads nothing more either
        ask.locator(".opblock-body").wait_for(timeout=TIMEOUT)
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "docs.png"))
        assert watched.offsite() == [], watched.offsite()
        assert any("/api/docs-assets/" in u for u in watched.requests)
        assert not watched.dialogs and not watched.errors
    finally:
        watched.close()


# ---- issue 19: one conversation typed in one page, as a reader would ------------------------------------------------

CONVERSATION = [
    json.loads(line) for line in (ROOT / "bench" / "data" / "browser-conversation.jsonl").read_text().splitlines()
]


def _shown(reply) -> int | None:
    """The ¶ a chat reply answers from, or None when it declines."""
    if reply.locator(".qa-none").count():
        return None
    return int(re.match(r"¶(\d+)", reply.locator(".qa-quote .qa-place").first.text_content()).group(1))


def test_a_conversation_in_the_page_is_answered_as_every_surface_answers_it(page, client, gradio, bot):
    """The conversation of issue 19 (bench/data/browser-conversation.jsonl, written before the fix), in one page:
    each reply quotes the expected ¶ or declines where the article does not say; the HTTP API with the same history,
    gradio_client's /ask and the Python API give the same answer at every turn."""
    earlier: list[str] = []
    got = []
    for row in CONVERSATION:
        page.ask(row["q"])
        shown = _shown(page.latest())
        body = client.post("/api/ask", json={"question": row["q"], "history": earlier}).json()
        python = bot.ask(row["q"], history=earlier).to_dict()
        via_gradio = gradio.predict(row["q"], earlier, 3, None, api_name="/ask")
        assert body == python and via_gradio["answer"] == python["answer"], row["q"]
        assert shown == (None if python["abstained"] else python["passages"][0]["paragraph"]), row["q"]
        got.append(shown)
        earlier.append(row["q"])
    right = {row["q"]: shown == row["paragraph"] for row, shown in zip(CONVERSATION, got, strict=True)}
    assert {q for q, ok in right.items() if not ok} == set(STILL_MISSED)


STILL_MISSED = {
    "Who else?": "no words of its own: it leans on 'When did they sign that deal?', answered from ¶5's treaty "
    "sentence, and would quote that sentence again with no person or organisation in it (what 'Who' asks for) new "
    "to the conversation (the follow-up model's 'repeats'); the next sentence, 'talks began with the U.S.', is "
    "not the one it picks",
    "What else might they cover later?": "its own words ('cover', 'later') are not the article's ('could be extended "
    "to include'), and a follow-up whose words the article does not know is, on the dev conversations, mostly one "
    "the article does not answer: it declines, quoting ¶6 as the closest passage",
    "Which newspaper broke the story?": "ranked ¶1 first but declined: nothing in its words meets 'An article "
    "published by the Nikkei has revealed', and spaCy's small model does not tag 'the Nikkei' as an organisation",
}
"""The conversation's turns that are still not answered as expected, and why; a turn fixed (or newly missed)
fails the test above until this list says so."""
