"""Answer questions about a news article by quoting it verbatim, offline on a CPU."""

from .answer import Answer, Highlight, Passage
from .api import Assistant
from .errors import ArticleError, AssistantError, IndexStoreError, ModelError, QuestionError

__all__ = [
    "Answer",
    "ArticleError",
    "Assistant",
    "AssistantError",
    "Highlight",
    "IndexStoreError",
    "ModelError",
    "Passage",
    "QuestionError",
]
