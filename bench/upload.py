"""Upload to first answer: a news-sized article added to the library, against plain model.encode of its paragraphs.

    python bench/upload.py [--paragraphs 30] [--rounds 3]

Each round writes a fresh article of N SQuAD test paragraphs (different ones each round, so nothing is cached),
adds it to a library as the page and POST /api/articles do, and times: the add (parse, MiniLM + BM25 index,
saved), the first answer right after it, and the moment e5 has caught up (full quality). The baseline, measured in
the same run on the same paragraphs, is SentenceTransformer.encode(paragraphs) with torch.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SQUAD_TEST = ROOT.parent / "shared" / "data" / "squad-v1.1-dev" / "test.jsonl"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--paragraphs", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from assistant import Assistant
    from assistant.embed import load_e5, load_embedder, resolve_model
    from assistant.export import load_sentence_transformer
    from assistant.library import Library

    articles = [json.loads(line) for line in SQUAD_TEST.read_text().splitlines() if line.strip()]
    embedder, e5 = load_embedder(), load_e5()
    model = load_sentence_transformer(*resolve_model(None))
    folder = Path(tempfile.mkdtemp(prefix="bench-upload-"))
    default = Assistant.from_article(ROOT / "index" / "article.txt", folder / "article.index", embedder=embedder, e5=e5)
    library = Library(default, folder / "library")
    rows = {"encode": [], "add": [], "first": [], "full": []}
    for n in range(args.rounds):
        article = articles[n % len(articles)]
        paragraphs = [p.replace("\n", " ") for p in article["paragraphs"][: args.paragraphs]]
        question = next(q["q"] for q in article["questions"] if q["para"] < args.paragraphs)
        data = ("\n".join(paragraphs) + "\n").encode()
        start = time.perf_counter()
        model.encode(paragraphs)
        rows["encode"].append(time.perf_counter() - start)
        start = time.perf_counter()
        entry, _ = library.add(data, f"round{n}.txt")
        rows["add"].append(time.perf_counter() - start)
        library.get(entry.id).ask(question)
        rows["first"].append(time.perf_counter() - start)
        library.wait(entry.id)
        rows["full"].append(time.perf_counter() - start)

    base = statistics.median(rows["encode"])
    print(f"\n### Upload to first answer: {args.paragraphs} paragraphs, {args.rounds} rounds (median seconds)\n")
    print("| step | seconds | ratio to plain model.encode |\n|---|---|---|")
    print(f"| plain SentenceTransformer.encode(paragraphs) (baseline) | {base:.2f} | 1.00 |")
    for key, label in (("add", "added: parsed, MiniLM + BM25 index saved"), ("first", "first answer"),
                       ("full", "full quality (e5 vectors done)")):  # fmt: skip
        value = statistics.median(rows[key])
        print(f"| {label} | {value:.2f} | {value / base:.2f} |")


if __name__ == "__main__":
    main()
