"""PDFs with a text layer: pdfplumber's positioned lines rebuilt into paragraphs, without running heads and feet."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from io import BytesIO

from ..errors import ArticleError
from . import Document
from .text import field, is_title, iso_date, require, tidy

MARGIN = 0.12
"""Lines this far (a share of the page height) from the top or bottom edge may be running headers or footers."""

_PAGE_NUMBER = re.compile(
    r"(?:page|p\.)?\s*[-\u2013\u2014(\[]?\s*(?:\d{1,3}|(?-i:[ivxlc]{1,6}))\s*[-\u2013\u2014)\]]?"
    r"(?:\s*(?:of|/)\s*\d{1,4})?",
    re.IGNORECASE,
)
_HYPHENS = "-\u2010\u00ad"
_BULLETS = tuple("\u2022\u25e6\u25aa\u2023\u25cf\u2219")  # a list item starts a paragraph
_ENDS = tuple('.!?:;"\u201d\u2019)\u2026')  # a line ending so may end its paragraph at a page break


@dataclass(frozen=True, slots=True)
class _Line:
    text: str
    x0: float
    top: float
    bottom: float
    size: float  # median character size: a heading or a footnote differs from the body


def read_pdf(data: bytes, name: str) -> Document:
    """A PDF's text layer as paragraphs, with the info dictionary's title, author and creation date."""
    # Imported here: pdfplumber and pdfminer take a while to import and only PDF uploads need them.
    import pdfplumber
    from pdfminer.pdfdocument import PDFEncryptionError

    try:
        with pdfplumber.open(BytesIO(data)) as pdf:
            info = pdf.metadata if isinstance(pdf.metadata, dict) else {}
            pages = []
            for page in pdf.pages:
                pages.append((float(page.height), _page_lines(page)))
                page.close()  # frees the page's parsed objects: a long PDF is read one page at a time
    except Exception as e:  # pdfplumber wraps pdfminer's errors (PSEOF, PDFSyntaxError...) in PdfminerException
        cause = e.args[0] if e.args and isinstance(e.args[0], BaseException) else e
        if isinstance(cause, PDFEncryptionError):
            raise ArticleError(
                f"article {name}: this PDF is encrypted: save a copy without a password and try again"
            ) from None
        raise ArticleError(
            f"article {name}: this PDF cannot be read (damaged?): save or export it again and try again"
        ) from None
    if not any(lines for _, lines in pages):
        raise ArticleError(
            f"article {name}: this PDF has no text layer (a scan?): OCR it first, for example with ocrmypdf"
        )
    title = field(info.get("Title"))
    lines = tidy("\n".join(_paragraphs(_without_margins(pages))))
    if lines and is_title(lines[0], title):
        lines = lines[1:]  # the title is metadata, shown in a header
    return Document(
        text=require(lines, name),
        format="pdf",
        title=title,
        author=field(info.get("Author")),
        date=iso_date(info.get("CreationDate")),
    )


def _page_lines(page) -> list[_Line]:
    lines = []
    # Word gaps relative to the font size: the fixed default (3 pt) runs together the words of tightly set text.
    for line in page.extract_text_lines(strip=True, return_chars=True, x_tolerance_ratio=0.15):
        sizes = sorted(float(c.get("size", 0)) for c in line["chars"])
        if line["text"].strip() and sizes:
            lines.append(_Line(line["text"].strip(), line["x0"], line["top"], line["bottom"], sizes[len(sizes) // 2]))
    return sorted(lines, key=lambda line: (line.top, line.x0))


# Each page's lines less its running headers and footers and its page number.
def _without_margins(pages: list[tuple[float, list[_Line]]]) -> list[list[_Line]]:
    def edges(height: float, lines: list[_Line]) -> list[_Line]:
        return [
            line
            for i, line in enumerate(lines)
            if i in (0, len(lines) - 1) or line.top < MARGIN * height or line.bottom > (1 - MARGIN) * height
        ]

    keys = Counter(key for height, lines in pages for key in {_key(line) for line in edges(height, lines)})
    with_text = sum(bool(lines) for _, lines in pages)
    running = {key for key, n in keys.items() if n >= 2 and 2 * n >= with_text}
    out = []
    for height, lines in pages:
        drop = {id(line) for line in edges(height, lines) if _key(line) in running or _PAGE_NUMBER.fullmatch(line.text)}
        out.append([line for line in lines if id(line) not in drop])
    return out


# A running header's identity: its words, whatever its page number or date digits.
def _key(line: _Line) -> str:
    return " ".join(re.sub(r"\d+", "#", line.text).casefold().split())


# Lines joined into paragraphs: a break at a wider gap, an indent or a change of size; pages joined up.
def _paragraphs(pages: list[list[_Line]]) -> list[str]:
    ratios = sorted(
        (b.top - a.top) / b.size
        for lines in pages
        for a, b in zip(lines, lines[1:], strict=False)
        if _same_size(a, b) and 0 < b.top - a.top < 3 * b.size
    )
    pitch = ratios[len(ratios) // 4] if ratios else None  # the lower quartile: ordinary line spacing, not the gaps
    paragraphs: list[str] = []
    prev: _Line | None = None
    for lines in pages:
        left = _left_edge(lines)
        for i, line in enumerate(lines):
            if prev is None or _starts_paragraph(prev, line, left, pitch, same_page=i > 0):
                paragraphs.append(line.text)
            else:
                paragraphs[-1] = _join(paragraphs[-1], line.text)
            prev = line
    return paragraphs


def _starts_paragraph(prev: _Line, line: _Line, left: float, pitch: float | None, *, same_page: bool) -> bool:
    if not _same_size(prev, line) or line.text.startswith(_BULLETS):
        return True  # a heading, a caption, a footnote or a list item
    indented = line.x0 > left + 0.6 * line.size
    if not same_page:
        # A paragraph goes on over the page break unless the new page starts indented or the last line ended one.
        return indented or (prev.text.endswith(_ENDS) and not line.text[:1].islower())
    if line.top <= prev.top or (pitch is not None and (line.top - prev.top) / line.size > 1.25 * pitch):
        return True
    # Indented further than the line before: a first line, unless it is the hanging indent of a list item.
    return indented and line.x0 > prev.x0 + 0.6 * line.size and not prev.text.startswith(_BULLETS)


def _same_size(a: _Line, b: _Line) -> bool:
    return abs(a.size - b.size) <= max(1.0, 0.1 * a.size)


# Where most lines of the page start (the text block's left margin).
def _left_edge(lines: list[_Line]) -> float:
    if not lines:
        return 0.0
    counts = Counter(round(line.x0) for line in lines)
    return float(max(counts, key=lambda x: (counts[x], -x)))


# Two lines of a paragraph as one: end-of-line hyphenation ("exer-" + "cises") undone.
def _join(text: str, line: str) -> str:
    if len(text) > 1 and text[-1] in _HYPHENS and text[-2].isalpha():
        if line[:1].islower():
            return text[:-1] + line
        return (text[:-1] if text[-1] == "\u00ad" else text) + line  # "Franco-" + "German" keeps its hyphen
    if len(text) > 1 and text[-1] in "\u2013\u2014" and not text[-2].isspace():
        return text + line  # an unspaced dash ("rain\u2014" + "the"): no space appears
    return text + " " + line
