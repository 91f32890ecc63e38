"""The `assistant` command, run as a user runs it: a new process, stdout and stderr, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import DEFAULT_ARTICLE


def run(*args: str, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args], capture_output=True, text=True, cwd=cwd, timeout=600
    )


@pytest.fixture(scope="module")
def article_copy(tmp_path_factory, real_embedder):
    """The default article in a temporary folder, indexed once by the CLI itself."""
    folder = tmp_path_factory.mktemp("cli")
    path = folder / "article.txt"
    path.write_bytes(DEFAULT_ARTICLE.read_bytes())
    done = run("index", str(path))
    assert done.returncode == 0, done.stderr
    assert "9 distinct passages" in done.stdout
    return path


def test_ask_json_prints_exactly_one_object(article_copy):
    done = run("ask", "what exercises did Japan join", "--article", str(article_copy), "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)  # nothing else on stdout
    top = answer["passages"][0]
    assert top["paragraph"] == 8 and top["paragraphs"] == [8, 14]
    assert top["highlight"]["text"].startswith("Last week, Japan conducted joint naval exercises")


def test_ask_plain_output_is_readable(article_copy):
    done = run(
        "ask", "Which countries is Japan building a fighter jet with?", "--article", str(article_copy), "-k", "1"
    )
    assert done.returncode == 0
    first, second = done.stdout.splitlines()[:2]
    assert first == "Answer: Britain and Italy" and second.startswith("Last year saw Tokyo sign a treaty")
    assert "¶5, also ¶11" in done.stdout


def test_ask_with_index_folder_and_history(article_copy):
    folder = article_copy.with_name("article.index")
    done = run("ask", "Where did they take place?", "--index", str(folder), "--json",
               "--history", "Which countries joined Japan's naval exercises?")  # fmt: skip
    answer = json.loads(done.stdout)
    assert answer["passages"][0]["paragraph"] == 8 and not answer["abstained"]
    assert "South China Sea" in answer["answer"].splitlines()[0]


def test_answering_from_a_built_index_never_imports_torch(article_copy):
    """The one-shot path (load the index, embed with ONNX, answer) stays off torch and its seconds of imports."""
    code = (
        "import sys, json; from assistant.cli import main; main(['ask', 'what exercises did Japan join', '--article', "
        f"{str(article_copy)!r}, '--json']); "
        "print(json.dumps([m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules]))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    answer, imported = done.stdout.strip().splitlines()
    assert json.loads(answer)["passages"][0]["paragraph"] == 8
    assert json.loads(imported) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ask", "hello", "--article", "/nonexistent/file.txt"], "does not exist"),
        (["index", "/"], "is a folder"),
        (["ask", "   ", "--article", "ARTICLE"], "question: is empty"),
        (["ask", "naval", "-k", "0", "--article", "ARTICLE"], "k: must be"),
    ],
)
def test_errors_are_one_line_and_exit_2(article_copy, args, message):
    args = [str(article_copy) if a == "ARTICLE" else a for a in args]
    done = run(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert done.stdout == ""


def test_binary_article_exit_2_and_nothing_written(tmp_path):
    path = tmp_path / "photo.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    done = run("index", str(path))
    assert done.returncode == 2 and "binary" in done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.txt"]


def test_help_is_fast_to_reach():
    done = run("--help")
    assert done.returncode == 0 and "index" in done.stdout and "ask" in done.stdout
    probe = subprocess.run(
        [sys.executable, "-c", "import sys, assistant.cli; print('torch' in sys.modules, 'transformers' in sys.modules)"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert probe.stdout.split() == ["False", "False"]


def test_model_that_is_not_installed_says_how_to_install(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text("Some text here.\n")
    done = run("index", str(path), "--model", "no-such-org/no-such-model")
    assert done.returncode == 2
    assert "cannot be loaded" in done.stderr and "pip install" in done.stderr


def test_eval_keeps_its_indexes_with_work_and_measures_the_same_again(tmp_path):
    """`assistant eval FILE --work DIR` indexes each article into DIR once; a second run reuses them and measures
    exactly the same (the time per question aside)."""
    paragraphs = DEFAULT_ARTICLE.read_text(encoding="utf-8").splitlines()[:8]
    squad = tmp_path / "tiny.jsonl"
    articles = [
        {"title": "Defense", "paragraphs": paragraphs[:4],
         "questions": [{"q": "Which newspaper revealed the plan?", "para": 0, "answers": ["the Nikkei"]}]},
        {"title": "Warplanes", "paragraphs": paragraphs[4:],
         "questions": [{"q": "Which countries is Japan developing a fighter jet with?", "para": 0,
                        "answers": ["Britain and Italy"]}]},
    ]  # fmt: skip
    squad.write_text("".join(json.dumps(a) + "\n" for a in articles), encoding="utf-8")
    work = tmp_path / "work"
    figures = []
    for _ in range(2):
        done = run("eval", str(squad), "--json", "--work", str(work))
        assert done.returncode == 0, done.stderr
        figures.append(json.loads(done.stdout)["methods"]["assistant"])
    assert sorted(p.name for p in work.iterdir()) == ["000.index", "000.txt", "001.index", "001.txt"]
    assert "indexing" not in done.stderr  # the second run found them built
    first, second = ({k: v for k, v in f.items() if not k.startswith("ms")} for f in figures)
    assert first == second and first["R@1"] == 1.0
