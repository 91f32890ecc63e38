"""What may be asked: the one set of rules for a question, its history and k, and the one wording of each refusal.

`AskRequest` is the validated request. The Python API builds one from its arguments, the HTTP API receives one as
its JSON body, and both report a refusal with `describe` (so a rule has one message, whatever the surface).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from .errors import QuestionError

MAX_QUESTION_CHARS = 2000
MAX_HISTORY = 20
MAX_K = 10
DEFAULT_K = 3
EXAMPLE_QUESTION = "what exercises did Japan join"
MAX_SCOPE = 1000
"""Article ids a question may name in its scope; a wider question asks the whole archive ("all")."""
ARTICLE_ID = re.compile(r"[0-9a-f]{16}")
"""An article's id in a library: the first 16 hex digits of the sha256 of its bytes (article.Article.id)."""
_REFUSED = "refused"
"""The pydantic error type of every rule below; its message is the rule's own."""


class _NoWords(ValueError):
    """Text with nothing to search for: punctuation, symbols or spaces only."""


def _refuse(message: str) -> PydanticCustomError:
    return PydanticCustomError(_REFUSED, "{reason}", {"reason": message})


def clean_text(value: object) -> str:
    """A question as asked, tidied (control and format characters become spaces, runs of space one); ValueError
    saying what is wrong with it otherwise (_NoWords when nothing is left to search for)."""
    if not isinstance(value, str):
        raise ValueError(f"must be text, not {_json_type(value)}")
    if len(value) > MAX_QUESTION_CHARS:
        raise ValueError(f"is {len(value):,} characters; the limit is {MAX_QUESTION_CHARS:,}")
    if "\x00" in value:
        raise ValueError("contains a NUL character")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise ValueError("contains an unpaired surrogate (U+D800 to U+DFFF); send valid Unicode text")
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in value)
    text = " ".join(text.split())
    if not text:
        raise _NoWords("is empty; please ask a question about the article")
    if not any(unicodedata.category(c)[0] in "LN" for c in text):
        raise _NoWords("has no words; please ask a question about the article")
    return text


def _question(value: object) -> str:
    try:
        return clean_text(value)
    except ValueError as e:
        raise _refuse(str(e)) from None


def _history(value: object) -> tuple[str, ...]:
    """Earlier questions, cleaned; one without words ("???") is skipped, as it says nothing to follow."""
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise _refuse(f"must be a list of earlier questions (strings), at most {MAX_HISTORY}")
    if len(value) > MAX_HISTORY:
        raise _refuse(f"has {len(value):,} items; the limit is {MAX_HISTORY} (only recent turns matter)")
    kept = []
    for n, item in enumerate(value):
        try:
            kept.append(clean_text(item))
        except _NoWords:
            continue
        except ValueError as e:
            raise _refuse(f"[{n}]: {e}") from None
    return tuple(kept)


