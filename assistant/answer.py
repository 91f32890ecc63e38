"""The Answer every surface renders: quoted passages, the answering sentence, and the chat reply text."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np


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
WEAK_SCORE = 0.10
"""Quotes after the first scoring below this rarely answer anything: replies name them without quoting them."""


def compose(question: str, passages: list[Passage], abstained: bool) -> Answer:
    """Build the Answer and its plain-text reply: the answering sentence first, then the quotes."""
    if abstained:
        lines = [NOT_COVERED]
        if passages:
            lines += ["", "Closest passage (not an answer):", _quote(passages[0])]
        return Answer(question, "\n".join(lines), tuple(passages[:1]), True)
    best = passages[0]
    strong = [best] + [p for p in passages[1:] if p.score >= WEAK_SCORE]
    weak = [p for p in passages[1:] if p.score < WEAK_SCORE]
    lines = [f"{best.highlight.text} ({place(best)})", "", "Quoted from the article:"]
    lines += [_quote(p) for p in strong]
    if weak:
        lines += ["", "Weaker matches: " + "; ".join(f"{place(p)} (score {p.score:.2f})" for p in weak)]
    return Answer(question, "\n".join(lines), tuple(passages), False)


def place(passage: Passage, sep: str = ", ", shown: int = 5) -> str:
    """ "¶8", "¶8, also ¶14", or for a paragraph repeated many times "¶8, also ¶14, ¶20 and 97 more"."""
    others = passage.paragraphs[1:]
    also = ", ".join(f"¶{n}" for n in others[:shown])
    if len(others) > shown:
        also += f" and {len(others) - shown:,} more"
    return f"¶{passage.paragraph}" + (f"{sep}also {also}" if also else "")


def _quote(passage: Passage) -> str:
    return f'{place(passage)} (score {passage.score:.2f}): "{passage.text}"'


def decide(question: str, ranking, chunks, k: int, calibration: dict) -> Answer:
    """Quote the k best passages with their answering sentences, or abstain when the article does not answer.

    A question about the article itself ("Which agency is this from?") is answered from its metadata
    lines, unless the article's content answers it confidently.
    """
    answerable = answerability(ranking, calibration)
    meta = calibration["meta"]
    about_article = ranking.meta_similarity >= meta["threshold"] and answerable < meta["unless_content_above"]
    order = ranking.metadata + ranking.order if about_article else ranking.order
    abstained = not about_article and answerable < threshold(calibration["answerable"], len(ranking.order))
    share = softmax(ranking.fused, ranking.content)
    passages = []
    for i in order[:k]:
        chunk = chunks[i]
        start, end = chunk.sentences[best_sentence(ranking, i, calibration["sentence"])]
        score = ranking.meta_similarity if chunk.metadata else float(share[i] * answerable)
        passages.append(Passage(chunk.paragraph, chunk.paragraphs, chunk.text, round(score, 4),
                                Highlight(start, end, chunk.text[start:end])))  # fmt: skip
    return compose(question, passages, abstained)


def answerability(ranking, calibration: dict) -> float:
    """Probability that the article answers the question at all (see log_odds)."""
    return float(1.0 / (1.0 + np.exp(-log_odds(ranking, calibration))))


def log_odds(ranking, calibration: dict) -> float:
    """Log-odds that the article answers: how well its best passage matches (content_log_odds), and for a
    follow-up, what the conversation adds (follow_up_features)."""
    logit = content_log_odds(ranking, calibration)
    if ranking.previous is not None:
        model = calibration["follow_up"]
        x = follow_up_features(ranking, calibration)
        logit += model["bias"] + sum(w * x[f] for f, w in model["weights"].items())
    return logit


def content_log_odds(ranking, calibration: dict) -> float:
    """A logistic model on the best passage's signals, the share of the question's words the article knows, and
    how well the article matches on average (a question that matches every passage a little, matches none in
    particular). Fitted on self-contained questions (bench/tune.py)."""
    model = calibration["answerable"]
    top = ranking.order[0]
    x = {f: float(v[top]) for f, v in ranking.passage.items()}
    x["coverage"] = ranking.coverage
    for f in ("dense_sentence", "late"):
        x[f"{f}_mean"] = float(ranking.passage[f][ranking.content].mean())
    return model["bias"] + sum(w * x[f] for f, w in model["weights"].items())


FOLLOW_UP_FEATURES = ("kind_missing", "previous", "same_passage")


def follow_up_features(ranking, calibration: dict) -> dict[str, float]:
    """What a follow-up's conversation says about its answer, beyond the words it borrows from the question before:

    - kind_missing: it asks for a kind of answer (a time, a place, a number, a name) that the sentence it would
      quote does not hold ("How many ships did they send?" of a sentence without a number);
    - previous: the log-odds that the article answered the question before (a follow-up on a question the
      article does not answer is rarely answered either);
    - same_passage: its best passage is the one the question before was answered from, where conversations
      mostly stay.
    """
    top, previous = ranking.order[0], ranking.previous
    asked = ranking.asks.any()
    held = ranking.sentence_kinds[ranking.first_sentence[top] + best_sentence(ranking, top, calibration["sentence"])]
    return {
        "kind_missing": float(asked and not held @ ranking.asks > 0),
        "previous": log_odds(previous, calibration),
        "same_passage": float(top == previous.order[0]),
    }


def threshold(model: dict, passages: int) -> float:
    """The answerability below which to abstain, for an article of this many passages: fitted at two sizes
    (news-sized and whole SQuAD articles) and interpolated in log(passages), since the best of more passages
    matches better by chance."""
    (n0, t0), (n1, t1) = model["thresholds"]
    return float(np.interp(np.log(max(passages, 1)), [np.log(n0), np.log(n1)], [t0, t1]))


def best_sentence(ranking, passage: int, model: dict) -> int:
    """Index (within the passage) of the sentence that best answers: fused sentence signals plus answer kind."""
    first = int(ranking.first_sentence[passage])
    count = ranking.sentence_counts[passage]
    if count == 1:
        return 0
    rows = slice(first, first + count)
    score = np.zeros(count)
    for f, w in model["weights"].items():
        if f == "answer_type":
            score += w * (ranking.sentence_kinds[rows] @ ranking.asks > 0)
        else:
            score += w * _z(ranking.sentence[f][rows])
    return int(np.argmax(score))


def softmax(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Share of belief per passage among the masked ones (the others get 0)."""
    e = np.where(mask, np.exp(x - x[mask].max()), 0.0)
    return e / e.sum()


