"""The chat page's rendering and turn logic: escaping, highlights, ¶ labels, abstentions, the article panel."""

from __future__ import annotations

import html
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from assistant import Answer, Highlight, Passage, QuestionError
from assistant.answer import NOT_IN_ARCHIVE, compose
from assistant.article import parse_article
from assistant.chat import (
    CLOSEST,
    EXAMPLES,
    NOT_COVERED,
    UNEXPECTED,
    Chat,
    Turn,
    examples_for,
    friendly,
    place,
    render_answer,
    render_article,
    render_notice,
    render_question,
    sanitize,
    score_text,
    split_highlight,
    take_turn,
    text_html,
)
from assistant.chat.export import answer_markdown
from assistant.question import MAX_HISTORY
from assistant.schema import Short

EXERCISES = (
    "Last week, Japan conducted joint naval exercises with the U.S., Canada and the Philippines in the South China Sea."
)
PAYLOADS = [
    "<script>window.__pwned=1</script>",
    "<img src=x onerror=alert(1)>",
    '<img src="http://example.com/x.png">',
    "![](http://example.com/y.png)",
    "[link](http://example.com)",
    "**bold**",
    "$x^2$",
    "$$y^2$$",
    '<a href="http://example.com">a</a>',
    "<iframe src=http://example.com></iframe>",
    "<style>body{display:none}</style>",
    "${alert(1)} {{constructor.constructor('alert(1)')()}}",
    "&amp; &lt;b&gt; \"quoted\" 'single'",
]
ALLOWED_TAGS = {"div", "p", "span", "blockquote", "mark", "details", "summary", "br", "strong"}
ALLOWED_ATTRS = {"class", "id", "data-paragraph", "role"}


class Markup(HTMLParser):
    """The tags, attributes and text of an HTML fragment."""

    def __init__(self, fragment: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []
        self.feed(fragment)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))

    def handle_data(self, data):
        self.text.append(data)

    @property
    def plain(self) -> str:
        return "".join(self.text)


def assert_only_our_markup(fragment: str) -> None:
    for tag, attrs in Markup(fragment).tags:
        assert tag in ALLOWED_TAGS, tag
        for name, value in attrs:
            assert name in ALLOWED_ATTRS, (tag, name)
            assert value is None or re.fullmatch(r"[\w -]*", value), (tag, name, value)


def passage(text: str, start: int, end: int, *, paragraph: int = 1, places=None, score: float = 0.5) -> Passage:
    return Passage(
        paragraph=paragraph,
        paragraphs=tuple(places or (paragraph,)),
        text=text,
        score=score,
        highlight=Highlight(start=start, end=end, text=text[start:end]),
    )


def marked(fragment: str) -> list[str]:
    return [Markup(m).plain for m in re.findall(r'<mark class="qa-hl">(.*?)</mark>', fragment)]


# ---- sanitize and escape ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("a\x00b", "ab"),
        ("bell\x07 esc\x1b[31m cr\r del\x7f c1\x85\x9f", "bell esc[31m cr del c1"),
        ("keep\nnew\tlines", "keep\nnew\tlines"),
        (
            "over\u202eride\u202c emb\u202a\u202b\u202d iso\u2066\u2067\u2068\u2069 marks\u200e\u200f\u061c",
            "override emb iso marks",
        ),
        ("¶ café 東京 مرحبا 🙂 “quotes”", "¶ café 東京 مرحبا 🙂 “quotes”"),
    ],
)
def test_sanitize_strips_controls_and_bidi_overrides(raw, shown):
    assert sanitize(raw) == shown


@pytest.mark.parametrize("payload", PAYLOADS)
def test_text_html_is_literal_text(payload):
    out = text_html(payload)
    assert "<" not in out and ">" not in out and '"' not in out
    assert html.unescape(out) == payload


def test_text_html_keeps_line_breaks_and_drops_controls():
    assert text_html("a<b\r\nc\x00\u202ed") == "a&lt;b<br>cd"


# ---- answers ------------------------------------------------------------------------------------------------------


