"""The JSON API over real HTTP: each endpoint, each bad request, limits, overload, file routes, fuzzing, load."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from assistant.errors import IndexStoreError
from assistant.question import MAX_HISTORY, MAX_K, MAX_QUESTION_CHARS

from .conftest import ROOT, SCHEMATHESIS_CASES, free_port

QUESTION = "what exercises did Japan join"
JSON = {"Content-Type": "application/json"}


def ask(client: httpx.Client, body: dict, **kwargs) -> httpx.Response:
    return client.post("/api/ask", json=body, **kwargs)


def assert_clean_error(response: httpx.Response, status: int, words: str) -> None:
    """The status, one JSON shape {"detail": "..."} saying what was wrong, and nothing about the server's insides."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert list(body) == ["detail"] and isinstance(body["detail"], str)
    assert words.lower() in body["detail"].lower(), body["detail"]
    for leak in ("Traceback", str(ROOT), "site-packages"):
        assert leak not in response.text


def assert_still_answers(client: httpx.Client) -> None:
    response = ask(client, {"question": QUESTION, "k": 1})
    assert response.status_code == 200, response.text
    assert response.json()["passages"][0]["paragraph"] == 8


# ---- the endpoints --------------------------------------------------------------------------------------------


def test_health(client):
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "model": "sentence-transformers/all-MiniLM-L6-v2", "passages": 9}


def test_article_lists_every_paragraph_verbatim(client):
    response = client.get("/api/article")
    assert response.status_code == 200
    article = response.json()
    assert set(article) == {"title", "source", "paragraphs"}
    assert article["source"] == "Reuters"
    lines = [line for line in (ROOT / "index" / "article.txt").read_text(encoding="utf-8").splitlines() if line.strip()]
    assert [p["paragraph"] for p in article["paragraphs"]] == list(range(1, len(lines) + 1))
    assert [p["text"] for p in article["paragraphs"]] == lines


def test_ask_answers_with_the_shared_json(client):
    response = ask(client, {"question": QUESTION})
    assert response.status_code == 200
    answer = response.json()
    assert list(answer) == ["question", "answer", "abstained", "passages", "short", "verdict", "article"]
    assert answer["article"]["source"] == "Reuters" and answer["article"]["paragraphs"] == 15
    assert answer["question"] == QUESTION and answer["abstained"] is False
    assert 1 <= len(answer["passages"]) <= 3
    top = answer["passages"][0]
    assert list(top) == ["paragraph", "paragraphs", "text", "score", "highlight", "short"]
    assert answer["short"] == top["short"] and answer["verdict"] is None
    assert top["paragraph"] == 8 and top["paragraphs"] == [8, 14]
    assert top["highlight"]["text"] == top["text"][top["highlight"]["start"] : top["highlight"]["end"]]
    assert top["highlight"]["text"].startswith("Last week, Japan conducted joint naval exercises")


def test_ask_with_history_and_k(client):
    body = {"question": "Where did they take place?", "history": ["Which countries joined Japan's naval exercises?"]}
    answer = ask(client, body).json()
    assert answer["passages"][0]["paragraph"] == 8 and not answer["abstained"]
    assert len(ask(client, {"question": QUESTION, "k": 1}).json()["passages"]) == 1


def test_k_beyond_the_passages_returns_only_real_ones(client):
    passages = ask(client, {"question": "Japan", "k": MAX_K}).json()["passages"]
    assert 1 <= len(passages) <= 9
    assert all(p["paragraph"] >= 1 for p in passages)


def test_off_topic_question_abstains(client):
    answer = ask(client, {"question": "What is the capital of France?"}).json()
    assert answer["abstained"] is True and len(answer["passages"]) <= 1


