"""The held-out sets written blind (bench/data/README.md): news articles, paraphrases, the browser conversation.

    python bench/held_out.py [--verbose] [--json]

- news: 6 Markdown news articles (bench/data/news/), 10 answerable questions, 3 the article does not answer and
  1 about the article itself (its byline or date) each; answered right, from the wrong ¶, declined, or (for the
  unanswered ones) answered when it should decline; and off topic: each answerable question asked of the next
  article, where it must be declined;
- paraphrases: 30 questions on the bundled article in words it does not use; right ¶ first and answered, or not;
- conversation: the 9 questions of issue 19 asked in one chat, each with all the questions before it as history.

Reporting only: nothing here is fitted on.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT / "bench" / "data"


def _lines(name: str) -> list[dict]:
    return [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def _iso(text: str) -> str | None:
    from datetime import datetime

    try:
        return datetime.strptime(text, "%B %d, %Y").strftime("%Y-%m-%d")
    except ValueError:
        return None


def news(models, folder: Path, verbose: bool) -> Counter:
    from assistant import Assistant

    tally: Counter = Counter()
    bots = {}
    for row in _lines("news-questions.jsonl"):
        if row["article"] not in bots:
            bots[row["article"]] = Assistant.from_article(DATA / "news" / row["article"], folder / row["article"],
                                                          embedder=models[0], e5=models[1])  # fmt: skip
        bot = bots[row["article"]]
        answer = bot.ask(row["q"])
        top = answer.passages[0] if answer.passages else None
        if row["paragraph"] is None:
            outcome = "false answer" if not answer.abstained else "declined rightly"
        elif row["paragraph"] == "meta":
            said = {row["answer"], _iso(row["answer"])}  # a date line says "Published: 2025-03-03"
            outcome = "meta right" if not answer.abstained and any(s and s in top.text for s in said) else "meta wrong"
        elif answer.abstained:
            outcome = "false decline" + (" (right ¶ first)" if top and top.paragraph == row["paragraph"] else "")
        else:
            outcome = "right" if top.paragraph == row["paragraph"] else "wrong ¶"
        tally[outcome] += 1
        if verbose and outcome not in ("right", "declined rightly", "meta right"):
            print(f"  news {outcome}: {row['q']} (want ¶{row['paragraph']}, got ¶{top.paragraph if top else '-'}, "
                  f"score {top.score if top else 0})")  # fmt: skip
    names = sorted(bots)
    for row in _lines("news-questions.jsonl"):  # off topic: each answerable question asked of the next article
        if isinstance(row["paragraph"], int):
            other = bots[names[(names.index(row["article"]) + 1) % len(names)]]
            answered = not other.ask(row["q"]).abstained
            tally["off-topic answered" if answered else "off-topic declined"] += 1
            if verbose and answered:
                print(f"  news off-topic answered: {row['q']} (of {other.article.name})")
    return tally


def paraphrases(bot, verbose: bool) -> Counter:
    tally: Counter = Counter()
    for row in _lines("paraphrases.jsonl"):
        answer = bot.ask(row["q"])
        top = answer.passages[0]
        right = top.paragraph == row["paragraph"]
        outcome = ("false decline" if answer.abstained else "right" if right else "wrong ¶") + (
            " (right ¶ first)" if answer.abstained and right else ""
        )
        tally[outcome] += 1
        if verbose and outcome != "right":
            print(f"  paraphrase {outcome}: {row['q']} (want ¶{row['paragraph']}, got ¶{top.paragraph}, "
                  f"score {top.score})")  # fmt: skip
    return tally


def conversation(bot, verbose: bool) -> Counter:
    tally: Counter = Counter()
    earlier: list[str] = []
    for row in _lines("browser-conversation.jsonl"):
        answer = bot.ask(row["q"], history=earlier)
        got = None if answer.abstained else answer.passages[0].paragraph
        outcome = "right" if got == row["paragraph"] else "declined" if got is None else "wrong ¶"
        tally[outcome] += 1
        if verbose:
            print(f"  conversation {outcome}: {row['q']} (want ¶{row['paragraph']}, got {got})")
        earlier.append(row["q"])
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verbose", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from assistant import Assistant
    from assistant.embed import load_e5, load_embedder

    models = (load_embedder(), load_e5())
    folder = Path(tempfile.mkdtemp(prefix="held-out-"))
    bot = Assistant.from_article(ROOT / "index" / "article.txt", folder / "article.index", embedder=models[0],
                                 e5=models[1])  # fmt: skip
    figures = {"news": news(models, folder, args.verbose), "paraphrases": paraphrases(bot, args.verbose),
               "conversation": conversation(bot, args.verbose)}  # fmt: skip
    if args.json:
        print(json.dumps({k: dict(v) for k, v in figures.items()}, indent=2))
        return
    for name, tally in figures.items():
        total = sum(tally.values())
        print(f"{name} ({total}): " + ", ".join(f"{k} {v}" for k, v in sorted(tally.items())))


if __name__ == "__main__":
    main()
