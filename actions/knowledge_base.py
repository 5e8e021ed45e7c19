"""The action server's single handle on the knowledge index.

The index is opened once per process. ``actions.server`` loads it before it starts listening: its
port opens only when it can answer, so a health check that reaches it means answers work, and a
restarting action server reads as down rather than as answering "unavailable". Elsewhere the index
loads on first use, and tests inject their own retriever with ``use``. Each
search first picks up any generation another process (the staff console, the CLI) has saved since,
so edits reach answers without a restart.
"""

from __future__ import annotations

import logging
import threading

from knowledge.search import HybridRetriever, open_or_build
from knowledge.settings import KnowledgeSettings
from records.store import Records

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_retriever: HybridRetriever | None = None
_error: Exception | None = None
_loading = False
_ready = threading.Event()


def _load() -> None:
    global _retriever, _error, _loading
    try:
        loaded = open_or_build(KnowledgeSettings())
        with _lock:
            _retriever, _error = loaded, None
        logger.info("knowledge index ready: %d passages", len(loaded.snapshot))
    except Exception as exc:  # reported by retriever() until a later load succeeds
        logger.exception("knowledge index could not be opened")
        with _lock:
            _error = exc
    finally:
        with _lock:
            _loading = False
        _ready.set()


def start_loading() -> None:
    """Open the index in a background thread (no-op while a load is already running)."""
    global _loading
    with _lock:
        if _loading:
            return
        _loading = True
        _ready.clear()
    threading.Thread(target=_load, name="knowledge-loader", daemon=True).start()


def retriever(timeout: float = 60.0) -> HybridRetriever:
    """The loaded retriever, refreshed to the newest saved generation. Raises if unavailable."""
    with _lock:
        current, error, loading = _retriever, _error, _loading
    if current is None and not loading:
        # First use, or a failed load: try (again), so an index built later is picked up.
        start_loading()
    if current is None:
        if not _ready.wait(timeout):
            raise RuntimeError("the knowledge index is still loading")
        with _lock:
            current, error = _retriever, _error
    if current is None:
        raise RuntimeError(f"the knowledge index is unavailable: {error}")
    current.refresh()
    return current


def use(retriever_: HybridRetriever) -> None:
    """Serve searches from ``retriever_`` (tests, or a process that already opened an index)."""
    global _retriever, _error
    with _lock:
        _retriever, _error = retriever_, None
    _ready.set()


_records: Records | None = None


def records() -> Records:
    """The database of feedback, tickets and the question log (opened on first use)."""
    global _records
    with _lock:
        if _records is None:
            _records = Records.open(KnowledgeSettings())
        return _records


def use_records(records_: Records) -> None:
    """Record feedback, tickets and questions in ``records_`` (tests, the evaluation's scratch database)."""
    global _records
    with _lock:
        _records = records_
