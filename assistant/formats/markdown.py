"""Markdown articles: markdown-it-py's tokens as plain text, the first heading and a leading byline as metadata."""

from __future__ import annotations

import datetime as dt
import re

from . import Document
from .text import decode, field, iso_date, require, tidy

_WRAP_WIDTH = 100
"""Lines at most this long, filled to a common width, are a paragraph hard-wrapped (as article.split_paragraphs)."""
_MONTHS = {
    name: number
    for number, names in enumerate(
        [("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
         ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"),
         ("november", "nov"), ("december", "dec")],
        start=1,
    )
    for name in names
}  # fmt: skip
_MONTH = r"(?P<month>" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DAY = r"(?P<day>\d{1,2})(?:st|nd|rd|th)?"
_WEEKDAY = r"(?:(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?\.?,?\s+)?"
_TIME = r"(?:,?\s+(?:at\s+)?\d{1,2}[:.]\d{2}(?:\s*[ap]\.?m\.?)?(?:\s+[a-z]{2,4})?)?"
_DATE = re.compile(
    rf"{_WEEKDAY}(?:(?P<iso>(?P<y>\d{{4}})-(?P<m>\d{{2}})-(?P<d>\d{{2}}))(?:[t ][\d:.]+(?:z|[+-]\d{{2}}:?\d{{2}})?)?"
    rf"|{_MONTH}\s+{_DAY},?\s+(?P<year>\d{{4}})|(?P<day2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<month2>[a-z]+)\.?,?\s+"
    rf"(?P<year2>\d{{4}})){_TIME}",
    re.IGNORECASE,
)
_DATE_LABEL = re.compile(r"(?P<label>published|posted|updated|last updated|date)(?:\s+on)?\s*:?\s+", re.IGNORECASE)
_SEPARATORS = re.compile(r"\s+[|\u00b7\u2022\u2014\u2013]\s+|\s*\|\s*")
_JOINERS = {"and", "&", "de", "del", "da", "di", "van", "von", "der", "den", "la", "le", "al", "bin", "ibn"}
_ORGANISATION = re.compile(
    r"\b(?:news|press|times|post|journal|herald|gazette|tribune|daily|agency|media|wire|reuters|associated|afp|bbc"
    r"|cnn|ap|radio|tv|magazine|review)\b",
    re.IGNORECASE,
)
_BYLINE_MAX = 120  # characters: a byline or dateline is short; a longer line is the article
_BYLINE_BLOCKS = 3
_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(?P<body>.{0,4000}?)\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)
_YAML_LINE = re.compile(r"[\w-]+[ \t]*:.*|[ \t]+\S.*|-[ \t].*|#.*")  # key: value, continuations, items, comments
_FRONT_KEYS = {"title": "title", "author": "author", "date": "date", "published": "date", "source": "source",
               "publisher": "source", "site": "source"}  # fmt: skip


def read_markdown(data: bytes, name: str) -> Document:
    """A Markdown article as plain text (no markup, link text only, no images); title and byline as metadata."""
    # Imported here: only Markdown uploads need the parser.
    from markdown_it import MarkdownIt

    meta, source = _front_matter(decode(data, name))
    blocks = _blocks(MarkdownIt("commonmark").enable("table").parse(source))
    title = None
    start = 0
    for i, (tag, lines) in enumerate(blocks):
        if tag == "h1":
            title = field(" ".join(lines))
            del blocks[i]
            start = i
            break
    for _ in range(_BYLINE_BLOCKS if start == 0 else 0):  # only the very top: a byline, a dateline, no more
        found = _byline(blocks[0][1]) if blocks and blocks[0][0] == "p" else None
        if found is None:
            break
        for key, value in found.items():
            meta.setdefault(key, value)
        del blocks[0]
    lines = tidy("\n".join(_paragraphs(lines) if tag == "p" else "\n".join(lines) for tag, lines in blocks))
    return Document(
        text=require(lines, name),
        format="markdown",
        title=title or meta.get("title"),  # the heading the reader sees, else the front matter's
        author=meta.get("author"),
        date=meta.get("date") or meta.get("updated"),
        source=meta.get("source"),
    )


def _paragraphs(lines: list[str]) -> str:
    """A Markdown paragraph's soft-broken lines: one paragraph when hard-wrapped (every line but the last filled to
    a common width), else one paragraph per line, as news text written a paragraph a line means them."""
    width = max(map(len, lines), default=0)
    if len(lines) <= 1 or (width <= _WRAP_WIDTH and all(len(line) >= 0.6 * width for line in lines[:-1])):
        return " ".join(lines)
    return "\n".join(lines)


# A static site's YAML front matter (title, author, date, source) and the text after it; else ({}, text).
def _front_matter(text: str) -> tuple[dict[str, str], str]:
    m = _FRONT_MATTER.match(text)
    if not m or not all(_YAML_LINE.fullmatch(line) for line in m["body"].splitlines() if line.strip()):
        return {}, text
    meta: dict[str, str] = {}
    for line in m["body"].splitlines():
        key, _, value = line.partition(":")
        if (kind := _FRONT_KEYS.get(key.strip().lower())) and not line[:1].isspace():
            value = value.strip().strip("\"'")
            if found := ((iso_date(value) or _date(value)) if kind == "date" else field(value)):
                meta.setdefault(kind, found)
    return meta, text[m.end() :]


