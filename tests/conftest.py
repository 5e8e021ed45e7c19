"""Shared fixtures: the real embedding model and a small real corpus, loaded once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "knowledge" / "corpus"
# A slice of the real corpus: enough topics to tell them apart, small enough to embed in seconds.
SMALL_TOPICS = ("customs", "yiwu", "odi")


@pytest.fixture(scope="session")
def corpus_documents():  # type: ignore[no-untyped-def]
    from knowledge.documents import load_corpus

    return load_corpus(CORPUS)


@pytest.fixture(scope="session")
def small_documents(corpus_documents):  # type: ignore[no-untyped-def]
    return [d for d in corpus_documents if d.topic in SMALL_TOPICS]


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory):  # type: ignore[no-untyped-def]
    """Where the session's embedders keep the exported ONNX model (as DATA_DIR/onnx does)."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def embedder(model_cache):  # type: ignore[no-untyped-def]
    """The default model (multilingual-e5-small) on ONNX Runtime, as the serving processes use it."""
    from knowledge.embedding import Embedder

    return Embedder("", cache_dir=model_cache)


@pytest.fixture(scope="session")
def small_snapshot(embedder, small_documents):  # type: ignore[no-untyped-def]
    from knowledge.index import build_snapshot

    return build_snapshot(embedder, small_documents)


@pytest.fixture
def knowledge_settings(tmp_path):  # type: ignore[no-untyped-def]
    from knowledge.settings import KnowledgeSettings

    return KnowledgeSettings(data_dir=tmp_path / "data")


@pytest.fixture
def retriever(knowledge_settings, embedder, small_snapshot):  # type: ignore[no-untyped-def]
    """A retriever over the small corpus, saved under a fresh DATA_DIR."""
    from knowledge.index_files import save_snapshot
    from knowledge.search import HybridRetriever

    save_snapshot(small_snapshot, knowledge_settings.index_dir)
    return HybridRetriever(knowledge_settings, embedder, small_snapshot)


@pytest.fixture(scope="session")
def services(tmp_path_factory):  # type: ignore[no-untyped-def]
    """Real PostgreSQL and Redis on free loopback ports (scripts/services.py installs them if missing)."""
    import socket

    from scripts import services as service_scripts

    def free_port() -> int:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    data_dir = tmp_path_factory.mktemp("services")
    try:
        running = service_scripts.start(data_dir, free_port(), free_port())
    except service_scripts.ServiceError as exc:
        pytest.fail(f"PostgreSQL / Redis could not be started: {exc}")
    yield running
    service_scripts.stop(data_dir, running.redis_port, purge=True)
