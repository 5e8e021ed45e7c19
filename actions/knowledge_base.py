"""The action server's single handle on the knowledge index.

The index is opened once per process, in the background at import time, so the first trader does
not wait for the model to load. Each search first picks up any generation another process (the
staff console, the CLI) has saved since, so edits reach answers without a restart.
"""

from __future__ import annotations

import logging
import threading

from knowledge.search import HybridRetriever, open_or_build
from knowledge.settings import KnowledgeSettings

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_retriever: HybridRetriever | None = None
_error: Exception | None = None
_ready = threading.Event()


def _load() -> None:
    global _retriever, _error
    try:
        retriever = open_or_build(KnowledgeSettings())
        with _lock:
            _retriever, _error = retriever, None
        logger.info("knowledge index ready: %d passages", len(retriever.snapshot))
    except Exception as exc:  # reported by retriever() on every request until fixed
        logger.exception("knowledge index could not be opened")
        with _lock:
            _error = exc
    finally:
        _ready.set()


def start_loading() -> None:
    threading.Thread(target=_load, name="knowledge-loader", daemon=True).start()


def retriever(timeout: float = 60.0) -> HybridRetriever:
    """The loaded retriever, refreshed to the newest saved generation. Raises if unavailable."""
    if not _ready.wait(timeout):
        raise RuntimeError("the knowledge index is still loading")
    with _lock:
        current, error = _retriever, _error
    if current is None:
        # A failed load is retried on the next request: an index built later is picked up.
        _ready.clear()
        start_loading()
        raise RuntimeError(f"the knowledge index is unavailable: {error}")
    current.refresh()
    return current


def is_ready() -> bool:
    with _lock:
        return _retriever is not None


start_loading()
