"""Reading articles: paragraphs, offsets, repeats, metadata lines, sentences, bad files."""

from pathlib import Path

import pytest

from assistant.article import parse_article, read_article, repeat_key, split_paragraphs, split_sentences
from assistant.errors import ArticleError

DEFAULT = Path(__file__).resolve().parents[1] / "index" / "article.txt"


def test_default_article_paragraphs_repeats_and_source():
    article = read_article(DEFAULT)
    assert len(article.paragraphs) == 15
    assert [c.paragraphs for c in article.chunks] == [
        (1,), (2,), (3, 9), (4, 10), (5, 11), (6, 12), (7, 13), (8, 14), (15,)
    ]  # fmt: skip
    assert article.source == "Reuters"
    assert [c.metadata for c in article.chunks] == [False] * 8 + [True]
    for p in article.paragraphs:
        assert article.text[p.start : p.end] == p.text
    assert article.text.encode() == DEFAULT.read_bytes()


def test_offsets_survive_bom_crlf_and_indentation():
    data = "\ufeff  First paragraph.\r\n\r\n\tSecond one here.  \r\nThird.\r\n".encode()
    article = parse_article(data, name="x.txt")
    assert [p.text for p in article.paragraphs] == ["First paragraph.", "Second one here.", "Third."]
    for p in article.paragraphs:
        assert article.text[p.start : p.end] == p.text


def test_repeats_collapse_across_whitespace_and_quote_styles():
    text = 'He said \u201chello\u201d to Japan\u2019s envoy.\nOther.\nHe  said "hello" to Japan\'s   envoy.\n'
    chunks = parse_article(text).chunks
    assert [c.paragraphs for c in chunks] == [(1, 3), (2,)]
    assert chunks[0].text == "He said \u201chello\u201d to Japan\u2019s envoy."


def test_collapsing_is_idempotent():
    text = "A b.\nC d.\nA b.\n"
    once = parse_article(text).chunks
    again = parse_article("\n".join(c.text for c in once)).chunks
    assert [c.text for c in again] == [c.text for c in once]
    assert repeat_key(repeat_key("x \u201cy\u201d")) == repeat_key("x \u201cy\u201d")


def test_hard_wrapped_prose_keeps_blocks():
    first = (
        "The bloc hopes to reach a ministerial agreement with Japan by the\n"
        "end of 2024 that would see co-funded projects undertaken by Japan and\nfirms."
    )
    second = "Such cooperation would represent the first such defense-related\ncollaboration between the EU and Japan."
    paragraphs = split_paragraphs(f"{first}\n\n{second}\n")
    assert [p.text for p in paragraphs] == [first, second]


def test_short_lines_stay_separate_paragraphs():
    assert len(split_paragraphs("Title\n\nOne short line.\nAnother short line.\n")) == 3


def test_metadata_only_at_the_end():
    article = parse_article("Source: somewhere is a phrase.\nBody text here.\nReporting by Jane Doe\nSource: Reuters\n")
    assert [c.metadata for c in article.chunks] == [False, False, True, True]
    assert article.source == "Reuters"
    assert parse_article("Source: Reuters\n").chunks[0].metadata is False  # a one-line article is content


def test_markdown_heading_is_the_title():
    article = parse_article("# Defense ties\n\nThe EU and Japan talk about defense.\n")
    assert article.title == "Defense ties"


def test_sentences_keep_abbreviations_together():
    text = (
        "Last week, Japan conducted joint naval exercises with the U.S., Canada and the Philippines. "
        "Earlier this month, talks began with the U.S. aimed at forging deeper ties. It cost $1.5 billion."
    )
    spans = split_sentences(text)
    assert [text[a:b] for a, b in spans] == [
        "Last week, Japan conducted joint naval exercises with the U.S., Canada and the Philippines.",
        "Earlier this month, talks began with the U.S. aimed at forging deeper ties.",
        "It cost $1.5 billion.",
    ]


def test_sentences_cover_every_word():
    for text in ["no punctuation at all", "Ends. Then ... more", "\u201cQuoted.\u201d Tail"]:
        spans = split_sentences(text)
        covered = " ".join(text[a:b] for a, b in spans)
        assert covered.split() == text.split()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda d: d / "missing.txt", "does not exist"),
        (lambda d: d, "is a folder"),
        (lambda d: _write(d / "bin.txt", b"\x89PNG\r\n\x1a\n\x00\x00"), "binary"),
        (lambda d: _write(d / "latin1.txt", "caf\xe9".encode("latin-1")), "not valid UTF-8"),
        (lambda d: _write(d / "empty.txt", b" \n\t\n"), "has no text"),
    ],
)
def test_bad_files_name_the_file_and_the_fix(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(ArticleError) as e:
        read_article(path)
    assert message in str(e.value)
    assert path.name in str(e.value)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
