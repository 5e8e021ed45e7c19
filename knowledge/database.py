"""The one relational database the knowledge store and the records share, and how to open it.

SQLite at ``DATA_DIR/assistant.db`` by default (WAL mode, so the gateway and the action server can
both write), PostgreSQL for the scale-out profile: the URL is the ``database_url`` setting. Each
store opens its own engine on it and creates only its own tables.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine

from knowledge.settings import KnowledgeSettings


def now() -> dt.datetime:
    """The time stored rows are stamped with (UTC)."""
    return dt.datetime.now(dt.UTC)


def database_url(settings: KnowledgeSettings) -> str:
    """The configured URL, or SQLite at ``DATA_DIR/assistant.db``."""
    if settings.database_url:
        return settings.database_url
    return f"sqlite:///{settings.data_dir / 'assistant.db'}"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets one process write while others read; busy_timeout makes a second writer wait
    # instead of failing with "database is locked".
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def connect(url: str) -> Engine:
    """An engine on ``url``: SQLite's directory created and its pragmas set on every connection."""
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine
