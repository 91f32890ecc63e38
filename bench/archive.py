"""Archive benchmarks: every figure against a baseline measured in the same run (absolute times here are noisy).

    python bench/archive.py                      # every part
    python bench/archive.py quality scale load   # some parts

quality  the 48 SQuAD articles (dev + test): 40 as one archive (plus the bundled article), 8 held out. Each question of
         the 40 asked of the whole archive (article R@1, paragraph R@1) vs. of its own article alone (paragraph R@1);
         each question of the 8 asked of the archive (false answers) vs. of one other article alone
scale    synthetic unit 384-d vectors, 10k and 100k passages (1M with --million): Qdrant local mode vs. FAISS
         IndexFlatIP on the same data: ingest throughput, query p50/p95 (top 40), memory (RSS growth), reopen time
fit      fit the archive's answer model (calibration.json "archive") on the dev articles, check it on the test ones
         (--dry-run: print only)
load     50 concurrent HTTP clients asking archive questions of a loopback server vs. the same questions asked
         serially: failures, and answers equal to the serial ones

The built library is kept in $ARCHIVE_BENCH (default /tmp/archive-bench) so that a second run does not index again.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SQUAD = ROOT.parent / "shared" / "data" / "squad-v1.1-dev"
WORK = Path(os.environ.get("ARCHIVE_BENCH", "/tmp/archive-bench"))
HELD_OUT = 8
PER_ARTICLE = 10
"""Questions asked per article (evenly spaced through its questions): 400 archive questions, 80 held-out ones."""
FIT_PER_ARTICLE = 40
"""Questions per article for the archive model's fit: 800 archive questions and 160 held-out ones on dev."""
FALSE_ANSWERS = 0.03
"""The archive model's bar: at most this share of the held-out dev articles' questions answered."""


def squad() -> list[dict]:
    from assistant.evaluate import load_squad

    return load_squad(SQUAD / "dev.jsonl") + load_squad(SQUAD / "test.jsonl")


