"""Load on loopback: C concurrent clients x Q questions each against POST /api/ask, checked against serial answers.

    python bench/load.py [--clients 50] [--questions 20] [--url http://127.0.0.1:7860]

Without --url it starts `python ui.py` on a free loopback port (default article, index in a temporary folder).
Three phases, all over kept-alive connections:

1. warm-up: every distinct question once (the server's query cache then holds them all, as in both measured phases);
2. serial: one client asks all C x Q requests in turn, in the order the clients will ask them;
3. concurrent: C threads, each with its own connection, start together and ask their Q questions.

Every concurrent answer must equal the serial answer to the same question. A request counts as hung when it gets
no response within --timeout seconds. Overload may only show as 429/503 with a Retry-After header. Prints p50/p95/
max latency of both phases, the counts of each outcome, and exits 1 if any request hung, got another 5xx, or got
an answer different from the serial one.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from http_latency import questions, start  # noqa: E402  (the same question pool and server start-up)


@dataclass
class Result:
    client: int
    question: str
    status: int | None  # None: no response (timeout or connection error)
    ms: float
    answer: dict | None
    retry_after: str | None
    error: str = ""


def ask(client: httpx.Client, n: int, question: str) -> Result:
    t = time.perf_counter()
    try:
        r = client.post("/api/ask", json={"question": question})
    except httpx.HTTPError as e:
        return Result(n, question, None, 1000 * (time.perf_counter() - t), None, None, type(e).__name__)
    ms = 1000 * (time.perf_counter() - t)
    body = r.json() if r.headers.get("content-type", "").startswith("application/json") else None
    return Result(n, question, r.status_code, ms, body if r.status_code == 200 else None, r.headers.get("retry-after"))


def pct(ms: list[float], q: float) -> float:
    ordered = sorted(ms)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def plan(clients: int, per_client: int, pool: list[str]) -> list[list[str]]:
    """Each client's questions: a window of the pool, shifted per client, so that all clients overlap."""
    return [[pool[(c * 7 + j) % len(pool)] for j in range(per_client)] for c in range(clients)]


def run(url: str, clients: int, per_client: int, timeout: float) -> int:
    pool = questions(min(200, clients * per_client))
    work = plan(clients, per_client, pool)
    with httpx.Client(base_url=url, timeout=timeout) as c:
        for q in pool:  # warm-up
            c.post("/api/ask", json={"question": q}).raise_for_status()
        t0 = time.perf_counter()
        serial = [ask(c, n, q) for n, qs in enumerate(work) for q in qs]
        serial_wall = time.perf_counter() - t0
    expected: dict[str, dict] = {}
    serial_bad = 0
    for r in serial:
        if r.status != 200:
            serial_bad += 1
        elif expected.setdefault(r.question, r.answer) != r.answer:
            serial_bad += 1  # the same question answered differently in turn: not even serial is stable

    start_line = threading.Barrier(clients)

    def one_client(n: int) -> list[Result]:
        with httpx.Client(base_url=url, timeout=timeout) as c:
            c.get("/api/health").raise_for_status()  # connect before the start line
            start_line.wait()
            return [ask(c, n, q) for q in work[n]]

    t0 = time.perf_counter()
    with ThreadPoolExecutor(clients) as threads:
        concurrent = [r for batch in threads.map(one_client, range(clients)) for r in batch]
    wall = time.perf_counter() - t0

    outcome: Counter[str] = Counter()
    for r in concurrent:
        if r.status is None:
            outcome["hung" if "Timeout" in r.error else f"connection error ({r.error})"] += 1
        elif r.status == 200:
            outcome["200, same as serial" if r.answer == expected.get(r.question) else "200, DIFFERENT answer"] += 1
        elif r.status in (429, 503):
            outcome[f"{r.status} with Retry-After" if r.retry_after else f"{r.status} WITHOUT Retry-After"] += 1
        else:
            outcome[str(r.status)] += 1
    ok = [r.ms for r in concurrent if r.status == 200]
    serial_ms = [r.ms for r in serial if r.status == 200]

    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\n{clients} clients x {per_client} questions = {len(concurrent)} requests "
          f"({len(pool)} distinct questions), default article, {platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {load}, Python {platform.python_version()}\n")  # fmt: skip
    print("| phase | requests | ok | p50 ms | p95 ms | max ms | wall s | requests/s |")
    print("|---|---|---|---|---|---|---|---|")
    for name, rs, ms, w in [("serial, 1 client", serial, serial_ms, serial_wall),
                            (f"concurrent, {clients} clients", concurrent, ok, wall)]:  # fmt: skip
        print(f"| {name} | {len(rs)} | {len(ms)} | {pct(ms, .5):.1f} | {pct(ms, .95):.1f} | {max(ms, default=0):.1f} "
              f"| {w:.1f} | {len(rs) / w:.1f} |")  # fmt: skip
    print(f"\nconcurrent p50 / serial p50 = {pct(ok, .5) / pct(serial_ms, .5):.1f}x "
          f"(the engine answers one question at a time, so a request waits for those queued before it)")  # fmt: skip
    print("\n| outcome (concurrent) | count |\n|---|---|")
    for name, count in sorted(outcome.items()):
        print(f"| {name} | {count} |")
    failed = serial_bad + sum(
        count for name, count in outcome.items() if not (name == "200, same as serial" or "with Retry-After" in name)
    )
    print(f"\n{'PASS' if not failed else 'FAIL'}: {failed} requests hung, failed or differed from serial "
          f"({serial_bad} in the serial phase)")  # fmt: skip
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--questions", type=int, default=20, help="questions per client")
    parser.add_argument("--url", help="a running server (default: start one on a free port)")
    parser.add_argument("--timeout", type=float, default=60.0, help="seconds without a response = a hang")
    args = parser.parse_args()
    if args.url:
        return run(args.url.rstrip("/"), args.clients, args.questions, args.timeout)
    folder = Path(tempfile.mkdtemp(prefix="load-"))
    process, url = start(folder / "article.index", folder / "server.log")
    try:
        return run(url, args.clients, args.questions, args.timeout)
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)


if __name__ == "__main__":
    sys.exit(main())
