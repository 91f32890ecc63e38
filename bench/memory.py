"""Resident memory over many questions in a row: the Python API in this process, and the HTTP server.

    python bench/memory.py [--questions 5000] [--surface python|http|both] [--every 500]

Every question is distinct (the engine's query cache holds the last 256, so it fills and then turns over), every
third one carries the previous question as history, and k cycles through 1..10. RSS is read from /proc (VmRSS;
VmHWM is the peak) after loading and then every --every questions. Linux only.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from http_latency import questions as base_questions  # noqa: E402
from http_latency import start  # noqa: E402

OPENERS = [
    "", "Please tell me: ", "Quick question: ", "According to the article, ", "In this story, ", "I wonder: ",
    "Can you say ", "From the report, ", "One more thing: ", "So, ", "Briefly, ", "Based on the text, ",
    "Out of curiosity, ", "Help me understand: ", "Remind me: ", "Tell me again: ", "I read that piece. ",
    "Let me ask: ", "Honestly, ", "Then: ", "And ", "OK, ",
]  # fmt: skip


def questions(n: int) -> list[str]:
    """n distinct questions about the default article (a pool of ~260 with different openers)."""
    pool = base_questions(10_000)
    made = [opener + (q[0].lower() + q[1:] if opener else q) for opener in OPENERS for q in pool]
    if len(made) < n:
        raise SystemExit(f"only {len(made)} distinct questions available")
    return made[:n]


def requests(n: int) -> Iterator[tuple[str, list[str], int]]:
    """(question, history, k) for n questions in a row."""
    previous = ""
    for i, q in enumerate(questions(n)):
        yield q, ([previous] if i % 3 == 2 else []), 1 + i % 10
        previous = q


def rss_mb(pid: int | str = "self") -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process, in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


def measure(name: str, n: int, every: int, ask: Callable[[str, list[str], int], None], pid: int | str) -> list:
    rows = [(0, *rss_mb(pid), 0.0)]
    t = time.perf_counter()
    for i, (q, history, k) in enumerate(requests(n), start=1):
        ask(q, history, k)
        if i % every == 0 or i == n:
            gc.collect()
            rows.append((i, *rss_mb(pid), time.perf_counter() - t))
    print(f"\n{name}\n\n| questions asked | RSS MB | peak RSS MB | elapsed s |\n|---|---|---|---|")
    for i, rss, hwm, elapsed in rows:
        print(f"| {i:,} | {rss:.1f} | {hwm:.1f} | {elapsed:.0f} |")
    first = next((r for r in rows if r[0] >= every), rows[-1])
    print(f"\nfirst RSS {rows[0][1]:.1f} MB (loaded), {first[1]:.1f} MB after {first[0]:,} questions; "
          f"last {rows[-1][1]:.1f} MB after {rows[-1][0]:,}: {rows[-1][1] - first[1]:+.1f} MB since "
          f"question {first[0]:,}")  # fmt: skip
    return rows


def python_api(n: int, every: int, folder: Path) -> None:
    from assistant import Assistant

    bot = Assistant.from_article(ROOT / "index" / "article.txt", folder / "article.index")
    bot.ask("what exercises did Japan join")
    measure("Python API: bot.ask() in this process", n, every, lambda q, h, k: bot.ask(q, h, k), "self")


def http_server(n: int, every: int, folder: Path) -> None:
    process, url = start(folder / "article.index", folder / "server.log")
    try:
        with httpx.Client(base_url=url, timeout=60) as client:
            client.post("/api/ask", json={"question": "what exercises did Japan join"}).raise_for_status()

            def ask(q: str, history: list[str], k: int) -> None:
                client.post("/api/ask", json={"question": q, "history": history, "k": k}).raise_for_status()

            measure(f"HTTP: POST /api/ask, RSS of the server process (python ui.py, pid {process.pid})",
                    n, every, ask, process.pid)  # fmt: skip
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=5000)
    parser.add_argument("--surface", choices=["python", "http", "both"], default="both")
    parser.add_argument("--every", type=int, default=500, help="read RSS every N questions")
    args = parser.parse_args()
    print(f"{args.questions:,} distinct questions in a row, default article, {platform.machine()}, "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}")  # fmt: skip
    folder = Path(tempfile.mkdtemp(prefix="memory-"))
    if args.surface in ("python", "both"):
        python_api(args.questions, args.every, folder)
    if args.surface in ("http", "both"):
        http_server(args.questions, args.every, folder)


if __name__ == "__main__":
    main()
