"""Speed benchmarks, each against a baseline measured in the same run (absolute times here are noisy).

    python bench/speed.py                 # every part
    python bench/speed.py warm cold page  # some parts: warm, cold, page, index, scale

warm   Python ask() on the default article vs. the bare model.encode([question]) it needs
cold   one-shot `assistant ask` in a new process (index built) vs. a new process importing sentence-transformers
page   `python ui.py` start to its first answer over HTTP, and to the chat page, vs. a process that only imports gradio
index  indexing SQuAD test paragraphs vs. plain SentenceTransformer.encode of the same paragraphs
scale  FAISS search at 1k..1M synthetic passages: exact vs. the automatic choice (IVF above store.APPROXIMATE_ABOVE)
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ARTICLE = ROOT / "index" / "article.txt"
QUESTIONS = [
    json.loads(line)["q"] for line in (ROOT / "bench" / "data" / "default-article.jsonl").read_text().splitlines()
]
FOLLOW_UPS = [
    (row["q"], row["history"])
    for name in ("default-article-followups.jsonl", "default-article-followups-held-out.jsonl")
    for row in map(json.loads, (ROOT / "bench" / "data" / name).read_text().splitlines())
]
SQUAD_TEST = ROOT.parent / "shared" / "data" / "squad-v1.1-dev" / "test.jsonl"


def stats(seconds: list[float]) -> tuple[float, float]:
    ms = sorted(1000 * s for s in seconds)
    return statistics.median(ms), ms[min(len(ms) - 1, int(0.95 * len(ms)))]


def row(name: str, seconds: list[float], baseline: list[float] | None = None, unit: str = "ms") -> str:
    p50, p95 = stats(seconds)
    if baseline is None:
        return f"| {name} | {p50:.1f} | {p95:.1f} | | |"
    b50, _ = stats(baseline)
    return f"| {name} | {p50:.1f} | {p95:.1f} | {b50:.1f} | {p50 / b50:.2f} |"


def header(title: str) -> None:
    print(f"\n### {title}\n\n| measure | p50 ms | p95 ms | baseline p50 ms | ratio |\n|---|---|---|---|---|")


def warm(rounds: int = 20) -> None:
    """ask() on the default article against the model.encode([question]) it cannot do without."""
    from assistant import Assistant
    from assistant.embed import load_embedder, resolve_model
    from assistant.export import load_sentence_transformer

    bot = Assistant.from_article(ARTICLE, index_dir=Path(tempfile.mkdtemp()) / "article.index")
    # Without e5, as for an article longer than store.E5_UP_TO passages.
    bot_minilm = Assistant.from_article(ARTICLE, Path(tempfile.mkdtemp()) / "article.index", embedder=load_embedder())
    model = load_sentence_transformer(*resolve_model(None))
    asks, asks_minilm, encodes, onnx, both = [], [], [], [], []
    for _ in range(rounds):
        for q in QUESTIONS:
            for b in (bot, bot_minilm):
                b.retriever.query.cache_clear()  # every ask embeds its question, as a new question would
            t = time.perf_counter()
            bot.ask(q)
            asks.append(time.perf_counter() - t)
            t = time.perf_counter()
            bot_minilm.ask(q)
            asks_minilm.append(time.perf_counter() - t)
            t = time.perf_counter()
            model.encode([q])
            encodes.append(time.perf_counter() - t)
            t = time.perf_counter()
            bot.embedder.encode([q])
            onnx.append(time.perf_counter() - t)
            bot.e5.query(q)
            both.append(time.perf_counter() - t)
    header(f"Warm answer: default article, {len(asks)} asks ({len(QUESTIONS)} questions x {rounds})")
    print(row("ask() vs. SentenceTransformer.encode([q]) (torch)", asks, encodes))
    print(row("ask() vs. the ONNX encode([q]) and e5 query it runs", asks, both))
    print(row("ask() vs. the ONNX encode([q]) alone", asks, onnx))
    print(row("ask() without e5 (long articles) vs. the ONNX encode([q]) it runs", asks_minilm, onnx))
    print(row("SentenceTransformer.encode([q]) (torch)", encodes))

    fresh, chat, alone = [], [], []
    for _ in range(rounds):
        for q, history in FOLLOW_UPS:
            bot.retriever.query.cache_clear()
            t = time.perf_counter()
            bot.ask(q, history=history)  # an API client sending its history: both questions are new here
            fresh.append(time.perf_counter() - t)
            bot.retriever.query.cache_clear()
            bot.ask(history[-1])
            t = time.perf_counter()
            bot.ask(q, history=history)  # the chat page: the question before was just asked
            chat.append(time.perf_counter() - t)
            bot.retriever.query.cache_clear()
            t = time.perf_counter()
            bot.ask(q)
            alone.append(time.perf_counter() - t)
    header(f"Follow-ups: default article, {len(fresh)} asks ({len(FOLLOW_UPS)} conversations x {rounds})")
    print(row("follow-up, question before not seen yet, vs. the same question without history", fresh, alone))
    print(row("follow-up in a chat (question before just asked) vs. the same without history", chat, alone))


def cold(runs: int = 5) -> None:
    """A new process answering one question, index already built."""
    folder = Path(tempfile.mkdtemp()) / "article.index"
    cmd = [sys.executable, "-m", "assistant", "ask", "what exercises did Japan join", "--article", str(ARTICLE)]
    env = os.environ | {"PYTHONDONTWRITEBYTECODE": "1"}
    subprocess.run([*cmd[:5], "--json"], check=True, capture_output=True, env=env)  # builds the default index
    del folder
    ours, torch_import = [], []
    baseline = [sys.executable, "-c", "from sentence_transformers import SentenceTransformer"]
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([*cmd, "--json"], check=True, capture_output=True, env=env)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        subprocess.run(baseline, check=True, capture_output=True, env=env)
        torch_import.append(time.perf_counter() - t)
    header(f"Cold answer: `assistant ask ... --json` in a new process, {runs} runs")
    print(row("assistant ask vs. `import sentence_transformers` alone", ours, torch_import))


def page(runs: int = 3) -> None:
    """`python ui.py` until its first answer over HTTP, and until the chat page is up; index already built."""
    answered, page_up, gradio_import = [], [], []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import gradio"], check=True, capture_output=True)
        gradio_import.append(time.perf_counter() - t)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, str(ROOT / "ui.py"), "--port", str(port)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            ask = urllib.request.Request(
                f"http://127.0.0.1:{port}/api/ask", data=b'{"question": "what exercises did Japan join"}',
                headers={"Content-Type": "application/json"},
            )  # fmt: skip
            _wait_for(ask)
            answered.append(time.perf_counter() - t)
            _wait_for(urllib.request.Request(f"http://127.0.0.1:{port}/api/health"))  # 200 once the page is up
            page_up.append(time.perf_counter() - t)
        finally:
            proc.terminate()
            proc.wait()
    header(f"Page ready: `python ui.py` start to first HTTP answer and to the chat page, {runs} runs")
    baseline = "vs. a process doing only `import gradio`"
    print(row(f"ui.py to first answer (POST /api/ask) {baseline}", answered, gradio_import))
    print(row(f"ui.py to chat page up (/api/health 200) {baseline}", page_up, gradio_import))


def _wait_for(request: urllib.request.Request) -> None:
    while True:
        try:
            urllib.request.urlopen(request, timeout=5).read()
            return
        except OSError:  # not listening yet, or 503 while starting
            time.sleep(0.05)


def index(paragraphs: int = 200) -> None:
    """Our indexing (sentence + token vectors) against plain model.encode of the same paragraphs."""
    from assistant.article import parse_article
    from assistant.embed import load_e5, load_embedder, resolve_model
    from assistant.export import load_sentence_transformer
    from assistant.store import E5_UP_TO, build

    texts = []
    for line in SQUAD_TEST.read_text().splitlines():
        texts += json.loads(line)["paragraphs"]
    texts = [t.replace("\n", " ") for t in texts[:paragraphs]]
    article = parse_article("\n".join(texts))
    model = load_sentence_transformer(*resolve_model(None))
    embedder = load_embedder()
    t = time.perf_counter()
    model.encode(texts)
    plain = time.perf_counter() - t
    t = time.perf_counter()
    built = build(article, embedder, load_e5())
    ours = time.perf_counter() - t
    t = time.perf_counter()
    build(article, embedder, load_e5(), previous=built)
    again = time.perf_counter() - t
    t = time.perf_counter()  # without e5, as for an article longer than store.E5_UP_TO passages
    build(article, embedder)
    minilm = time.perf_counter() - t
    print(f"\n### Indexing {paragraphs} SQuAD test paragraphs\n")
    print("| pipeline | seconds | paragraphs/s | ratio to plain encode |\n|---|---|---|---|")
    print(f"| plain SentenceTransformer.encode(paragraphs) | {plain:.1f} | {paragraphs / plain:.1f} | 1.00 |")
    print(
        f"| assistant build (ONNX sentences + tokens, e5 passages) | {ours:.1f} | {paragraphs / ours:.1f} | "
        f"{plain / ours:.2f} |"
    )
    print(
        f"| assistant build without e5 (articles over {E5_UP_TO} passages) | {minilm:.1f} | "
        f"{paragraphs / minilm:.1f} | {plain / minilm:.2f} |"
    )
    print(f"| assistant rebuild, unchanged article | {again:.2f} | {paragraphs / again:.0f} | {plain / again:.0f} |")


def scale(sizes=(1_000, 10_000, 100_000, 1_000_000), queries: int = 200, dim: int = 384) -> None:
    """Synthetic passages: exact search vs. the index type store picks automatically."""
    import faiss

    from assistant.store import APPROXIMATE_ABOVE, IVF_PROBES
    from assistant.store.builder import _faiss_index

    rng = np.random.default_rng(0)
    print(
        f"\n### Scale: synthetic {dim}-d vectors, {queries} queries (IVF, {IVF_PROBES} probes, above "
        f"{APPROXIMATE_ABOVE:,} passages)\n"
    )
    print("| passages | index | build s | query p50 ms | query p95 ms | exact p50 ms | recall@10 | memory MB |")
    print("|---|---|---|---|---|---|---|---|")
    for n in sizes:
        # Clustered vectors, like real embeddings (uniform random ones are a worst case for graphs).
        centers = rng.standard_normal((max(n // 100, 10), dim)).astype(np.float32)
        x = centers[rng.integers(0, len(centers), n)] + 0.5 * rng.standard_normal((n, dim)).astype(np.float32)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        q = x[rng.integers(0, n, queries)] + 0.1 * rng.standard_normal((queries, dim)).astype(np.float32)
        q /= np.linalg.norm(q, axis=1, keepdims=True)
        exact = faiss.IndexFlatIP(dim)
        exact.add(x)
        t = time.perf_counter()
        index = _faiss_index(x)
        built = time.perf_counter() - t
        ours, base, hits = [], [], 0
        for v in q:
            t = time.perf_counter()
            _, got = index.search(v[None], 10)
            ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            _, want = exact.search(v[None], 10)
            base.append(time.perf_counter() - t)
            hits += len(set(got[0]) & set(want[0]))
        path = Path(tempfile.mkdtemp()) / "x.faiss"
        faiss.write_index(index, str(path))
        mb = path.stat().st_size / 1e6
        shutil.rmtree(path.parent)
        p50, p95 = stats(ours)
        print(f"| {n:,} | {type(index).__name__} | {built:.1f} | {p50:.2f} | {p95:.2f} | {stats(base)[0]:.2f} | "
              f"{hits / (10 * queries):.3f} | {mb:.0f} |")  # fmt: skip


PARTS = {"warm": warm, "cold": cold, "page": page, "index": index, "scale": scale}

if __name__ == "__main__":
    chosen = sys.argv[1:] or list(PARTS)
    print(f"`python bench/speed.py {' '.join(sys.argv[1:])}`, {time.strftime('%Y-%m-%d %H:%M')}, "
          f"{os.cpu_count()} CPUs")  # fmt: skip
    for name in chosen:
        PARTS[name]()
