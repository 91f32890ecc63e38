"""Short answers: the phrases of the answering sentence that could answer (its entities, noun chunks and dependency
subtrees, from the parse made at indexing), each described by features a fitted model weighs (scoring.span_scores);
and, for yes/no questions, whether the sentence states the answer.

The features are those of the SQuAD paper's logistic regression (Rajpurkar et al. 2016), cut down to what a small
parser gives: whether the phrase is of the asked type (answer_types), what it is (head POS, its dependency relation,
an entity's label, crossed with the asked type), its length, whether its words are already in the question (an
answer rarely repeats the question), how far it stands from the question's words in the sentence, and whether its
syntactic parent is one of them; and, beyond the paper, whether it is a list (crossed with a question asking for
more than one, "Which countries ..."), holds several phrases of the asked type, or names the question's head noun
("the Taiwan strait" for "Which strait ...").
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from .answer_types import Asked
from .lexical import stem_words
from .parse import CHUNK, DEP, END, ENTITY, HEAD, POS, START, Parse
from .scoring import CALIBRATION, best_span


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


MAX_TOKENS = 12
"""Longer phrases are not candidates: 99% of SQuAD dev answers are at most 12 tokens."""
_EDGE = frozenset({"PUNCT", "CCONJ", "SPACE"})
"""Tokens stripped from a candidate's ends ("Canada," -> "Canada")."""
_FUNCTION = frozenset({"DET", "ADP", "PUNCT", "CCONJ", "SCONJ", "PRON", "AUX", "PART", "SPACE", "SYM"})
"""Tokens that do not count as a phrase's own words when comparing it with the question."""
_FIRST_WORDS = _words("because to by in on at after before during since due for from with as")
"""A phrase's first word is a feature when it is one of these ("because ...", "by the end of 2024")."""


@dataclass(frozen=True)
class Candidate:
    """A phrase of a sentence: its token rows [first, last) in the parse, its characters [start, end) in the
    passage, and its features."""

    first: int
    last: int
    start: int
    end: int
    features: dict[str, float]


def best(parse: Parse, sentence: int, passage: str, question_stems: frozenset[str], asked: Asked,
         calibration: dict = CALIBRATION) -> Candidate | None:  # fmt: skip
    """The short answer of one sentence: its best scored candidate (scoring.best_span); None for a yes/no question,
    whose answer is a verdict, or when the sentence offers no phrase."""
    if asked.type == "yesno":
        return None
    found = candidates(parse, sentence, passage, question_stems, asked)
    chosen = best_span([c.features for c in found], calibration)
    return None if chosen is None else found[chosen]


