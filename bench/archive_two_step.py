"""Archive stage two, one step against two, in the same run on a built library:

    python bench/archive_two_step.py LIBRARY_FOLDER QUESTIONS.jsonl   # one {"question": ...} per line

One step (the baseline): every candidate article answers with its k quotes, each with its short answer, and the
answers merge. Two steps (archive.search.Archive.reply): every candidate gives its verdict and best passage (k=1),
and only those merged give their k quotes. Checks that both give the same answers, then times both, alternating.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from assistant import AskRequest, Assistant  # noqa: E402
from assistant.archive import Archive  # noqa: E402
from assistant.archive.search import merge  # noqa: E402
from assistant.library import Library  # noqa: E402

K, ROUNDS = 3, 3


def main() -> None:
    library = Library(Assistant.from_article(ROOT / "index" / "article.txt"), Path(sys.argv[1]))
    archive = Archive(library)
    lines = Path(sys.argv[2]).read_text(encoding="utf-8").splitlines()
    questions = [json.loads(line)["question"] for line in lines if line.strip()]

    def one_step(q: str):
        return merge(q, [library.get(i).judged(AskRequest.of(q, k=K, article=i)) for i in archive.candidates(q)], K)

    def two_steps(q: str):
        return archive.ask(q, k=K)

    same = sum(one_step(q).to_dict() == two_steps(q).to_dict() for q in questions)  # also loads every article
    times: dict[str, list[float]] = {"one step": [], "two steps": []}
    for _ in range(ROUNDS):
        for q in questions:
            for name, ask in (("one step", one_step), ("two steps", two_steps)):
                start = time.perf_counter()
                ask(q)
                times[name].append(time.perf_counter() - start)

    def ms(name: str, at: float) -> float:
        t = sorted(times[name])
        return 1000 * t[int(at * (len(t) - 1))]

    print(f"{len(questions)} questions x {ROUNDS}, {len(library.entries())} articles, k={K}; "
          f"same answers {same}/{len(questions)}")  # fmt: skip
    for name in times:
        print(f"{name}: p50 {ms(name, 0.5):.0f} ms, p95 {ms(name, 0.95):.0f} ms, "
              f"p50 ratio to one step {ms(name, 0.5) / ms('one step', 0.5):.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