def _article(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not ARTICLE_ID.fullmatch(value):
        raise _refuse(f"must be an article id (16 hex digits, from GET /api/articles), not {_safe(value)}")
    return value


def _scope(value: object) -> str | tuple[str, ...] | None:
    if value is None or value == "all":
        return value
    if isinstance(value, str) or not isinstance(value, Sequence) or not 1 <= len(value) <= MAX_SCOPE:
        raise _refuse(f'must be "all" or a list of 1 to {MAX_SCOPE:,} article ids, not {_safe(value)}')
    for n, item in enumerate(value):
        if not isinstance(item, str) or not ARTICLE_ID.fullmatch(item):
            raise _refuse(f"[{n}]: must be an article id (16 hex digits, from GET /api/articles), not {_safe(item)}")
    return tuple(dict.fromkeys(value))


def _k(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_K:
        raise _refuse(f"must be a whole number from 1 to {MAX_K}, not {_safe(value)}")
    return value


class AskRequest(BaseModel):
    """A question about the article, with the chat's earlier questions so that follow-ups work."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {"question": EXAMPLE_QUESTION},
                {
                    "question": "When was that treaty signed?",
                    "history": ["Who is Japan developing a fighter jet with?"],
                },
                {"question": "Which countries is Japan building a fighter jet with?", "k": 1},
            ]
        },
    )

    question: Annotated[str, BeforeValidator(_question)] = Field(
        description=f"The question, in plain text (at most {MAX_QUESTION_CHARS:,} characters). "
        "It must contain at least one word; NUL and unpaired surrogates are refused.",
        examples=[EXAMPLE_QUESTION],
        json_schema_extra={"minLength": 1, "maxLength": MAX_QUESTION_CHARS},
    )
    history: Annotated[tuple[str, ...], BeforeValidator(_history)] = Field(
        default=(),
        description=f"Earlier questions of the same chat, oldest first (at most {MAX_HISTORY}, each at most "
        f"{MAX_QUESTION_CHARS:,} characters). A follow-up such as 'When was that treaty signed?' borrows context "
        "from the latest one.",
        examples=[["Who is Japan developing a fighter jet with?"]],
        json_schema_extra={"maxItems": MAX_HISTORY, "items": {"type": "string", "maxLength": MAX_QUESTION_CHARS}},
    )
    k: Annotated[int, BeforeValidator(_k)] = Field(
        default=DEFAULT_K,
        description=f"How many passages to quote: a whole number from 1 to {MAX_K}. Fewer come back when the "
        "article has fewer distinct paragraphs, and an abstention quotes at most the closest one.",
        examples=[DEFAULT_K],
        json_schema_extra={"minimum": 1, "maximum": MAX_K},
    )

    article: Annotated[str | None, BeforeValidator(_article)] = Field(
        default=None,
        description="Which article to ask: an id from GET /api/articles. Default: the article the server started "
        "with (the bundled one unless --article says otherwise).",
        examples=["3f2a9c0d1b7e4a55"],
        json_schema_extra={"pattern": ARTICLE_ID.pattern},
    )

    scope: Annotated[Literal["all"] | tuple[str, ...] | None, BeforeValidator(_scope)] = Field(
        default=None,
        description='Ask the archive instead of one article: "all" (every article in the library) or a list of '
        "article ids; each quoted passage then names its article. Default: one article (`article`).",
        examples=["all"],
        json_schema_extra=lambda schema: schema.update(anyOf=[
            {"const": "all"},
            {"type": "array", "minItems": 1, "maxItems": MAX_SCOPE,
             "items": {"type": "string", "pattern": ARTICLE_ID.pattern}},
            {"type": "null"},
        ]),
    )  # fmt: skip

    @model_validator(mode="after")
    def _one_target(self) -> AskRequest:
        if self.scope is not None and self.article is not None:
            raise _refuse("give article (one article) or scope (the archive), not both")
        return self

    @classmethod
    def of(cls, question: object, history: object = None, k: object = DEFAULT_K, article: object = None,
           scope: object = None) -> AskRequest:  # fmt: skip
        """The request for these arguments, or QuestionError saying (as the HTTP API would) what is wrong."""
        try:
            return cls(question=question, history=history, k=k, article=article, scope=scope)
        except ValidationError as e:
            raise QuestionError(describe(e.errors())) from None


def describe(errors: Sequence[dict[str, Any]]) -> str:
    """Validation errors as one sentence per problem, each naming its field: "k: must be a whole number ..."."""
    return "; ".join(list(dict.fromkeys(map(_describe, errors)))[:5])


def _describe(error: dict[str, Any]) -> str:
    loc = [str(p) for p in error.get("loc", ()) if p != "body"]
    kind = error.get("type", "")
    if not loc and kind == _REFUSED:  # a rule over several fields (article and scope)
        return error["msg"]
    if not loc:
        if kind == "missing":
            return f'the body is empty: send a JSON object such as {{"question": "{EXAMPLE_QUESTION}"}}'
        return f'the body must be a JSON object such as {{"question": "{EXAMPLE_QUESTION}"}}'
    field = loc[0]
    if kind == _REFUSED:
        reason = error["msg"]
        return f"{field}{reason}" if reason.startswith("[") else f"{field}: {reason}"
    if kind == "extra_forbidden":
        return f"unknown field {_safe(field)}: the fields are {', '.join(AskRequest.model_fields)}"
    if kind == "missing":
        return f"{field}: required"
    return f"{field}: {str(error.get('msg', 'invalid')).lower()}"


def _safe(value: object) -> str:
    """A short, ASCII-only rendering of a client's value (lone surrogates and control characters included)."""
    text = json.dumps(value, ensure_ascii=True, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _json_type(value: object) -> str:
    names = {bool: "a boolean", int: "a number", float: "a number", list: "an array", tuple: "an array",
             dict: "an object"}  # fmt: skip
    return "null" if value is None else names.get(type(value), "a " + type(value).__name__)
