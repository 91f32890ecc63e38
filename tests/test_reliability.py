"""Reliability (issue 6): bad questions, hostile articles, damaged index folders, kills mid-write, concurrent
indexing, memory over many questions, and CLI errors that leak nothing. HTTP-side checks: tests/e2e/test_reliability_http.py.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from assistant import Assistant, IndexStoreError, QuestionError, store
from assistant.article import MAX_ARTICLE_BYTES, read_article
from assistant.errors import ArticleError
from tests.conftest import DEFAULT_ARTICLE, ROOT, FakeEmbedder
from tests.fuzzing import FUZZ, KILLS, count, fuzz_summary  # noqa: F401  (fuzz_summary: the session's case count)

ARTICLE = (
    "Japan held naval exercises with Canada and the Philippines last week.\n"
    "The EU wants a defense pact with Japan by the end of 2024.\n"
    "Tokyo signed a treaty to build a fighter jet with Britain and Italy.\n"
    "Source: Reuters\n"
)
CI = bool(os.environ.get("CI"))


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def article(tmp_path) -> Path:
    return write(tmp_path, "news.txt", ARTICLE)


@pytest.fixture
def bot(article, fake) -> Assistant:
    return Assistant.from_article(article, embedder=fake)


def folder_of(article: Path) -> Path:
    return store.default_index_dir(article)


def assert_index_intact(folder: Path) -> dict:
    """The manifest names one complete data folder whose files all match their recorded size and sha256."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    data = folder / manifest["data"]
    assert sorted(p.name for p in data.iterdir()) == sorted(manifest["files"])
    for name, digest in manifest["files"].items():
        assert store.folder._digest(data / name) == digest, name
    return manifest


# ---- 1. questions without words: refused before any search runs -------------------------------------------------

NO_WORDS = [
    "", " ", "\t\n\r ", "?", "?!?...", "🚢🚢🚢", "😀 🎉 👍", "🇯🇵", "。、「」！？", "？？？", "…", "«»", "¿¡",
    "\u3000\u3000", "\u200b\u200d\ufeff", "\u202e\u202c", "\u0301\u0300", "\x01\x02\x1b", "--- *** ###", "∑∫√",
]  # fmt: skip


@pytest.mark.parametrize("question", NO_WORDS)
def test_questions_without_words_are_refused_before_any_search(bot, question, monkeypatch):
    monkeypatch.setattr(bot.retriever, "rank", lambda *a, **k: pytest.fail("a search ran"))
    with pytest.raises(QuestionError, match="please ask a question about the article"):
        bot.ask(question)


@pytest.mark.parametrize("question", ["𓀀𓀁𓀂", "𓀀 𓀁", "\U0001d11e\U0001d11e", "ꙮꙮꙮ"])
def test_questions_of_unknown_tokens_only_are_refused_before_any_search(real_bot, question, monkeypatch):
    monkeypatch.setattr(real_bot.retriever, "rank", lambda *a, **k: pytest.fail("a search ran"))
    with pytest.raises(QuestionError, match="please ask a question about the article"):
        real_bot.ask(question)


# ---- 3. k and history out of range ---------------------------------------------------------------------------------


@pytest.mark.parametrize("k", [0, -1, 999, 11, "abc", "3", 2.5, 3.0, True, None])
def test_k_out_of_range_or_not_a_whole_number_is_a_question_error(bot, k):
    with pytest.raises(QuestionError, match="k: must be a whole number from 1 to 10"):
        bot.ask("naval exercises", k=k)


def test_history_of_10000_turns_is_refused_without_reading_it(bot, monkeypatch):
    monkeypatch.setattr(bot.retriever, "rank", lambda *a, **k: pytest.fail("a search ran"))
    with pytest.raises(QuestionError, match=r"history: has 10,?000 items; the limit is 20"):
        bot.ask("naval exercises", history=["what about Japan?"] * 10_000)


# ---- 4. k larger than the article: only real passages -------------------------------------------------------------


@pytest.mark.parametrize("paragraphs", [1, 2])
@pytest.mark.parametrize("which", ["fake", "real"])
def test_k_beyond_a_tiny_article_returns_only_its_passages(tmp_path, request, which, paragraphs):
    embedder = FakeEmbedder() if which == "fake" else request.getfixturevalue("real_embedder")
    lines = ARTICLE.splitlines()[:paragraphs]
    path = write(tmp_path, "tiny.txt", "\n".join(lines) + "\n")
    bot = Assistant.from_article(path, embedder=embedder)
    for k in (1, paragraphs, paragraphs + 1, 10):
        answer = bot.ask("Which countries joined the naval exercises with Japan?", k=k)
        assert not answer.abstained
        assert len(answer.passages) == min(k, paragraphs)
        assert [p.text for p in answer.passages] == [p.text for p in answer.passages if p.text in lines]
        assert all(p.paragraph >= 1 and p.highlight.end > p.highlight.start for p in answer.passages)
        assert len({p.paragraph for p in answer.passages}) == len(answer.passages)


