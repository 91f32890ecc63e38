"""`assistant eval`: paragraph retrieval, answer sentences and abstention on a SQuAD-style JSONL file.

Each article is written to a text file (one paragraph per line) and indexed by Assistant.from_article,
exactly as `assistant index` would; questions go through Assistant.ask and its retriever.
"""

from __future__ import annotations

import json
import re
import string
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .answer import short_answer
from .api import Assistant
from .embed import E5, Embedder, load_e5, load_embedder
from .lexical import Lexical
from .question import MAX_K
from .scoring import best_sentence


@dataclass
class Tally:
    """Running figures for one method."""

    ranks: list[int] = field(default_factory=list)
    sentence_hits: list[bool] = field(default_factory=list)
    own_abstained: list[bool] = field(default_factory=list)
    exact: list[float] = field(default_factory=list)
    f1: list[float] = field(default_factory=list)
    gold_exact: list[float] = field(default_factory=list)
    gold_f1: list[float] = field(default_factory=list)
    other_answered: list[bool] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)

    def figures(self) -> dict:
        ranks = np.array(self.ranks)
        out = {
            "questions": len(ranks),
            "R@1": float(np.mean(ranks == 0)),
            "R@3": float(np.mean(ranks < 3)),
            f"MRR@{MAX_K}": float(np.mean(np.where(ranks < MAX_K, 1.0 / (ranks + 1), 0.0))),
            "ms_per_question": 1000 * float(np.mean(self.seconds)) if self.seconds else None,
        }
        if self.sentence_hits:
            out["sentence_accuracy"] = float(np.mean(self.sentence_hits))
            out["false_abstain"] = float(np.mean(self.own_abstained))
            out["false_answer"] = float(np.mean(self.other_answered))
        if self.exact:
            out["EM"], out["F1"] = 100 * float(np.mean(self.exact)), 100 * float(np.mean(self.f1))
            out["EM_gold"], out["F1_gold"] = 100 * float(np.mean(self.gold_exact)), 100 * float(np.mean(self.gold_f1))
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}


