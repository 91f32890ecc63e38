"""A chat's conversation as a file to download: Markdown to read, JSON with every answer as the API gives it."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import tempfile
import threading
import time
from pathlib import Path

from ..answer import place as _place
from ..schema import WEAK_SCORE, Answer, Passage
from .render import CLOSEST, sanitize, split_highlight

INTRO = ("Asked on the Article assistant's chat page. Answers quote the article word for word; ¶ numbers count its "
         "paragraphs, and a score is the chance that the passage answers the question.")
KEEP_FILES_SECONDS = 600
"""Gradio copies a returned file into its own cache at once; our copy only has to outlive that."""

# CommonMark gives these a meaning anywhere in a line (emphasis, code, links, images, raw HTML, entities, tables,
# strikethrough, math in the renderers that have it); a backslash makes each one literal.
_INLINE = re.compile(r"([\\`*_\[\]<>#!|~$&])")
# ...and these only at the start of a line: list items, ordered lists ("1." "1)"), setext underlines, headings.
_LINE_START = re.compile(r"^([-+=]|\d{1,9}(?=[.)]))")
# GFM links bare addresses without any markup (https://..., www...., name@host): an escaped ':', '.' or '@' stops it.
_AUTOLINK = re.compile(r"(?i)(?:(?<=\bhttp)|(?<=\bhttps)|(?<=\bftp)):(?=//)|(?<=\bwww)\.|@")
_BOLD = ("\ue000", "\ue001")
"""Where the answering sentence's bold starts and ends, placed before escaping (private-use characters)."""


def md_text(text: str) -> str:
    """Untrusted text as literal Markdown text: sanitized, every character with a Markdown meaning escaped, and one
    line per line of the text (leading spaces dropped: they would make a code block)."""
    return _escape(_unmarked(text))


def _escape(text: str) -> str:
    lines = []
    for line in sanitize(text).replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = _AUTOLINK.sub(lambda m: "\\" + m.group(0), _INLINE.sub(r"\\\1", line.strip()))
        lines.append(_LINE_START.sub(lambda m: _escape_start(m.group(0)), line))
    return "\n".join(lines).replace(_BOLD[0], "**").replace(_BOLD[1], "**")


def _escape_start(start: str) -> str:
    # "1." is made literal by escaping the dot after the number: "1\." (see the lookahead in _LINE_START).
    return "\\" + start if not start[0].isdigit() else start + "\\"


def md_line(text: str) -> str:
    """Untrusted text as literal Markdown on a single line (a title, a question): line breaks become spaces."""
    return md_text(" ".join(text.split()))


def md_code(text: str) -> str:
    """Untrusted text as an inline code span (an address, a file name): shown exactly, never a link."""
    text = " ".join(text.split())
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def blockquote(passage: Passage, *, mark: bool = True) -> str:
    """A passage verbatim as a Markdown blockquote; with mark, its answering sentence in bold."""
    before, sentence, after = split_highlight(passage)
    before, sentence, after = (_unmarked(t) for t in (before, sentence, after))
    core = sentence.strip()
    text = before + sentence + after
    # Bold only where CommonMark reads ** as emphasis: at word edges.
    if mark and core and (not before or before[-1].isspace()) and (not after or after[0].isspace()):
        lead, trail = sentence[: len(sentence) - len(sentence.lstrip())], sentence[len(sentence.rstrip()) :]
        text = f"{before}{lead}{_BOLD[0]}{core}{_BOLD[1]}{trail}{after}"
    body = _escape(text)
    return "\n".join("> " + line if line else ">" for line in body.split("\n"))


def _unmarked(text: str) -> str:
    return text.replace(_BOLD[0], "").replace(_BOLD[1], "")


def _where(passage: Passage, *, bold: bool = False) -> str:
    return f"{'**' if bold else ''}{_place(passage)}{'**' if bold else ''} · score {passage.score:.2f}"