def candidates(parse: Parse, sentence: int, passage: str, question_stems: frozenset[str],
               asked: Asked) -> list[Candidate]:  # fmt: skip
    """Every candidate phrase of one sentence (the index's sentence number; passage is the text of its passage),
    with its features. question_stems are the question's own content words, stemmed (lexical.Lexical.content_terms)."""
    lo, hi = int(parse.token_bounds[sentence]), int(parse.token_bounds[sentence + 1])
    if hi <= lo:
        return []
    tokens = parse.tokens[lo:hi]
    pos = [parse.labels["pos"][p] for p in tokens[:, POS]]
    dep = [parse.labels["dep"][d] for d in tokens[:, DEP]]
    head = tokens[:, HEAD] - lo
    n = hi - lo
    left, right = np.arange(n), np.arange(n)
    for t in range(n):  # each token widens the subtree of every ancestor
        a, seen = t, 0
        while head[a] != a and 0 <= head[a] < n and seen < n:
            a = int(head[a])
            left[a], right[a] = min(left[a], t), max(right[a], t)
            seen += 1
    ranges = set()
    for t in range(n):
        ranges.add((int(left[t]), int(right[t]) + 1))
        ranges.add((int(left[t]), t + 1))  # the head with what precedes it: "the Nikkei" of "the Nikkei's report"
        ranges.add((t, t + 1))
    span_rows = parse.spans[parse.span_bounds[sentence] : parse.span_bounds[sentence + 1]]
    entities = {}
    for _, a, b, kind, label in span_rows:
        ranges.add((int(a) - lo, int(b) - lo))
        if kind == ENTITY:
            entities[(int(a) - lo, int(b) - lo)] = parse.labels["ent"][label]
    chunks = {(int(a) - lo, int(b) - lo) for _, a, b, kind, _ in span_rows if kind == CHUNK}
    words = [passage[s:e].lower() for s, e in tokens[:, START : END + 1]]
    stems = stem_words(words)
    matched = [t for t in range(n) if stems[t] in question_stems and pos[t] not in _FUNCTION]
    named = stem_words([asked.head])[0] if asked.head else None
    out, done = [], set()
    for a, b in sorted(ranges):
        while a < b and pos[a] in _EDGE:
            a += 1
        while b > a and pos[b - 1] in _EDGE:
            b -= 1
        if not 0 < b - a <= MAX_TOKENS or (a, b) in done or (b - a == n and n > 3):
            continue
        done.add((a, b))
        features = _features(a, b, pos, dep, head, words, stems, matched, entities, chunks, asked, question_stems,
                             named)  # fmt: skip
        if features is None:
            continue
        out.append(Candidate(lo + a, lo + b, int(tokens[a, START]), int(tokens[b - 1, END]), features))
    return out


def _features(a, b, pos, dep, head, words, stems, matched, entities, chunks, asked: Asked,
              question_stems, named: str | None) -> dict[str, float] | None:  # fmt: skip
    kind = asked.type
    own = [t for t in range(a, b) if pos[t] not in _FUNCTION]
    if not own:
        return None
    inside = [t for t in own if stems[t] in question_stems]
    share = len(inside) / len(own)
    if share == 1.0:
        return None  # every word of it is in the question: it cannot be the answer
    h = next((t for t in range(a, b) if not a <= head[t] < b or head[t] == t), a)
    form = asked.form
    f = {
        "overlap": share,
        f"{kind}|pos={pos[h]}": 1.0,
        f"{kind}|dep={dep[h]}": 1.0,
        f"{kind}|len={_bucket(b - a, (1, 2, 3, 5, 8))}": 1.0,
        f"{form}|pos={pos[h]}": 1.0,
        f"{form}|dep={dep[h]}": 1.0,
    }
    label = entities.get((a, b)) or (entities.get((a - 1, b)) if a > 0 and pos[a - 1] == "DET" else None)
    if label:
        f[f"{kind}|ent={label}"] = 1.0
        f["typed"] = float(label in asked.labels)
    held = {entities[r] for r in entities if a <= r[0] and r[1] <= b and r != (a, b)}
    for other in held:
        f[f"{kind}|has={other}"] = 1.0
    if held & asked.labels and not label:
        f["typed_inside"] = 1.0
    plural = f"plural={int(asked.plural)}"
    if any(dep[t] == "conj" and a <= head[t] < b for t in range(a, b)):  # a list: "Britain and Italy"
        f[f"{kind}|list"] = 1.0
        f[f"{plural}|list"] = 1.0
    if sum(1 for r, other in entities.items() if a <= r[0] and r[1] <= b and other in asked.labels) >= 2:
        f[f"{plural}|typed_many"] = 1.0
    if named and named in stems[a:b]:  # "the Taiwan strait" for "Which strait ..."
        f["names_head"] = 1.0
    if (a, b) in chunks or (a + 1, b) in chunks:
        f[f"{kind}|chunk"] = 1.0
    if (word := words[a]) in _FIRST_WORDS:
        f[f"{kind}|first={word}"] = 1.0
    before = words[a - 1] if a > 0 else "<s>"
    after = words[b] if b < len(words) else "</s>"
    before = before if a == 0 or pos[a - 1] in _FUNCTION else pos[a - 1]
    after = after if b == len(words) or pos[b] in _FUNCTION else pos[b]
    f[f"{kind}|before={before}"] = 1.0
    f[f"{kind}|after={after}"] = 1.0
    f[f"{kind}|head={stems[h]}"] = 1.0
    f["matched_near"] = float(sum(1 for t in matched if a - 3 <= t < a or b <= t < b + 3))
    outside = [t for t in matched if not a <= t < b]
    if path := _path(h, outside, head, dep):
        f[f"path={path}"] = 1.0
        f[f"{kind}|path={path}"] = 1.0
    if outside:
        distance = min(a - t if t < a else t - b + 1 for t in outside)
        f[f"{kind}|dist={_bucket(distance, (1, 2, 4, 8))}"] = 1.0
        f["log_distance"] = math.log1p(distance)
        f["right_of_match"] = float(any(t < a for t in outside))
        f["left_of_match"] = float(any(t >= b for t in outside))
    else:
        f["no_match"] = 1.0
    parent = int(head[h])
    if parent != h and not a <= parent < b:
        if parent in outside:
            f[f"{kind}|parent_matched"] = 1.0
        if any(int(head[t]) == parent for t in outside if t != parent):
            f[f"{kind}|sibling_matched"] = 1.0
        grand = int(head[parent])
        if grand != parent and grand in outside:
            f["grandparent_matched"] = 1.0
    if h == int(head[h]):
        f[f"{kind}|root"] = 1.0
    return f


