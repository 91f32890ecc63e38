"""The errors the assistant raises; each message says what went wrong and how to fix it."""


class AssistantError(Exception):
    """Base class: anything the assistant reports to a user as a one-line message."""


class ArticleError(AssistantError):
    """The article file cannot be used (missing, unreadable, binary, empty, too large)."""


class QuestionError(AssistantError):
    """The question cannot be asked (empty, too long, bad history or k)."""


class ModelError(AssistantError):
    """The embedding model cannot be loaded."""


class IndexStoreError(AssistantError):
    """The index folder cannot be read or written (and cannot be rebuilt in place)."""


class LibraryError(AssistantError):
    """The library cannot do what was asked (delete the default article, store a file)."""


class UnknownArticle(LibraryError):
    """No article in the library has this id."""