def test_mark_wraps_exactly_the_highlight_span():
    text = "First sentence. Second <b>sentence</b> here. Third."
    start = text.index("Second")
    end = text.index(" Third")
    out = render_answer(Answer(question="q", text="t", passages=(passage(text, start, end),), abstained=False))
    assert marked(out) == [text[start:end]]  # one mark, in the quote (the direct answer above is the sentence alone)
    quote = re.search(r'<blockquote class="qa-text">(.*?)</blockquote>', out).group(1)
    before, rest = quote.split('<mark class="qa-hl">')
    inside, after = rest.split("</mark>")
    assert (html.unescape(before), html.unescape(inside), html.unescape(after)) == (
        text[:start],
        text[start:end],
        text[end:],
    )


def test_direct_answer_is_the_answering_sentence_then_the_quotes():
    text = "Intro. The answer is here. Outro."
    best = passage(text, 7, 26, paragraph=8, places=(8, 14), score=0.8123)
    other = passage("Another passage.", 0, 16, paragraph=3, score=0.3)
    out = render_answer(Answer(question="q", text="t", passages=(best, other), abstained=False))
    direct = re.search(r'<p class="qa-direct">(.*?)</p>', out).group(1)
    assert Markup(direct).plain == "The answer is here. ¶8 · also ¶14"
    assert out.index("qa-direct") < out.index("qa-quote")
    plain = Markup(out).plain
    assert "score 0.81" in plain and "score 0.30" in plain
    assert plain.index("¶8 · also ¶14score 0.81") < plain.index("¶3score 0.30")
    assert NOT_COVERED not in plain
    assert_only_our_markup(out)


def test_the_short_answer_comes_first_and_is_bold_inside_the_highlighted_sentence():
    text = "Intro. The <Nikkei> & co revealed it. Outro."
    start, end = 7, text.index(" Outro")
    best = passage(text, start, end, paragraph=1).model_copy(
        update={"short": Short(start=11, end=19, text="<Nikkei>")}
    )
    out = render_answer(Answer(question="q", text="t", passages=(best,), abstained=False, short=best.short))
    lead = re.search(r'<p class="qa-short-answer"><strong class="qa-lead">(.*?)</strong></p>', out).group(1)
    assert lead == "&lt;Nikkei&gt;"
    assert out.index("qa-short-answer") < out.index("qa-direct") < out.index("qa-quote")
    bold = re.findall(r'<strong class="qa-short">(.*?)</strong>', out)
    assert [html.unescape(b) for b in bold] == ["<Nikkei>", "<Nikkei>"]  # in the reply's sentence and in the quote
    quote = re.search(r'<mark class="qa-hl">(.*?)</mark>', out.split("qa-quote")[1]).group(1)
    assert Markup(quote).plain == text[start:end]
    assert_only_our_markup(out)


def test_a_verdict_leads_a_yes_no_reply():
    text = "Such cooperation would represent the first such collaboration."
    best = passage(text, 0, len(text), paragraph=2)
    out = render_answer(Answer(question="q", text="t", passages=(best,), abstained=False, verdict="Yes"))
    direct = re.search(r'<p class="qa-direct">(.*?)</p>', out).group(1)
    assert Markup(direct).plain.startswith("Yes. The article says: Such cooperation")
    assert_only_our_markup(out)


def test_weak_passages_are_folded_but_still_quoted():
    best = passage("Best.", 0, 5, paragraph=1, score=0.9)
    weak = passage("Weak one.", 0, 9, paragraph=2, score=0.004)
    out = render_answer(Answer(question="q", text="t", passages=(best, weak), abstained=False))
    folded = re.search(r'<details class="qa-more"><summary>(.*?)</summary>(.*)</details>', out)
    assert folded.group(1) == "1 weaker match (score below 0.10)"
    assert "¶2" in folded.group(2) and "score 0.00" in folded.group(2) and "Weak one." in folded.group(2)
    assert "¶1" not in folded.group(2)


@pytest.mark.parametrize(
    ("paragraph", "places", "label"),
    [(8, (8,), "¶8"), (8, (8, 14), "¶8 · also ¶14"), (5, (5, 11, 12), "¶5 · also ¶11, ¶12")],
)
def test_place_labels(paragraph, places, label):
    assert place(passage("x", 0, 1, paragraph=paragraph, places=places)) == label