# (tag, lines) per block: "h1", "h" (other headings), "p" (a paragraph's soft-broken lines), "code", "row".
def _blocks(tokens) -> list[tuple[str, list[str]]]:
    blocks: list[tuple[str, list[str]]] = []
    heading = row = None
    for token in tokens:
        if token.type == "heading_open":
            heading = token.tag
        elif token.type == "tr_open":
            row = []
        elif token.type == "tr_close" and row is not None:
            blocks.append(("row", ["\t".join(row)]))  # a table row as one line, its cells split by tabs
            row = None
        elif token.type == "inline":
            lines = _inline(token.children or [])
            if row is not None:
                row.append(" ".join(lines))
            elif heading is not None:
                blocks.append(("h1" if heading == "h1" else "h", [" ".join(lines)]))
            else:
                blocks.append(("p", lines))
        elif token.type == "heading_close":
            heading = None
        elif token.type in ("fence", "code_block"):
            blocks.append(("code", token.content.splitlines()))
        # html_block, hr and the *_open/_close of lists, quotes and paragraphs carry no text of their own
    return blocks


# An inline run's text by lines (soft and hard breaks), without emphasis, link targets, images or HTML tags.
def _inline(children) -> list[str]:
    lines = [""]
    for child in children:
        if child.type in ("text", "text_special", "code_inline"):
            lines[-1] += child.content
        elif child.type in ("softbreak", "hardbreak"):
            lines.append("")
    return [line.strip() for line in lines if line.strip()]


# What a leading paragraph says about the article (author, source, date), or None if it is article text.
def _byline(lines: list[str]) -> dict[str, str] | None:
    found: dict[str, str] = {}
    for line in lines:
        parts = [p.strip(" ,;") for p in _SEPARATORS.split(line) if p.strip(" ,;")]
        if len(line) > _BYLINE_MAX or not parts:
            return None
        for part in parts:
            facts = _byline_part(part, among_others=len(parts) > 1, has_author="author" in found)
            if facts is None:
                return None
            for key, value in facts:
                found.setdefault(key, value)
    return found or None


# The facts in one part of a byline ("By Jane Doe, Reuters", "Published 2025-03-03"), or None if it is none.
def _byline_part(part: str, *, among_others: bool, has_author: bool) -> list[tuple[str, str]] | None:
    if label := _DATE_LABEL.match(part):
        day = _date(part[label.end() :])
        return None if day is None else [("updated" if "updated" in label["label"].lower() else "date", day)]
    if (day := _date(part)) is not None:
        return [("date", day)]
    if part[:3].lower() == "by ":
        facts, rest = [], part[3:]
        if m := _DATE.search(rest):  # "By Jane Doe, March 3, 2025"
            if (day := _date(m.group())) is None:
                return None
            facts.append(("date", day))
            rest = (rest[: m.start()] + rest[m.end() :]).strip(" ,;")
        names = [n.strip() for n in rest.split(",") if n.strip()]
        if not 1 <= len(names) <= 2 or not all(_name_like(n) for n in names):
            return None
        return [*facts, ("author", names[0]), *([("source", names[1])] if len(names) == 2 else [])]
    label, _, value = part.partition(":")
    if label.strip().lower() == "source" and (source := field(value)):
        return [("source", source)]
    if among_others and _name_like(part):
        # "Jane Doe | Example News | 3 March 2025": a news organisation's name is the source, a person's the author
        return [("source" if _ORGANISATION.search(part) or has_author else "author", part)]
    return None


# "2025-03-03", "March 3, 2025", "Mon, 3 March 2025 08:15" and the like as an ISO date; None otherwise.
def _date(text: str) -> str | None:
    m = _DATE.fullmatch(text.strip())
    if not m:
        return None
    if m["iso"]:
        y, mo, d = int(m["y"]), int(m["m"]), int(m["d"])
    elif m["month"]:
        y, mo, d = int(m["year"]), _MONTHS[m["month"].lower()], int(m["day"])
    elif m["month2"].lower() in _MONTHS:
        y, mo, d = int(m["year2"]), _MONTHS[m["month2"].lower()], int(m["day2"])
    else:
        return None
    try:
        return dt.date(y, mo, d).isoformat()
    except ValueError:
        return None


# A person's or an organisation's name: up to six capitalised words, no sentence punctuation or digits.
def _name_like(text: str) -> bool:
    words = text.split()
    if not 1 <= len(words) <= 6 or len(text) > 60 or any(c.isdigit() or c in '!?;:"' for c in text):
        return False
    return words[0][:1].isupper() and all(w[:1].isupper() or w.lower() in _JOINERS for w in words)