def sample(questions: list[dict], n: int = PER_ARTICLE) -> list[dict]:
    step = max(1, len(questions) // n)
    return questions[::step][:n]


def stats(seconds: list[float]) -> tuple[float, float]:
    ms = sorted(1000 * s for s in seconds)
    return statistics.median(ms), ms[min(len(ms) - 1, int(0.95 * len(ms)))]


def build(no_e5: bool = False):
    """The library of the 40 archive articles (indexed once, kept in WORK) and its archive; (archive, articles,
    ids in archive order, held-out articles)."""
    from assistant import Assistant
    from assistant.archive import Archive, add_folder
    from assistant.embed import load_e5, load_embedder
    from assistant.library import Library

    articles = squad()
    # Every 6th article is held out: 8 of 48, from both files.
    held = [a for n, a in enumerate(articles) if n % 6 == 5][:HELD_OUT]
    kept = [a for a in articles if a not in held]
    folder = WORK / "articles"
    folder.mkdir(parents=True, exist_ok=True)
    for n, a in enumerate(kept):
        path = folder / f"{n:02d}-{a['title']}.txt"
        if not path.exists():
            path.write_text("\n".join(p.replace("\n", " ") for p in a["paragraphs"]) + "\n", encoding="utf-8")
    embedder, e5 = load_embedder(), (None if no_e5 else load_e5())
    default = Assistant.from_article(ROOT / "index" / "article.txt", WORK / "default.index", embedder=embedder, e5=e5)
    library = Library(default, WORK / "library", embedder=embedder, e5=e5)
    archive = Archive(library, WORK / "engine")
    started = time.perf_counter()
    report = add_folder(archive, folder, progress=True)
    took = time.perf_counter() - started
    ids = [hashlib.sha256((folder / f"{n:02d}-{a['title']}.txt").read_bytes()).hexdigest()[:16]
           for n, a in enumerate(kept)]  # fmt: skip
    print(f"library: {len(report.added)} added, {len(report.skipped)} already there, {len(report.failed)} failed "
          f"in {took:.0f} s", file=sys.stderr)  # fmt: skip
    return archive, kept, ids, held


def quality(no_e5: bool = False) -> dict:
    from assistant.archive import ARTICLES, CANDIDATES

    archive, kept, ids, held = build(no_e5)
    library = archive.library
    archive.sync()
    t = {"archive_article": 0, "archive_para": 0, "archive_answered_right": 0, "own_para": 0, "own_answered": 0,
         "candidates": 0, "n": 0}  # fmt: skip
    archive_s, own_s = [], []
    for a, article_id in zip(kept, ids, strict=True):
        bot = library.get(article_id)
        for q in sample(a["questions"]):
            gold = q["para"] + 1
            started = time.perf_counter()
            answer = archive.ask(q["q"])
            archive_s.append(time.perf_counter() - started)
            started = time.perf_counter()
            own = bot.ask(q["q"])
            own_s.append(time.perf_counter() - started)
            best = answer.passages[0] if answer.passages else None
            right = best is not None and best.article.id == article_id
            t["n"] += 1
            t["archive_article"] += right
            t["archive_para"] += right and gold in best.paragraphs
            t["archive_answered_right"] += right and gold in best.paragraphs and not answer.abstained
            t["own_para"] += bool(own.passages) and gold in own.passages[0].paragraphs
            t["own_answered"] += bool(own.passages) and gold in own.passages[0].paragraphs and not own.abstained
            hits = archive.store.search(library.embedder.encode([q["q"]])[0], CANDIDATES)
            nominated = list(dict.fromkeys(h.article for h in hits))[:ARTICLES]
            t["candidates"] += article_id in nominated
    false_archive = false_alone = asked = 0
    for n, a in enumerate(held):
        other = library.get(ids[(7 * n) % len(ids)])
        for q in sample(a["questions"]):
            asked += 1
            false_archive += not archive.ask(q["q"]).abstained
            false_alone += not other.ask(q["q"]).abstained
    n = t["n"]
    figures = {
        "articles_in_archive": len(ids) + 1,
        "passages": archive.store.count(),
        "questions": n,
        "held_out_questions": asked,
        "archive_article_r1": t["archive_article"] / n,
        "archive_paragraph_r1": t["archive_para"] / n,
        "own_article_paragraph_r1": t["own_para"] / n,
        "archive_right_and_answered": t["archive_answered_right"] / n,
        "own_right_and_answered": t["own_answered"] / n,
        "stage_one_recall": t["candidates"] / n,
        "false_answers_archive": false_archive / asked,
        "false_answers_one_article": false_alone / asked,
        "archive_ms_p50_p95": stats(archive_s),
        "own_ms_p50_p95": stats(own_s),
        "e5": not no_e5,
    }
    print("\n### Archive quality (SQuAD dev + test, 40 articles + the bundled one; 8 held out)\n")
    print("| measure | archive | one article alone (baseline) | ratio |\n|---|---|---|---|")
    f = figures
    print(f"| article R@1 | {f['archive_article_r1']:.3f} | (1, by construction) | |")
    print(f"| paragraph R@1 | {f['archive_paragraph_r1']:.3f} | {f['own_article_paragraph_r1']:.3f} | "
          f"{f['archive_paragraph_r1'] / f['own_article_paragraph_r1']:.3f} |")  # fmt: skip
    print(f"| right paragraph and answered | {f['archive_right_and_answered']:.3f} | {f['own_right_and_answered']:.3f}"
          f" | {f['archive_right_and_answered'] / max(f['own_right_and_answered'], 1e-9):.3f} |")  # fmt: skip
    print(f"| false answers, held-out questions | {f['false_answers_archive']:.3f} | "
          f"{f['false_answers_one_article']:.3f} | {f['false_answers_archive'] / max(f['false_answers_one_article'], 1e-9):.2f} |")  # fmt: skip  # noqa: E501
    a50, a95 = f["archive_ms_p50_p95"]
    o50, o95 = f["own_ms_p50_p95"]
    print(f"| ms per question p50 / p95 | {a50:.0f} / {a95:.0f} | {o50:.0f} / {o95:.0f} | {a50 / o50:.1f} |")
    print(f"\nstage one (the engine's top {CANDIDATES} passages, first {ARTICLES} articles) holds the right article "
          f"for {f['stage_one_recall']:.3f} of questions; {n} questions, {asked} held-out, {f['passages']} passages,"
          f" e5 {'on' if f['e5'] else 'off'}")  # fmt: skip
    return figures


def fit(no_e5: bool = False, dry_run: bool = False) -> None:
    """Fit calibration.json's "archive" model (scoring.archive_log_odds) on the dev articles alone: each question is
    asked of the archive and every candidate article's answer judged (its best passage's score, its margin over its
    own threshold); a logistic regression says whether the best-scored answering candidate is right (its article
    and ¶), and its bar is the lowest with at most FALSE_ANSWERS of the held-out dev articles' questions answered.
    Checked on the test articles, beside the bar on the score alone chosen the same way and the 0.70 bar before."""
    from scipy.optimize import minimize

    from assistant.question import AskRequest
    from assistant.scoring import archive_features, archive_log_odds

    archive, kept, ids, held = build(no_e5)
    dev = {a["title"] for a in squad()[:24]}
    rows = []  # (dev?, held out?, right?, the best answer's score, its margin), None for a question none answers
    for a, article_id in [*zip(kept, ids, strict=True), *((h, None) for h in held)]:
        for q in sample(a["questions"], FIT_PER_ARTICLE):
            request = AskRequest.of(q["q"], k=1)
            judged = [archive.library.get(i).judged(request.model_copy(update={"article": i}))
                      for i in archive.candidates(request.question)]  # fmt: skip
            answering = sorted((j for j in judged if not j[0].abstained), key=lambda j: -j[0].passages[0].score)
            if not answering:
                rows.append((a["title"] in dev, article_id is None, False, None, None))
                continue
            answer, margin = answering[0]
            best = answer.passages[0]
            right = article_id is not None and answer.article.id == article_id and q["para"] + 1 in best.paragraphs
            rows.append((a["title"] in dev, article_id is None, right, best.score, margin))
    names = ("logit_score", "margin")
    fitted = [r for r in rows if r[0] and r[3] is not None]
    x = np.array([[archive_features(r[3], r[4])[f] for f in names] for r in fitted])
    y = np.array([r[2] for r in fitted], dtype=float)
    mu, sd = x.mean(0), x.std(0)
    z = (x - mu) / sd

    def loss(w):
        p = 1 / (1 + np.exp(-(w[0] + z @ w[1:])))
        return -np.mean(y * np.log(p + 1e-12) + (1 - y) * np.log(1 - p + 1e-12)) + 1e-3 * w[1:] @ w[1:]

    w = minimize(loss, np.zeros(3)).x
    weights = w[1:] / sd
    fitted_model = {"bias": float(w[0] - weights @ mu), "weights": dict(zip(names, map(float, weights), strict=True))}

    def model(r):
        return archive_log_odds(r[3], r[4], fitted_model)

    def score_only(r):
        return archive_features(r[3], r[4])["logit_score"]

    def rates(rule, bar, split):
        own = [r for r in rows if r[0] == split and not r[1]]
        other = [r for r in rows if r[0] == split and r[1]]
        answered = [r for r in rows if r[0] == split and r[3] is not None and rule(r) >= bar]
        return (sum(r[2] and not r[1] for r in answered) / len(own), sum(r[1] for r in answered) / len(other))

    def lowest_bar(rule):
        bars = sorted({rule(r) for r in rows if r[0] and r[3] is not None})
        return next(b for b in bars if rates(rule, b, True)[1] <= FALSE_ANSWERS)

    bar, bar_score = lowest_bar(model), lowest_bar(score_only)
    print("\n| rule | dev: answered right | dev: false answers | test: answered right | test: false answers |\n"
          "|---|---|---|---|---|")  # fmt: skip
    for name, rule, at in (("each article's own threshold", score_only, -np.inf),
                           ("best passage's score >= 0.70 (before)", score_only, np.log(0.7 / 0.3)),
                           (f"best passage's score >= {1 / (1 + np.exp(-bar_score)):.2f}", score_only, bar_score),
                           ("**score and margin (ARCHIVE_MODEL)**", model, bar)):  # fmt: skip
        cells = [*rates(rule, at, True), *rates(rule, at, False)]
        print(f"| {name} | " + " | ".join(f"{c:.3f}" for c in cells) + " |")
    found = {"bias": round(fitted_model["bias"] - float(bar), 4),
             "weights": {f: round(v, 4) for f, v in fitted_model["weights"].items()},
             "fitted": {"on": "the 20 dev SQuAD articles in the archive, 4 held out, "
                              f"{FIT_PER_ARTICLE} questions each ({len(fitted)} answered)",
                        "false_answers": FALSE_ANSWERS, "command": "python bench/archive.py fit"}}  # fmt: skip
    print(json.dumps(found, indent=2))
    if not dry_run:
        path = ROOT / "assistant" / "calibration.json"
        calibration = json.loads(path.read_text())
        calibration["archive"] = found
        path.write_text(json.dumps(calibration, indent=2) + "\n")


# ---- scale ---------------------------------------------------------------------------------------------------


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _scale_one(kind: str, n: int, folder: str) -> dict:
    """One engine at one size, in its own process (run by scale()), so that its memory is its own."""
    if kind == "faiss":
        import faiss  # noqa: F401  (imported before measuring: memory is the data's and the engine's, not the code's)
    else:
        import qdrant_client  # noqa: F401

        import assistant.archive.engine  # noqa: F401
    rng = np.random.default_rng(0)
    before = rss_mb()
    vectors = rng.standard_normal((n, 384), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    queries = rng.standard_normal((60, 384), dtype=np.float32)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    with_data = rss_mb()
    out = {"kind": kind, "n": n}
    if kind == "faiss":
        import faiss

        # One question at a time, as the server asks: one thread (OpenMP's threads only wait on each other for
        # a single query, and 30x slower on a busy machine).
        faiss.omp_set_num_threads(1)
        started = time.perf_counter()
        index = faiss.IndexFlatIP(384)
        for s in range(0, n, 10_000):
            index.add(vectors[s : s + 10_000])
        out["ingest_s"] = time.perf_counter() - started
        search = [None] * len(queries)
        for i, q in enumerate(queries):
            started = time.perf_counter()
            index.search(q[None], 40)
            search[i] = time.perf_counter() - started
        out["reopen_s"] = None
    else:
        from assistant.archive.engine import PassageStore

        store = PassageStore(folder, "synthetic", 384)
        ids = [f"{i // 50:016x}" for i in range(n)]  # 50 passages per article
        started = time.perf_counter()
        for s in range(0, n, 5_000):
            for a in sorted(set(ids[s : s + 5_000])):
                rows = [r for r in range(s, min(n, s + 5_000)) if ids[r] == a]
                store.put(a, rows, vectors[rows], rows)
        out["ingest_s"] = time.perf_counter() - started
        search = [None] * len(queries)
        for i, q in enumerate(queries):
            started = time.perf_counter()
            store.search(q, 40)
            search[i] = time.perf_counter() - started
        store.close()
        started = time.perf_counter()
        store = PassageStore(folder, "synthetic", 384)
        out["reopen_s"] = time.perf_counter() - started
        store.close()
    out["p50_ms"], out["p95_ms"] = stats(search[10:])  # the first queries warm caches
    out["per_s"] = n / out["ingest_s"]
    out["rss_mb"] = rss_mb() - with_data
    out["data_mb"] = with_data - before
    return out


def scale(million: bool = False) -> list[dict]:
    import tempfile

    sizes = [10_000, 100_000] + ([1_000_000] if million else [])
    results = []
    for n in sizes:
        for kind in ("faiss", "qdrant"):
            with tempfile.TemporaryDirectory(dir=WORK if WORK.exists() else None) as tmp:
                done = subprocess.run([sys.executable, __file__, "_scale", kind, str(n), tmp], capture_output=True,
                                      text=True, timeout=1800)  # fmt: skip
                if done.returncode:
                    print(done.stderr[-2000:], file=sys.stderr)
                    continue
                results.append(json.loads(done.stdout.strip().splitlines()[-1]))
                print(json.dumps(results[-1]), file=sys.stderr)
    print("\n### Archive scale (synthetic unit 384-d vectors, top 40, one process per row)\n")
    print("| passages | engine | ingest /s | query p50 ms | p95 ms | memory MB (beyond the vectors) | reopen s "
          "| p50 ratio to FAISS |\n|---|---|---|---|---|---|---|---|")  # fmt: skip
    for r in results:
        base = next((b for b in results if b["n"] == r["n"] and b["kind"] == "faiss"), None)
        ratio = f"{r['p50_ms'] / base['p50_ms']:.0f}" if base else ""
        reopen = "" if r["reopen_s"] is None else f"{r['reopen_s']:.1f}"
        print(f"| {r['n']:,} | {'FAISS IndexFlatIP' if r['kind'] == 'faiss' else 'Qdrant local'} | {r['per_s']:,.0f} "
              f"| {r['p50_ms']:.1f} | {r['p95_ms']:.1f} | {r['rss_mb']:.0f} | {reopen} | {ratio} |")  # fmt: skip
    return results


# ---- load ------------------------------------------------------------------------------------------------------


def load(no_e5: bool = False, clients: int = 50) -> dict:
    import httpx
    import uvicorn

    from assistant.server.app import create_app
    from assistant.server.engine import MAX_WAIT_SECONDS

    archive, kept, _, _ = build(no_e5)
    archive.sync()
    questions = [q["q"] for a in kept for q in a["questions"][:2]][:clients]
    library = archive.library
    results = {}
    for max_wait in (MAX_WAIT_SECONDS, 120.0):
        app = create_app(library, chat=False, archive=str(WORK / "engine"), max_wait=max_wait)
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        url = f"http://127.0.0.1:{port}/api/ask"
        try:
            with httpx.Client(timeout=300) as c:
                serial, serial_s = [], []
                for q in questions:
                    started = time.perf_counter()
                    serial.append(c.post(url, json={"question": q, "scope": "all"}).json())
                    serial_s.append(time.perf_counter() - started)
            answers: list = [None] * len(questions)
            took: list = [0.0] * len(questions)
            barrier = threading.Barrier(len(questions))

            def one(i: int, url=url, barrier=barrier, answers=answers, took=took) -> None:
                with httpx.Client(timeout=300) as c:
                    barrier.wait()
                    started = time.perf_counter()
                    answers[i] = c.post(url, json={"question": questions[i], "scope": "all"})
                    took[i] = time.perf_counter() - started

            started = time.perf_counter()
            workers = [threading.Thread(target=one, args=(i,)) for i in range(len(questions))]
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            wall = time.perf_counter() - started
        finally:
            server.should_exit = True
            thread.join(timeout=10)
        failed = sum(r.status_code != 200 for r in answers)
        equal = sum(r.status_code == 200 and r.json() == s for r, s in zip(answers, serial, strict=True))
        results[max_wait] = {"clients": len(questions), "failed": failed, "equal_to_serial": equal, "wall_s": wall,
                             "serial_total_s": sum(serial_s), "p50_p95_ms": stats([t for t in took if t]),
                             "statuses": sorted({r.status_code for r in answers})}  # fmt: skip
        print(json.dumps(results[max_wait]), file=sys.stderr)
    print(f"\n### Archive load ({clients} concurrent clients, one archive question each, loopback)\n")
    print("| server's max wait | failed | answers equal to serial | wall s | serial total s (baseline) | ratio | "
          "latency p50 / p95 ms |\n|---|---|---|---|---|---|---|")  # fmt: skip
    for max_wait, r in results.items():
        p50, p95 = r["p50_p95_ms"]
        print(f"| {max_wait:.0f} s | {r['failed']} ({r['statuses']}) | {r['equal_to_serial']} / {r['clients']} | "
              f"{r['wall_s']:.1f} | {r['serial_total_s']:.1f} | {r['wall_s'] / r['serial_total_s']:.2f} | "
              f"{p50:.0f} / {p95:.0f} |")  # fmt: skip
    return results


def main(argv: list[str]) -> None:
    if argv[:1] == ["_scale"]:
        print(json.dumps(_scale_one(argv[1], int(argv[2]), argv[3])))
        return
    no_e5 = "--no-e5" in argv
    parts = [a for a in argv if not a.startswith("--")] or ["quality", "scale", "load"]
    WORK.mkdir(parents=True, exist_ok=True)
    for part in parts:
        started = time.perf_counter()
        if part == "quality":
            quality(no_e5)
        elif part == "scale":
            scale("--million" in argv)
        elif part == "load":
            load(no_e5)
        elif part == "fit":
            fit(no_e5, "--dry-run" in argv)
        print(f"\n({part}: {time.perf_counter() - started:.0f} s)", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
