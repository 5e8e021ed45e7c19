"""Exceptions raised by the knowledge package.

    KnowledgeError            base: anything the knowledge package refuses or cannot do
    ├── CorpusError           a document is malformed (front matter, fields, languages, links)
    ├── QueryError            a search request is unusable (empty, too long, bad k, bad language)
    ├── IndexMissingError     no index has been built under DATA_DIR yet
    ├── IndexCorruptError     index files are unreadable or disagree with their manifest
    └── IndexMismatchError    the index was built with another embedding model or dimension

The gateway maps these to HTTP errors; inside the package they carry a message a person can act on
(which file, which field, which command fixes it).
"""

from __future__ import annotations

REBUILD_HINT = "rebuild it with `make index` (or `.venv/app/bin/python -m knowledge build`)"


class KnowledgeError(Exception):
    """Base class for every error the knowledge package raises on purpose."""


class CorpusError(KnowledgeError):
    """A knowledge document is malformed."""


class QueryError(KnowledgeError):
    """A search request cannot be served as given."""


class IndexMissingError(KnowledgeError):
    """No search index exists yet."""


class IndexCorruptError(KnowledgeError):
    """The index files on disk are unreadable or inconsistent."""


class IndexMismatchError(KnowledgeError):
    """The index on disk was built with a different embedding model."""
