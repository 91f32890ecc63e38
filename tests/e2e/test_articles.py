"""The library over real HTTP: upload, paste and fetch articles, list, read, ask and delete them; bad input."""

from __future__ import annotations

import http.server
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests import documents

from .conftest import start_server, stop_server

HARBOUR_TITLE = "Harbour reopens after storm repairs"


@pytest.fixture(scope="module")
def library_server(tmp_path_factory):
    """`python ui.py --library DIR --allow-private-urls`: its own library, and links to this machine allowed."""
    folder = tmp_path_factory.mktemp("library-server")
    running = start_server(folder / "article.index", folder / "server.log", "--library", str(folder / "library"),
                           "--allow-private-urls")  # fmt: skip
    yield running
    stop_server(running)


@pytest.fixture(scope="module")
def api(library_server):
    with httpx.Client(base_url=library_server.url, timeout=120) as c:
        yield c


@pytest.fixture(scope="module")
def pages():
    """A web server on 127.0.0.1 with a news page, a PDF and a redirect to the page."""
    files = {"/news/harbour.html": (documents.news_page(), "text/html; charset=utf-8"),
             "/report.pdf": (documents.pdf(), "application/pdf")}  # fmt: skip

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            if self.path == "/moved":
                self.send_response(302)
                self.send_header("Location", "/news/harbour.html")
                self.end_headers()
                return
            body, kind = files.get(self.path, (b"not here", "text/plain"))
            self.send_response(200 if self.path in files else 404)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def held(api) -> list[tuple[str, str]]:
    """The library's articles by id and name (not `complete`, which turns true as e5 catches up)."""
    return [(a["id"], a["name"]) for a in api.get("/api/articles").json()["articles"]]


def upload(api, data: bytes, name: str) -> httpx.Response:
    return api.post("/api/articles", files={"file": (name, data)})


def ask(api, question: str, article: str | None = None) -> dict:
    body = {"question": question} | ({"article": article} if article else {})
    response = api.post("/api/ask", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_an_uploaded_news_page_answers_with_its_title_and_date(api):
    response = upload(api, documents.news_page(), "harbour.html")
    assert response.status_code in (200, 201), response.text
    entry = response.json()
    assert (entry["title"], entry["author"], entry["date"], entry["source"], entry["format"]) == (
        HARBOUR_TITLE, "Ana Ruiz", "2025-03-03", "Harbour Herald", "html"
    )  # fmt: skip
    assert entry["url"] == "https://herald.example/news/harbour-reopens"
    answer = ask(api, "How much did the repairs cost?", entry["id"])
    top = answer["passages"][0]
    assert not answer["abstained"] and "4.2 million euros" in top["highlight"]["text"]
    assert answer["article"]["id"] == entry["id"] and answer["article"]["title"] == HARBOUR_TITLE
    text = api.get(f"/api/articles/{entry['id']}").json()["text"]
    assert top["text"] == text[top["paragraph"] - 1]["text"]  # verbatim to the text the reader is shown
    shown = " ".join(p["text"] for p in text)
    for boilerplate in ("cookies", "Subscribe", "All rights reserved", "tracker", "Injected by a script", "Home"):
        assert boilerplate not in shown
    byline = ask(api, "Who wrote this article?", entry["id"])
    assert "Ana Ruiz" in byline["passages"][0]["text"] and not byline["abstained"]


def test_the_default_article_is_still_the_default(api):
    assert ask(api, "what exercises did Japan join")["passages"][0]["paragraph"] == 8
    listed = api.get("/api/articles").json()["articles"]
    assert listed[0]["default"] and listed[0]["source"] == "Reuters"


def test_a_pdf_pasted_text_and_a_fetched_page(api, pages):
    pdf = upload(api, documents.pdf(), "report.pdf").json()
    assert pdf["format"] == "pdf" and pdf["title"] == "New library for Valdemar"
    assert "80,000 books" in ask(api, "How many books will the library hold?", pdf["id"])["passages"][0]["text"]
    pasted = api.post("/api/articles", json={"text": "The bridge opened in May.\nIt cost 3 million euros.\n"})
    assert pasted.status_code == 201, pasted.text
    assert ask(api, "When did the bridge open?", pasted.json()["id"])["passages"][0]["paragraph"] == 1
    fetched = api.post("/api/articles", json={"url": f"{pages}/moved"})
    assert fetched.status_code in (200, 201), fetched.text
    assert fetched.json()["title"] == HARBOUR_TITLE  # the same page as the upload: stored once
    ids = [a["id"] for a in api.get("/api/articles").json()["articles"]]
    assert len(ids) == len(set(ids)) and {pdf["id"], pasted.json()["id"], fetched.json()["id"]} <= set(ids)


def test_the_same_file_uploaded_at_once_is_stored_once(api):
    data = documents.docx(title="Ferry timetable changes")
    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(lambda _: upload(api, data, "ferry.docx"), range(4)))
    assert sorted(r.status_code for r in responses) == [200, 200, 200, 201]
    assert len({r.json()["id"] for r in responses}) == 1
    ids = [a["id"] for a in api.get("/api/articles").json()["articles"]]
    assert ids.count(responses[0].json()["id"]) == 1