def test_docs_describe_every_model(client):
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    for name in ("AskRequest", "Answer", "Passage", "Highlight", "ArticleResponse", "HealthResponse", "ErrorResponse"):
        assert name in components, name
    ask_op = schema["paths"]["/api/ask"]["post"]
    assert {"200", "400", "413", "415", "422", "503"} <= set(ask_op["responses"])
    request = components["AskRequest"]
    assert set(request["properties"]) == {"question", "history", "k", "article", "scope"}  # no file or folder: ids
    assert request["properties"]["article"]["pattern"] == "[0-9a-f]{16}"
    assert request["properties"]["question"]["maxLength"] == MAX_QUESTION_CHARS
    assert request["properties"]["history"]["maxItems"] == MAX_HISTORY
    assert (request["properties"]["k"]["minimum"], request["properties"]["k"]["maximum"]) == (1, MAX_K)
    assert all(p.get("description") for p in request["properties"].values())
    assert request.get("examples")
    for path in ("/api/article", "/api/health"):
        assert not schema["paths"][path]["get"].get("parameters")


# ---- bad requests: a clear 4xx, and the next request still works ------------------------------------------------

_BAD_JSON = [
    ("missing question", {}, 422, "question: required"),
    ("empty question", {"question": ""}, 422, "question: is empty"),
    ("whitespace question", {"question": " \t\n  "}, 422, "please ask a question about the article"),
    ("punctuation only", {"question": "?!?..."}, 422, "please ask a question about the article"),
    ("control characters only", {"question": "\x01\x02\x1b"}, 422, "please ask a question about the article"),
    ("question over the limit", {"question": "a" * 2001}, 422, "is 2,001 characters; the limit is 2,000"),
    ("question not a string", {"question": 42}, 422, "question: must be text, not a number"),
    ("question null", {"question": None}, 422, "question: must be text, not null"),
    ("NUL in the question", {"question": "japan\x00 exercises"}, 422, "NUL"),
    ("k zero", {"question": QUESTION, "k": 0}, 422, "k: must be a whole number from 1 to 10, not 0"),
    ("k negative", {"question": QUESTION, "k": -1}, 422, "k: must be a whole number from 1 to 10, not -1"),
    ("k 999", {"question": QUESTION, "k": 999}, 422, "k: must be a whole number from 1 to 10, not 999"),
    ("k text", {"question": QUESTION, "k": "abc"}, 422, 'not "abc"'),
    ("k numeric text", {"question": QUESTION, "k": "3"}, 422, 'not "3"'),
    ("k float", {"question": QUESTION, "k": 2.5}, 422, "not 2.5"),
    ("k whole float", {"question": QUESTION, "k": 3.0}, 422, "not 3.0"),
    ("k bool", {"question": QUESTION, "k": True}, 422, "not true"),
    ("k null", {"question": QUESTION, "k": None}, 422, "not null"),
    ("history too long", {"question": QUESTION, "history": ["a"] * 21}, 422, "has 21 items; the limit is 20"),
    ("history of 10,000 turns", {"question": QUESTION, "history": ["q"] * 10_000}, 422, "has 10,000 items"),
    ("history not a list", {"question": QUESTION, "history": "abc"}, 422, "history: must be a list"),
    ("history item not text", {"question": QUESTION, "history": ["ok", 3]}, 422, "history[1]: must be text"),
    ("history item too long", {"question": QUESTION, "history": ["a" * 2001]}, 422, "history[0]: is 2,001 characters"),
    ("NUL in history", {"question": QUESTION, "history": ["a\x00b"]}, 422, "history[0]: contains a NUL"),
    ("unknown field", {"question": QUESTION, "index": "/etc"}, 422, 'unknown field "index"'),
    ("body is an array", [QUESTION], 422, "must be a JSON object"),
    ("body is a string", QUESTION, 422, "must be a JSON object"),
]


@pytest.mark.parametrize(("body", "status", "words"), [c[1:] for c in _BAD_JSON], ids=[c[0] for c in _BAD_JSON])
def test_bad_json_fields_get_a_clear_4xx(client, body, status, words):
    assert_clean_error(ask(client, body), status, words)
    assert_still_answers(client)