def normalize_answer(text: str) -> str:
    """SQuAD's official normalisation: lower case, no punctuation, no articles (a, an, the), single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCTUATION)
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


_PUNCTUATION = frozenset(string.punctuation)


def exact_match(prediction: str | None, answers: list[str]) -> float:
    """1.0 if the prediction equals one of the gold answers once normalized (SQuAD v1.1's evaluate script)."""
    return float(prediction is not None and any(normalize_answer(prediction) == normalize_answer(a) for a in answers))


def f1_score(prediction: str | None, answers: list[str]) -> float:
    """The best token F1 of the prediction against the gold answers, normalized (SQuAD v1.1's evaluate script)."""
    if prediction is None:
        return 0.0
    return max(_f1(normalize_answer(prediction).split(), normalize_answer(a).split()) for a in answers)


def _f1(predicted: list[str], gold: list[str]) -> float:
    common = sum((Counter(predicted) & Counter(gold)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(predicted), common / len(gold)
    return 2 * precision * recall / (precision + recall)


def load_squad(path: Path, limit: int | None = None) -> list[dict]:
    """Articles of a SQuAD-style JSONL file (title, paragraphs, questions with para and answers)."""
    with open(path, encoding="utf-8") as f:
        articles = [json.loads(line) for line in f if line.strip()]
    return articles[:limit] if limit else articles


def open_articles(articles: list[dict], folder: Path, embedder: Embedder, e5: E5 | None) -> list[Assistant]:
    """Write each article as text, one paragraph per line, and open it as a user would."""
    bots = []
    folder.mkdir(parents=True, exist_ok=True)
    for n, article in enumerate(articles):
        path = folder / f"{n:03d}.txt"
        path.write_text("\n".join(p.replace("\n", " ") for p in article["paragraphs"]) + "\n", encoding="utf-8")
        bot = Assistant.from_article(path, embedder=embedder, e5=e5)
        if len(bot.article.paragraphs) != len(article["paragraphs"]):
            raise ValueError(f"{article['title']}: paragraphs did not survive as one per line")
        bots.append(bot)
    return bots


def run(path: Path, *, limit: int | None = None, baselines: bool = False, as_json: bool = False,
        work: Path | None = None) -> dict:  # fmt: skip
    """Evaluate and print a table (or one JSON object); returns the figures. work keeps the indexes (a temporary
    folder otherwise), so that a second run on the same file skips indexing."""
    from tqdm import tqdm

    articles = load_squad(path, limit)
    embedder, e5 = load_embedder(), load_e5()
    methods = {"assistant": Tally()} | ({"dense (naive)": Tally(), "BM25": Tally()} if baselines else {})
    with tempfile.TemporaryDirectory() as tmp:
        bots = open_articles(articles, work or Path(tmp), embedder, e5)
        total = sum(len(a["questions"]) for a in articles)
        with tqdm(
            total=total, desc="questions", unit="q", file=sys.stderr, disable=as_json and not sys.stderr.isatty()
        ) as bar:
            for n, (article, bot) in enumerate(zip(articles, bots, strict=True)):
                other = bots[(n + 1) % len(bots)]
                number = {c.paragraph: i for i, c in enumerate(bot.index.chunks)}
                gold_of = {para: number[para + 1] for para in range(len(article["paragraphs"]))}
                naive = _Baselines(bot, embedder) if baselines else None
                for q in article["questions"]:
                    gold = gold_of[q["para"]]
                    _assistant(methods["assistant"], bot, other, q, gold)
                    if naive:
                        naive.tally(methods["dense (naive)"], methods["BM25"], q["q"], gold)
                    bar.update()
    figures = {
        "file": str(path),
        "articles": len(articles),
        "model": embedder.name,
        "date": time.strftime("%Y-%m-%d"),
        "methods": {name: t.figures() for name, t in methods.items()},
    }
    print(json.dumps(figures, indent=2) if as_json else table(figures))
    return figures


def _assistant(tally: Tally, bot: Assistant, other: Assistant, q: dict, gold: int) -> None:
    start = time.perf_counter()
    answer = bot.ask(q["q"], k=1)
    tally.seconds.append(time.perf_counter() - start)
    order = bot.retriever.rank(q["q"]).order
    tally.ranks.append(order.index(gold) if gold in order else len(order))
    tally.sentence_hits.append(any(a in answer.passages[0].highlight.text for a in q["answers"]))
    tally.own_abstained.append(answer.abstained)
    tally.other_answered.append(not other.ask(q["q"], k=1).abstained)
    # The short answer end to end (the assistant's own top passage, even when it abstained), and in the gold passage.
    ranking = bot.retriever.rank(q["q"])
    top = answer.passages[0].short
    if answer.abstained:
        top = short_answer(ranking, order[0], best_sentence(ranking, order[0]), bot.index.chunks[order[0]])
    tally.exact.append(exact_match(top and top.text, q["answers"]))
    tally.f1.append(f1_score(top and top.text, q["answers"]))
    given = short_answer(ranking, gold, best_sentence(ranking, gold), bot.index.chunks[gold])
    tally.gold_exact.append(exact_match(given and given.text, q["answers"]))
    tally.gold_f1.append(f1_score(given and given.text, q["answers"]))


class _Baselines:
    """Naive dense (one vector per paragraph, cosine) and BM25 alone, on the same passages."""

    def __init__(self, bot: Assistant, embedder):
        self.embedder = embedder
        self.vectors = embedder.encode([c.text for c in bot.index.chunks])
        self.lexical = Lexical.build([c.text for c in bot.index.chunks])

    def tally(self, dense: Tally, bm25: Tally, question: str, gold: int) -> None:
        start = time.perf_counter()
        scores = self.vectors @ self.embedder.encode([question])[0]
        dense.seconds.append(time.perf_counter() - start)
        dense.ranks.append(_rank(scores, gold))
        start = time.perf_counter()
        scores = self.lexical.scores(self.lexical.terms(question))
        bm25.seconds.append(time.perf_counter() - start)
        bm25.ranks.append(_rank(scores, gold))


def _rank(scores: np.ndarray, gold: int) -> int:
    """0-based rank of gold; ties count against it."""
    return int((scores > scores[gold]).sum() + (scores == scores[gold]).sum() - 1)


_ONE_PLACE = ("ms_per_question", "EM", "F1", "EM_gold", "F1_gold")
"""Shown with one decimal: milliseconds, and the SQuAD scores (percentages, as the SQuAD paper gives them)."""


def table(figures: dict) -> str:
    """The figures as a Markdown table."""
    cols = ["R@1", "R@3", f"MRR@{MAX_K}", "sentence_accuracy", "EM", "F1", "EM_gold", "F1_gold", "false_answer",
            "false_abstain", "ms_per_question"]  # fmt: skip
    head = ["method", *cols]
    lines = [
        f"{figures['file']}: {figures['articles']} articles, "
        f"{next(iter(figures['methods'].values()))['questions']} questions, "
        f"model {figures['model']}, {figures['date']}",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    for name, f in figures["methods"].items():
        cells = [
            ("-" if f.get(c) is None else f"{f[c]:.1f}" if c in _ONE_PLACE else f"{f[c]:.3f}") for c in cols
        ]
        lines.append("| " + " | ".join([name, *cells]) + " |")
    return "\n".join(lines)
