"""Property tests (hypothesis): the article splitter, the index round trip and the answer builder, on any text.

Case counts are bounded (tests/fuzzing.py: 200 per test, the same cases every run) and reported after the run.
"""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assistant import Assistant, QuestionError, store
from assistant.article import Paragraph, collapse_repeats, parse_article, repeat_key
from assistant.errors import ArticleError
from tests.conftest import FakeEmbedder
from tests.fuzzing import (  # noqa: F401  (fuzz_summary: the session's case count)
    ANY_CHAR,
    FUZZ,
    GAPS,
    PUNCT,
    WORDS,
    any_text,
    count,
    fuzz_summary,
    hostile_text,
)

prose = st.lists(
    st.tuples(st.lists(st.sampled_from(WORDS), min_size=1, max_size=12).map(" ".join), st.sampled_from(PUNCT),
              st.sampled_from(GAPS)),
    min_size=1, max_size=40,
).map(lambda parts: "".join(w + p + g for w, p, g in parts))  # fmt: skip
"""Article-like text: sentences of known words, with abbreviations, quotes and every kind of line break."""
articles = st.one_of(prose, hostile_text, any_text)


def parsed(text: str):
    """parse_article(text), or None when it refuses the text with an ArticleError (its only documented error)."""
    try:
        return parse_article(text)
    except ArticleError:
        assert "\x00" in text or not text.removeprefix("\ufeff").strip()
        return None


# ---- the article splitter ---------------------------------------------------------------------------------------


@FUZZ
@given(articles)
def test_paragraph_offsets_map_back_to_the_text(text):
    count("splitter")
    article = parsed(text)
    if article is None:
        return
    previous_end = 0
    for number, p in enumerate(article.paragraphs, start=1):
        assert p.number == number
        assert article.text[p.start : p.end] == p.text
        assert p.text and p.text == p.text.strip()
        assert previous_end <= p.start < p.end
        previous_end = p.end
    # Nothing but whitespace is left out of the paragraphs.
    covered = set().union(*(range(p.start, p.end) for p in article.paragraphs))
    assert all(c.isspace() for i, c in enumerate(article.text) if i not in covered)


@FUZZ
@given(st.one_of(st.binary(max_size=300), articles.map(lambda t: t.encode("utf-8", "surrogatepass"))))
def test_bytes_parse_or_fail_with_an_article_error(data):
    count("splitter")
    try:
        article = parse_article(data, name="fuzz.txt")
    except ArticleError as e:
        assert "fuzz.txt" in str(e)
        return
    for p in article.paragraphs:
        assert article.text[p.start : p.end] == p.text
    assert article.text.encode("utf-8", "surrogatepass") in (data, data.removeprefix(b"\xef\xbb\xbf"))


@FUZZ
@given(articles)
def test_sentences_tile_each_chunk_and_chunks_are_verbatim(text):
    count("splitter")
    article = parsed(text)
    if article is None:
        return
    seen: set[int] = set()
    for chunk in article.chunks:
        # The chunk is the text of its first paragraph, verbatim, where that paragraph stands.
        first = article.paragraphs[chunk.paragraph - 1]
        assert chunk.text == first.text and chunk.start == first.start
        assert article.text[chunk.start : chunk.start + len(chunk.text)] == chunk.text
        # Every paragraph it stands for has the same text, give or take whitespace, width and quote styles.
        assert list(chunk.paragraphs) == sorted(set(chunk.paragraphs))
        for n in chunk.paragraphs:
            assert repeat_key(article.paragraphs[n - 1].text) == repeat_key(chunk.text)
        seen |= set(chunk.paragraphs)
        # Sentences: in order, non-empty, and what lies between or around them is whitespace.
        assert chunk.sentences
        end = 0
        for a, b in chunk.sentences:
            assert end <= a < b <= len(chunk.text)
            assert chunk.text[end:a].strip() == ""
            end = b
        assert chunk.text[end:].strip() == ""
    assert seen == set(range(1, len(article.paragraphs) + 1))
    assert len({repeat_key(c.text) for c in article.chunks}) == len(article.chunks)


@FUZZ
@given(articles)
def test_collapsing_repeats_is_idempotent(text):
    count("splitter")
    article = parsed(text)
    if article is None:
        return
    for p in article.paragraphs:
        assert repeat_key(repeat_key(p.text)) == repeat_key(p.text)
    once = [Paragraph(i, c.start, c.start + len(c.text), c.text) for i, c in enumerate(article.chunks, start=1)]
    again = collapse_repeats(once)
    assert [c.text for c in again] == [c.text for c in article.chunks]
    assert [c.paragraphs for c in again] == [(i,) for i in range(1, len(once) + 1)]


# ---- the answer builder, on random articles (fake embedder) -----------------------------------------------------

QUESTIONS = st.one_of(
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=8).map(" ".join),
    hostile_text.map(lambda t: t[:300]),
)