def _path(h: int, anchors: list[int], head, dep) -> str | None:
    """The dependency path from the phrase's head to the nearest of the question's words in the sentence, as
    relations up to their common ancestor and down from it ("pobj^prep^|nsubj"); "long" beyond four steps (the SQuAD
    paper's strongest feature)."""
    if not anchors:
        return None
    up = _chain(h, head)
    best = None
    for m in anchors:
        down = _chain(m, head)
        common = next((x for x in up if x in down), None)
        if common is None:
            continue
        i, j = up.index(common), down.index(common)
        if best is None or i + j < best[0] + best[1]:
            best = (i, j, up[:i], down[:j])
    if best is None:
        return None
    i, j, rise, fall = best
    if i + j > 4:
        return "long"
    return "^".join(dep[x] for x in rise) + "|" + "v".join(dep[x] for x in reversed(fall))


def _chain(t: int, head) -> list[int]:
    out = [t]
    while head[out[-1]] != out[-1] and len(out) < 64:
        out.append(int(head[out[-1]]))
    return out


def _bucket(n: int, edges: tuple[int, ...]) -> str:
    for e in edges:
        if n <= e:
            return str(e)
    return f">{edges[-1]}"


# ---- yes/no --------------------------------------------------------------------------------------------------------

VERDICT_COVERAGE = 0.75
"""A yes/no question is answered "Yes"/"No" only if its answering sentence holds at least this share of its content
words and every name it mentions; otherwise the sentence alone is the answer."""
_NEGATION = re.compile(r"\b(not|no|never|neither|nor|none|without|cannot)\b|n't\b", re.IGNORECASE)


def verdict(question: str, question_stems: frozenset[str], sentence: str) -> str | None:
    """"Yes" or "No" when the sentence states the answer to a yes/no question: it says what the question says (the
    share of its content words, and all of its names), and both are negated or neither ("Yes") or one only ("No":
    "Neither Japan's foreign ministry nor ... have commented" answers "Has Japan's foreign ministry commented?");
    None otherwise. Whether negated, not how often: "neither ... nor" is one negation."""
    if not question_stems:
        return None
    words = set(stem_words(re.findall(r"\w+", sentence)))
    names = set(stem_words([w for w in re.findall(r"\w+", question)[1:] if w[0].isupper()]))
    if len(question_stems & words) / len(question_stems) < VERDICT_COVERAGE or not names <= words:
        return None
    same = bool(_NEGATION.search(question)) == bool(_NEGATION.search(sentence))
    return "Yes" if same else "No"