def test_k_beyond_a_tiny_article_over_http(tmp_path, fake):
    from fastapi.testclient import TestClient

    from assistant.server.app import create_app

    for n in (1, 2):
        path = write(tmp_path, f"tiny{n}.txt", "\n".join(ARTICLE.splitlines()[:n]) + "\n")
        with TestClient(create_app(Assistant.from_article(path, embedder=fake), chat=False)) as client:
            for k in (n, n + 1, 10):
                response = client.post("/api/ask", json={"question": "naval exercises with Canada", "k": k})
                assert response.status_code == 200, response.text
                passages = response.json()["passages"]
                assert len(passages) == n
                assert sorted(p["paragraph"] for p in passages) == list(range(1, n + 1))


# ---- 6. hostile articles ---------------------------------------------------------------------------------------------

HOSTILE = [
    "<script>alert('xss')</script> Japan held naval exercises with Canada.",
    '<img src=x onerror="alert(1)"> The EU wants a defense pact.',
    "[click me](javascript:alert(1)) and **bold** and `code` about the fighter jet.",
    "# Not a heading here, ## nor here; | a | table | --- about Tokyo",
    "{{7*7}} ${jndi:ldap://x/y} '; DROP TABLE articles; -- the treaty was signed in Rome.",
    "&lt;b&gt;escaped&lt;/b&gt; &amp; entities &#x27; about Britain and Italy.",
    "\u202eReversed text\u202c and \u200bzero\u200d width characters in the report.",
    "<iframe src='file:///etc/passwd'></iframe> Canada and the Philippines joined.",
]


@pytest.mark.parametrize("which", ["fake", "real"])
def test_html_js_and_markdown_payloads_are_indexed_and_quoted_literally(tmp_path, request, which):
    embedder = FakeEmbedder() if which == "fake" else request.getfixturevalue("real_embedder")
    path = write(tmp_path, "hostile.txt", "# A hostile article\n\n" + "\n\n".join(HOSTILE) + "\n")
    bot = Assistant.from_article(path, embedder=embedder)
    assert bot.article.title == "A hostile article"
    texts = [p.text for p in bot.article.paragraphs]
    assert texts[1:] == HOSTILE  # a text file: nothing stripped, unescaped or rendered
    for line in HOSTILE:
        answer = bot.ask(line[:200], k=10)
        quoted = {p.text for p in answer.passages}
        assert quoted <= set(texts)
    answer = bot.ask("Which countries joined the naval exercises with Japan?", k=10)
    assert HOSTILE[0] in [p.text for p in answer.passages]


def test_hostile_markdown_is_shown_without_markup_and_quoted_as_shown(tmp_path, fake):
    path = write(tmp_path, "hostile.md", "# A hostile article\n\n" + "\n\n".join(HOSTILE) + "\n")
    bot = Assistant.from_article(path, embedder=fake)
    assert bot.article.title == "A hostile article" and bot.article.format == "markdown"
    shown = bot.article.text
    for markup in ("<script", "<img", "<iframe", "**", "`", "# Not"):
        assert markup not in shown, markup
    # markdown-it makes no link of a javascript: URL: a reader of the rendered page sees the brackets as text too.
    assert "[click me](javascript:alert(1)) and bold and code about the fighter jet." in shown
    for p in bot.ask("Which countries joined the naval exercises with Japan?", k=10).passages:
        assert p.text in shown and p.text[p.highlight.start : p.highlight.end] == p.highlight.text


class CachedFake(FakeEmbedder):
    """The fake embedder with each word's vector computed once: a 5 MB article has a million words."""

    def __init__(self):
        super().__init__()
        self._vectors: dict[str, np.ndarray] = {}

    def _word(self, word: str) -> np.ndarray:
        key = word.lower()
        if key not in self._vectors:
            self._vectors[key] = super()._word(key)
        return self._vectors[key]


def distinct_text(size: int, seed: int = 0) -> str:
    """About `size` bytes of distinct lines, each holding a unique code (so any line can be asked for)."""
    rng = random.Random(seed)
    words = [f"{a}{b}" for a in ("ka", "lo", "mi", "nu", "pe", "ro", "su", "ti") for b in ("bar", "den", "fon",
             "gul", "hex", "jam", "kip", "lum", "mor", "nix")]  # fmt: skip
    lines, total, n = [], 0, 0
    while total < size:
        line = " ".join(rng.choice(words) for _ in range(10)) + f". Entry code{n} is recorded here."
        lines.append(line)
        total += len(line) + 1
        n += 1
    return "\n".join(lines) + "\n"