@pytest.mark.parametrize(("score", "text"), [(0.6666, "score 0.67"), (0.0004, "score 0.00"), (1.0, "score 1.00")])
def test_score_text(score, text):
    assert score_text(score) == text


def test_abstention_says_so_and_labels_the_closest_passage():
    closest = passage("Nearby text. Not it.", 0, 12, paragraph=5, places=(5, 11), score=0.02)
    out = render_answer(compose("q", [closest], True))
    plain = Markup(out).plain
    assert plain.startswith(NOT_COVERED)
    assert f"{CLOSEST} ¶5 · also ¶11" in plain and "score 0.02" in plain
    assert "Nearby text. Not it." in plain
    assert "<mark" not in out  # nothing is presented as the answer
    assert "qa-direct" not in out


def test_abstention_without_a_passage():
    out = render_answer(compose("q", [], True))
    assert Markup(out).plain == NOT_COVERED


def test_an_archive_abstention_says_no_article_answers():
    """The page and the download say what the API says: the archive's refusal, not one article's."""
    closest = passage("Nearby text. Not it.", 0, 12, paragraph=5, score=0.02)
    answer = compose("q", [closest], True, archive=True)
    assert Markup(render_answer(answer)).plain.startswith(NOT_IN_ARCHIVE)
    assert answer_markdown(answer).startswith(NOT_IN_ARCHIVE)


@pytest.mark.parametrize("payload", PAYLOADS)
def test_hostile_passage_and_question_render_as_literal_text(payload):
    text = f"Before {payload} middle. Then {payload} after."
    start = text.index("Then")
    out = render_answer(
        Answer(question=payload, text="t", passages=(passage(text, start, len(text)),), abstained=False)
    )
    assert_only_our_markup(out)
    assert text in Markup(out).plain
    assert marked(out) == [text[start:]]
    question = render_question(payload)
    assert_only_our_markup(question)
    assert Markup(question).plain == payload


def test_controls_are_stripped_around_the_highlight_without_shifting_it():
    text = "A\u202e\x07b. Second\x1b sentence."
    start = text.index("Second")
    out = render_answer(Answer(question="q", text="t", passages=(passage(text, start, len(text)),), abstained=False))
    assert marked(out) == ["Second sentence."]
    assert "Ab. " in Markup(out).plain


def test_highlight_offsets_that_do_not_match_fall_back_to_the_sentence_text():
    text = "One. Two. Three."
    bad = Passage(paragraph=1, paragraphs=(1,), text=text, score=0.5, highlight=Highlight(start=0, end=3, text="Two."))
    assert split_highlight(bad) == ("One. ", "Two.", " Three.")
    missing = Passage(
        paragraph=1, paragraphs=(1,), text=text, score=0.5, highlight=Highlight(start=50, end=60, text="Four.")
    )
    assert split_highlight(missing) == (text, "", "")
    assert "<mark" not in render_answer(Answer(question="q", text="t", passages=(missing,), abstained=False))


def test_long_question_is_shortened_for_display():
    out = render_question("why " * 600)
    assert Markup(out).plain.endswith("…")
    assert len(Markup(out).plain) == 301


def test_notice_escapes():
    out = render_notice("bad <b>input</b>")
    assert_only_our_markup(out)
    assert Markup(out).plain == "bad <b>input</b>"


@pytest.mark.parametrize(
    ("message", "said"),
    [
        (
            "the question is 2,001 characters; the limit is 2,000",
            "The question is 2,001 characters; the limit is 2,000.",
        ),
        ("please ask a question about the article: the question has no words", None),
        ("", "The question could not be answered."),
    ],
)
def test_friendly_messages_are_sentences(message, said):
    out = friendly(QuestionError(message))
    assert out[0].isupper() and out.endswith(".")
    if said:
        assert out == said


# ---- the article panel --------------------------------------------------------------------------------------------


ARTICLE = "# A <b>title</b>\nFirst para.\nThe answer. More.\nFirst para.\n" + "\n".join(PAYLOADS) + "\nSource: Wire"


