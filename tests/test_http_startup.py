"""`python ui.py` answers the API as soon as the index is loaded; the chat page follows once Gradio has loaded."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi.testclient import TestClient

from assistant import Assistant
from assistant.server import mount
from assistant.server.app import create_app
from tests.conftest import FakeEmbedder

ARTICLE = "Japan held naval exercises with Canada.\nThe EU wants a defense pact with Japan.\nSource: Reuters\n"
QUESTION = {"question": "Who held naval exercises?"}


@pytest.fixture
def bot(tmp_path):
    path = tmp_path / "news.txt"
    path.write_text(ARTICLE)
    return Assistant.from_article(path, embedder=FakeEmbedder())


def wait_for(check, seconds: float = 120.0) -> None:
    """Poll until check() holds; a bound on waiting, not a timing assertion."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "gave up waiting"
        time.sleep(0.05)


def test_the_api_answers_while_the_chat_page_is_still_loading(bot, monkeypatch):
    released = threading.Event()
    build = mount.chat_blocks
    monkeypatch.setattr(mount, "chat_blocks", lambda assistant: released.wait(60) and build(assistant))
    with TestClient(create_app(bot, chat="later")) as client:
        answer = client.post("/api/ask", json=QUESTION)
        assert answer.status_code == 200 and answer.json()["passages"][0]["paragraph"] == 1
        health = client.get("/api/health")
        assert health.status_code == 503 and health.headers["Retry-After"] == "1"
        assert "starting" in health.json()["detail"]
        page = client.get("/")
        assert page.status_code == 503 and 'http-equiv="refresh"' in page.text and "starting" in page.text

        released.set()
        wait_for(lambda: client.get("/api/health").status_code == 200)
        page = client.get("/")
        assert page.status_code == 200 and "gradio" in page.text.lower() and "refresh" not in page.text
        assert client.get("/gradio_api/info").json()["named_endpoints"]["/ask"]
        assert client.post("/api/ask", json=QUESTION).json() == answer.json()


def test_a_chat_page_that_cannot_start_leaves_the_api_answering(bot, monkeypatch, caplog):
    def broken(assistant):
        raise RuntimeError("no page today")

    monkeypatch.setattr(mount, "chat_blocks", broken)
    with TestClient(create_app(bot, chat="later")) as client:
        wait_for(lambda: "could not start" in client.get("/").text)
        page = client.get("/")
        assert page.status_code == 503 and "refresh" not in page.text and "no page today" not in page.text
        health = client.get("/api/health")
        assert health.status_code == 503 and "could not start" in health.json()["detail"]
        assert client.post("/api/ask", json=QUESTION).status_code == 200
    assert "no page today" in caplog.text
