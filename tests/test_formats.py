"""Reading uploaded articles: format detection, HTML, PDF, DOCX, Markdown and text, and every bad input."""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import sys
import unicodedata
import zipfile
from pathlib import Path

import pytest

from assistant.article import parse_article
from assistant.errors import ArticleError
from assistant.formats import Document, detect_format, read_document

ROOT = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde"


def _tidy(doc: Document) -> Document:
    """The promise every non-text reader keeps: non-empty, one stripped paragraph per line, no control characters."""
    assert doc.text
    for line in doc.text.split("\n"):
        assert line and line == line.strip()
        assert not any(unicodedata.category(c) == "Cc" and c != "\t" for c in line), line
    return doc


def _error(data: bytes, name: str) -> str:
    with pytest.raises(ArticleError) as e:
        read_document(data, name)
    message = str(e.value)
    assert "\n" not in message and "Traceback" not in message
    return message


# ---- detection: by content, whatever the name says ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "name", "expected"),
    [
        (b"<!DOCTYPE html><html><body><p>x</p></body></html>", "story.pdf", "html"),
        (b"\xef\xbb\xbf \n <HTML lang=en><p>x</p>", "a.txt", "html"),
        (b"<meta charset=utf-8><title>x</title>", "a", "html"),
        (b'<?xml version="1.0"?>\n<!-- saved --><html xmlns="http://www.w3.org/1999/xhtml">', "a", "html"),
        (b"<head><title>x</title></head>", "a.md", "html"),
        (b"Some text with <b>bold</b> in it and <html> later.", "a.html", "text"),
        (b"<b>Breaking:</b> a plain text article.", "a.txt", "text"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "a.txt", "pdf"),
        (b"junk before the header\n%PDF-1.4\n", "a", "pdf"),
        (b"Readers asked about the %PDF-1.7 header of their files.", "a.txt", "text"),
        (b"# Storm hits the coast\n\nText.", "a.txt", "text"),  # .txt says text: read as it always was
        (b"# Storm hits the coast\n\nText.", "pasted", "markdown"),
        (b"\xef\xbb\xbf\n# Storm\n", "a", "markdown"),
        (b"Plain title\n\nText.", "notes.MD", "markdown"),
        (b"Plain title\n\nText.", "notes.markdown", "markdown"),
        (b"#hashtag is not a heading", "a.txt", "text"),
        (b"An ordinary article.\n", "a.html", "text"),
    ],
)
def test_the_format_comes_from_the_content(data, name, expected):
    assert detect_format(data, name) == expected


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (PNG, "article pic.txt looks binary (a PNG image): give an article as text, Markdown, HTML, PDF or DOCX"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "article pic.txt looks binary (a JPEG image): "),
        (b"GIF89a\x01\x00", "article pic.txt looks binary (a GIF image): "),
        (b"\x1f\x8b\x08\x00\x00\x00", "article pic.txt looks binary (a gzip archive): "),
        (
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00",
            "article pic.txt looks binary (an old-style Office file, such as a .doc)",
        ),
        (
            b"{\\rtf1\\ansi Hello}",
            "article pic.txt is an RTF document: save it as DOCX, PDF or plain text and try again",
        ),
    ],
)
def test_binary_files_are_refused_whatever_their_name(data, message):
    assert _error(data, "pic.txt").startswith(message)


def test_messages_show_the_file_name_only():
    message = _error(PNG, "/home/jane/private/uploads/pic.txt")
    assert message.startswith("article pic.txt looks binary") and "/home" not in message
    assert _error(PNG, "C:\\Users\\jane\\pic\n.txt").startswith("article pic?.txt looks binary")


# ---- HTML -------------------------------------------------------------------------------------------------------