def test_article_panel_lists_every_paragraph_with_its_number():
    article = parse_article(ARTICLE.encode(), name="a.txt")
    out = render_article(article)
    assert_only_our_markup(out)
    for p in article.paragraphs:
        row = re.search(rf'<div class="qa-para" id="qa-p{p.number}" data-paragraph="{p.number}">(.*?)</div>', out)
        assert Markup(row.group(1)).plain == f"¶{p.number}{p.text}"
    head = Markup(out.split('<div class="qa-paras">')[0]).plain
    assert "A <b>title</b>" in head and "Source: Wire" in head and "a.txt · 18 paragraphs" in head
    assert "cited" not in out and "<mark" not in out


def test_article_panel_marks_the_cited_paragraphs_and_the_answering_sentence():
    article = parse_article(ARTICLE.encode(), name="a.txt")
    second = article.paragraphs[1]  # "First para.", repeated as ¶4
    third = article.paragraphs[2]
    answer = Answer(
        question="q",
        text="t",
        passages=(
            passage(third.text, 0, 11, paragraph=3, score=0.7),
            passage(second.text, 0, 11, paragraph=2, places=(2, 4), score=0.2),
            passage("x", 0, 1, paragraph=6, score=0.01),  # weak: quoted in the chat, not marked in the article
        ),
        abstained=False,
    )
    out = render_article(article, answer)
    cited = re.findall(r'<div class="qa-para cited( top)?" id="qa-p(\d+)"', out)
    assert cited == [("", "2"), (" top", "3"), ("", "4")]  # the best passage's paragraph is the one scrolled to
    assert marked(out) == ["First para.", "The answer."]  # in its first place only: repeats may differ in spacing
    assert "Quoted in the latest answer: ¶2, ¶3, ¶4" in Markup(out).plain


def test_article_panel_marks_nothing_for_an_abstention():
    article = parse_article(ARTICLE.encode(), name="a.txt")
    closest = passage(article.paragraphs[2].text, 0, 11, paragraph=3)
    out = render_article(article, Answer(question="q", text="t", passages=(closest,), abstained=True))
    assert "cited" not in out and "<mark" not in out


def test_article_panel_strips_controls_and_bidi():
    article = parse_article("Evil \u202eoverride\u202c and \x07bell and \u2066iso\u2069.\n".encode(), name="x.txt")
    plain = Markup(render_article(article)).plain
    assert "Evil override and bell and iso." in plain
    assert not re.search("[\x00-\x08\x0b-\x1f\u202a-\u202e\u2066-\u2069]", plain)


# ---- the real default article -------------------------------------------------------------------------------------


def test_real_answer_renders_the_exercises_passage(real_bot):
    answer = real_bot.ask("what exercises did Japan join")
    out = render_answer(answer)
    assert_only_our_markup(out)
    assert marked(out)[0] == EXERCISES
    assert answer.short is not None and answer.short.text in EXERCISES
    assert Markup(out).plain.startswith(f"{answer.short.text}{EXERCISES} ¶8 · also ¶14¶8 · also ¶14score ")
    panel = render_article(real_bot.article, answer)
    assert re.search(r'<div class="qa-para cited top" id="qa-p8"', panel)
    assert re.search(r'<div class="qa-para cited" id="qa-p14"', panel)
    assert marked(panel) == [EXERCISES]


def test_real_abstention_renders_plainly(real_bot):
    out = render_answer(real_bot.ask("What is the capital of France?"))
    assert Markup(out).plain.startswith(NOT_COVERED + CLOSEST)


def test_examples_are_offered_for_the_bundled_article_only(real_bot):
    assert examples_for(real_bot.article) == EXAMPLES
    assert EXAMPLES[0] == "what exercises did Japan join"
    assert examples_for(parse_article(b"Some other article.", name="other.txt")) == ()


# ---- one turn of the chat -----------------------------------------------------------------------------------------


class Recorder:
    """An assistant that records what it was asked and answers (or fails) as told."""

    def __init__(self, result=None):
        self.calls: list[tuple[str, list[str]]] = []
        self.result = result or Answer(
            question="q", text="t", passages=(passage("Yes. Indeed.", 0, 4, paragraph=2),), abstained=False
        )

    def ask(self, question, history=None, k=3, article=None):
        self.calls.append((question, list(history or [])))
        self.article = article
        if isinstance(self.result, Exception):
            raise self.result
        return self.result