def answer_markdown(answer: Answer) -> str:
    """One answer: the answering sentence and its ¶, then each quoted passage; an abstention says so plainly."""
    if answer.abstained:
        parts = [answer.refusal]
        if answer.passages:
            closest = answer.passages[0]
            parts += [f"{CLOSEST}: {_where(closest)}", blockquote(closest, mark=False)]
        return "\n\n".join(parts)
    if not answer.passages:
        return md_text(answer.text)
    best = answer.passages[0]
    sentence = split_highlight(best)[1] or best.text
    parts = [f"**Answer:** {md_line(sentence)} ({_place(best)})"]
    for p in answer.cited:
        parts += [f"{_where(p, bold=True)}:", blockquote(p)]
    if weak := answer.weaker:
        named = ", ".join(f"{_place(p)} (score {p.score:.2f})" for p in weak)
        parts.append(f"Weaker {'match' if len(weak) == 1 else 'matches'} (score below {WEAK_SCORE:.2f}), not quoted: "
                     f"{named}")  # fmt: skip
    return "\n\n".join(parts)


def chat_markdown(article: dict, turns: list[dict]) -> str:
    """The conversation as Markdown: the article's title, byline, date and source, then each question and its answer.

    article: an ArticleInfo as a dict (Answer.article); turns: [{"question": ..., "answer": Answer.to_dict()}].
    """
    title = article.get("title") or article.get("name") or "The article"
    about = [f"By {article['author']}" if article.get("author") else "", article.get("date") or "",
             f"Source: {article['source']}" if article.get("source") else ""]  # fmt: skip
    lines = [f"# {md_line(title)}", ""]
    if any(about):
        lines += [md_line(" · ".join(a for a in about if a)), ""]
    where = [md_code(article["name"])] if article.get("title") and article.get("name") else []
    if article.get("paragraphs") is not None:
        where.append(f"{article['paragraphs']} paragraphs")
    if article.get("url"):
        where.append(md_code(article["url"]))
    if where:
        lines += [" · ".join(where), ""]
    lines += [INTRO, ""]
    if not turns:
        lines += ["No questions yet.", ""]
    for n, turn in enumerate(turns, start=1):
        answer = Answer.model_validate(turn["answer"])
        lines += [f"## {n}. {md_line(turn.get('question') or answer.question)}", "", answer_markdown(answer), ""]
    return "\n".join(lines)


def chat_json(article: dict, turns: list[dict]) -> str:
    """The conversation as JSON: {"article": ArticleInfo, "turns": [{"question", "answer": Answer.to_dict()}]}."""
    data = {"article": article, "turns": [{"question": t["question"], "answer": t["answer"]} for t in turns]}
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def file_stem(article: dict) -> str:
    """The downloaded file's name without extension: "chat-" and the article's title (or file name) in ASCII."""
    words = re.findall(r"[a-z0-9]+", (article.get("title") or article.get("name") or "").lower())
    stem = "-".join(words)[:60].rstrip("-")
    return f"chat-{stem}" if stem else "chat"


class Exports:
    """A folder of export files for Gradio to serve: each file under the hash of its content, removed when old."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="assistant-chat-")  # removed at exit
        self._lock = threading.Lock()  # Gradio runs handlers in threads: no prune while another writes

    @property
    def folder(self) -> Path:
        return Path(self._folder.name)

    def write(self, name: str, text: str) -> str:
        """Write text to a file called name; return its path."""
        data = text.encode("utf-8")
        with self._lock:
            self._prune()
            home = self.folder / hashlib.sha256(data).hexdigest()[:16]
            home.mkdir(exist_ok=True)
            path = home / name
            if path.exists():
                os.utime(home)  # in use again: not pruned before Gradio has copied it
            else:
                path.write_bytes(data)
        return str(path)

    def _prune(self) -> None:
        old = time.time() - KEEP_FILES_SECONDS
        for home in self.folder.iterdir():
            with contextlib.suppress(OSError):
                if home.stat().st_mtime < old:
                    shutil.rmtree(home, ignore_errors=True)


__all__ = ["Exports", "answer_markdown", "blockquote", "chat_json", "chat_markdown", "file_stem", "md_code", "md_text"]
