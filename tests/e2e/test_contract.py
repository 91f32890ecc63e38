"""One contract, four surfaces: Python's to_dict(), `assistant ask --json`, POST /api/ask and Gradio's /ask agree."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .conftest import ROOT

CASES = [
    pytest.param("what exercises did Japan join", [], id="answered"),
    pytest.param("Where did they take place?", ["Which countries joined Japan's naval exercises?"], id="follow-up"),
    pytest.param("What is the capital of France?", [], id="abstains"),
]
K = 3


def as_json(value) -> dict:
    """What a client reads: the value through a JSON round trip."""
    return json.loads(json.dumps(value, ensure_ascii=False))


@pytest.fixture(scope="module")
def python_answers(bot) -> dict[str, dict]:
    return {q: as_json(bot.ask(q, history=h, k=K).to_dict()) for q, h in (c.values for c in CASES)}


@pytest.mark.parametrize(("question", "history"), CASES)
def test_cases_cover_an_answer_a_follow_up_and_an_abstention(python_answers, question, history):
    answer = python_answers[question]
    assert answer["question"] == question
    if question.startswith("What is the capital"):
        assert answer["abstained"] is True
    else:
        assert answer["passages"][0]["paragraph"] == 8


@pytest.mark.parametrize(("question", "history"), CASES)
def test_cli_json_is_the_python_answer(server, python_answers, question, history):
    command = [sys.executable, "-m", "assistant", "ask", question, "--index", str(server.index_dir), "--json"]
    command += ["-k", str(K)] + [arg for earlier in history for arg in ("--history", earlier)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == python_answers[question]


@pytest.mark.parametrize(("question", "history"), CASES)
def test_http_json_is_the_python_answer(client, python_answers, question, history):
    response = client.post("/api/ask", json={"question": question, "history": history, "k": K})
    assert response.status_code == 200, response.text
    assert response.json() == python_answers[question]


@pytest.mark.parametrize(("question", "history"), CASES)
def test_gradio_ask_is_the_python_answer(gradio, python_answers, question, history):
    result = gradio.predict(question, history, K, api_name="/ask")
    assert as_json(result) == python_answers[question]


@pytest.mark.parametrize("question", ["   ", "?!?"])
def test_a_bad_question_gets_the_same_message_everywhere(bot, server, client, gradio, question):
    from gradio_client.exceptions import AppError

    from assistant import QuestionError

    with pytest.raises(QuestionError) as python_error:
        bot.ask(question)
    message = str(python_error.value)
    done = subprocess.run(
        [sys.executable, "-m", "assistant", "ask", question, "--index", str(server.index_dir), "--json"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == "" and done.stderr.strip() == f"assistant: error: {message}"
    response = client.post("/api/ask", json={"question": question})
    assert response.status_code == 422 and response.json() == {"detail": message}
    with pytest.raises(AppError) as gradio_error:
        gradio.predict(question, [], K, api_name="/ask")
    assert str(gradio_error.value) == message