def test_turn_passes_the_earlier_questions_as_history():
    bot = Recorder()
    earlier = [f"question {i}" for i in range(25)]
    turn = take_turn(bot, "Where did they take place?", earlier)
    assert bot.calls == [("Where did they take place?", earlier[-MAX_HISTORY:])]
    assert turn.asked == "Where did they take place?" and turn.answer is bot.result and not turn.keep
    user, reply = turn.messages
    assert user["role"] == "user" and Markup(user["content"]).plain == "Where did they take place?"
    assert reply["role"] == "assistant" and "Yes." in marked(reply["content"])


@pytest.mark.parametrize("blank", ["", "   ", "\n\t", None])
def test_blank_question_gets_a_notice_without_asking(blank):
    bot = Recorder()
    turn = take_turn(bot, blank, ["earlier"])
    assert bot.calls == [] and turn.answer is None and turn.asked is None
    (reply,) = turn.messages
    assert reply["role"] == "assistant" and "qa-notice" in reply["content"]


def test_refused_question_is_explained_and_kept_for_editing():
    bot = Recorder(QuestionError("the question is 2,001 characters; the limit is 2,000"))
    turn = take_turn(bot, "x" * 2001)
    assert turn.answer is None and turn.asked is None and turn.keep
    assert Markup(turn.messages[1]["content"]).plain == "The question is 2,001 characters; the limit is 2,000."


def test_unexpected_error_is_logged_and_answered_politely(caplog):
    turn = take_turn(Recorder(RuntimeError("boom at /secret/path")), "what exercises did Japan join")
    reply = Markup(turn.messages[1]["content"]).plain
    assert reply == UNEXPECTED and "boom" not in reply
    assert "Traceback" in caplog.text and "boom at /secret/path" in caplog.text


def test_build_app_exposes_the_ask_endpoint(real_bot):
    from assistant.chat import build_app

    app = build_app(real_bot)
    named = {fn.api_name: fn for fn in app.fns.values() if fn.api_visibility == "public"}
    assert list(named) == ["ask"]
    assert named["ask"].fn("what exercises did Japan join") == real_bot.ask("what exercises did Japan join").to_dict()


# ---- the chat as a download ---------------------------------------------------------------------------------------


def md_tokens(markdown: str) -> list:
    """Every token CommonMark (with raw HTML allowed, GFM tables and strikethrough) makes of a Markdown text."""
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
    tokens = []
    for token in parser.parse(markdown):
        tokens += [token, *(token.children or [])]
    return tokens


def md_plain(markdown: str) -> str:
    """The text a reader sees in rendered Markdown (soft breaks as newlines)."""
    return "".join(t.content if t.type in ("text", "code_inline") else "\n" for t in md_tokens(markdown)
                   if t.type in ("text", "code_inline", "softbreak"))  # fmt: skip


MARKUP_TOKENS = {"html_inline", "html_block", "link_open", "image", "em_open", "strong_open", "code_inline",
                 "code_block", "fence", "s_open", "table_open", "heading_open", "bullet_list_open",
                 "ordered_list_open", "blockquote_open", "hr", "hardbreak"}  # fmt: skip
MD_PAYLOADS = [
    *PAYLOADS,
    "# heading", "- item", "+ item", "1. first", "3) third", "> quoted", "---", "===", "    indented code",
    "`code` ``more``", "~~struck~~", "| a | b |\n|---|---|", "<https://example.com>", "<javascript:alert(1)>",
    "https://example.com/x www.example.com a@example.com", "[ref]: http://example.com", "[^1] footnote",
    "\\*not em\\* \\", "&lt;b&gt; &#60;i&#62; &copy;", "_under_ __double__", "a  \nb", "<!-- comment -->",
]  # fmt: skip