def test_a_5_mb_article_of_distinct_text_is_indexed_and_answerable(tmp_path):
    path = write(tmp_path, "big.txt", distinct_text(5_000_000))
    assert path.stat().st_size >= 5_000_000
    embedder = CachedFake()
    bot = Assistant.from_article(path, embedder=embedder)
    paragraphs = len(bot.article.paragraphs)
    assert bot.index.manifest["counts"]["passages"] == paragraphs > 50_000  # above APPROXIMATE_ABOVE: the IVF path
    for n in (0, 12_345, paragraphs - 1):
        answer = bot.ask(f"Which entry is code{n}?", k=3)
        assert answer.passages[0].paragraph == n + 1
    assert_index_intact(folder_of(path))
    calls = embedder.calls
    again = Assistant.load(folder_of(path), embedder=embedder)
    assert embedder.calls == calls
    assert again.ask("Which entry is code777?").passages[0].paragraph == 778


def test_a_5_mb_article_of_repeated_paragraphs_with_the_real_model(tmp_path, real_embedder):
    text = DEFAULT_ARTICLE.read_text(encoding="utf-8")
    path = write(tmp_path, "repeated.txt", (text.rstrip("\n") + "\n") * (5_000_000 // len(text) + 1))
    assert path.stat().st_size >= 5_000_000
    bot = Assistant.from_article(path, embedder=real_embedder)
    assert bot.index.manifest["counts"]["passages"] == 9  # repeats are embedded once
    top = bot.ask("what exercises did Japan join", k=1).passages[0]
    assert top.paragraph == 8 and len(top.paragraphs) > 1000
    assert top.highlight.text.startswith("Last week, Japan conducted joint naval exercises")


@pytest.mark.parametrize("which", ["fake", "real"])
def test_an_article_of_one_paragraph(tmp_path, request, which):
    embedder = FakeEmbedder() if which == "fake" else request.getfixturevalue("real_embedder")
    path = write(tmp_path, "one.txt", "Japan held naval exercises with Canada. It was the first time in a decade.")
    bot = Assistant.from_article(path, embedder=embedder)
    answer = bot.ask("Who held naval exercises with Canada?", k=10)
    assert [p.paragraph for p in answer.passages] == [1]
    assert answer.passages[0].highlight.text == "Japan held naval exercises with Canada."


def test_an_article_of_10000_one_word_lines(tmp_path, fake):
    words = [f"word{n}" for n in range(10_000)]
    path = write(tmp_path, "words.txt", "\n".join(words) + "\n")
    bot = Assistant.from_article(path, embedder=fake)
    assert len(bot.article.paragraphs) == 10_000 == bot.index.manifest["counts"]["passages"]
    for n in (0, 4321, 9999):
        assert bot.ask(f"what about word{n}", k=2).passages[0].paragraph == n + 1


def test_an_article_over_the_size_limit_is_refused_before_reading(tmp_path, fake):
    path = tmp_path / "huge.txt"
    with path.open("wb") as f:
        f.truncate(MAX_ARTICLE_BYTES + 1)  # sparse: nothing is written, and nothing must be read
    with pytest.raises(ArticleError, match="the limit is 10,000,000: split it into smaller articles"):
        Assistant.from_article(path, embedder=fake)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["huge.txt"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "has no text"),
        (b" \n\t\r\n \x0c", "has no text"),
        (b"abc\x00def", "binary"),
        (b"\xc3\x28", "not valid UTF-8"),
    ],
)
def test_unusable_articles_are_clear_errors(tmp_path, fake, content, message):
    path = tmp_path / "a.txt"
    path.write_bytes(content)
    with pytest.raises(ArticleError, match=message):
        Assistant.from_article(path, embedder=fake)


# ---- 7. index folder faults: detected before FAISS or numpy read a byte, then rebuilt ------------------------------


def forbid_reading_index_data(monkeypatch) -> None:
    """Make any read of index arrays fail loudly, to prove that damage is caught by the checksums first."""
    import faiss

    def refuse(*args, **kwargs):
        raise AssertionError("index data was read before the damage was detected")

    monkeypatch.setattr(faiss, "read_index", refuse)
    monkeypatch.setattr(np, "load", refuse)


def _set(key, value):
    def damage(folder: Path, manifest: dict) -> None:
        manifest[key] = value
        (folder / "manifest.json").write_text(json.dumps(manifest))

    return damage


def _raw(content: bytes):
    def damage(folder: Path, manifest: dict) -> None:
        (folder / "manifest.json").write_bytes(content)

    return damage


def _files(change):
    def damage(folder: Path, manifest: dict) -> None:
        change(manifest["files"])
        (folder / "manifest.json").write_text(json.dumps(manifest))

    return damage


def _manifest_is_a_folder(folder: Path, manifest: dict) -> None:
    (folder / "manifest.json").unlink()
    (folder / "manifest.json").mkdir()


