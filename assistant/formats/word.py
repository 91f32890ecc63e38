"""Word documents (DOCX): python-docx's paragraphs and core properties, after a zip-bomb check."""

from __future__ import annotations

import datetime as dt
import zipfile
from io import BytesIO

from ..errors import ArticleError
from . import DAMAGED_ZIP, Document
from .text import field, is_title, iso_date, require, tidy

MAX_UNZIPPED = 50 * 2**20
"""A DOCX that expands to more than this is refused: an article's text is a few hundred KB, even with its images."""
MAX_RATIO = 100
"""A part compressed more than this (and larger than MAX_RATIO_FROM) is refused: real XML and images stay far below."""
MAX_RATIO_FROM = 2**20

_TITLE_STYLES = ("title", "heading 1")
# python-docx's own template carries these: a document made with it that never set them did not say them.
_TEMPLATE_CREATED = dt.datetime(2013, 12, 23, 23, 15, tzinfo=dt.UTC)


def read_docx(data: bytes, name: str) -> Document:
    """A DOCX's body paragraphs; a leading Title (or Heading 1) paragraph and the core properties are metadata."""
    _check_sizes(data, name)
    # Imported here: python-docx loads lxml and its element classes, which only DOCX uploads need.
    import docx

    try:
        document = docx.Document(BytesIO(data))
        paragraphs = [(" ".join(p.text.split()), _style(p)) for p in document.paragraphs]
        core = document.core_properties
        title, author, created = core.title, core.author, core.created
    except Exception:  # python-docx raises PackageNotFoundError, KeyError, lxml or zipfile errors on damaged parts
        raise ArticleError(
            f"article {name}: this DOCX cannot be read (damaged?): save it again from your word processor"
        ) from None
    paragraphs = [(text, style) for text, style in paragraphs if text]
    if paragraphs and paragraphs[0][1].lower() in _TITLE_STYLES:
        title = paragraphs.pop(0)[0]  # what the reader sees as the title beats a property Word may have left stale
    title = field(title)
    lines = tidy("\n".join(text for text, _ in paragraphs))
    if lines and is_title(lines[0], title):
        lines = lines[1:]
    return Document(
        text=require(lines, name),
        format="docx",
        title=title,
        author=field(author),
        date=iso_date(created) if created != _TEMPLATE_CREATED else None,
    )


def _style(paragraph) -> str:
    style = paragraph.style
    return (style.name or "") if style is not None else ""


# A zip bomb is refused from the ZIP's directory alone, before a byte is decompressed: zipfile stops reading a member
# at its declared size (and fails its CRC if more follows), so the declared sizes bound what python-docx can inflate.
def _check_sizes(data: bytes, name: str) -> None:
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            members = archive.infolist()
    except Exception:  # BadZipFile, or OSError / ValueError / EOFError on odd damage
        raise ArticleError(f"article {name}: {DAMAGED_ZIP}") from None
    total = sum(m.file_size for m in members)
    megabytes = f"{total / 2**20:,.0f} MB"
    if total > MAX_UNZIPPED:
        raise ArticleError(
            f"article {name}: this DOCX expands to {megabytes} (the limit is {MAX_UNZIPPED // 2**20} MB): "
            "remove large images or embedded files and try again"
        )
    for m in members:
        if m.file_size > MAX_RATIO_FROM and m.file_size > MAX_RATIO * max(m.compress_size, 1):
            raise ArticleError(
                f"article {name}: this DOCX expands to {megabytes}, one part {m.file_size // max(m.compress_size, 1):,}"
                " times its compressed size (a zip bomb?): save the article again from your word processor"
            )