@pytest.mark.parametrize("payload", MD_PAYLOADS)
def test_md_text_is_literal_markdown(payload):
    from assistant.chat.export import md_text

    out = md_text(payload)
    assert not {t.type for t in md_tokens(out)} & MARKUP_TOKENS, out
    shown = md_plain(out)
    assert shown == "\n".join(line.strip() for line in payload.split("\n")), out
    # GFM would link bare addresses: an escaped ':', '.' or '@' stops it.
    assert "https://" not in out and "www." not in out and "a@" not in out


def hostile_passage(text: str, sentence: str, **kw) -> Passage:
    start = text.index(sentence)
    return passage(text, start, start + len(sentence), **kw)


def test_markdown_blockquote_bolds_the_answering_sentence_only():
    from assistant.chat.export import blockquote

    text = "First *one*. The <b>answer</b> is 42. Last [x](y)."
    out = blockquote(hostile_passage(text, "The <b>answer</b> is 42."))
    assert out.startswith("> ")
    tokens = md_tokens(out)
    strong = [t for t in tokens if t.type == "strong_open"]
    assert len(strong) == 1 and not {t.type for t in tokens} & (MARKUP_TOKENS - {"strong_open", "blockquote_open"})
    inside = out[out.index("**") + 2 : out.rindex("**")]
    assert md_plain(inside) == "The <b>answer</b> is 42."
    assert md_plain(out) == text
    unmarked = blockquote(hostile_passage(text, "The <b>answer</b> is 42."), mark=False)
    assert "**" not in unmarked and md_plain(unmarked) == text
    glued = blockquote(hostile_passage("Before.After.", "After."))  # no word edge: no bold, still verbatim
    assert "**" not in glued and md_plain(glued) == "Before.After."
    lines = blockquote(hostile_passage("One line\n  - and a second\nthird", "third"))
    assert lines.split("\n") == ["> One line", "> \\- and a second", "> **third**"]


INFO = {"id": "0123456789abcdef", "name": "harbour.html", "format": "html", "title": "Harbour reopens",
        "author": "Ana Ruiz", "date": "2025-03-03", "source": "Harbour Herald",
        "url": "https://herald.example/news/harbour", "paragraphs": 7}  # fmt: skip


def answered(question: str, *passages: Passage) -> dict:
    return {"question": question, "answer": Answer(question=question, text="t", passages=passages,
                                                   abstained=False).to_dict()}  # fmt: skip


def test_chat_markdown_reads_as_a_transcript():
    from assistant.chat import chat_markdown

    cost = "The work cost 4.2 million euros. It was paid for by the region."
    turns = [
        answered("How much did it cost?", hostile_passage(cost, "The work cost 4.2 million euros.", paragraph=2,
                 places=(2, 9), score=0.93), passage("Other.", 0, 6, paragraph=3, score=0.4),
                 passage("Weak.", 0, 5, paragraph=4, score=0.03)),  # fmt: skip
        {"question": "What is the capital of France?",
         "answer": compose("q", [passage("Nearby.", 0, 7, paragraph=5, score=0.02)], True).to_dict()},
    ]
    out = chat_markdown(INFO, turns)
    lines = out.split("\n")
    assert lines[:6] == ["# Harbour reopens", "", "By Ana Ruiz · 2025-03-03 · Source: Harbour Herald", "",
                         "`harbour.html` · 7 paragraphs · `https://herald.example/news/harbour`", ""]  # fmt: skip
    first, second = out.split("\n## 1. How much did it cost?\n")[1].split("\n## 2. What is the capital of France?\n")
    assert "**Answer:** The work cost 4.2 million euros. (¶2, also ¶9)" in first
    assert "**¶2, also ¶9** · score 0.93:\n\n> **The work cost 4.2 million euros.** It was paid for by the region." in first
    assert "**¶3** · score 0.40:\n\n> **Other.**" in first
    assert "Weaker match (score below 0.10), not quoted: ¶4 (score 0.03)" in first and "> Weak." not in first
    assert second.strip().split("\n\n") == [NOT_COVERED, f"{CLOSEST}: ¶5 · score 0.02", "> Nearby."]
    assert "**" not in second  # nothing is presented as the answer
    headings = [t for t in md_tokens(out) if t.type == "heading_open"]
    assert [h.tag for h in headings] == ["h1", "h2", "h2"]


