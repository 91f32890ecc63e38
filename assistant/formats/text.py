"""Plain text, decoded exactly as article.py always has; the tidying and metadata checks the other readers share."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata

from ..errors import ArticleError
from . import Document

# Control characters (Cc) other than tab, and the invisible soft hyphen and BOM, never reach a reader's text.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u00ad\ufeff]")
_SPACES = re.compile(r" {2,}")
_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?")
_PDF_DATE = re.compile(r"(?:D:)?(\d{4})(\d{2})(\d{2})")
# Values that programs write when nobody gave one: not a title or an author.
_PLACEHOLDER = re.compile(
    r"(?:untitled|unknown|none|null|n/?a|title|document\d*|doc\d*|microsoft word\b.*|administrator|admin|user|owner"
    r"|python-docx|.*\.(?:docx?|pdf|txt|rtf|odt|pages|indd|tex|dvi|ps|html?|qxd))",
    re.IGNORECASE,
)
_FOLD = str.maketrans({"&": " and ", "\u2019": "'", "\u2018": "'"})


def read_text(data: bytes, name: str) -> Document:
    """A plain-text article: the decoded text unchanged (BOM dropped), so offsets and checksums stay as they were."""
    text = decode(data, name)
    if not text.strip():
        raise ArticleError(f"article {name} has no text: give a file with at least one paragraph")
    return Document(text=text, format="text")


def decode(data: bytes, name: str) -> str:
    """UTF-8 with a BOM tolerated; NUL bytes or invalid UTF-8 are ArticleErrors with article.py's messages."""
    if b"\x00" in data:
        raise ArticleError(f"article {name} looks binary (it contains NUL bytes): give a UTF-8 text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ArticleError(
            f"article {name} is not valid UTF-8 (byte {e.start}): save it as UTF-8 text and try again"
        ) from None


def tidy(text: str) -> list[str]:
    """Non-empty lines, stripped, without control characters or runs of spaces: a reader's paragraphs."""
    lines = (_SPACES.sub(" ", _CONTROL.sub("", line)).strip() for line in text.splitlines())
    return [line for line in lines if line]


def require(lines: list[str], name: str) -> str:
    """The text of a reader's paragraphs, or the "has no text" ArticleError when there are none."""
    if not lines:
        raise ArticleError(f"article {name} has no text: give a file with at least one paragraph")
    return "\n".join(lines)


def field(value: object) -> str | None:
    """A title, author or site name worth showing: one line of text, not empty, not a program's placeholder."""
    if not isinstance(value, str):
        return None
    text = " ".join(_CONTROL.sub(" ", value).split())
    if not text or "\ufffd" in text or len(text) > 300 or _PLACEHOLDER.fullmatch(text):
        return None
    if sum(unicodedata.category(c)[0] in "LN" for c in text) < len(text) / 2:  # mostly symbols: mis-decoded bytes
        return None
    return text


def iso_date(value: object) -> str | None:
    """A date or datetime, an ISO string, or a PDF date ("D:20250303081500Z") as "YYYY-MM-DD"; None if not one."""
    if isinstance(value, dt.datetime | dt.date):
        day = value.date() if isinstance(value, dt.datetime) else value
        return day.isoformat() if day.year >= 1900 else None
    if not isinstance(value, str):
        return None
    text = value.strip()
    m = _ISO.fullmatch(text) or _PDF_DATE.match(text)
    if not m:
        return None
    try:
        day = dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None
    return day.isoformat() if day.year >= 1900 else None


def is_title(line: str, title: str | None) -> bool:
    """Whether a first line repeats the title (or begins it: titles often end with "| Site name")."""
    if not title:
        return False
    a, b = _folded(line), _folded(title)
    return bool(a) and (a == b or b.startswith(a + " "))


def _folded(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_FOLD).casefold()
    return " ".join("".join(c if c.isalnum() else " " for c in text).split())