def _data_folder_deleted(folder: Path, manifest: dict) -> None:
    shutil.rmtree(folder / manifest["data"])


def _data_folder_emptied(folder: Path, manifest: dict) -> None:
    for f in (folder / manifest["data"]).iterdir():
        f.unlink()


def _folder_deleted(folder: Path, manifest: dict) -> None:
    shutil.rmtree(folder)


MANIFEST_FAULTS = {
    "index folder deleted": _folder_deleted,
    "manifest deleted": lambda folder, m: (folder / "manifest.json").unlink(),
    "manifest empty": _raw(b""),
    "manifest random bytes": _raw(bytes(random.Random(6).getrandbits(8) for _ in range(300))),
    "manifest not UTF-8": _raw(b'\xff\xfe{"format": 1}'),
    "manifest truncated": lambda folder, m: _raw((folder / "manifest.json").read_bytes()[:100])(folder, m),
    "manifest a JSON list": _raw(b"[1, 2, 3]"),
    "manifest JSON null": _raw(b"null"),
    "manifest a JSON string": _raw(b'"manifest"'),
    "manifest a folder": _manifest_is_a_folder,
    "format unknown": _set("format", 99),
    "another model": _set("model", "another-model"),
    "another dimension": _set("dimension", 384),
    "dimension as text": _set("dimension", "32"),
    "article not an object": _set("article", "news.txt"),
    "article sha256 of another text": _set("article", {"sha256": "0" * 64}),
    "splitting rules changed": _set("splitting", {"paragraphs": "other/9"}),
    "data missing": _set("data", None),
    "data a number": _set("data", 7),
    "data a list": _set("data", ["data-x"]),
    "data outside the folder": _set("data", ".."),
    "data an absolute path": _set("data", "/etc"),
    "data folder deleted": _data_folder_deleted,
    "data folder emptied": _data_folder_emptied,
    "files missing": _set("files", None),
    "files a list": _set("files", ["passages.faiss"]),
    "files empty": _set("files", {}),
    "a file entry not an object": _files(lambda files: files.update({"passages.faiss": "abc"})),
    "a file entry without sha256": _files(lambda files: files["passages.faiss"].pop("sha256")),
    "a file size as text": _files(lambda files: files["passages.faiss"].update(bytes="12")),
    "a file size negative": _files(lambda files: files["passages.faiss"].update(bytes=-1)),
    "a file sha256 a number": _files(lambda files: files["passages.faiss"].update(sha256=12)),
    "an extra file listed": _files(lambda files: files.update({"../../etc/passwd": files["passages.faiss"]})),
}


@pytest.mark.parametrize("fault", list(MANIFEST_FAULTS), ids=list(MANIFEST_FAULTS))
def test_manifest_faults_are_detected_then_rebuilt(article, fake, fault, monkeypatch):
    Assistant.from_article(article, embedder=fake)
    folder = folder_of(article)
    MANIFEST_FAULTS[fault](folder, json.loads((folder / "manifest.json").read_text()))
    with monkeypatch.context() as m:
        forbid_reading_index_data(m)
        with pytest.raises(store.Stale):
            store.open_index(folder, read_article(article), fake, None)
        if fault not in ("index folder deleted", "article sha256 of another text"):  # load() takes any article
            with pytest.raises(IndexStoreError, match=r"no usable index in .*: build it with `assistant index"):
                Assistant.load(folder, embedder=fake)
    if fault == "manifest a folder":
        (folder / "manifest.json").rmdir()  # a folder in its place is no index, but not ours to delete either
    bot = Assistant.from_article(article, embedder=fake)
    assert bot.ask("Who signed a treaty to build a fighter jet?").passages[0].paragraph == 3
    assert_index_intact(folder)


def _flip_one_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


FILE_FAULTS = {
    "deleted": lambda p: p.unlink(),
    "emptied": lambda p: p.write_bytes(b""),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "random bytes of the same size": lambda p: p.write_bytes(os.urandom(p.stat().st_size)),
    "one byte flipped": _flip_one_byte,
    "one byte appended": lambda p: p.write_bytes(p.read_bytes() + b"\n"),
    "replaced by a folder": lambda p: (p.unlink(), p.mkdir()),
}


@pytest.mark.parametrize("fault", list(FILE_FAULTS), ids=list(FILE_FAULTS))
def test_every_data_file_fault_is_detected_by_checksum_then_rebuilt(article, fake, fault, monkeypatch):
    Assistant.from_article(article, embedder=fake)
    folder = folder_of(article)
    names = sorted(json.loads((folder / "manifest.json").read_text())["files"])
    assert {"passages.faiss", "passages.jsonl", "article.json", "tokens.npy"} <= set(names)
    for name in names:
        manifest = json.loads((folder / "manifest.json").read_text())
        FILE_FAULTS[fault](folder / manifest["data"] / name)
        with monkeypatch.context() as m:
            forbid_reading_index_data(m)
            with pytest.raises(store.Stale, match="missing|damaged|incomplete"):
                store.open_index(folder, read_article(article), fake, None)
        bot = Assistant.from_article(article, embedder=fake)
        assert bot.ask("Who signed a treaty to build a fighter jet?").passages[0].paragraph == 3, name
        assert_index_intact(folder)


