"""The OpenAI-compatible API (/v1) through the official openai client: answers, streaming, follow-ups, models, errors,
the API key, and the README's example as written."""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import subprocess
import sys
import threading
import time

import httpx
import openai
import pytest

from .conftest import ROOT, free_port

QUESTION = "what exercises did Japan join"
FIRST, FOLLOW_UP = "Which countries joined Japan's naval exercises?", "Where did they take place?"
KEY = "test-key-5f1c"
JSON = {"Content-Type": "application/json"}


@contextlib.contextmanager
def serving(assistant, **options):
    """create_app(assistant, **options) served by uvicorn in a thread on a free loopback port; yields its URL."""
    import uvicorn

    from assistant.server.app import create_app

    port = free_port()
    options.setdefault("chat", False)
    server = uvicorn.Server(uvicorn.Config(create_app(assistant, **options), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def sdk(url: str, key: str = "anything") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=30)


@pytest.fixture(scope="module")
def url(bot):
    with serving(bot) as running:
        yield running


@pytest.fixture(scope="module")
def oai(url) -> openai.OpenAI:
    return sdk(url)


@pytest.fixture(scope="module")
def http(url):
    with httpx.Client(base_url=url, timeout=30) as c:
        yield c


def api_answer(http: httpx.Client, question: str, history: list[str] | None = None) -> dict:
    response = http.post("/api/ask", json={"question": question, "history": history or []})
    assert response.status_code == 200, response.text
    return response.json()


def assert_openai_error(response: httpx.Response, status: int, words: str = "") -> dict:
    """The status and OpenAI's error shape {"error": {"message", "type", "param", "code"}}."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["error"] and set(body["error"]) == {"message", "type", "param", "code"}, body
    assert body["error"]["type"] == ("invalid_request_error" if status < 500 else "server_error")
    assert words.lower() in body["error"]["message"].lower(), body
    return body["error"]


def ask(oai: openai.OpenAI, *contents: str, **options):
    messages = [{"role": "user", "content": c} for c in contents]
    return oai.chat.completions.create(model=options.pop("model", "article"), messages=messages, **options)


# ---- answers ----------------------------------------------------------------------------------------------------


def test_a_completion_quotes_paragraph_8_as_post_api_ask_does(oai, http):
    completion = ask(oai, QUESTION)
    expected = api_answer(http, QUESTION)
    content = completion.choices[0].message.content
    assert content == expected["answer"] and content.startswith(f"Answer: {expected['short']['text']}\n")
    assert content.splitlines()[1].startswith("Last week, Japan conducted joint naval exercises")
    assert "¶8" in content
    assert completion.model_extra["answer"] == expected
    assert expected["passages"][0]["paragraph"] == 8 and not expected["abstained"]
    assert re.fullmatch(r"chatcmpl-[0-9a-f]+", completion.id) and completion.object == "chat.completion"
    assert completion.model == "article" and abs(completion.created - time.time()) < 60
    choice = completion.choices[0]
    assert (len(completion.choices), choice.index, choice.message.role, choice.finish_reason) == (
        1, 0, "assistant", "stop")  # fmt: skip
    usage = completion.usage
    assert (usage.prompt_tokens, usage.completion_tokens) == (len(QUESTION.split()), len(content.split()))
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_streaming_gives_the_same_text_in_pieces_and_ends_properly(oai, http):
    expected = ask(oai, QUESTION).choices[0].message.content
    chunks = list(ask(oai, QUESTION, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant" and not chunks[0].choices[0].delta.content
    pieces = [c.choices[0].delta.content for c in chunks[1:-1]]
    assert len(pieces) > 1 and all(pieces) and "".join(pieces) == expected
    assert chunks[-1].choices[0].finish_reason == "stop" and not chunks[-1].choices[0].delta.content
    assert all(c.choices[0].finish_reason is None for c in chunks[:-1])
    assert len({c.id for c in chunks}) == 1 and all(c.object == "chat.completion.chunk" for c in chunks)
    assert chunks[-1].model_extra["answer"] == api_answer(http, QUESTION)
    assert all("answer" not in (c.model_extra or {}) for c in chunks[:-1])


def test_the_stream_on_the_wire_is_server_sent_events_ending_with_done(http):
    body = {"model": "article", "stream": True, "stream_options": {"include_usage": True},
            "messages": [{"role": "user", "content": QUESTION}]}  # fmt: skip
    response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
    events = response.text.split("\n\n")
    assert events[-2:] == ["data: [DONE]", ""] and all(e.startswith("data: {") for e in events[:-2])
    chunks = [json.loads(e.removeprefix("data: ")) for e in events[:-2]]
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["completion_tokens"] > 0  # include_usage's chunk
    assert chunks[-1]["answer"]["passages"][0]["paragraph"] == 8
    assert chunks[-2]["choices"][0] == {"index": 0, "delta": {}, "logprobs": None, "finish_reason": "stop"}


def test_a_follow_up_is_answered_from_the_messages_as_from_history(oai, http):
    expected = api_answer(http, FOLLOW_UP, [FIRST])
    assert expected["passages"][0]["paragraph"] == 8 and not expected["abstained"]
    messages = [
        {"role": "system", "content": "You are a helpful assistant."},
        {"role": "user", "content": FIRST},
        {"role": "assistant", "content": ask(oai, FIRST).choices[0].message.content},
        {"role": "user", "content": [{"type": "text", "text": FOLLOW_UP}]},  # the array-of-parts form
    ]
    completion = oai.chat.completions.create(model="article", messages=messages, temperature=0.2, max_tokens=50,
                                             top_p=1, stop=["\n\n\n"], user="u1", presence_penalty=0)  # fmt: skip
    assert completion.model_extra["answer"] == expected
    assert completion.choices[0].message.content == expected["answer"]
    alone = ask(oai, FOLLOW_UP).model_extra["answer"]
    assert alone != expected  # without the earlier question it is another question


def test_k_picks_how_many_passages_are_quoted(oai):
    answer = ask(oai, QUESTION, extra_body={"k": 1}).model_extra["answer"]
    assert len(answer["passages"]) == 1 and answer["passages"][0]["paragraph"] == 8


# ---- models -----------------------------------------------------------------------------------------------------


def test_models_list_the_default_article_as_article_and_by_its_id(oai, bot):
    models = oai.models.list()
    ids = [m.id for m in models.data]
    assert ids[:2] == ["article", bot.article.id]
    for m in models.data:
        assert (m.object, m.owned_by) == ("model", "article-assistant") and isinstance(m.created, int)
    assert oai.models.retrieve("article").id == "article"
    assert oai.models.retrieve(bot.article.id).id == bot.article.id
    by_id = ask(oai, QUESTION, model=bot.article.id)
    assert by_id.model == bot.article.id
    assert by_id.model_extra["answer"] == ask(oai, QUESTION).model_extra["answer"]


def test_an_unknown_model_is_not_found(oai):
    for model in ("gpt-4o", "0123456789abcdef"):
        with pytest.raises(openai.NotFoundError) as error:
            ask(oai, QUESTION, model=model)
        assert error.value.body["code"] == "model_not_found" and error.value.body["param"] == "model"
    with pytest.raises(openai.NotFoundError):
        oai.models.retrieve("gpt-4o")


# ---- bad requests: a 4xx in OpenAI's shape, never a 5xx; /api keeps {"detail"} ------------------------------------

_BAD = [
    ("no messages", {"model": "article", "messages": []}, 400, "messages"),
    ("no model", {"messages": [{"role": "user", "content": QUESTION}]}, 400, "model: field required"),
    ("last from the assistant", {"model": "article", "messages": [{"role": "user", "content": QUESTION},
                                 {"role": "assistant", "content": "ok"}]}, 400, "the last message must be the user"),
    ("empty question", {"model": "article", "messages": [{"role": "user", "content": ""}]}, 422, "question: is empty"),
    ("no words", {"model": "article", "messages": [{"role": "user", "content": "?!?"}]}, 422, "has no words"),
    ("n=2", {"model": "article", "n": 2, "messages": [{"role": "user", "content": QUESTION}]}, 400, "n: only 1"),
    ("image part", {"model": "article", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}]}, 400, "only text parts"),
    ("unknown role", {"model": "article", "messages": [{"role": "robot", "content": QUESTION}]}, 400, "role"),
    ("k zero", {"model": "article", "k": 0, "messages": [{"role": "user", "content": QUESTION}]}, 422, "k: must be"),
    ("k text", {"model": "article", "k": "3", "messages": [{"role": "user", "content": QUESTION}]}, 400, "k:"),
    ("question too long", {"model": "article", "messages": [{"role": "user", "content": "a" * 2001}]}, 422, "2,001"),
    ("body an array", [QUESTION], 400, "must be a JSON object"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "status", "words"), [c[1:] for c in _BAD], ids=[c[0] for c in _BAD])
def test_bad_requests_get_a_4xx_in_openai_shape(http, body, status, words):
    assert_openai_error(http.post("/v1/chat/completions", json=body), status, words)


def test_bad_requests_raise_the_openai_clients_own_errors(oai):
    with pytest.raises(openai.BadRequestError):
        oai.chat.completions.create(model="article", messages=[])
    with pytest.raises(openai.BadRequestError):
        oai.chat.completions.create(model="article", messages=[{"role": "assistant", "content": QUESTION}])
    with pytest.raises(openai.BadRequestError):
        oai.chat.completions.create(model="article", n=2, messages=[{"role": "user", "content": QUESTION}])
    with pytest.raises(openai.UnprocessableEntityError) as error:
        ask(oai, "   ")
    assert "please ask a question about the article" in error.value.message
    with pytest.raises(openai.BadRequestError, match="only text parts"):
        oai.chat.completions.create(model="article", messages=[{"role": "user", "content": [
            {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}])  # fmt: skip


@pytest.mark.parametrize(
    ("content", "headers", "status", "words"),
    [
        (b'{"model": "article", "messages": [', JSON, 400, "malformed JSON"),
        (b"", JSON, 400, "must be a JSON object"),
        (b'{"model": "article"}', {"Content-Type": "text/plain"}, 415, "Content-Type: application/json"),
        (b'{"model": "' + b"a" * 2_200_000 + b'"}', JSON, 413, "over 2,097,152 bytes"),
    ],
    ids=["malformed JSON", "empty body", "text/plain", "body over 2 MB"],
)
def test_malformed_bodies_get_openai_errors(http, content, headers, status, words):
    assert_openai_error(http.post("/v1/chat/completions", content=content, headers=headers), status, words)


def test_unknown_routes_and_methods_under_v1_get_openai_errors(http):
    assert assert_openai_error(http.post("/v1/embeddings", json={}), 404, "no such endpoint")["code"] == "unknown_url"
    response = http.get("/v1/chat/completions")
    assert_openai_error(response, 405, "use POST")
    assert response.headers["allow"] == "POST"


def test_a_busy_engine_is_a_503_with_retry_after(bot):
    with serving(bot, max_waiting=0) as running:  # no room in the queue: every question is turned away at once
        body = {"model": "article", "stream": True, "messages": [{"role": "user", "content": QUESTION}]}
        response = httpx.post(f"{running}/v1/chat/completions", json=body, timeout=30)
        assert assert_openai_error(response, 503, "busy")["code"] == "server_busy"
        assert response.headers["retry-after"] == "1"
        with pytest.raises(openai.InternalServerError):
            ask(sdk(running), QUESTION)


def test_api_errors_keep_their_detail_shape(http):
    response = http.post("/api/ask", json={"question": QUESTION, "k": 0})
    assert response.status_code == 422 and list(response.json()) == ["detail"]


def test_the_openapi_schema_documents_the_v1_routes(http):
    schema = http.get("/openapi.json").json()
    operation = schema["paths"]["/v1/chat/completions"]["post"]
    assert operation["tags"] == ["openai"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/ChatRequest")
    content = operation["responses"]["200"]["content"]
    assert content["application/json"]["schema"]["$ref"].endswith("/ChatCompletion")
    assert content["text/event-stream"]["schema"]["$ref"].endswith("/ChatCompletionChunk")
    for name in ("ChatRequest", "ChatCompletion", "ChatCompletionChunk", "ModelList", "OpenAIErrorResponse",
                 "ErrorResponse"):  # fmt: skip
        assert name in schema["components"]["schemas"], name
    assert {"400", "401", "404", "413", "415", "422", "503"} <= set(operation["responses"])
    assert schema["paths"]["/v1/models"]["get"]["tags"] == ["openai"]


# ---- the API key ------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def guarded(bot):
    """A server with an API key and the chat page mounted (chat=True: Gradio is imported in this process)."""
    with serving(bot, api_key=KEY, chat=True) as running:
        yield running


def test_without_the_key_the_sdk_gets_authentication_errors(guarded):
    with pytest.raises(openai.AuthenticationError):
        ask(sdk(guarded, "wrong-key"), QUESTION)
    with pytest.raises(openai.AuthenticationError):
        sdk(guarded, "wrong-key").models.list()
    response = httpx.get(f"{guarded}/v1/models")  # no Authorization header at all
    assert assert_openai_error(response, 401, "API key")["code"] == "invalid_api_key"
    assert response.headers["www-authenticate"] == "Bearer"
    for header in (f"Basic {KEY}", f"Bearer {KEY}x", "Bearer", f"Bearer {KEY[:-1]}"):
        response = httpx.get(f"{guarded}/v1/models", headers={"Authorization": header})
        assert_openai_error(response, 401, "API key")


def test_with_the_key_everything_answers(guarded):
    client = sdk(guarded, KEY)
    assert "¶8" in ask(client, QUESTION).choices[0].message.content
    assert "".join(c.choices[0].delta.content or "" for c in ask(client, QUESTION, stream=True) if c.choices)
    assert client.models.list().data[0].id == "article"


def test_the_key_guards_api_too_but_not_the_page_or_the_docs(guarded):
    with httpx.Client(base_url=guarded, timeout=30) as c:
        for method, path in [("POST", "/api/ask"), ("GET", "/api/articles"), ("GET", "/api/health")]:
            response = c.request(method, path, json={"question": QUESTION} if method == "POST" else None)
            assert response.status_code == 401 and list(response.json()) == ["detail"], (path, response.text)
            assert response.headers["www-authenticate"] == "Bearer"
        authorized = {"Authorization": f"Bearer {KEY}"}
        response = c.post("/api/ask", json={"question": QUESTION}, headers=authorized)
        assert response.status_code == 200 and response.json()["passages"][0]["paragraph"] == 8
        assert c.get("/api/articles", headers=authorized).status_code == 200
        assert c.get("/api/health", headers=authorized).status_code == 200
        page = c.get("/")
        assert page.status_code == 200 and "gradio" in page.text.lower()
        assert c.get("/gradio_api/info").status_code == 200  # the page's own API needs no key
        docs = c.get("/docs")
        assert docs.status_code == 200
        assets = re.findall(r'"(/api/docs-assets/[^"]+)"', docs.text)
        assert assets and all(c.get(a).status_code == 200 for a in assets)
        assert c.get("/openapi.json").status_code == 200


def test_serve_takes_the_key_from_the_option_or_the_environment(monkeypatch):
    from assistant import cli

    monkeypatch.delenv("ASSISTANT_API_KEY", raising=False)
    parser = cli._parser()
    assert parser.parse_args(["serve"]).api_key is None
    assert parser.parse_args(["serve", "--api-key", "k1"]).api_key == "k1"
    monkeypatch.setenv("ASSISTANT_API_KEY", "k2")
    assert cli._parser().parse_args(["serve"]).api_key == "k2"
    assert cli._parser().parse_args(["serve", "--api-key", "k3"]).api_key == "k3"


# ---- README.md and docs/api.md: the examples run as written (against the test server, not port 7860) -------------


def _blocks(doc: str, lang: str, section: str) -> list[str]:
    text = (ROOT / doc).read_text(encoding="utf-8")
    part = text[text.index(section) :].split("\n## ", 1)[0]
    return re.findall(rf"```{lang}\n(.*?)```", part, re.S)


def test_the_readme_openai_example_runs_as_written(url):
    (code,) = [b for b in _blocks("README.md", "python", "## Use it from Open WebUI") if "from openai" in b]
    assert "http://127.0.0.1:7860/v1" in code and "stream=True" in code
    done = subprocess.run([sys.executable, "-c", code.replace("http://127.0.0.1:7860", url)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Answer: ") and "\nLast week, Japan conducted joint naval exercises" in done.stdout
    assert done.stdout.rstrip().endswith("top passage: ¶8")


def test_the_api_md_curl_examples_run(url):
    if not shutil.which("curl"):
        pytest.skip("curl is not installed")
    blocks = _blocks("docs/api.md", "sh", "## OpenAI-compatible API")
    assert len(blocks) == 2
    for code in blocks:
        done = subprocess.run(["bash", "-c", code.replace("http://127.0.0.1:7860", url)],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 0, done.stderr
        if '"stream": true' in code:
            assert done.stdout.endswith("data: [DONE]\n\n")
        else:
            assert json.loads(done.stdout)["answer"]["passages"][0]["paragraph"] == 8


# ---- an added article is a model too -----------------------------------------------------------------------------

HARBOUR = """# Harbour reopens after storm repairs

The harbour of Port Elin reopened on Monday after three weeks of repairs to its storm-damaged sea wall.

The repairs cost 4.2 million euros and were paid for by the regional government.

Fishing boats returned to the harbour the same afternoon.
"""


def test_an_added_article_is_a_model_named_by_its_id(bot, tmp_path):
    from assistant.library import Library

    library = Library(bot, tmp_path / "library")  # its own folder: the session server's library is left alone
    with serving(library) as running, httpx.Client(base_url=running, timeout=120) as c:
        added = c.post("/api/articles", json={"text": HARBOUR, "name": "harbour.md"})
        assert added.status_code == 201, added.text
        article_id = added.json()["id"]
        library.wait(article_id, timeout=120)
        client = sdk(running)
        cards = client.models.list().data
        assert [m.id for m in cards] == ["article", bot.article.id, article_id]
        assert cards[2].model_extra["name"] == "Harbour reopens after storm repairs"
        assert client.models.retrieve(article_id).id == article_id
        completion = ask(client, "How much did the repairs cost?", model=article_id)
        assert "4.2 million euros" in completion.choices[0].message.content
        assert completion.model == article_id and completion.model_extra["answer"]["article"]["id"] == article_id
        assert c.delete(f"/api/articles/{article_id}").status_code == 200
        with pytest.raises(openai.NotFoundError):
            ask(client, "How much did the repairs cost?", model=article_id)