BODY = [
    "Heavy rain flooded dozens of coastal towns on Monday, forcing thousands of residents to leave their homes as "
    "rivers burst their banks across the region.",
    "Emergency services said more than 2,000 people had been moved to temporary shelters overnight, and that the "
    "water was expected to keep rising until Wednesday.",
    "The national weather office issued its highest warning for the coast and urged drivers to stay off the roads "
    "while repair crews worked to restore power lines.",
]
HOSTILE_TITLE = "Storm & floods hit coast <script>alert(1)</script>"
NEWS_PAGE = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Storm &amp; floods hit coast <script>alert(1)</script></title>
<link rel="canonical" href="https://news.example.com/world/2025/03/03/storm-floods">
<meta property="og:site_name" content="Example News">
<meta property="og:title" content="Storm &amp; floods hit coast &lt;script&gt;alert(1)&lt;/script&gt;">
<meta property="article:published_time" content="2025-03-03T08:15:00Z">
<meta name="author" content="Jane Doe">
<style>body {{ color: red; }} .style-rule-text {{}}</style>
<script>var tracking = "SCRIPT-IN-HEAD";</script>
</head>
<body>
<div id="cookie-banner" class="cookie-consent">We use cookies to improve your experience. Accept all cookies?</div>
<nav class="main-nav"><ul><li><a href="/">Home</a></li><li><a href="/world">World</a></li>
<li><a href="/sport">Sport news</a></li></ul></nav>
<div class="ad advertisement">ADVERTISEMENT: Buy the SuperWidget now</div>
<main><article>
<h1>Storm &amp; floods hit coast</h1>
<p class="byline">By <span class="author">Jane Doe</span></p>
<p>{BODY[0]}</p>
<script>document.write("SCRIPT-IN-BODY");</script>
<p>{BODY[1]}</p>
<p>{BODY[2]}</p>
</article></main>
<aside class="related"><h3>Related stories</h3><ul><li><a href="/a">Another story you might like</a></li></ul></aside>
<footer class="site-footer"><p>Copyright 2025 Example News. All rights reserved. Contact us | Privacy policy</p></footer>
</body>
</html>
""".encode()


def test_a_news_page_gives_its_article_and_metadata_without_boilerplate():
    doc = _tidy(read_document(NEWS_PAGE, "storm.html"))
    assert doc == Document(
        text="\n".join(BODY),
        format="html",
        title=HOSTILE_TITLE,  # literal text: nothing was parsed out of it, nothing was executed
        author="Jane Doe",
        date="2025-03-03",
        source="Example News",
        url="https://news.example.com/world/2025/03/03/storm-floods",
    )
    for boilerplate in ("cookies", "Home", "Sport", "ADVERTISEMENT", "SuperWidget", "Related", "Copyright",
                        "SCRIPT-IN", "color: red", "alert", "By Jane Doe"):  # fmt: skip
        assert boilerplate not in doc.text


def test_an_html_page_named_pdf_is_read_as_html():
    assert read_document(NEWS_PAGE, "storm.pdf").text == "\n".join(BODY)


def test_a_page_in_a_legacy_charset_is_decoded_by_its_meta_charset():
    page = (
        "<!DOCTYPE html><html><head><meta charset='windows-1252'><title>Caf\xe9 news</title></head><body><article>"
        "<p>Le caf\xe9 \x93Chez Nous\x94 est ouvert tous les jours depuis lundi, a d\xe9clar\xe9 le maire.</p>"
        "</article></body></html>"
    ).encode("latin-1")
    doc = read_document(page, "cafe.html")
    assert (doc.title, doc.text) == ("Caf\xe9 news", "Le caf\xe9 \u201cChez Nous\u201d est ouvert tous les jours "
                                     "depuis lundi, a d\xe9clar\xe9 le maire.")  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "date"),
    [
        ("", None),  # not 2025-01-01 from "Copyright 2025": no date is better than a made-up one
        ('<time datetime="2025-03-03T08:00">3 March 2025</time>', "2025-03-03"),
        (
            '<script type="application/ld+json">{"@type": "NewsArticle", "datePublished": "2025-03-04"}</script>',
            "2025-03-04",
        ),
    ],
)
def test_an_html_date_comes_from_the_page_metadata_only(extra, date):
    page = f"<!DOCTYPE html><html><body><article>{extra}<p>{BODY[0]}</p><p>{BODY[1]}</p></article>"
    page += "<footer>Copyright 2025 Example News</footer></body></html>"
    doc = read_document(page.encode(), "a.html")
    assert (doc.text, doc.date) == ("\n".join(BODY[:2]), date)


@pytest.mark.parametrize(
    "body",
    [
        "<nav><a href='/'>Home</a> <a href='/w'>World</a></nav><div id='consent'>We use cookies to improve your "
        "experience. Accept all cookies?</div><footer>Copyright 2025 Example News</footer>",
        "<nav><a href='/'>Home</a></nav><main><ul>"
        + "".join(
            f"<li><a href='/s{i}'>Headline number {i} about something that happened today</a></li>" for i in range(20)
        )
        + "</ul></main>",
        "",
    ],
    ids=["menu-and-banner", "front-page", "empty"],
)
def test_a_page_without_an_article_is_refused(body):
    page = f"<!DOCTYPE html><html><head><title>Example News</title></head><body>{body}</body></html>".encode()
    assert _error(page, "index.html") == (
        "article index.html: no article text found in this HTML page (is it a front page or an index?): "
        "give the article's own page"
    )


# ---- PDF --------------------------------------------------------------------------------------------------------

PDF_PAGES = [
    [("Storm hits the coast", 18), None,
     "Heavy rain flooded dozens of coastal towns on Monday, forcing thousands of",
     "residents to leave their homes as rivers burst their banks across the region,",
     "the authorities said.", None,
     "Emergency services said the army would join rescue exer-",
     "cises along the coast, and that more than 2,000 people had been moved to",
     "temporary shelters near the Franco-",
     "German border overnight.", None,
     "The national weather office issued its highest warning for the coast and",
     "urged drivers to stay off the roads while repair crews worked to restore"],
    ["power lines in the worst-hit districts.", None,
     "Forecasters expect the rain to ease by Thursday."],
]  # fmt: skip
PDF_TEXT = [
    "Heavy rain flooded dozens of coastal towns on Monday, forcing thousands of residents to leave their homes as "
    "rivers burst their banks across the region, the authorities said.",
    "Emergency services said the army would join rescue exercises along the coast, and that more than 2,000 people had "
    "been moved to temporary shelters near the Franco-German border overnight.",
    "The national weather office issued its highest warning for the coast and urged drivers to stay off the roads "
    "while repair crews worked to restore power lines in the worst-hit districts.",
    "Forecasters expect the rain to ease by Thursday.",
]


def _winansi(text: str) -> str:
    # fpdf2's core fonts are WinAnsi-encoded: cp1252 bytes pass through, so "\u2014" needs no font file.
    return text.encode("cp1252").decode("latin-1")


def _pdf(
    pages,
    header="Example News \u2014 World",
    footer="Page {n} of {total}",
    indent=0.0,
    gap=4.0,
    title="Storm hits the coast",
) -> bytes:
    from fpdf import FPDF

    pdf = FPDF(format="A4", unit="mm")
    pdf.set_title(title)
    pdf.set_author("Jane Doe")
    pdf.set_creation_date(dt.datetime(2025, 3, 3, 8, 15, tzinfo=dt.UTC))
    pdf.set_auto_page_break(False)
    first = True  # the line after a blank (None) starts a paragraph, and is indented by `indent`
    for n, lines in enumerate(pages, start=1):
        pdf.add_page()
        pdf.set_font("Helvetica", size=9)
        pdf.set_xy(20, 10)
        pdf.cell(text=_winansi(header.format(n=n, total=len(pages))))
        y = 30.0
        for line in lines:
            if line is None:
                y, first = y + gap, True
            elif isinstance(line, tuple):
                pdf.set_font("Helvetica", "B", size=line[1])
                pdf.set_xy(20, y)
                pdf.cell(text=_winansi(line[0]))
                y += 10
            else:
                pdf.set_font("Times", size=11)
                pdf.set_xy(20 + (indent if first else 0), y)
                pdf.cell(text=_winansi(line))
                y, first = y + 5, False
        pdf.set_font("Helvetica", size=9)
        pdf.set_xy(95, 284)
        pdf.cell(text=footer.format(n=n, total=len(pages)))
    return bytes(pdf.output())


@pytest.mark.parametrize(
    ("header", "footer"),
    [
        ("Example News \u2014 World", "Page {n} of {total}"),
        ("Example News \u2014 World", "{n}"),
        ("Example News \u2014 World", "- {n} -"),
        ("Example News \u2014 World \u2014 3 March 2025, p. {n}", "www.example.com/{n}/{total}"),
    ],
)
def test_a_pdf_gives_paragraphs_without_running_heads_feet_or_hyphenation(header, footer):
    doc = _tidy(read_document(_pdf(PDF_PAGES, header=header, footer=footer), "storm.pdf"))
    assert doc == Document(
        text="\n".join(PDF_TEXT), format="pdf", title="Storm hits the coast", author="Jane Doe", date="2025-03-03"
    )
    assert "Example News" not in doc.text and "Page" not in doc.text and "example.com" not in doc.text


def test_a_pdf_with_indented_first_lines_and_no_gaps_splits_at_the_indents():
    data = _pdf(PDF_PAGES, indent=8, gap=0)  # no wider gaps: only the indents mark paragraphs
    assert read_document(data, "storm.pdf").text == "\n".join(PDF_TEXT)


def test_a_pdf_whose_info_title_is_a_placeholder_keeps_its_heading_as_text():
    data = _pdf(PDF_PAGES, title="Microsoft Word - storm.docx")
    doc = read_document(data, "storm.pdf")
    assert (doc.title, doc.text) == (None, "\n".join(["Storm hits the coast", *PDF_TEXT]))


def test_a_pdf_with_a_running_head_on_one_page_only_keeps_it():
    data = _pdf([["Only one page of text here."]], header="Example News \u2014 World", footer="1")
    assert read_document(data, "one.pdf").text == "Example News \u2014 World\nOnly one page of text here."


def _fpdf(draw) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    draw(pdf)
    return bytes(pdf.output())


def _text(pdf) -> None:
    pdf.set_font("Helvetica", size=11)
    pdf.cell(text="A short article about the storm.")


def _image(pdf) -> None:
    from PIL import Image

    pdf.image(Image.new("RGB", (200, 100), "gray"), x=20, y=20, w=100)


def test_an_encrypted_pdf_asks_for_a_copy_without_password():
    def locked(pdf):
        _text(pdf)
        pdf.set_encryption(owner_password="owner", user_password="reader")

    assert _error(_fpdf(locked), "locked.pdf") == (
        "article locked.pdf: this PDF is encrypted: save a copy without a password and try again"
    )


def test_a_pdf_encrypted_without_a_user_password_opens_like_any_reader_opens_it():
    def restricted(pdf):
        _text(pdf)
        pdf.set_encryption(owner_password="owner", user_password="")

    assert read_document(_fpdf(restricted), "restricted.pdf").text == "A short article about the storm."


@pytest.mark.parametrize("draw", [_image, lambda pdf: None], ids=["image-only", "empty-page"])
def test_a_pdf_without_a_text_layer_asks_for_ocr(draw):
    assert _error(_fpdf(draw), "scan.pdf") == (
        "article scan.pdf: this PDF has no text layer (a scan?): OCR it first, for example with ocrmypdf"
    )


@pytest.mark.parametrize(
    "damage",
    [lambda b: b[: len(b) // 2], lambda b: b[:-40], lambda b: b"%PDF-1.4\n" + b"garbage " * 50, lambda b: b[:9]],
    ids=["truncated-half", "no-trailer", "garbage", "header-only"],
)
def test_a_damaged_pdf_is_a_clear_error(damage):
    data = damage(_pdf(PDF_PAGES))
    assert _error(data, "broken.pdf") == (
        "article broken.pdf: this PDF cannot be read (damaged?): save or export it again and try again"
    )


# ---- DOCX -------------------------------------------------------------------------------------------------------


def _docx(first_style: str | None = "Title", core_title: str = "", created=dt.datetime(2025, 3, 3, 8, 15)) -> bytes:
    import docx

    document = docx.Document()
    if first_style:
        document.add_paragraph("Storm hits the coast", style=first_style)
    document.add_paragraph("  " + BODY[0] + "  ")
    document.add_paragraph("")
    broken = document.add_paragraph(BODY[1][:40])
    broken.add_run().add_break()  # a manual line break inside a paragraph: still one paragraph
    broken.add_run(BODY[1][40:].lstrip())
    document.add_paragraph(BODY[2], style="Heading 2")
    props = document.core_properties
    props.title, props.author, props.created = core_title, "Jane Doe", created
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_a_docx_gives_its_paragraphs_and_core_properties():
    doc = _tidy(read_document(_docx(core_title="storm-draft-v2 (old)"), "storm.docx"))
    assert doc == Document(
        text="\n".join(BODY), format="docx", title="Storm hits the coast", author="Jane Doe", date="2025-03-03"
    )


@pytest.mark.parametrize(
    ("first_style", "core_title", "title", "first_line"),
    [
        ("Heading 1", "", "Storm hits the coast", BODY[0]),
        (None, "Storm hits the coast", "Storm hits the coast", BODY[0]),
        ("Normal", "Storm hits the coast", "Storm hits the coast", BODY[0]),  # the first line repeats the title
        ("Normal", "", None, "Storm hits the coast"),
    ],
)
def test_a_docx_title_comes_from_its_first_paragraph_or_its_properties(first_style, core_title, title, first_line):
    doc = read_document(_docx(first_style, core_title), "storm.docx")
    assert (doc.title, doc.text.split("\n")[0]) == (title, first_line)


def test_a_docx_made_from_python_docx_template_has_no_made_up_author_or_date():
    import docx

    document = docx.Document()
    document.add_paragraph("Text.")
    out = io.BytesIO()
    document.save(out)
    assert read_document(out.getvalue(), "a.docx") == Document(text="Text.", format="docx")


def test_a_damaged_docx_is_a_clear_error():
    data = _docx()
    assert _error(data[: len(data) // 2], "storm.docx") == (
        "article storm.docx: this DOCX is damaged (not a valid ZIP): save it again from your word processor and try again"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            dst.writestr(item, b"<w:document>not xml" if item.filename == "word/document.xml" else src.read(item))
    assert _error(out.getvalue(), "storm.docx") == (
        "article storm.docx: this DOCX cannot be read (damaged?): save it again from your word processor"
    )


@pytest.mark.parametrize(
    ("padding", "message"),
    [
        (
            60 * 2**20,
            "article bomb.docx: this DOCX expands to 61 MB (the limit is 50 MB): remove large images or "
            "embedded files and try again",
        ),
        (5 * 2**20, "article bomb.docx: this DOCX expands to 6 MB, one part 1,0"),
    ],
    ids=["too-large", "too-compressed"],
)
def test_a_zip_bomb_docx_is_refused_before_anything_is_extracted(monkeypatch, padding, message):
    out = io.BytesIO(_docx())
    with zipfile.ZipFile(out, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("word/media/padding.bin", bytes(padding))

    def no_extraction(*args, **kwargs):
        raise AssertionError("a member was extracted")

    monkeypatch.setattr(zipfile.ZipFile, "open", no_extraction)
    assert _error(out.getvalue(), "bomb.docx").startswith(message)


def test_a_plain_zip_is_not_a_docx():
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("article.txt", "Hello.")
    assert _error(out.getvalue(), "article.docx") == (
        "article article.docx is a ZIP archive, not a DOCX: unzip it and give the article inside "
        "(text, Markdown, HTML, PDF or DOCX)"
    )


# ---- Markdown ---------------------------------------------------------------------------------------------------

MARKDOWN = """# Storm *hits* the coast

