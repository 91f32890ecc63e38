"""Reading an article: its text and metadata (formats/), paragraphs with ¶ numbers and offsets, repeats collapsed,
metadata lines, sentences."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .errors import ArticleError

MAX_ARTICLE_BYTES = 10_000_000
"""Larger files are refused (before a byte is read). Indexing distinct text runs at about 7 KB/s with the default
model on a 2-CPU VM (5 MB: about 12 minutes; 10 MB: about 25), sentence splitting alone at about 0.4 MB/s;
repeated paragraphs are embedded once (a 5 MB article of repeats indexes in a second or two)."""

SPLITTING = {"paragraphs": "lines-or-blocks/1", "sentences": "syntok/1", "repeats": "nfkc-quotes-space/1",
             "formats": "documents/1"}
"""Recorded in the index manifest: changing how text is split invalidates every built index."""

_LINE = re.compile(r"[^\r\n]+")
_WRAP_WIDTH = 100
_METADATA = re.compile(
    r"(?P<label>source|sources|via|credit|reporting by|writing by|editing by|additional reporting by)"
    r"\s*[:\-\u2013\u2014]?\s+(?P<value>\S.{0,150})"
    r"|(?P<named>author|authors|published|date):\s+(?P<named_value>\S.{0,150})",
    re.IGNORECASE,
)
_FIELDS = {"source": "source", "sources": "source", "via": "source", "reporting by": "author", "writing by": "author",
           "additional reporting by": "author", "author": "author", "authors": "author", "published": "date",
           "date": "date", "credit": "credit", "editing by": "credit"}  # fmt: skip
"""What each metadata line's label says: the source, the author or the date of the article."""
_QUOTES = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'",
     "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
     "\u00ab": '"', "\u00bb": '"'}
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Paragraph:
    """One paragraph as it stands in the article: its 1-based ¶ number and character offsets."""

    number: int
    start: int
    end: int
    text: str


@dataclass(frozen=True, slots=True)
class Chunk:
    """A distinct paragraph text, indexed once however often the article repeats it."""

    text: str
    paragraphs: tuple[int, ...]
    start: int
    sentences: tuple[tuple[int, int], ...]
    metadata: bool = False

    @property
    def paragraph(self) -> int:
        return self.paragraphs[0]


@dataclass(frozen=True, slots=True)
class Article:
    """A parsed article. Offsets index into `text`: for a text file its content without its BOM; for HTML, PDF, DOCX
    and Markdown the text a reader sees (formats.Document.text), then lines for the metadata it does not show
    ("Author: Jane Doe", "Published: 2024-03-01", "Source: Example News"). sha256 is that of the file's bytes."""

    name: str
    text: str
    sha256: str
    paragraphs: tuple[Paragraph, ...]
    chunks: tuple[Chunk, ...]
    title: str | None = None
    source: str | None = None
    author: str | None = None
    date: str | None = None
    url: str | None = None
    format: str = "text"

    @property
    def id(self) -> str:
        """The article's id in a library: the start of its content's sha256 (content_id)."""
        return self.sha256[:ID_DIGITS]


ID_DIGITS = 16
"""An article's id: the first 16 hex digits of the sha256 of its bytes."""


def content_id(data: bytes) -> str:
    """The id an article read from these bytes will have, known before reading it (to skip one already stored)."""
    return hashlib.sha256(data).hexdigest()[:ID_DIGITS]


def read_article(path: str | Path) -> Article:
    """Read and parse an article file (news HTML, PDF, DOCX, Markdown or UTF-8 text); ArticleError says what to fix."""
    path = Path(path)
    if not path.exists():
        raise ArticleError(f"article {path} does not exist: give the path of a news page, PDF, DOCX or text file")
    if path.is_dir():
        raise ArticleError(f"article {path} is a folder: give the path of a file inside it")
    try:
        size = path.stat().st_size
        if size > MAX_ARTICLE_BYTES:
            raise ArticleError(
                f"article {path} is {size:,} bytes; the limit is {MAX_ARTICLE_BYTES:,}: split it into smaller articles"
            )
        data = path.read_bytes()
    except OSError as e:
        raise ArticleError(f"article {path} cannot be read ({e.strerror}): check its permissions") from None
    return parse_article(data, name=path.name)


def parse_article(data: bytes | str, *, name: str = "article") -> Article:
    """Parse article content: bytes in any supported format (detected from the content, formats.read_document), or
    a str of plain text."""
    from .formats import Document, read_document

    if isinstance(data, bytes):
        sha = hashlib.sha256(data).hexdigest()
        document = read_document(data, name)
    else:
        text = data.removeprefix("\ufeff")
        sha = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        if "\x00" in text:
            raise ArticleError(f"article {name} contains NUL characters: give plain text")
        document = Document(text=text, format="text")
    paragraphs = split_paragraphs(document.text)
    if not paragraphs:
        raise ArticleError(f"article {name} has no text: give a file with at least one paragraph")
    shown = {f: v for p in _trailing_metadata(paragraphs) for f, v in [metadata_field(p.text)] if f}
    text = document.text
    lines = [f"{label}: {value}" for field, label, value in
             (("author", "Author", document.author), ("date", "Published", document.date),
              ("source", "Source", document.source)) if value and field not in shown]  # fmt: skip
    if lines:  # metadata the text does not show becomes lines of its own at the end, as "Source: Reuters" is
        text = text.rstrip() + "\n" + "\n".join(" ".join(line.split()) for line in lines) + "\n"
        paragraphs = split_paragraphs(text)
    metadata = _trailing_metadata(paragraphs)
    fields = {f: v for p in metadata for f, v in [metadata_field(p.text)] if f} | {
        f: v for f in ("author", "date", "source") if (v := getattr(document, f))
    }
    title = document.title
    if title is None and paragraphs[0].text.startswith("# "):
        title = paragraphs[0].text.lstrip("#").strip()
    return Article(
        name=name,
        text=text,
        sha256=sha,
        paragraphs=tuple(paragraphs),
        chunks=collapse_repeats(paragraphs, metadata={p.number for p in metadata}),
        title=title,
        source=fields.get("source"),
        author=fields.get("author"),
        date=fields.get("date"),
        url=document.url,
        format=document.format,
    )