_BAD_BODIES = [
    ("empty body", b"", JSON, 422, "the body is empty"),
    ("malformed JSON", b'{"question": "x",}', JSON, 400, "malformed JSON"),
    ("truncated JSON", b'{"question": "x"', JSON, 400, "malformed JSON"),
    ("not UTF-8", b'{"question": "\xff\xfe"}', JSON, 400, "malformed JSON"),
    ("nested 30,000 deep", b"[" * 30_000 + b"]" * 30_000, JSON, 400, "malformed JSON"),
    ("huge integer", b'{"question": "x", "k": ' + b"9" * 5000 + b"}", JSON, 400, "malformed JSON"),
    ("lone surrogate", b'{"question": "japan \\ud800 exercises"}', JSON, 422, "question: contains an unpaired"),
    ("low surrogate in history", b'{"question": "j", "history": ["\\udfff"]}', JSON, 422, "history[0]: contains"),
    ("escaped NUL", b'{"question": "japan\\u0000"}', JSON, 422, "NUL"),
    ("text/plain", b'{"question": "japan"}', {"Content-Type": "text/plain"}, 415, "Content-Type: application/json"),
    ("form", b"question=japan", {"Content-Type": "application/x-www-form-urlencoded"}, 415, "application/json"),
    ("no content type", b'{"question": "japan"}', {}, 415, "got none"),
    ("multipart", b"--x--", {"Content-Type": "multipart/form-data; boundary=x"}, 415, "application/json"),
    ("body over 512 KB", b'{"question": "' + b"a" * 600_000 + b'"}', JSON, 413, "over 524,288 bytes"),
    ("question of 200,000 characters", b'{"question": "' + b"a" * 200_000 + b'"}', JSON, 422, "is 200,000 characters"),
]


@pytest.mark.parametrize(
    ("content", "headers", "status", "words"), [c[1:] for c in _BAD_BODIES], ids=[c[0] for c in _BAD_BODIES]
)
def test_bad_bodies_get_a_clear_4xx(client, content, headers, status, words):
    assert_clean_error(client.post("/api/ask", content=content, headers=headers), status, words)
    assert_still_answers(client)


def test_json_with_a_charset_and_json_suffix_types_are_accepted(client):
    for kind in ("application/json; charset=utf-8", "application/vnd.api+json"):
        body = json.dumps({"question": QUESTION}).encode()
        assert client.post("/api/ask", content=body, headers={"Content-Type": kind}).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status", "words"),
    [
        ("GET", "/api/ask", 405, "use POST"),
        ("DELETE", "/api/ask", 405, "use POST"),
        ("POST", "/api/article", 405, "use GET"),
        ("GET", "/api/nope", 404, "no such endpoint"),
        ("POST", "/api/ask/extra", 404, "no such endpoint"),
        ("GET", "/api/../../etc/passwd", 404, ""),
    ],
)
def test_unknown_routes_and_methods_get_json(client, method, path, status, words):
    response = client.request(method, path)
    assert_clean_error(response, status, words)
    if status == 405:
        assert response.headers["allow"]


@pytest.mark.parametrize(
    "question",
    [
        "What exercises did Japan join? 🇯🇵🚢",
        "日本はどの演習に参加しましたか",
        "ما هي التدريبات التي انضمت إليها اليابان",
        "Japan \u202eexercises\u202c naval",  # bidi override
        "Jape\u0301n exercises",  # combining mark
        "naval\u200b exercises\ufeff",  # zero-width characters
        "Japan\x07\x1b[31m exercises",  # C0 controls
        "<script>alert(1)</script> Japan",
        "🚢🚢🚢",
        "\u0300\u0301",  # combining marks only
    ],
)
def test_any_unicode_question_is_answered_or_cleanly_rejected(client, question):
    response = ask(client, {"question": question})
    assert response.status_code in (200, 422), response.text
    if response.status_code == 200:
        assert isinstance(response.json()["abstained"], bool)
    else:
        assert_clean_error(response, 422, "")


