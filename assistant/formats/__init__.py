"""Reading an uploaded article's bytes (HTML, PDF, DOCX, Markdown or text) into plain text and metadata."""

from __future__ import annotations

import logging
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from io import BytesIO

from ..errors import ArticleError

FORMATS = ("html", "pdf", "docx", "markdown", "text")
DAMAGED_ZIP = "this DOCX is damaged (not a valid ZIP): save it again from your word processor and try again"

_LOG = logging.getLogger("assistant")
_ACCEPTED = "text, Markdown, HTML, PDF or DOCX"
_BOM = b"\xef\xbb\xbf"
# A PDF reader accepts the header anywhere in the first 1024 bytes; at a line start it is no word of a text article.
_PDF = re.compile(rb"(?:\A|[\r\n])%PDF-")
_ZIP = (b"PK\x03\x04", b"PK\x05\x06")  # a ZIP with members, or an empty one
_BINARY = {
    b"\x89PNG\r\n\x1a\n": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF87a": "a GIF image",
    b"GIF89a": "a GIF image",
    b"\x1f\x8b": "a gzip archive",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1": "an old-style Office file, such as a .doc",
}
# Document-level tags only: a text article that opens with "<b>" or quotes a tag later stays text.
_HTML_START = re.compile(rb"<(?:!doctype\s+html|html|head|body|meta|title|link|base|style|script)[\s/>]", re.I)
_HTML_PREAMBLE = re.compile(rb"\s*(?:<\?xml[^>]*>|<!--.*?-->)", re.S)
_MARKDOWN_START = re.compile(rb"\s*#[ \t]")
_MARKDOWN_NAMES = (".md", ".markdown", ".mdown", ".mkd")
_TEXT_NAMES = (".txt", ".text")


@dataclass(frozen=True, slots=True)
class Document:
    """An article read from an uploaded file: its text (one paragraph per line) and what it says about itself."""

    text: str
    format: str
    title: str | None = None
    author: str | None = None
    date: str | None = None
    source: str | None = None
    url: str | None = None


def read_document(data: bytes, name: str = "article") -> Document:
    """Read an article's bytes, whatever its format (told by its content); raise ArticleError saying what to fix."""
    name = display_name(name)
    if isinstance(data, bytearray | memoryview):
        data = bytes(data)
    fmt = detect_format(data, name)
    try:
        # Each reader is imported on use: their libraries are slow to import and the query path never needs them.
        if fmt == "html":
            from .html_page import read_html as reader
        elif fmt == "pdf":
            from .pdf import read_pdf as reader
        elif fmt == "docx":
            from .word import read_docx as reader
        elif fmt == "markdown":
            from .markdown import read_markdown as reader
        else:
            from .text import read_text as reader
        return reader(data, name)
    except ArticleError:
        raise
    except Exception as e:  # a library failed in a way its reader did not foresee: still one clear line
        _LOG.debug("reading %s as %s failed", name, fmt, exc_info=True)
        raise ArticleError(
            f"article {name} cannot be read as {fmt.upper()} ({type(e).__name__}): save it again and try again"
        ) from None


def detect_format(data: bytes, name: str) -> str:
    """The article's format from its content ("html", "pdf", "docx", "markdown", "text"); ArticleError if none."""
    name = display_name(name)
    head = data[:1024]
    if _PDF.search(head):
        return "pdf"
    if head.startswith(_ZIP):
        return _zip_format(data, name)
    for magic, kind in _BINARY.items():
        if head.startswith(magic):
            raise ArticleError(f"article {name} looks binary ({kind}): give an article as {_ACCEPTED}")
    if b"\x00" in data:
        # The message text/article.py has always given: existing callers match it.
        raise ArticleError(f"article {name} looks binary (it contains NUL bytes): give a UTF-8 text file")
    start = data.removeprefix(_BOM)
    if start.lstrip()[:6] == b"{\\rtf1":
        raise ArticleError(f"article {name} is an RTF document: save it as DOCX, PDF or plain text and try again")
    if _looks_html(start):
        return "html"
    # A name that says Markdown is Markdown; one that says text (.txt) stays text even when it opens with "# ", so its
    # text, offsets and checksum are what they always were; with no such name (pasted text), a heading tells.
    lower = name.lower()
    if lower.endswith(_MARKDOWN_NAMES) or (not lower.endswith(_TEXT_NAMES) and _MARKDOWN_START.match(start)):
        return "markdown"
    return "text"


def display_name(name: str) -> str:
    """The file name as messages show it: no folders (no absolute paths), no control characters, not too long."""
    base = re.split(r"[\\/]", str(name))[-1]
    base = "".join("?" if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in base).strip()
    return (base[:97] + "...") if len(base) > 100 else (base or "article")


def _looks_html(data: bytes) -> bool:
    head = data[:4096]
    pos = 0
    while m := _HTML_PREAMBLE.match(head, pos):  # an XML declaration or comments may come before the first tag
        pos = m.end()
    return bool(_HTML_START.match(head[pos:].lstrip()))


def _zip_format(data: bytes, name: str) -> str:
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            names = set(archive.namelist())
    except Exception:  # zipfile raises BadZipFile, but also OSError, ValueError or EOFError on odd damage
        raise ArticleError(f"article {name}: {DAMAGED_ZIP}") from None
    if "word/document.xml" in names:
        return "docx"
    raise ArticleError(
        f"article {name} is a ZIP archive, not a DOCX: unzip it and give the article inside ({_ACCEPTED})"
    )