def test_an_edited_passages_file_never_gives_a_stale_answer(article, fake):
    Assistant.from_article(article, embedder=fake)
    folder = folder_of(article)
    manifest = json.loads((folder / "manifest.json").read_text())
    passages = folder / manifest["data"] / "passages.jsonl"
    passages.write_text(passages.read_text().replace("Canada", "Mexico"))  # same size, valid JSON, wrong sha256
    with pytest.raises(store.Stale, match="passages.jsonl is damaged"):
        store.open_index(folder, read_article(article), fake, None)
    answer = Assistant.from_article(article, embedder=fake).ask("Who joined the naval exercises?")
    assert "Canada" in answer.passages[0].text and "Mexico" not in answer.text


def test_an_edited_article_never_gives_a_stale_answer(article, fake):
    bot = Assistant.from_article(article, embedder=fake)
    assert "Canada" in bot.ask("Who joined the naval exercises?").passages[0].text
    article.write_text(ARTICLE.replace("Canada", "Mexico"))
    answer = Assistant.from_article(article, embedder=fake).ask("Who joined the naval exercises?")
    assert "Mexico" in answer.passages[0].text and "Canada" not in answer.text


class _Payload:
    """Unpickling this would create a file: the proof that a pickle was executed."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_pickle_in_an_npy_file_is_never_unpickled(article, fake, tmp_path):
    Assistant.from_article(article, embedder=fake)
    folder = folder_of(article)
    manifest = json.loads((folder / "manifest.json").read_text())
    marker = tmp_path / "pickle-was-executed"
    tokens = folder / manifest["data"] / "tokens.npy"
    np.save(tokens, np.array([_Payload(marker)], dtype=object), allow_pickle=True)
    assert b"'descr': '|O'" in tokens.read_bytes()[:128]  # an object array: numpy stores it as a pickle
    manifest["files"]["tokens.npy"] = store.folder._digest(
        tokens
    )  # the checksum agrees: only allow_pickle=False stops it
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert not marker.exists()
    with pytest.raises(store.Stale, match="unreadable index data"):
        store.open_index(folder, read_article(article), fake, None)
    with pytest.raises(IndexStoreError):
        Assistant.load(folder, embedder=fake)
    bot = Assistant.from_article(article, embedder=fake)
    assert bot.ask("Who signed a treaty to build a fighter jet?").passages[0].paragraph == 3
    assert not marker.exists()


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=8,
)


def test_any_manifest_is_loaded_or_refused_as_stale(article, fake):
    """Fuzz: any key of a good manifest (or of a file entry) set to any JSON value: Stale, never another error."""
    Assistant.from_article(article, embedder=fake)
    folder = folder_of(article)
    good = (folder / "manifest.json").read_text()
    keys = [(k,) for k in json.loads(good)] + [("files", name, field) for name in json.loads(good)["files"]
                                               for field in ("bytes", "sha256")]  # fmt: skip
    parsed = read_article(article)
    outcomes: Counter[str] = Counter()

    @FUZZ
    @given(st.lists(st.tuples(st.sampled_from(keys), JSON_VALUES), min_size=1, max_size=3))
    def run(changes):
        count("manifests")
        manifest = json.loads(good)
        for path, value in changes:
            target = manifest
            for key in path[:-1]:
                target = target[key] if isinstance(target.get(key), dict) else target.setdefault(key, {})
                if not isinstance(target, dict):
                    break
            else:
                target[path[-1]] = value
        (folder / "manifest.json").write_text(json.dumps(manifest))
        try:
            index = store.open_index(folder, parsed, fake, None)
        except store.Stale:
            outcomes["stale"] += 1
        else:
            outcomes["loaded"] += 1
            assert Assistant(index, fake).ask("fighter jet treaty").passages[0].paragraph == 3
        try:
            Assistant.load(folder, embedder=fake)
        except IndexStoreError as e:
            assert "no usable index" in str(e)

    try:
        run()
    finally:
        (folder / "manifest.json").write_text(good)
    assert outcomes["stale"], outcomes


# ---- 7. read-only folders: a current index still loads; a stale one is a clear error ------------------------------

_READ_ONLY_CHILD = """
import json, sys
sys.path.insert(0, sys.argv[1])
from assistant import Assistant
from assistant.errors import AssistantError
from tests.conftest import FakeEmbedder
try:
    bot = Assistant.from_article(sys.argv[2], sys.argv[3], embedder=FakeEmbedder())
    print(json.dumps({"paragraph": bot.ask("fighter jet treaty").passages[0].paragraph}))
