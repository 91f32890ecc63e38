"""The type of answer a question expects, from its wording alone, and which entity labels of the NLP pipeline
(nlp.py, at indexing) are phrases of that type.

cues.question_kinds says coarsely what a question asks for (a number, a time, a name, a place) and is matched
against the sentences' own wording; this is the finer type that short answers (spans.py) and the "holds a phrase of
the asked type" signal read, matched against the entities the parser found. In "which/what X ..." questions the head
noun X decides ("Which newspaper ..." asks for an organisation, "Which country ..." for a place).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

TYPES = ("person", "organisation", "place", "date", "number", "group", "event", "reason", "yesno", "description")


@dataclass(frozen=True)
class Asked:
    """A question's expected type, and the entity labels (OntoNotes, as en_core_web_sm names them) that are phrases
    of it; none for reasons, yes/no and descriptions."""

    type: str
    labels: frozenset[str] = frozenset()
    head: str = ""
    """The noun of "which/what X" that named the type ("newspaper"): it says what the answer is, not what it is
    about, so the article need not contain it (retrieve leaves it out of the question's content words)."""
    form: str = ""
    """The question word and what follows it ("what+aux" for "What did ...", "what+noun" for "What country ..."):
    what the short-answer model crosses with a phrase's features, since "description" covers many forms."""
    plural: bool = False
    """It asks for more than one ("Which countries ...", "Which navies ..."): a list is likelier its answer."""


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_LABELS = {
    "person": {"PERSON"},
    "organisation": {"ORG"},
    "place": {"GPE", "LOC", "FAC"},
    "date": {"DATE", "TIME"},
    "number": {"CARDINAL", "MONEY", "PERCENT", "QUANTITY", "ORDINAL"},
    "group": {"NORP", "LANGUAGE"},
    "event": {"EVENT"},
}
_WHO = frozenset({"PERSON", "ORG", "NORP"})
""""Who first reported it?" is as often answered by an organisation (the Nikkei) or a people as by a person."""
_HOW_LONG = frozenset(_LABELS["number"] | _LABELS["date"])
""""How long", "how old", "how often" are answered by durations and ages, which the parser calls dates."""

_NOUNS = {
    "person": """person people man men woman women president leader king queen player author writer scientist actor
        actress minister official emperor general coach founder artist composer poet pope chancellor architect
        engineer singer musician physicist philosopher ruler son daughter father mother wife husband senator
        governor mayor scholar professor inventor explorer commander prince princess bishop saint quarterback
        director chairman ceo chief captain pilot spokesman spokesperson journalist reporter economist judge
        politician candidate monarch dynasty""",
    "organisation": """company companies firm firms newspaper newspapers paper agency agencies organization
        organizations organisation organisations team teams club clubs university universities college school party
        parties band network channel broadcaster station airline bank court government ministry institution
        institute corporation manufacturer publisher magazine journal league union council committee army navy
        church brand studio label outlet business group groups alliance bloc""",
    "place": """country countries nation nations city cities town towns state states region regions province place
        places location area continent island islands river mountain county village capital district territory
        ocean sea lake site venue stadium building street park neighborhood neighbourhood borough port airport
        border strait""",
    "date": """year years date day days month months time century centuries decade decades period era season week
        weeks hour""",
    "number": """number percentage percent amount proportion share size population price cost rate total distance
        length height weight temperature speed score count age sum fraction""",
    "group": "nationality nationalities ethnicity religion language languages",
    "event": """war wars battle battles event events tournament game games election elections revolution championship
        competition festival ceremony conflict crisis""",
}
HEAD_NOUNS = {word: kind for kind, words in _NOUNS.items() for word in words.split()}
"""The head noun of "which/what X" -> the type it asks for."""

_SKIPPED = _words("is was are were the a an first last main other same most best largest biggest only new former")
_ENDS = _words("of did does do has had have will would can could in on at by for to from with that")
_WRAPPERS = _words("kind type sort form name names part member members")
"""Words that pass the question to the noun after "of": "what kind of company", "the name of the newspaper"."""
_AUX = r"(is|are|was|were|am|do|does|did|can|could|will|would|shall|should|may|might|must|has|have|had)"
_YESNO = re.compile(rf"^\s*{_AUX}(n't|\s+not)?\b", re.IGNORECASE)
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def asked(question: str) -> Asked:
    """The type the question expects (_asked), with its form."""
    found = _asked(question)
    words = _WORD.findall(question.lower())
    head = _head_noun(words)
    named = head[1] if head and head[0] == found.type else ""
    return Asked(found.type, found.labels, named, _form(question), _plural(words))


_WH = ("what", "which", "who", "whom", "whose", "when", "where", "why", "how")
_AUX_WORDS = _words("is are was were am do does did can could will would shall should may might must has have had")


def _form(question: str) -> str:
    words = _WORD.findall(question.lower())
    for n, w in enumerate(words):
        if w in _WH:
            after = words[n + 1] if n + 1 < len(words) else ""
            if w == "how" and after:
                return f"how+{after}" if after in _HOW_WORDS else "how+other"
            return f"{w}+{'aux' if after in _AUX_WORDS else 'end' if not after else 'word'}"
    return "none"


_HOW_WORDS = _words("many much long old far large big tall high often did does do is was are were")


def _asked(question: str) -> Asked:
    """The type the question expects, read from its wording:

    "Why ..." / "How come ..." a reason; "Is/Did/Would ..." yes or no; "Who ..." a person (or an organisation or a
    people); "When ..." a date; "Where ..." a place; "How many/much/long ..." a number; "Which/What X ..." the type
    of X's head noun (HEAD_NOUNS); anything else a description.
    """
    q = question.lower()
    words = _WORD.findall(q)
    if re.search(r"\bwhy\b|\bhow come\b|\bfor what (reason|purpose)\b|\bwhat (was|is|were) the (reason|cause)", q):
        return Asked("reason")
    if _YESNO.match(q) and not re.search(r"\b(who|whom|whose|what|which|when|where|why|how)\b", q):
        return Asked("yesno")
    if re.search(r"\bhow (long|old|often)\b", q):
        return Asked("number", _HOW_LONG)
    if re.search(r"\bhow (many|much|far|large|big|tall|high|deep|wide|heavy|fast)\b", q):
        return _of("number")
    if head := _head_noun(words):
        return _of(head[0])
    if re.search(r"\b(who|whom|whose)\b", q):
        return Asked("person", _WHO)
    if re.search(r"\bwhen\b", q):
        return _of("date")
    if re.search(r"\bwhere\b", q):
        return _of("place")
    return Asked("description")


def _of(kind: str) -> Asked:
    return Asked(kind, frozenset(_LABELS.get(kind, ())))


def _head_noun(words: list[str]) -> tuple[str, str] | None:
    """(type, noun) for the noun after "which"/"what", if the table knows it: "is the", "first" and up to two other
    words ("German", "NFL") are passed over, and "kind of" / "the name of the"; a preposition or an auxiliary ends
    the search ("What did Tokyo sign" has none)."""
    for n, w in enumerate(words):
        if w not in ("which", "what"):
            continue
        rest, unknown, m = words[n + 1 : n + 9], 0, 0
        while m < len(rest):
            x = rest[m]
            if x in _WRAPPERS and m + 1 < len(rest) and rest[m + 1] == "of":
                m += 2
                continue
            if x in HEAD_NOUNS:
                return HEAD_NOUNS[x], x
            if x in _ENDS:
                return None
            if x not in _SKIPPED:
                unknown += 1
                if unknown > 2:
                    return None
            m += 1
        return None
    return None


_SINGULAR_ENDS = ("ss", "us", "is", "'s")


def _plural(words: list[str]) -> bool:
    """Does "which/what X" name a plural X ("Which countries", "What kinds of", "Which navies", known to the table
    or not)? Read like _head_noun, up to a preposition or an auxiliary; "Who are the ..." is plural too."""
    for n, w in enumerate(words):
        if w in ("who", "whom") and n + 1 < len(words) and words[n + 1] in ("are", "were"):
            return True
        if w not in ("which", "what"):
            continue
        for x in words[n + 1 : n + 5]:
            if x in _SKIPPED:  # "What is the ...": the noun may still follow
                continue
            if x in _ENDS or x in _AUX_WORDS:
                return False
            if len(x) > 3 and x.endswith("s") and not x.endswith(_SINGULAR_ENDS):
                return True
        return False
    return False


def label_types(labels: list[str]) -> list[str | None]:
    """The type of each entity label (None for labels no question type asks for, such as WORK_OF_ART)."""
    of = {label: kind for kind, labels in _LABELS.items() for label in labels}
    return [of.get(label) for label in labels]
