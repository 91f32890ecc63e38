"""The Answer every surface renders: quoted passages, the answering sentence, and the chat reply text."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Highlight:
    """The sentence of a passage that best answers the question; offsets index into the passage text."""

    start: int
    end: int
    text: str

    def to_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "text": self.text}


@dataclass(frozen=True, slots=True)
class Passage:
    """A verbatim paragraph of the article, where it appears, and how well it answers (0 to 1)."""

    paragraph: int
    paragraphs: tuple[int, ...]
    text: str
    score: float
    highlight: Highlight

    def to_dict(self) -> dict:
        return {
            "paragraph": self.paragraph,
            "paragraphs": list(self.paragraphs),
            "text": self.text,
            "score": self.score,
            "highlight": self.highlight.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class Answer:
    """The reply to one question. When `abstained`, passages hold at most the closest one, not an answer."""

    question: str
    text: str
    passages: tuple[Passage, ...]
    abstained: bool

    def to_dict(self) -> dict:
        """The JSON shape shared by the CLI, the HTTP API and the Gradio endpoint."""
        return {
            "question": self.question,
            "answer": self.text,
            "abstained": self.abstained,
            "passages": [p.to_dict() for p in self.passages],
        }


NOT_COVERED = "The article does not answer this question."


def compose(question: str, passages: list[Passage], abstained: bool) -> Answer:
    """Build the Answer and its plain-text reply: the answering sentence first, then the quotes."""
    if abstained:
        lines = [NOT_COVERED]
        if passages:
            lines += ["", "Closest passage (not an answer):", _quote(passages[0])]
        return Answer(question, "\n".join(lines), tuple(passages[:1]), True)
    best = passages[0]
    lines = [f"{best.highlight.text} ({place(best)})", "", "Quoted from the article:"]
    lines += [_quote(p) for p in passages]
    return Answer(question, "\n".join(lines), tuple(passages), False)


def place(passage: Passage) -> str:
    """"¶8" or "¶8, also ¶14"."""
    also = ", ".join(f"¶{n}" for n in passage.paragraphs[1:])
    return f"¶{passage.paragraph}" + (f", also {also}" if also else "")


def _quote(passage: Passage) -> str:
    return f'{place(passage)} (score {passage.score:.2f}): "{passage.text}"'