# ---- body limits: refused before the body is read -----------------------------------------------------------


def _raw_response(sock: socket.socket, timeout: float = 10) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_announced_10_mb_body_is_refused_without_waiting_for_it(server):
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(
            b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: 10000000\r\n\r\n" + b'{"question": "'
        )  # and not one byte more: the answer must come anyway
        head = _raw_response(sock)
    assert head.startswith(b"HTTP/1.1 413"), head[:200]


def test_chunked_body_is_cut_off_at_the_limit(server):
    chunk = b"a" * 8192
    sent = 0
    head = b""
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(
            b"POST /api/ask HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n"
        )
        sock.settimeout(0.05)
        while sent < 10_000_000:
            try:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
                head = sock.recv(65536)
                if head:
                    break
            except TimeoutError:
                continue
            except OSError:  # the server closed the connection after answering
                break
        if not head:
            head = _raw_response(sock)
    assert head.startswith(b"HTTP/1.1 413"), head[:200]
    assert sent < 1_000_000  # it stopped reading long before the 10 MB were sent


def test_large_chat_page_bodies_are_refused_too(client):
    response = client.post("/gradio_api/queue/join", content=b"x" * 3_000_000, headers=JSON)
    assert_clean_error(response, 413, "over 2,097,152 bytes")


# ---- security: loopback only, no files served from outside Gradio's own folders ---------------------------------


def test_server_listens_on_loopback_only(server):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing interface
            address = s.getsockname()[0]
        except OSError:
            pytest.skip("no network interface besides loopback")
    if address.startswith("127."):
        pytest.skip("no network interface besides loopback")
    with pytest.raises(OSError), socket.create_connection((address, server.port), timeout=2):
        pass


def _traversal_paths(server) -> list[str]:
    index = server.index_dir.resolve()
    data = next(p for p in index.iterdir() if p.is_dir())
    secret = next(p for p in data.iterdir() if p.is_file())
    return [
        "/gradio_api/file=/etc/passwd",
        "/gradio_api/file=%2Fetc%2Fpasswd",
        "/gradio_api/file=../../../../../../etc/passwd",
        "/gradio_api/file=..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/gradio_api/file=%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "/gradio_api/file=/tmp/gradio/../../etc/passwd",
        f"/gradio_api/file={index}/manifest.json",
        f"/gradio_api/file={secret}",
        "/gradio_api/file=index/article.txt",
        "/gradio_api/file=pyproject.toml",
        f"/gradio_api/file={ROOT}/pyproject.toml",
        "/gradio_api/file/etc/passwd",
        "/file=/etc/passwd",
        "/file=../../../../etc/passwd",
        "/static/../../../../etc/passwd",
        "/assets/..%2F..%2F..%2F..%2Fetc%2Fpasswd",
        "/gradio_api/file=http://127.0.0.1:9/secret",
    ]


def test_file_routes_serve_nothing_outside_gradio(server):
    manifest = (server.index_dir / "manifest.json").read_text()
    with httpx.Client(base_url=server.url, timeout=10) as raw:
        for path in _traversal_paths(server):
            response = raw.send(raw.build_request("GET", path))  # sent as written: no client-side normalizing
            assert response.status_code != 200, path
            assert "root:" not in response.text and manifest[:40] not in response.text, path


# ---- overload: a clean 503 with Retry-After, never a hang --------------------------------------------------------


class _Slow:
    """The real assistant, made slow, so that a burst of questions overflows a tiny queue."""

    def __init__(self, bot, delay: float):
        self.bot = bot
        self.delay = delay

    def reply(self, request):
        time.sleep(self.delay)
        return self.bot.reply(request)

    def __getattr__(self, name):
        return getattr(self.bot, name)