except AssistantError as e:
    print(json.dumps({"error": type(e).__name__, "message": str(e)}))
"""


def _run_read_only(article: Path, folder: Path) -> dict:
    """Open the index in a process that cannot write the folder (root, too, once it drops CAP_DAC_OVERRIDE)."""
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o555 if path.is_dir() else 0o444)
    prefix = []
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("root ignores file permissions, and setpriv is not installed to drop that power")
        prefix = ["setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner"]
    done = subprocess.run(
        [*prefix, sys.executable, "-c", _READ_ONLY_CHILD, str(ROOT), str(article), str(folder)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )  # fmt: skip
    for path in [folder, *folder.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    assert done.returncode == 0, done.stderr
    return {**json.loads(done.stdout), "stderr": done.stderr}


def test_read_only_folder_with_a_current_index_answers(article, fake):
    Assistant.from_article(article, embedder=fake)
    result = _run_read_only(article, folder_of(article))
    assert result.get("paragraph") == 3, result
    assert "indexing" not in result["stderr"]


@pytest.mark.parametrize("fault", ["article edited", "faiss file damaged", "manifest garbage"])
def test_read_only_folder_with_a_stale_or_damaged_index_is_a_clear_error(article, fake, fault):
    Assistant.from_article(article, embedder=fake)
    folder = folder_of(article)
    manifest = json.loads((folder / "manifest.json").read_text())
    if fault == "article edited":
        article.write_text(ARTICLE + "A new paragraph.\n")
    elif fault == "faiss file damaged":
        _flip_one_byte(folder / manifest["data"] / "passages.faiss")
    else:
        (folder / "manifest.json").write_bytes(b"\x00garbage")
    before = {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.rglob("*")}
    result = _run_read_only(article, folder)
    assert result.get("error") == "IndexStoreError", result
    assert "not writable" in result["message"] and "--index DIR" in result["message"]
    assert "Traceback" not in result["stderr"]
    assert {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in folder.rglob("*")} == before  # nothing touched


# ---- 8. SIGKILL while indexing: the previous index always survives --------------------------------------------------

_KILL_CHILD = """
import os, sys, time
sys.path.insert(0, sys.argv[1])
from assistant import Assistant, store
from tests.conftest import FakeEmbedder

folder, versions = sys.argv[2], sys.argv[3:]
if "--real" in versions:
    from assistant.embed import load_embedder
    versions.remove("--real")
    embedder = load_embedder()
else:
    embedder = FakeEmbedder()
save, replace, remove_unused, fsync = store.save, os.replace, store.folder._remove_unused, store.folder._fsync

def announced(index, where):
    print("save", index.article.sha256, flush=True)
    save(index, where)
    print("saved", index.article.sha256, flush=True)

def replaced(source, target):
    replace(source, target)
    if str(target).endswith("manifest.json"):
        print("replaced", flush=True)

def removing(*args, **kwargs):
    print("cleanup", flush=True)
    remove_unused(*args, **kwargs)

def slow_fsync(path):  # the same steps, stretched, so that random kills land all over the write
    fsync(path)
    time.sleep(0.01)

store.save, store.folder._remove_unused, store.folder._fsync, os.replace = announced, removing, slow_fsync, replaced
print("ready", flush=True)
n = 0
while True:  # rebuild, alternating between article versions, until killed
    Assistant.from_article(versions[n % len(versions)], folder, embedder=embedder)
    n += 1
