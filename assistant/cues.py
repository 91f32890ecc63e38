"""Question cues, read from wording alone: the kind of answer asked for, whether a question leans on the one
before, whether it is about the article itself, and which words say nothing about its topic."""

from __future__ import annotations

import re

import numpy as np

# ---- the kind of answer a question asks for, and the kinds a sentence holds ---------------------------------------

KINDS = ("number", "time", "name", "place")
"""Kinds of answer a question can ask for; a sentence holding the asked kind is preferred."""

_ASKS = {
    "number": r"\bhow (many|much|long|far|old|large|big|tall|high|often)\b|\bwhat (percentage|number|amount|share)\b",
    "time": r"\bwhen\b|\b(what|which) (year|date|day|month|century|decade|time)\b",
    "name": r"\bwho\b|\bwhom\b|\bwhose\b|\b(what|which) (company|team|organization|country|city|person)\b",
    "place": r"\bwhere\b|\b(what|which) (place|region|town|location)\b",
}
_MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
_NUMBERS = (
    "two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundreds?|"
    "thousands?|millions?|billions?|dozens?"
)
_PREPOSITIONS = "in|at|near|off|across|into|from|to|around|throughout|outside|inside|within|between|along|towards?"
_HOLDS = {
    "number": rf"\d|\b(?i:{_NUMBERS})\b",
    "time": rf"\b1\d{{3}}s?\b|\b20\d\ds?\b|\b({_MONTHS})\b|\b\d+(st|nd|rd|th) century\b"
    r"|\b(?i:last|next|this|earlier this|later this|the following|the previous) "
    r"(?i:year|month|week|decade|century|spring|summer|autumn|winter)\b"
    r"|\b(?i:yesterday|today|tomorrow|recently|ago|in recent years)\b",
    "name": r"(?<=[a-z,;:] )[A-Z][a-z]+",
    "place": rf"\b(?i:{_PREPOSITIONS}) (the )?[A-Z][a-z.]",
}
"""What a sentence holding each kind looks like: a time is a year, a month, a century or a date relative to the
story ("last week"); a place follows a preposition and is capitalized ("in the South China Sea")."""
_ASKS_RE = [re.compile(_ASKS[k], re.IGNORECASE) for k in KINDS]
_HOLDS_RE = [re.compile(_HOLDS[k]) for k in KINDS]


def question_kinds(question: str) -> np.ndarray:
    """Which kinds of answer the question asks for (a 0/1 row over KINDS)."""
    return np.array([bool(p.search(question)) for p in _ASKS_RE], dtype=np.float32)


def sentence_kinds(sentences: list[str]) -> np.ndarray:
    """Which kinds of answer each sentence holds (one 0/1 row over KINDS per sentence)."""
    rows = [[bool(p.search(s)) for p in _HOLDS_RE] for s in sentences]
    return np.array(rows, dtype=np.float32).reshape(-1, len(KINDS))


# ---- words that say what kind of question it is, not what it is about --------------------------------------------

_FUNCTION = """
what which who whom whose when where why how whether
is are was were be been being am do does did done doing have has had having
will would shall should can could may might must
it its they them their theirs this that these those there then he him his she her hers we us our you your i me my
one ones the a an s of in on at by for to from with about as into after before during
and or but so not no also else same such than too very ever many much exactly actually finally
happen happened happens occur occurred occurs
"""
FUNCTION_WORDS = frozenset(_FUNCTION.split())
"""Words that say what kind of question is asked or point back to an earlier one, rather than what it is about:
question words, auxiliaries, pronouns, determiners, prepositions and conjunctions, and the verbs that only say that
an event happened ("When did it happen?")."""
EVENT = re.compile(r"\b(take|takes|took|taken|taking) (place|part)\b|\b(go|goes|went|gone|going) on\b")
"""Phrases that only say an event happened ("Where did they take place?")."""


# ---- follow-ups ----------------------------------------------------------------------------------------------------

_POINTS_BACK = re.compile(
    r"\b(it|its|they|them|their|this|that|these|those|there|then|he|him|his|she|her|the same|such|else)\b",
    re.IGNORECASE,
)


def is_follow_up(question: str, terms: tuple[str, ...], content: tuple[str, ...]) -> bool:
    """Does the question lean on the conversation: a pronoun or "there", one word only, or no content words of its
    own ("Who took part?")? terms and content are its stemmed words and content words (lexical.Lexical)."""
    return bool(_POINTS_BACK.search(question)) or len(terms) <= 1 or not content


# ---- questions about the article itself ----------------------------------------------------------------------------

META_QUESTIONS = (
    "What is the source of this article?",
    "Which news agency published this article?",
    "Who wrote this article?",
    "Where is this story from?",
    "Which newspaper reported this?",
    "Who is the author of this piece?",
    "When was this article published?",
)
"""Prototypes of questions about the article itself, answered from its metadata lines ("Source: Reuters")."""
_ABOUT_ARTICLE = re.compile(
    r"\b(article|story|piece|sources?|author|wrote|written|writer|publication|publisher|outlet|agency|wire|byline)\b"
    r"|\bthis (newspaper|paper|report|news)\b|\b(reported|published) this\b"
    r"|\bwhen was (it|this) (published|written|posted|reported)\b|\bpublish(ed|ing)? (date|on)\b",
    re.IGNORECASE,
)
_ASKS_FIELD = {
    "date": re.compile(r"\bwhen\b|\bdate\b|\bdated\b|\bday\b|\byear\b", re.IGNORECASE),
    "author": re.compile(
        r"\bwho\b.*\b(wrote|written|write|author|byline)\b|\b(author|writer|byline|journalist|reporter)\b",
        re.IGNORECASE,
    ),
}


def asked_fields(question: str) -> tuple[str, ...]:
    """The metadata lines a question about the article wants, best first: ("date",) for "When was it published?",
    ("author", "source") for "Who wrote this?" or "Who reported this?" (a byline, else the agency), ("source",) for
    "Which agency is this from?"."""
    if _ASKS_FIELD["date"].search(question):
        return ("date",)
    if _ASKS_FIELD["author"].search(question) or re.match(r"\s*who\b", question, re.IGNORECASE):
        return ("author", "source")
    return ("source",)


_FIRST_TOLD = re.compile(r"\b(first|broke|break|breaking|revealed?|reveals|leak(ed|s)?|scoop|originally)\b", re.I)
"""Who first told a story is something the article itself reports ("An article published by the Nikkei has revealed
..."), not the article's own source line."""


def names_the_article(question: str) -> bool:
    """Does the question name the article or its origin ("Which agency is this article from?", "Who reported this?";
    not "Who commented on the report?", nor "Which newspaper broke the story?")? Only such questions are compared
    with META_QUESTIONS."""
    return bool(_ABOUT_ARTICLE.search(question)) and not _FIRST_TOLD.search(question)