@contextlib.contextmanager
def _in_process(assistant, **options):
    """create_app(assistant) (without the chat page) served by uvicorn in a thread; yields a client."""
    import uvicorn

    from assistant.server.app import create_app

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(assistant, chat=False, **options), port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.02)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as c:
            yield c
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_overload_gets_503_with_retry_after(bot):
    with _in_process(_Slow(bot, 0.3), max_waiting=2, max_wait=0.5) as c:
        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(lambda _: ask(c, {"question": QUESTION}), range(8)))
        statuses = sorted(r.status_code for r in responses)
        assert set(statuses) == {200, 503}, statuses
        for r in responses:
            if r.status_code == 503:
                assert_clean_error(r, 503, "busy")
                assert r.headers["retry-after"] == "1"
        assert ask(c, {"question": QUESTION}).status_code == 200


class _Broken(_Slow):
    """The real assistant, except that some questions hit a bug whose message names a local file."""

    def reply(self, request):
        if "boom" in request.question:
            raise RuntimeError("cannot read /home/someone/secret/index.faiss")
        if "store" in request.question:
            raise IndexStoreError("no usable index in /home/someone/secret: rebuild it")
        return self.bot.reply(request)


def test_unexpected_errors_are_503_without_details_and_logged(bot, caplog):
    with _in_process(_Broken(bot, 0)) as c:
        for question in ("boom", "store"):
            response = ask(c, {"question": question})
            assert_clean_error(response, 503, "internal error, try again")
            assert response.headers["retry-after"] == "1" and "secret" not in response.text
        assert ask(c, {"question": QUESTION}).status_code == 200
    logged = caplog.text
    assert "Traceback" in logged and "RuntimeError: cannot read /home/someone/secret/index.faiss" in logged


# ---- schemathesis: no generated request gets a 5xx --------------------------------------------------------------


@pytest.fixture(scope="session")
def api_schema(server):
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    rejection = schema.config.checks.negative_data_rejection
    rejection.expected_statuses = [*rejection.expected_statuses, "413"]  # schema-breaking bodies can pass 512 KB
    return schema


