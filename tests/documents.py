"""Real article files made in the tests: a news page with boilerplate, a PDF, a DOCX, and broken ones."""

from __future__ import annotations

import io
import zipfile

NEWS_PAGE = """<!doctype html>
<html lang="en"><head>
<meta charset="utf-8">
<title>{title} | Harbour Herald</title>
<meta property="og:title" content="{title}">
<meta property="og:site_name" content="Harbour Herald">
<meta name="author" content="Ana Ruiz">
<meta property="article:published_time" content="2025-03-03T08:00:00Z">
<link rel="canonical" href="https://herald.example/news/harbour-reopens">
<script>window.tracker = "should never be read";</script>
</head><body>
<nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a> <a href="/weather">Weather</a></nav>
<div class="cookie-banner">We use cookies to improve your experience. Accept all cookies?</div>
<div class="ad">Subscribe now and save 50% on your first year of the Harbour Herald!</div>
<article>
<h1>{title}</h1>
<p class="byline">By Ana Ruiz</p>
<p>The harbour of Porto Lindo reopened on Monday after three weeks of repairs to its storm wall, the port
authority said.</p>
<p>The work cost 4.2 million euros and was paid for by the regional government, which called the wall
"the town's first line of defence".</p>
<p>Fishermen said the closure had cost them most of the winter catch, and asked for compensation.</p>
<p>The mayor, Rui Costa, said an audit of the contract would be published in June.</p>
<script>document.write("<p>Injected by a script</p>");</script>
</article>
<footer>© 2025 Harbour Herald. All rights reserved. <a href="/privacy">Privacy</a> <a href="/terms">Terms</a></footer>
</body></html>
"""

PDF_PARAGRAPHS = [
    "The city of Valdemar will open a new public library in the old customs house next spring, the council "
    "announced on Tuesday.",
    "The building, empty since 2009, will hold 80,000 books and a children's reading room on the ground floor.",
    "Councillor Marta Lind said the project would cost 6 million euros, two thirds of it from a national fund for "
    "historic buildings.",
    "Opening hours will be extended to ten in the evening on weekdays, because students asked for a quiet place "
    "to work.",
]


def news_page(title: str = "Harbour reopens after storm repairs") -> bytes:
    """A saved news page: nav, cookie banner, ad, byline, scripts and footer around four paragraphs."""
    return NEWS_PAGE.format(title=title).encode()


def pdf(paragraphs: list[str] = PDF_PARAGRAPHS, *, title: str = "New library for Valdemar", password: str = "",
        text: bool = True) -> bytes:  # fmt: skip
    """A PDF with a text layer made with fpdf2 (a running header, page numbers), or an encrypted or image-only one."""
    from fpdf import FPDF

    doc = FPDF()
    doc.set_title(title)
    doc.set_author("Per Holm")
    doc.set_font("helvetica", size=12)
    if password:
        doc.set_encryption(owner_password=password, user_password=password)
    doc.add_page()
    if text:
        for paragraph in paragraphs:
            doc.multi_cell(0, 7, paragraph)
            doc.ln(5)
    else:
        doc.rect(20, 20, 100, 60, style="F")  # a "scan": drawing, no text
    return bytes(doc.output())


def docx(paragraphs: list[str] = PDF_PARAGRAPHS, *, title: str = "New library for Valdemar") -> bytes:
    """A Word document made with python-docx: a Title paragraph, body paragraphs, core properties."""
    import docx as python_docx

    doc = python_docx.Document()
    doc.core_properties.title = title
    doc.core_properties.author = "Per Holm"
    doc.add_paragraph(title, style="Title")
    for paragraph in paragraphs:
        doc.add_paragraph(paragraph)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def zip_bomb_docx() -> bytes:
    """A real DOCX with one more member: 60 MB of zeros that deflate to a few dozen KB."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(docx())) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item.filename))
        dst.writestr("word/media/padding.bin", bytes(60_000_000))
    return out.getvalue()