def test_delete_removes_an_article_and_only_it(api):
    entry = api.post("/api/articles", json={"text": "A short note about tides.\nTides rise twice a day.\n"}).json()
    before = [a["id"] for a in api.get("/api/articles").json()["articles"]]
    assert api.delete(f"/api/articles/{entry['id']}").status_code == 200
    after = [a["id"] for a in api.get("/api/articles").json()["articles"]]
    assert after == [i for i in before if i != entry["id"]]
    assert api.get(f"/api/articles/{entry['id']}").status_code == 404
    gone = api.post("/api/ask", json={"question": "When do tides rise?", "article": entry["id"]})
    assert gone.status_code == 404 and "no article" in gone.json()["detail"]
    default = api.get("/api/articles").json()["articles"][0]["id"]
    assert api.delete(f"/api/articles/{default}").status_code == 409


_BAD = [
    ("empty file", b"", "empty.txt", 422, "empty"),
    ("scanned PDF", documents.pdf(text=False), "scan.pdf", 422, "no text layer"),
    ("encrypted PDF", documents.pdf(password="secret"), "locked.pdf", 422, "encrypted"),
    ("corrupt DOCX", documents.docx()[:300], "broken.docx", 422, "damaged"),
    ("zip bomb DOCX", documents.zip_bomb_docx(), "bomb.docx", 422, "expands to"),
    ("page without an article", b"<!doctype html><html><body><nav>Home</nav></body></html>", "x.html", 422, "no article"),
    ("PNG named .html", b"\x89PNG\r\n\x1a\n" + bytes(64), "photo.html", 422, "binary"),
    ("HTML of 50 MB", b"<html><body><p>" + b"a" * 50_000_000 + b"</p></body></html>", "big.html", 413, "over"),
]


@pytest.mark.parametrize(("data", "name", "status", "words"), [b[1:] for b in _BAD], ids=[b[0] for b in _BAD])
def test_bad_files_get_a_clear_4xx_and_lose_nothing(api, data, name, status, words):
    before = held(api)
    response = upload(api, data, name)
    assert response.status_code == status, response.text
    assert words in response.json()["detail"] and "Traceback" not in response.text
    assert held(api) == before
    assert ask(api, "what exercises did Japan join")["passages"][0]["paragraph"] == 8


@pytest.mark.parametrize(
    ("body", "words"),
    [({"url": "file:///etc/passwd"}, "only http"), ({"url": "http://127.0.0.1:9/"}, "refused"),
     ({"url": "ftp://example.com/x"}, "only http"), ({"text": "x", "url": "http://a.b/"}, "not both"),
     ({}, "not both"), ({"text": 3}, "text:"), ({"txt": "x"}, "unknown field")],
)  # fmt: skip
def test_bad_json_and_urls_get_a_clear_422(api, body, words):
    response = api.post("/api/articles", json=body)
    assert response.status_code == 422, response.text
    assert words in response.json()["detail"]


def test_a_name_with_a_path_or_odd_unicode_is_kept_safe(api):
    response = upload(api, b"A lighthouse was repainted.\nIt is now red.\n", "../../etc/\u202eevil.txt")
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "evil.txt"


def test_unknown_ids_are_404_and_bad_ids_are_refused(api):
    assert api.get("/api/articles/0123456789abcdef").status_code == 404
    assert api.get("/api/articles/..%2F..%2Fetc").status_code == 404
    bad = api.post("/api/ask", json={"question": "what exercises did Japan join", "article": "../x"})
    assert bad.status_code == 422 and "article: must be an article id" in bad.json()["detail"]


def test_the_openapi_schema_documents_the_library(api):
    paths = api.get("/openapi.json").json()["paths"]
    assert {"post", "get"} <= set(paths["/api/articles"]) and "delete" in paths["/api/articles/{article_id}"]
    content = paths["/api/articles"]["post"]["requestBody"]["content"]
    assert {"multipart/form-data", "application/json"} <= set(content)
    assert "article" in json.dumps(api.get("/openapi.json").json()["components"]["schemas"]["AskRequest"])