@pytest.mark.parametrize(
    ("method", "path", "mode"),
    [("POST", "/api/ask", "positive"), ("POST", "/api/ask", "negative"), ("GET", "/api/article", "positive"),
     ("GET", "/api/health", "positive")],
)  # fmt: skip
def test_no_generated_request_gets_a_5xx(api_schema, method, path, mode):
    """Schemathesis generates requests from /openapi.json: valid ones, and (negative) ones that break the schema."""
    from schemathesis.checks import positive_data_acceptance

    operation = api_schema[path][method]

    @given(case=operation.as_strategy(generation_mode=schemathesis.GenerationMode(mode)))
    @settings(max_examples=50, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def run(case):
        SCHEMATHESIS_CASES[0] += 1
        # Every check (status codes and bodies as documented, schema-breaking data refused with 4xx, 405 for
        # other methods...) except one: a question can match the schema and still hold no word ("\u0300"): 422.
        response = case.call_and_validate(excluded_checks=[positive_data_acceptance], timeout=30)
        assert response.status_code < 500

    run()


# ---- load: concurrent clients get the same answers as one client asking in turn ---------------------------------

LOAD_QUESTIONS = [
    "what exercises did Japan join",
    "Which countries is Japan building a fighter jet with?",
    "What has the EU official said?",
    "Why has Tokyo boosted defense spending?",
    "What did the Nikkei reveal?",
    "What could cooperation with the U.S. include?",
    "What is Japan concerned about in the Taiwan strait?",
    "Who has not commented on the report?",
    "When does the bloc hope to reach an agreement?",
    "What is the capital of France?",
]


def test_ten_concurrent_clients_get_the_serial_answers(server, client):
    serial = {q: ask(client, {"question": q}).json() for q in LOAD_QUESTIONS}

    def one_client(n: int) -> list[tuple[str, int, dict]]:
        order = LOAD_QUESTIONS[n:] + LOAD_QUESTIONS[:n]
        with httpx.Client(base_url=server.url, timeout=60) as c:
            return [(q, (r := ask(c, {"question": q})).status_code, r.json()) for q in order]

    with ThreadPoolExecutor(10) as pool:
        results = [item for batch in pool.map(one_client, range(10)) for item in batch]
    assert len(results) == 100
    assert [s for _, s, _ in results if s != 200] == []
    for question, _, answer in results:
        assert answer == serial[question], question


# ---- serving: `assistant serve` is `python ui.py` -------------------------------------------------------------


def test_serve_and_ui_take_the_same_options():
    import subprocess
    import sys

    def options(*command: str) -> list[str]:
        done = subprocess.run(
            [sys.executable, *command, "--help"], capture_output=True, text=True, cwd=ROOT, timeout=60
        )
        assert done.returncode == 0, done.stderr
        return sorted(word for word in done.stdout.split() if word.startswith("--"))

    assert options("ui.py") == options("-m", "assistant", "serve")
    assert {"--article", "--index", "--host", "--port", "--model"} <= set(options("ui.py"))


def test_a_busy_port_fails_at_once_with_one_line(server):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "assistant", "serve", "--port", str(server.port), "--index", str(server.index_dir)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert done.returncode == 2
    assert f"cannot listen on 127.0.0.1:{server.port}" in done.stderr and "--port" in done.stderr
    assert "Traceback" not in done.stderr


def test_listening_socket_is_tcp_so_connections_get_nodelay():
    from assistant.server.serve import listen

    sock = listen("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP  # asyncio sets TCP_NODELAY on accepted sockets only then
    finally:
        sock.close()


# ---- README.md and docs/api.md: their HTTP examples run as written (against this server, not port 7860) --------

_DOC_BLOCKS = [
    (f"{doc.stem}-{lang}-{i}", lang, code)
    for doc in (ROOT / "README.md", ROOT / "docs" / "api.md")
    for i, (lang, code) in enumerate(re.findall(r"```(\w+)\n(.*?)```", doc.read_text(encoding="utf-8"), re.S))
    if lang in ("bash", "python") and "http://127.0.0.1:7860" in code
]


def _json_values(text: str) -> list:
    """Every JSON value printed one after another (a block may run several curl commands)."""
    decoder, values, at = json.JSONDecoder(), [], 0
    while at < len(text.rstrip()):
        value, end = decoder.raw_decode(text, at + len(text[at:]) - len(text[at:].lstrip()))
        values.append(value)
        at = end
    return values


@pytest.mark.parametrize(("lang", "code"), [b[1:] for b in _DOC_BLOCKS], ids=[b[0] for b in _DOC_BLOCKS])
def test_docs_examples_run(server, lang, code, tmp_path):
    import shutil
    import subprocess
    import sys

    code = code.replace("http://127.0.0.1:7860", server.url)
    if "gradio_client" in code:
        info = httpx.get(f"{server.url}/gradio_api/info", timeout=30).json()
        if "/ask" not in info.get("named_endpoints", {}):
            pytest.skip("the chat page has no Gradio /ask endpoint yet")
    if lang == "bash":
        if not shutil.which("curl"):
            pytest.skip("curl is not installed")
        done = subprocess.run(["bash", "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        values = _json_values(done.stdout)
        assert values and all(v.get("passages") or v.get("articles") or v.get("id") for v in values), done.stdout
        for answer in (v for v in values if "passages" in v):
            assert not answer["abstained"], answer
    else:
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip()


def test_the_largest_valid_request_fits_the_body_limit(client):
    """Field limits, not the byte limit, decide: 21 texts of 2,000 emoji, each sent as a \\ud83d\\udea2 escape."""
    text = "naval exercises " + "\U0001f6a2" * (MAX_QUESTION_CHARS - 16)
    body = json.dumps({"question": text, "history": [text] * MAX_HISTORY, "k": MAX_K})
    assert len(body.encode()) > 500_000
    response = client.post("/api/ask", content=body.encode(), headers=JSON)
    assert response.status_code == 200, response.text