KINDS = ("number", "time", "name", "place")
"""Kinds of answer a question can ask for; a sentence holding the asked kind is preferred."""

_ASKS = {
    "number": r"\bhow (many|much|long|far|old|large|big|tall|high|often)\b|\bwhat (percentage|number|amount|share)\b",
    "time": r"\bwhen\b|\b(what|which) (year|date|day|month|century|decade|time)\b",
    "name": r"\bwho\b|\bwhom\b|\bwhose\b|\b(what|which) (company|team|organization|country|city|person)\b",
    "place": r"\bwhere\b|\b(what|which) (place|region|town|location)\b",
}
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_NUMBERS = (
    "two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundreds?|"
    "thousands?|millions?|billions?|dozens?"
)
_PREPOSITIONS = "in|at|near|off|across|into|from|to|around|throughout|outside|inside|within|between|along|towards?"
_HOLDS = {
    "number": rf"\d|\b(?i:{_NUMBERS})\b",
    "time": rf"\b1\d{{3}}s?\b|\b20\d\ds?\b|\b({_MONTHS})\b|\b\d+(st|nd|rd|th) century\b"
    r"|\b(?i:last|next|this|earlier this|later this|the following|the previous) "
    r"(?i:year|month|week|decade|century|spring|summer|autumn|winter)\b"
    r"|\b(?i:yesterday|today|tomorrow|recently|ago|in recent years)\b",
    "name": r"(?<=[a-z,;:] )[A-Z][a-z]+",
    "place": rf"\b(?i:{_PREPOSITIONS}) (the )?[A-Z][a-z.]",
}
"""What a sentence holding each kind looks like: a time is a year, a month, a century or a date relative to the
story ("last week"); a place follows a preposition and is capitalized ("in the South China Sea")."""
_ASKS_RE = [re.compile(_ASKS[k], re.IGNORECASE) for k in KINDS]
_HOLDS_RE = [re.compile(_HOLDS[k]) for k in KINDS]


def question_kinds(question: str) -> np.ndarray:
    """Which kinds of answer the question asks for (a 0/1 row over KINDS)."""
    return np.array([bool(p.search(question)) for p in _ASKS_RE], dtype=np.float32)


def sentence_kinds(sentences: list[str]) -> np.ndarray:
    """Which kinds of answer each sentence holds (one 0/1 row over KINDS per sentence)."""
    return np.array([[bool(p.search(s)) for p in _HOLDS_RE] for s in sentences], dtype=np.float32).reshape(
        -1, len(KINDS)
    )


def _z(x: np.ndarray) -> np.ndarray:
    spread = x.std()
    return (x - x.mean()) / (spread if spread > 1e-9 else 1.0)
