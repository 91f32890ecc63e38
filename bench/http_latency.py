"""Latency of POST /api/ask against the warm Python ask() it wraps, measured in the same run.

    python bench/http_latency.py [--questions 200]

Starts `python ui.py` on a free loopback port (default article, index in a temporary folder), loads the same
index in this process, warms both up, then asks each question once of each, alternating so that drift hits
both alike. Every question is new to the server, and the Python side clears its query cache before each ask,
so both embed every question. Prints p50/p95 and the HTTP overhead.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TOPICS = [
    "Japan", "the EU", "South Korea", "the fighter jet", "the naval exercises", "the Taiwan strait", "U.S. shipyards",
    "missile production", "defense spending", "the treaty", "Britain and Italy", "the Philippines", "Canada",
    "China's maritime presence", "North Korea", "Japan's constitution", "Washington", "Tokyo", "the Nikkei",
    "the ministerial agreement", "aircraft repair", "supply chain resilience", "the senior EU official",
]  # fmt: skip
FORMS = [
    "What does the article say about {}?", "Why is {} mentioned?", "What happened with {}?",
    "Who is involved with {}?", "When did {} come up?", "How is {} described?", "What is the role of {}?",
    "Tell me about {}", "what about {}", "Is {} important here?",
]  # fmt: skip


def questions(n: int) -> list[str]:
    """n distinct questions: the benchmark's own questions on the default article, then templated ones."""
    lines = (ROOT / "bench" / "data" / "default-article.jsonl").read_text().splitlines()
    own = [json.loads(line)["q"] for line in lines]
    made = [form.format(topic) for form in FORMS for topic in TOPICS]
    return list(dict.fromkeys(own + made))[:n]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(index_dir: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "ui.py", "--port", str(port), "--index", str(index_dir)],
        cwd=ROOT,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the server exited:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return process, url
        except httpx.TransportError:
            time.sleep(0.25)
    process.kill()
    sys.exit("the server did not start within 600 s")


def p(ms: list[float], q: float) -> float:
    ordered = sorted(ms)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=200)
    args = parser.parse_args()

    from assistant import Assistant

    asked = questions(args.questions + 20)
    warmup, measured = asked[:20], asked[20:]
    folder = Path(tempfile.mkdtemp(prefix="http-latency-"))
    process, url = start(folder / "article.index", folder / "server.log")
    try:
        bot = Assistant.load(folder / "article.index")
        python_ms, http_ms, floor_ms = [], [], []
        with httpx.Client(base_url=url, timeout=30) as client:  # one kept-alive connection, as a program would
            for q in warmup:
                bot.ask(q)
                client.post("/api/ask", json={"question": q}).raise_for_status()
                client.get("/api/health").raise_for_status()
            for q in measured:
                bot.retriever.query.cache_clear()
                t = time.perf_counter()
                expected = bot.ask(q).to_dict()
                python_ms.append(1000 * (time.perf_counter() - t))

                t = time.perf_counter()
                response = client.post("/api/ask", json={"question": q})
                http_ms.append(1000 * (time.perf_counter() - t))
                assert response.status_code == 200 and response.json() == json.loads(json.dumps(expected)), q

                t = time.perf_counter()
                client.get("/api/health").raise_for_status()
                floor_ms.append(1000 * (time.perf_counter() - t))
    finally:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=20)

    load = " ".join(f"{x:.1f}" for x in os.getloadavg())  # other processes on the CPUs show up in both columns
    print(f"\n{len(measured)} distinct questions, default article, {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPUs (load average {load}), Python {platform.python_version()}\n")  # fmt: skip
    print("| measure | p50 ms | p95 ms | mean ms |")
    print("|---|---|---|---|")
    for name, ms in [
        ("Python `bot.ask(q)` (warm, query cache cleared)", python_ms),
        ("HTTP `POST /api/ask` (same questions, kept-alive connection)", http_ms),
        ("HTTP `GET /api/health` (the HTTP round trip alone)", floor_ms),
    ]:
        print(f"| {name} | {p(ms, 0.5):.1f} | {p(ms, 0.95):.1f} | {statistics.fmean(ms):.1f} |")
    diff50, ratio50 = p(http_ms, 0.5) - p(python_ms, 0.5), p(http_ms, 0.5) / p(python_ms, 0.5)
    print(f"\nPOST /api/ask p50 is {diff50:+.1f} ms ({ratio50:.2f}x) over the Python ask() p50; "
          f"p95 {p(http_ms, 0.95) - p(python_ms, 0.95):+.1f} ms.")  # fmt: skip


if __name__ == "__main__":
    main()