"""


def _versions(folder: Path, n: int) -> dict[str, tuple[Path, str]]:
    """n versions of a longer article, each naming its own code word: sha256 -> (file, code word)."""
    base = DEFAULT_ARTICLE.read_text(encoding="utf-8") + distinct_text(20_000, seed=3)
    out = {}
    for i in range(n):
        word = f"codeword{i}x"
        path = write(folder, f"v{i}.txt", base + f"The secret code word of this version is {word}.\n")
        out[read_article(path).sha256] = (path, word)
    return out


def _kill_rounds(tmp_path, embedder, rounds: int, delay: float, real: bool = False) -> Counter:
    """Rebuild in a child process, SIGKILL it at a random moment, then check the folder; `rounds` times."""
    versions = _versions(tmp_path, 3)
    files = [str(path) for path, _ in versions.values()]
    folder = tmp_path / "shared.index"
    Assistant.from_article(files[0], folder, embedder=embedder)  # a complete index exists before the first kill
    rng = random.Random(20260601)
    phases: Counter[str] = Counter()
    for round_ in range(rounds):
        before = store.read_manifest(folder)["article"]["sha256"]
        child = subprocess.Popen(
            [sys.executable, "-c", _KILL_CHILD, str(ROOT), str(folder), *files, *(["--real"] if real else [])],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT,
        )  # fmt: skip
        try:
            assert child.stdout.readline().strip() == "ready"
            if round_ % 3:  # two rounds in three: a random moment of a write, else of the whole rebuild loop
                line = child.stdout.readline()
                assert line.startswith("save"), line
                time.sleep(rng.uniform(0, 0.25))
            else:
                time.sleep(rng.uniform(0, delay))
        finally:
            child.kill()
            child.wait(timeout=60)
        events = [line.split() for line in child.stdout.read().splitlines()]
        child.stdout.close()
        assert child.returncode == -9
        if round_ % 3:
            events.insert(0, line.split())
        saved = [e[1] for e in events if e[0] == "saved"]
        old = saved[-1] if saved else before  # the last index known complete
        writing = events[-1][1] if events and events[-1][0] == "save" else None
        after_swap = events[-1][0] in ("replaced", "cleanup") if events else False
        phases[_phase(events[-1][0] if events else "")] += 1
        manifest = assert_index_intact(folder)
        sha = manifest["article"]["sha256"]
        if after_swap:  # the new manifest is in place: the new index is the one
            assert sha == next(e[1] for e in reversed(events) if e[0] == "save")
        elif writing:  # killed mid-write: the old index (or the new one, if the swap happened just before the kill)
            assert sha in (old, writing)
        else:
            assert sha == old
        path, word = versions[sha]
        loaded = Assistant.load(folder, embedder=embedder)
        assert loaded.article.sha256 == sha
        assert word in loaded.ask("What is the secret code word of this version?").passages[0].text
        with pytest.MonkeyPatch.context() as m:  # the article's own index is loaded as it stands, not rebuilt
            m.setattr(store, "build", lambda *a, **k: pytest.fail("the index was rebuilt after a kill"))
            reopened = Assistant.from_article(path, folder, embedder=embedder)
        assert reopened.ask("What is the secret code word of this version?").passages[0].text.endswith(f"{word}.")
    # The next build clears whatever the kills left behind.
    other = next(path for other_sha, (path, _) in versions.items() if other_sha != sha)
    Assistant.from_article(other, folder, embedder=embedder)
    leftovers = sorted(p.name for p in folder.iterdir() if p.is_dir())
    assert len(leftovers) == 1 and leftovers[0].startswith("data-"), leftovers
    assert_index_intact(folder)
    return phases


def _phase(last_event: str) -> str:
    return {
        "save": "writing the new data folder or manifest",
        "replaced": "just after the manifest swap",
        "cleanup": "deleting old data folders",
    }.get(last_event, "reading, parsing or embedding")


KILL_ROUNDS = int(os.environ.get("KILL_ROUNDS", "8" if CI else "20"))


def test_sigkill_while_indexing_never_loses_the_previous_index(tmp_path):
    phases = _kill_rounds(tmp_path, FakeEmbedder(), KILL_ROUNDS, delay=0.6)
    KILLS.update(phases)
    assert sum(phases.values()) == KILL_ROUNDS


def test_sigkill_while_indexing_with_the_real_model(tmp_path, real_embedder):
    phases = _kill_rounds(tmp_path, real_embedder, 3, delay=2.5, real=True)
    KILLS.update({f"{k} (real model)": v for k, v in phases.items()})


# ---- 9. two processes indexing the same folder at once ------------------------------------------------------------

_BUILD_CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv[1])
from assistant import Assistant
from assistant.cli import configure_logging
from tests.conftest import FakeEmbedder

configure_logging()  # the engine's "indexing ..." line on stderr, as the CLI shows it

class Slow(FakeEmbedder):
    def encode_tokens(self, texts):
        time.sleep(1.5)  # a long build: the other process arrives while this one holds the lock
        return super().encode_tokens(texts)

bot = Assistant.from_article(sys.argv[2], sys.argv[3], embedder=Slow())
print(json.dumps(bot.ask("Who signed a treaty to build a fighter jet?").to_dict()))
"""


