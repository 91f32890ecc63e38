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


def test_a_long_article_shows_its_indexing_progress_until_the_api_answers(bot, tmp_path):
    from assistant.server.starting import Starting

    reached, released = threading.Event(), threading.Event()

    def load(progress):
        progress("embedding sentences", 0.25)
        reached.set()
        released.wait(60)
        progress("e5 passages", 0.5)
        return create_app(bot, chat=False)

    with TestClient(Starting(load, "long.txt")) as client:
        reached.wait(60)
        health = client.get("/api/health")
        assert health.status_code == 503 and health.headers["Retry-After"] == "1"
        assert health.json() == {"status": "indexing", "stage": "embedding sentences", "progress": 0.25,
                                 "detail": "indexing long.txt: embedding sentences, 25%"}  # fmt: skip
        page = client.get("/")
        assert page.status_code == 503 and "Indexing long.txt" in page.text and 'id="fill"' in page.text
        busy = client.post("/api/ask", json=QUESTION)
        assert busy.status_code == 503 and "try again in a moment" in busy.json()["detail"]
        released.set()
        wait_for(lambda: client.get("/api/health").status_code == 200)
        assert client.post("/api/ask", json=QUESTION).json()["passages"][0]["paragraph"] == 1


def test_an_article_that_cannot_be_indexed_is_said_on_the_page_and_health(caplog):
    from assistant.errors import IndexStoreError
    from assistant.server.starting import Starting

    def load(progress):
        raise IndexStoreError("cannot write the index to /somewhere (No space left on device)")

    def broken(progress):
        raise RuntimeError("a bug at /secret/path")

    with TestClient(Starting(load, "a.txt")) as client:
        wait_for(lambda: client.get("/api/health").json()["status"] == "failed")
        assert "No space left on device" in client.get("/").text
    with TestClient(Starting(broken, "a.txt")) as client:
        wait_for(lambda: client.get("/api/health").json()["status"] == "failed")
        assert "/secret/path" not in client.get("/").text and "RuntimeError" in client.get("/api/health").text
    assert "a bug at /secret/path" in caplog.text