*By Jane Doe, Reuters*
March 3, 2025

Heavy rain **flooded** dozens of [coastal towns](https://example.com/towns) on _Monday_, the `authorities` said.\x07

![a flooded street](https://example.com/flood.jpg)

- Schools were closed.
- Trains were *cancelled*.

## What comes next

```
level = 3.2 m
```

| Town | Rain |
|------|------|
| Lyme | 80 mm |

> Stay at home, the <b>mayor</b> said.
"""


def test_markdown_gives_plain_text_and_its_title_and_byline_as_metadata():
    doc = _tidy(read_document(MARKDOWN.encode(), "storm.md"))
    assert doc == Document(
        text="Heavy rain flooded dozens of coastal towns on Monday, the authorities said.\nSchools were closed.\n"
        "Trains were cancelled.\nWhat comes next\nlevel = 3.2 m\nTown\tRain\nLyme\t80 mm\nStay at home, the mayor said.",
        format="markdown",
        title="Storm hits the coast",
        author="Jane Doe",
        date="2025-03-03",
        source="Reuters",
    )


@pytest.mark.parametrize(
    ("byline", "author", "date", "source"),
    [
        ("Jane Doe | Example News | 3 March 2025", "Jane Doe", "2025-03-03", "Example News"),
        ("Published 2025-03-03", None, "2025-03-03", None),
        ("By Jane Doe and John Roe\nUpdated Mon, 3 Mar. 2025 08:15 GMT", "Jane Doe and John Roe", "2025-03-03", None),
        (
            "**By Jane Doe** \u00b7 Published on March 3rd, 2025 \u00b7 Source: Example News",
            "Jane Doe",
            "2025-03-03",
            "Example News",
        ),
    ],
)
def test_markdown_bylines_become_metadata(byline, author, date, source):
    doc = read_document(f"# Storm\n\n{byline}\n\nThe river rose.\n".encode(), "a.md")
    assert (doc.text, doc.author, doc.date, doc.source) == ("The river rose.", author, date, source)


@pytest.mark.parametrize(
    "opening",
    [
        "By midday the river had risen.",
        "Jane Doe",
        "March 3, 2025, was the wettest day on record.",
        "By Jane Doe, who was there, the river was seen rising at dawn.",
    ],
)
def test_markdown_article_text_that_resembles_a_byline_stays_text(opening):
    doc = read_document(f"# Storm\n\n{opening}\n\nThe river rose.\n".encode(), "a.md")
    assert (doc.text, doc.author, doc.date) == (f"{opening}\nThe river rose.", None, None)


def test_markdown_front_matter_is_metadata_not_text():
    data = b"---\ntitle: 'Storm hits'\nauthor: Jane Doe\ndate: 2025-03-03T08:15:00+01:00\ntags:\n  - weather\n---\n\nThe river rose.\n"
    assert read_document(data, "a.md") == Document(
        text="The river rose.", format="markdown", title="Storm hits", author="Jane Doe", date="2025-03-03"
    )
    # Rules around prose are not front matter.
    assert read_document(b"---\n\nThe river rose.\n\n---\n\nMore.\n", "a.md").text == "The river rose.\nMore."


def test_markdown_byline_lines_count_only_at_the_very_top():
    data = b"Intro paragraph.\n\n# Storm\n\nBy Jane Doe\n\nThe river rose.\n"
    doc = read_document(data, "a.md")
    assert (doc.title, doc.author, doc.text) == ("Storm", None, "Intro paragraph.\nBy Jane Doe\nThe river rose.")


def test_markdown_without_text_is_refused():
    assert _error(b"# Only a title\n\n![img](x.png)\n", "a.md") == (
        "article a.md has no text: give a file with at least one paragraph"
    )


# ---- plain text: exactly what article.py reads today ------------------------------------------------------------


def test_the_bundled_article_is_returned_unchanged():
    data = (ROOT / "index" / "article.txt").read_bytes()
    assert read_document(data, "article.txt") == Document(text=data.decode("utf-8"), format="text")


def test_bom_crlf_and_indentation_are_kept_as_article_py_keeps_them():
    data = "\ufeff  First paragraph.\r\n\r\n\tSecond one here.  \r\nThird.\r\n".encode()
    doc = read_document(data, "x.txt")
    assert doc.text == "  First paragraph.\r\n\r\n\tSecond one here.  \r\nThird.\r\n" == parse_article(data).text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"abc\x00def", "article a.txt looks binary (it contains NUL bytes): give a UTF-8 text file"),
        (b"\xc3\x28", "article a.txt is not valid UTF-8 (byte 0): save it as UTF-8 text and try again"),
        ("caf\xe9".encode("latin-1"), "article a.txt is not valid UTF-8 (byte 3): save it as UTF-8 text and try again"),
        (b"", "article a.txt has no text: give a file with at least one paragraph"),
        (b" \n\t\r\n \x0c", "article a.txt has no text: give a file with at least one paragraph"),
    ],
)
def test_bad_text_gives_article_py_messages(data, message):
    with pytest.raises(ArticleError) as today:
        parse_article(data, name="a.txt")
    assert _error(data, "a.txt") == message == str(today.value)


# ---- whatever fails inside, one ArticleError comes out; the readers' libraries load only when used ----------------


def test_an_unforeseen_failure_inside_a_reader_is_still_an_article_error(monkeypatch):
    import assistant.formats.markdown as reader

    def broken(tokens):
        raise RuntimeError("/secret/path exploded")

    monkeypatch.setattr(reader, "_blocks", broken)
    assert _error(b"# Title\n\nText.", "a.md") == (
        "article a.md cannot be read as MARKDOWN (RuntimeError): save it again and try again"
    )


def test_importing_the_package_loads_no_reader_library():
    code = (
        "import sys, assistant.formats; "
        "print([m for m in ('trafilatura', 'pdfplumber', 'pdfminer', 'docx', 'markdown_it') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
