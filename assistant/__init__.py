"""Answer questions about a news article by quoting it verbatim, offline on a CPU."""

from .api import Assistant
from .errors import ArticleError, AssistantError, IndexStoreError, ModelError, QuestionError
from .question import AskRequest
from .schema import Answer, Highlight, Passage

__all__ = [
    "Answer",
    "ArticleError",
    "AskRequest",
    "Assistant",
    "AssistantError",
    "Highlight",
    "IndexStoreError",
    "ModelError",
    "Passage",
    "QuestionError",
]