def test_two_processes_indexing_one_folder_build_once_and_agree(tmp_path):
    article = write(tmp_path, "news.txt", ARTICLE)
    folder = tmp_path / "shared.index"
    children = [
        subprocess.Popen([sys.executable, "-c", _BUILD_CHILD, str(ROOT), str(article), str(folder)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        for _ in range(2)
    ]  # fmt: skip
    results = [child.communicate(timeout=300) for child in children]
    for child, (_, err) in zip(children, results, strict=True):
        assert child.returncode == 0, err
        assert "Traceback" not in err
    assert sum(err.count("assistant: indexing") for _, err in results) == 1  # one built, the other waited and loaded
    answers = [json.loads(out) for out, _ in results]
    assert answers[0] == answers[1] and answers[0]["passages"][0]["paragraph"] == 3
    manifest = assert_index_intact(folder)
    assert [p.name for p in folder.iterdir() if p.is_dir()] == [manifest["data"]]


_REBUILD_LOOP = """
import sys
sys.path.insert(0, sys.argv[1])
from assistant import Assistant
from tests.conftest import FakeEmbedder
embedder, versions = FakeEmbedder(), sys.argv[3:]
print("ready", flush=True)
n = 0
while True:
    Assistant.from_article(versions[n % len(versions)], sys.argv[2], embedder=embedder)
    n += 1
"""


def test_loading_while_another_process_rebuilds_always_succeeds(tmp_path, fake):
    """A server starting (Assistant.load) while `assistant index` rewrites the folder: never a missing file."""
    versions = _versions(tmp_path, 3)
    files = [str(path) for path, _ in versions.values()]
    folder = tmp_path / "shared.index"
    Assistant.from_article(files[0], folder, embedder=fake)
    writer = subprocess.Popen([sys.executable, "-c", _REBUILD_LOOP, str(ROOT), str(folder), *files],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)  # fmt: skip
    loads: Counter[str] = Counter()
    try:
        assert writer.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 300  # a bound on the loop, not a timing assertion
        while sum(loads.values()) < 150 or (len(loads) < 2 and time.monotonic() < deadline):
            bot = Assistant.load(folder, embedder=fake)
            _, word = versions[bot.article.sha256]
            assert word in bot.ask("What is the secret code word of this version?").passages[0].text
            loads[word] += 1
    finally:
        writer.kill()
        writer.wait(timeout=60)
        writer.stdout.close()
    assert len(loads) >= 2, loads  # the loads did see the index change under them


# ---- 11. many questions in a row: resident memory stays flat ------------------------------------------------------


def rss_mb(pid: int | str = "self") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads RSS from /proc (Linux)")
def test_resident_memory_stays_flat_over_800_questions(real_bot):
    """800 distinct questions (with history and every k): after a 300-question warm-up, RSS grows < 50 MB.

    bench/memory.py runs the same questions 5,000 in a row, in-process and against the HTTP server.
    """
    import gc

    sys.path.insert(0, str(ROOT / "bench"))
    from memory import requests

    asked = list(requests(800))
    for q, history, k in asked[:300]:  # the query cache (256 questions) fills up
        real_bot.ask(q, history, k)
    gc.collect()
    warm = rss_mb()
    for q, history, k in asked[300:]:
        real_bot.ask(q, history, k)
    gc.collect()
    assert rss_mb() - warm < 50, f"RSS grew from {warm:.0f} MB to {rss_mb():.0f} MB over 500 questions"


# ---- the CLI: a broken index is one line on stderr, with no traceback and no local paths ------------------------

CLI_FAULTS = {
    "manifest garbage": lambda folder, m: (folder / "manifest.json").write_bytes(b"\x00\xff garbage"),
    "manifest a JSON list": lambda folder, m: (folder / "manifest.json").write_text("[]"),
    "a file entry not an object": _files(lambda files: files.update({"passages.faiss": "abc"})),
    "faiss file random bytes": lambda folder, m: (folder / m["data"] / "passages.faiss").write_bytes(os.urandom(99)),
    "data folder deleted": _data_folder_deleted,
    "no index at all": _folder_deleted,
    "manifest a folder": _manifest_is_a_folder,
}


@pytest.fixture(scope="module")
def cli_index(tmp_path_factory, real_embedder):
    """A small article indexed with the real model; each test breaks a copy of it."""
    folder = tmp_path_factory.mktemp("cli-index")
    article = write(folder, "news.txt", ARTICLE)
    Assistant.from_article(article, embedder=real_embedder)
    return folder


@pytest.mark.parametrize("fault", list(CLI_FAULTS), ids=list(CLI_FAULTS))
def test_cli_with_a_broken_index_prints_one_line_without_paths(cli_index, tmp_path, fault):
    shutil.copytree(cli_index, tmp_path / "work")
    work = tmp_path / "work"
    folder = work / "news.index"
    CLI_FAULTS[fault](folder, json.loads((folder / "manifest.json").read_text()))
    home = tmp_path / "home"
    home.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "assistant", "ask", "Who joined the naval exercises?", "--index", "news.index"],
        capture_output=True, text=True, timeout=300, cwd=work,
        env={**os.environ, "HOME": str(home), "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("assistant: error: no usable index in news.index"), done.stderr
    assert "assistant index ARTICLE --index news.index" in lines[0]
    for leak in ("Traceback", str(home), str(tmp_path), str(ROOT), "site-packages", "/usr/"):
        assert leak not in done.stderr, leak