def check_answer(answer, article, k: int) -> None:
    """What every Answer must satisfy, whatever the article and the question."""
    assert len(answer.passages) <= (1 if answer.abstained else k)
    quoted = [p.text for p in answer.passages]
    assert len(quoted) == len(set(quoted)), "a passage quoted twice"
    for p in answer.passages:
        assert p.text in article.text
        assert article.paragraphs[p.paragraph - 1].text == p.text
        assert p.paragraphs[0] == p.paragraph and all(1 <= n <= len(article.paragraphs) for n in p.paragraphs)
        h = p.highlight
        assert 0 <= h.start < h.end <= len(p.text) and p.text[h.start : h.end] == h.text
        assert 0.0 <= p.score <= 1.0
    if not answer.abstained:
        assert answer.passages and answer.text.startswith(reply_opening(answer))
        assert answer.short == answer.passages[0].short


def reply_opening(answer) -> str:
    """How a reply begins: the verdict or the short answer, then the answering sentence."""
    sentence = answer.passages[0].highlight.text
    if answer.verdict:
        return f"{answer.verdict}. The article says: {sentence}"
    return f"Answer: {answer.short.text}\n{sentence}" if answer.short else sentence


_fake = FakeEmbedder()
_answered = Counter()


@FUZZ
@given(articles, QUESTIONS, st.integers(1, 10), st.lists(QUESTIONS, max_size=3))
def test_answers_quote_the_article_verbatim(text, question, k, history):
    count("answer builder")
    article = parsed(text)
    if article is None:
        return
    bot = Assistant(store.build(article, _fake), _fake)
    try:
        answer = bot.ask(question, history=history, k=k)
    except QuestionError:
        _answered["refused"] += 1
        return
    _answered["abstained" if answer.abstained else "answered"] += 1
    check_answer(answer, article, k)
    if not answer.abstained:
        content = sum(not c.metadata for c in article.chunks)
        assert len(answer.passages) == min(k, content)  # k respected, and never padded with placeholders


def test_the_answer_fuzz_answered_abstained_and_refused():
    """The fuzz above is only worth something if it reached every outcome."""
    if not _answered:
        pytest.skip("run together with test_answers_quote_the_article_verbatim")
    assert _answered["answered"] and _answered["abstained"] and _answered["refused"], _answered


@settings(FUZZ, max_examples=max(10, FUZZ.max_examples // 4))
@given(prose, st.lists(QUESTIONS, min_size=1, max_size=3))
def test_a_saved_and_loaded_index_answers_as_the_built_one(tmp_path_factory, text, questions):
    count("index round trip")
    article = parsed(text)
    if article is None:
        return
    folder = tmp_path_factory.mktemp("roundtrip") / "a.index"
    built = store.build(article, _fake)
    store.save(built, folder)
    loaded = Assistant.load(folder, embedder=_fake)
    assert loaded.article == article
    for q in questions:
        try:
            expected = Assistant(built, _fake).ask(q).to_dict()
        except QuestionError as e:
            with pytest.raises(QuestionError, match=str(e)[:20]):
                loaded.ask(q)
            continue
        assert loaded.ask(q).to_dict() == expected


# ---- any question: answered, or refused with QuestionError (nothing else) ---------------------------------------

K_VALUES = st.one_of(st.integers(-3, 15), st.sampled_from([0, 999, -1, True, 3.0, 2.5, "abc", "3", None]))
HISTORIES = st.one_of(
    st.lists(st.one_of(any_text, hostile_text), max_size=4),
    st.sampled_from([None, "not a list", ["q"] * 21, [None], [3]]),
)


def ask_anything(bot, question, history, k, seen: Counter) -> None:
    try:
        answer = bot.ask(question, history=history, k=k)
    except QuestionError as e:
        assert str(e)
        seen["refused"] += 1
        return
    seen["answered"] += 1
    if any("\ud800" <= c <= "\udfff" for c in question):
        seen["surrogates answered?"] += 1
    check_answer(answer, bot.article, k)


@pytest.fixture(scope="module")
def fake_bot(tmp_path_factory):
    from tests.conftest import DEFAULT_ARTICLE

    return Assistant.from_article(DEFAULT_ARTICLE, tmp_path_factory.mktemp("fake") / "a.index", embedder=FakeEmbedder())


@pytest.mark.parametrize("which", ["fake", "real"])
def test_any_unicode_question_is_answered_or_a_question_error(which, request):
    bot = request.getfixturevalue("fake_bot" if which == "fake" else "real_bot")
    seen: Counter[str] = Counter()

    @FUZZ
    @given(st.one_of(any_text, hostile_text, st.text(ANY_CHAR, min_size=1900, max_size=2100)), HISTORIES, K_VALUES)
    def run(question, history, k):
        count(f"questions ({which} model)")
        if any("\ud800" <= c <= "\udfff" for c in question):
            seen["with surrogates"] += 1
        ask_anything(bot, question, history, k, seen)

    run()
    assert seen["answered"] and seen["refused"] and seen["with surrogates"], seen
    assert not seen["surrogates answered?"]
