"""Follow-up questions on SQuAD conversations: answered from the right paragraph, or abstained where they should be.

    python bench/follow_ups.py --work /tmp/followups-test      # the test conversations; indexes kept for a rerun
    python bench/follow_ups.py --conversations bench/data/followups-dev.jsonl --squad DEV.jsonl   # on dev

Each conversation (a question, then a follow-up that leans on it or that the article does not answer) is asked
through the public API, `ask(follow_up, history=[question])`, of its own article and, for answerable ones, of
another article (where it should abstain); whole and as the 8-paragraph cut that holds its paragraphs, as
bench/tune.py fits them. Tune on dev; this reports, on the test conversations by default.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from tune import conversation_cases, cuts  # noqa: E402

from assistant.embed import load_e5, load_embedder  # noqa: E402
from assistant.evaluate import load_squad, open_articles  # noqa: E402

TEST = ROOT.parent / "shared" / "data" / "squad-v1.1-dev" / "test.jsonl"
CONVERSATIONS = ROOT / "bench" / "data" / "followups-test.jsonl"


def run(conversations: list[dict], squad: Path, folder: Path, verbose: bool = False) -> dict:
    """Figures per size ("small": 8-paragraph cuts, "full": whole articles)."""
    embedder, e5 = load_embedder(), load_e5()
    articles = load_squad(squad)
    pieces, source = cuts(articles)
    bots = open_articles(articles, folder / "full", embedder, e5)
    cut_bots = open_articles(pieces, folder / "small", embedder, e5)
    tally = {size: {"answerable": 0, "right": 0, "false_abstain": 0, "wrong_passage": 0, "unanswerable": 0,
                    "false_answer": 0} for size in ("small", "full")}  # fmt: skip
    for case in conversation_cases(conversations, (articles, bots), (pieces, cut_bots, source)):
        if case["kind"] == "self-contained":
            continue
        answer = case["bot"].ask(case["q"], history=[case["first"]], k=1)
        t = tally[case["size"]]
        if case["gold"] is None:
            t["unanswerable"] += 1
            t["false_answer"] += not answer.abstained
            wrong = not answer.abstained
        else:
            gold = case["bot"].index.chunks[case["gold"]].paragraph
            t["answerable"] += 1
            t["false_abstain"] += answer.abstained
            t["wrong_passage"] += not answer.abstained and answer.passages[0].paragraph != gold
            t["right"] += not answer.abstained and answer.passages[0].paragraph == gold
            wrong = answer.abstained or answer.passages[0].paragraph != gold
        if verbose and wrong:
            said = "abstained" if answer.abstained else f"answered from ¶{answer.passages[0].paragraph}"
            print(f"  {case['size']:5} {said}: {case['first']} -> {case['q']}", file=sys.stderr)
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--conversations", type=Path, default=CONVERSATIONS)
    parser.add_argument("--squad", type=Path, default=TEST, help="the SQuAD-style file the conversations are about")
    parser.add_argument("--work", type=Path, help="keep the indexes here, so that a second run skips indexing")
    parser.add_argument("--verbose", action="store_true", help="list every wrong case on stderr")
    args = parser.parse_args()
    conversations = [json.loads(line) for line in args.conversations.read_text().splitlines() if line.strip()]
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        tally = run(conversations, args.squad, args.work or Path(tmp), args.verbose)
    print(
        f"{args.conversations.name} on {args.squad.name}, {time.strftime('%Y-%m-%d')}, {time.time() - started:.0f} s\n"
    )
    print("| articles | answerable | right ¶ first | false abstain | wrong ¶ | not answerable | false answer |")
    print("|---|---|---|---|---|---|---|")
    for size, t in tally.items():
        n, m = t["answerable"], t["unanswerable"]
        name = "8-paragraph cuts" if size == "small" else "whole"
        cells = [t["right"] / n, t["false_abstain"] / n, t["wrong_passage"] / n]
        print(f"| {name} | {n} | " + " | ".join(f"{c:.3f}" for c in cells) + f" | {m} | {t['false_answer'] / m:.3f} |")
    print(json.dumps(tally))


if __name__ == "__main__":
    main()
