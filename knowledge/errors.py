"""Exceptions raised by the knowledge package.

    KnowledgeError            base: anything the knowledge package refuses or cannot do
    ├── NotFound              no such record (document, version, account, ticket)       -> 404
    ├── Conflict              the store's state forbids it (a stale edit, the last admin) -> 409
    │   └── VersionConflict   a save based on an older version than the stored one
    ├── Invalid               a value the store does not accept (a role, a rating)       -> 422
    ├── CorpusError           a document is malformed (front matter, fields, languages, links) -> 422
    ├── QueryError            a search request is unusable (empty, too long, bad k, bad language) -> 422
    ├── IndexMissingError     no index has been built under DATA_DIR yet                  -> 503
    ├── IndexCorruptError     index files are unreadable or disagree with their manifest  -> 503
    └── IndexMismatchError    the index was built with another embedding model or dimension -> 503

Each carries a ``code`` for the API's error body and a message a person can act on (which file,
which field, which command fixes it). The gateway maps the tree to HTTP statuses once, in its error
handlers (``connectors/gateway/errors.py``); routes do not catch these.
"""

from __future__ import annotations

REBUILD_HINT = "rebuild it with `make index` (or `.venv/app/bin/python -m knowledge build`)"


class KnowledgeError(Exception):
    """Base class for every error the knowledge package raises on purpose."""

    code = "knowledge_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class NotFound(KnowledgeError):
    """No such record."""

    code = "not_found"


class Conflict(KnowledgeError):
    """The stored state forbids the change."""

    code = "conflict"


class VersionConflict(Conflict):
    """A save based on an older version than the one stored (someone else saved in between)."""

    code = "edit_conflict"

    def __init__(self, doc_id: str, expected: int, current: int, *, code: str | None = None) -> None:
        super().__init__(
            f"{doc_id} was changed by someone else (you edited version {expected}, the current one is "
            f"{current}); reload it, reapply your change and save again",
            code=code,
        )
        self.doc_id, self.expected, self.current = doc_id, expected, current


class Invalid(KnowledgeError):
    """A value the store does not accept."""

    code = "invalid_request"


class CorpusError(KnowledgeError):
    """A knowledge document is malformed."""

    code = "invalid_document"


class QueryError(KnowledgeError):
    """A search request cannot be served as given."""

    code = "invalid_query"


class IndexMissingError(KnowledgeError):
    """No search index exists yet."""

    code = "index_unavailable"


class IndexCorruptError(KnowledgeError):
    """The index files on disk are unreadable or inconsistent."""

    code = "index_unavailable"


class IndexMismatchError(KnowledgeError):
    """The index on disk was built with a different embedding model."""

    code = "index_unavailable"