def test_chat_markdown_keeps_hostile_text_literal():
    from assistant.chat import chat_markdown

    payload = " ".join(MD_PAYLOADS).replace("\n", " ")
    info = {**INFO, "title": f"Title {payload}", "author": payload, "source": payload, "name": "x`y`.html",
            "url": "javascript:alert(1)"}  # fmt: skip
    text = f"Before {payload} middle. Then {payload} after."
    out = chat_markdown(info, [answered(f"Question {payload}", hostile_passage(text, f"Then {payload} after."))])
    html_out = __import__("markdown_it").MarkdownIt("commonmark", {"html": True}).render(out)
    assert_only_our_markup_tags(html_out)
    assert not {t.type for t in md_tokens(out)} & {"html_inline", "html_block", "link_open", "image", "em_open"}
    plain = md_plain(out)
    one_line = " ".join(payload.split())  # a title or a question is shown on one line
    assert f"Title {one_line}" in plain and f"Question {one_line}" in plain and text in plain
    assert "x`y`.html" in plain and "javascript:alert(1)" in plain  # as code, never a link


def assert_only_our_markup_tags(fragment: str) -> None:
    for tag, attrs in Markup(fragment).tags:
        assert tag in {"h1", "h2", "p", "strong", "blockquote", "code"}, tag
        assert not attrs, (tag, attrs)


def test_chat_markdown_without_title_or_questions():
    from assistant.chat import chat_markdown

    out = chat_markdown({**INFO, "title": None, "author": None, "date": None, "source": None, "url": None}, [])
    assert out.startswith("# harbour.html\n\n7 paragraphs\n")
    assert "No questions yet." in out


def test_chat_json_holds_the_article_and_each_answer_as_the_api_gives_it():
    from assistant.chat import chat_json

    turns = [answered("Where?", passage("Here. There.", 0, 5, paragraph=2))]
    data = json.loads(chat_json(INFO, turns))
    assert data == {"article": INFO, "turns": [{"question": "Where?", "answer": turns[0]["answer"]}]}
    assert Answer.model_validate(data["turns"][0]["answer"]).to_dict() == turns[0]["answer"]


@pytest.mark.parametrize(
    ("info", "stem"),
    [(INFO, "chat-harbour-reopens"), ({"title": None, "name": "Report 2024.PDF"}, "chat-report-2024-pdf"),
     ({"title": "東京 <script>", "name": "x"}, "chat-script"), ({"title": "東京", "name": ""}, "chat")],
)  # fmt: skip
def test_file_stem(info, stem):
    from assistant.chat.export import file_stem

    assert file_stem(info) == stem


def test_exports_are_stored_once_under_their_content():
    from assistant.chat.export import Exports

    exports = Exports()
    a = exports.write("chat.md", "one")
    assert Path(a).name == "chat.md" and Path(a).read_text() == "one"
    assert exports.write("chat.md", "one") == a
    b = exports.write("chat.md", "two")
    assert b != a and Path(b).read_text() == "two" and Path(a).exists()
    assert Path(a).parent.parent == exports.folder
    os.utime(Path(a).parent, (0, 0))  # long since copied by Gradio
    exports.write("chat.md", "three")
    assert not Path(a).exists() and Path(b).exists()


def test_chat_remembers_answered_questions_only():
    answer = Answer(question="q", text="t", passages=(passage("Yes.", 0, 4),), abstained=False)
    chat = Chat()
    refused = Turn(({"role": "assistant", "content": "notice"},))
    chat = chat.then(refused)
    assert chat.messages == refused.messages and chat.earlier == () and chat.turns == ()
    for i in range(MAX_HISTORY + 2):
        chat = chat.then(Turn(({"role": "user", "content": str(i)},), answer=answer, asked=f"q{i}"))
    assert len(chat.messages) == MAX_HISTORY + 3
    assert chat.earlier == tuple(f"q{i}" for i in range(2, MAX_HISTORY + 2))  # follow-ups lean on the latest
    assert len(chat.turns) == MAX_HISTORY + 2  # the download keeps every one
    assert chat.turns[0] == {"question": "q0", "answer": answer.to_dict()}