def metadata_field(text: str) -> tuple[str | None, str | None]:
    """("source", "Reuters") for "Source: Reuters", ("author", ...) for "Writing by ...", ("date", ...) for
    "Published: ..."; (None, None) for a line that is not metadata."""
    m = _METADATA.fullmatch(text)
    if m is None:
        return None, None
    label = (m.group("label") or m.group("named")).lower()
    return _FIELDS[" ".join(label.split())], (m.group("value") or m.group("named_value")).strip()


def split_paragraphs(text: str) -> list[Paragraph]:
    """Split text into paragraphs: one per non-empty line, or one per blank-line block when hard-wrapped.

    News text puts each paragraph on its own line (as the default article does). Hard-wrapped
    prose (every line at most 100 characters, blocks of several lines) keeps one paragraph per
    blank-line-separated block, as Markdown renders it.
    """
    lines = [(m.start() + _lead(m.group()), m.end() - _trail(m.group())) for m in _LINE.finditer(text)]
    lines = [(a, b) for a, b in lines if a < b]
    if not lines:
        return []
    spans = _blocks(text, lines) if _hard_wrapped(text, lines) else lines
    return [Paragraph(i, a, b, text[a:b]) for i, (a, b) in enumerate(spans, start=1)]


def collapse_repeats(paragraphs: list[Paragraph], metadata: set[int] = frozenset()) -> tuple[Chunk, ...]:
    """One chunk per distinct paragraph text; whitespace, width and quote styles do not count."""
    firsts: dict[str, Paragraph] = {}
    places: dict[str, list[int]] = {}
    for p in paragraphs:
        key = repeat_key(p.text)
        firsts.setdefault(key, p)
        places.setdefault(key, []).append(p.number)
    return tuple(
        Chunk(
            text=p.text,
            paragraphs=tuple(places[key]),
            start=p.start,
            sentences=split_sentences(p.text),
            metadata=p.number in metadata,
        )
        for key, p in firsts.items()
    )


def repeat_key(text: str) -> str:
    """The text two paragraphs must share to count as the same paragraph."""
    return " ".join(unicodedata.normalize("NFKC", text).translate(_QUOTES).split())


def split_sentences(text: str) -> tuple[tuple[int, int], ...]:
    """Sentence spans (start, end) inside text; abbreviations such as "U.S." do not end a sentence."""
    # syntok is pure Python and keeps exact token offsets; imported here since only indexing needs it.
    import syntok.segmenter

    spans: list[tuple[int, int]] = []
    for block in syntok.segmenter.analyze(text):
        for sentence in block:
            first, last = sentence[0], sentence[-1]
            start, end = first.offset, last.offset + len(last.value)
            if start < end:
                spans.append((start, min(end, len(text))))
    return _cover(text, spans)


def _cover(text: str, spans: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    """Make sentence spans tile the text's words: text the segmenter dropped joins its neighbour."""
    if not spans:
        return ((0, len(text)),) if text.strip() else ()
    spans.sort()
    out = [(spans[0][0] if text[: spans[0][0]].strip() == "" else 0, spans[0][1])]
    for a, b in spans[1:]:
        pa, pb = out[-1]
        if a < pb or text[pb:a].strip():
            out[-1] = (pa, max(pb, b))
        else:
            out.append((a, b))
    if text[out[-1][1] :].strip():
        out[-1] = (out[-1][0], len(text.rstrip()))
    return tuple(out)


def _lead(s: str) -> int:
    return len(s) - len(s.lstrip())


def _trail(s: str) -> int:
    return len(s) - len(s.rstrip())


def _hard_wrapped(text: str, lines: list[tuple[int, int]]) -> bool:
    """Blank-line blocks whose inner lines are filled to a common width of 40 to 100 characters."""
    width = max(b - a for a, b in lines)
    blocks = _line_blocks(text, lines)
    inner = [b - a for block in blocks for a, b in block[:-1]]
    if not 40 <= width <= _WRAP_WIDTH or len(blocks) < 2 or not inner:
        return False
    return sum(n >= 0.6 * width for n in inner) >= 0.8 * len(inner)


def _line_blocks(text: str, lines: list[tuple[int, int]]) -> list[list[tuple[int, int]]]:
    blocks: list[list[tuple[int, int]]] = [[lines[0]]]
    for prev, line in zip(lines, lines[1:], strict=False):
        gap = text[prev[1] : line[0]]
        if gap.count("\n") + gap.replace("\r\n", "\n").count("\r") >= 2:
            blocks.append([])
        blocks[-1].append(line)
    return blocks


def _blocks(text: str, lines: list[tuple[int, int]]) -> list[tuple[int, int]]:
    return [(block[0][0], block[-1][1]) for block in _line_blocks(text, lines)]


def _trailing_metadata(paragraphs: list[Paragraph]) -> list[Paragraph]:
    """Attribution lines at the end ("Source: Reuters"), never the whole article."""
    found: list[Paragraph] = []
    for p in reversed(paragraphs[1:]):
        if not _METADATA.fullmatch(p.text):
            break
        found.append(p)
    return found[::-1]
