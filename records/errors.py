"""Exceptions raised by the records package.

    RecordsError     base: anything the records store refuses
    ├── NotFound     no such record (account, ticket)                     -> 404
    ├── Conflict     the stored state forbids it (the last active admin)  -> 409
    └── Invalid      a value the store does not accept (a role, a rating)  -> 422

Each carries a ``code`` for the API's error body. The gateway maps the tree to HTTP statuses once,
in its error handlers (``connectors/gateway/errors.py``), next to the knowledge package's tree.
"""

from __future__ import annotations


class RecordsError(Exception):
    """Base class for every error the records package raises on purpose."""

    code = "records_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class NotFound(RecordsError):
    """No such record."""

    code = "not_found"


class Conflict(RecordsError):
    """The stored state forbids the change."""

    code = "conflict"


class Invalid(RecordsError):
    """A value the store does not accept."""

    code = "invalid_request"
