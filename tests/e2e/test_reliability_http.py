"""Reliability over real HTTP (issue 6): fuzzed questions agree with the Python API, oversized requests leave the
server's memory alone, and concurrent clients get the serial answers. Other HTTP checks: test_http.py."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistant import QuestionError
from tests.fuzzing import ANY_CHAR, FUZZ, count, fuzz_summary, hostile_text  # noqa: F401  (fuzz_summary: case count)

from .conftest import ROOT

JSON = {"Content-Type": "application/json"}
QUESTION = "what exercises did Japan join"


# ---- any question: the HTTP answer is the Python answer, and a refusal is a 422 -----------------------------------

questions = st.one_of(st.text(ANY_CHAR, max_size=300), hostile_text, st.text(ANY_CHAR, min_size=1990, max_size=2010))


def test_fuzzed_questions_get_the_python_answer_or_a_422(client, bot):
    """Any Unicode (lone surrogates, NUL, controls, bidi, emoji, CJK, RTL) in question and history: never a 5xx."""
    statuses: dict[int, int] = {}

    @FUZZ
    @given(questions, st.lists(st.one_of(questions, st.just("")), max_size=3), st.integers(-2, 12))
    def run(question, history, k):
        count("HTTP questions")
        body = json.dumps({"question": question, "history": history, "k": k})  # surrogates become \ud800 escapes
        response = client.post("/api/ask", content=body.encode(), headers=JSON)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code in (200, 422), response.text
        try:
            expected = bot.ask(question, history, k).to_dict()
        except QuestionError:
            assert response.status_code == 422, response.text
            assert list(response.json()) == ["detail"]
            return
        assert response.status_code == 200, response.text
        assert response.json() == json.loads(json.dumps(expected))

    run()
    assert statuses.get(200) and statuses.get(422), statuses


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(ANY_CHAR, max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def test_fuzzed_json_bodies_never_get_a_5xx(client):
    """Any JSON in any field (and extra fields, and non-objects): a clear 4xx or an answer."""

    @FUZZ
    @given(
        st.one_of(
            st.fixed_dictionaries(
                {}, optional={"question": JSON_VALUES | questions, "history": JSON_VALUES, "k": JSON_VALUES}
            ),
            st.dictionaries(st.text(max_size=10), JSON_VALUES, max_size=4),
            JSON_VALUES,
        )
    )
    def run(body):
        count("HTTP bodies")
        response = client.post("/api/ask", content=json.dumps(body).encode(), headers=JSON)
        assert response.status_code in (200, 400, 413, 422), response.text
        assert response.headers["content-type"].startswith("application/json")

    run()


@pytest.mark.parametrize(
    "question", ["🚢🚢🚢", "😀 🎉 👍", "。、「」！？", "？？？", "\u200b\u202e\u0301", "∑∫√", "𓀀𓀁𓀂"]
)
def test_questions_without_words_get_422(client, question):
    response = client.post("/api/ask", json={"question": question})
    assert response.status_code == 422, response.text
    assert "please ask a question about the article" in response.json()["detail"]


# ---- oversized requests: refused, and the server's memory does not spike -----------------------------------------


def _memory_mb(pid: int) -> dict[str, float]:
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return {key: int(fields[key].split()[0]) / 1024 for key in ("VmRSS", "VmHWM")}


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the server's memory from /proc (Linux)")
def test_huge_requests_are_refused_without_a_memory_spike(server, client):
    pid = server.process.pid
    try:  # "5" resets the peak (VmHWM) to the current RSS, so that a spike during these requests shows
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        peak_reset = True
    except OSError:
        peak_reset = False
    before = _memory_mb(pid)
    ten_mb = b'{"question": "' + b"a" * 10_000_000 + b'"}'
    long_question = json.dumps({"question": "naval exercises " * 12_500}).encode()  # 200,000 characters
    for _ in range(5):
        assert client.post("/api/ask", content=ten_mb, headers=JSON).status_code == 413
        assert client.post("/api/ask", content=iter([ten_mb[i : i + 65536] for i in range(0, len(ten_mb), 65536)]),
                           headers=JSON).status_code == 413  # fmt: skip
        response = client.post("/api/ask", content=long_question, headers=JSON)
        assert response.status_code == 422 and "is 200,000 characters" in response.json()["detail"]
    after = _memory_mb(pid)
    assert after["VmRSS"] - before["VmRSS"] < 50, (before, after)
    if peak_reset:
        assert after["VmHWM"] - before["VmRSS"] < 50, (before, after)
    assert client.post("/api/ask", json={"question": QUESTION}).status_code == 200


# ---- concurrent clients: the bench/load.py run, small -------------------------------------------------------------


def test_twenty_concurrent_clients_get_the_serial_answers(server, capsys):
    """20 clients x 5 questions with bench/load.py's code: no 5xx, no hang, every answer the serial one."""
    sys.path.insert(0, str(ROOT / "bench"))
    import load

    status = load.run(server.url, clients=20, per_client=5, timeout=60)
    report = capsys.readouterr().out
    with capsys.disabled():
        print("\n" + report)  # the p50/p95 table, in the test log
    assert status == 0, report
    assert "| 200, same as serial | 100 |" in report, report
