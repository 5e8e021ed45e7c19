"""The knowledge store: documents and their versions (real SQLite and real PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.database import database_url
from knowledge.settings import KnowledgeSettings
from knowledge.store import Base, Store


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    """The store on SQLite (the default) and on PostgreSQL (the scale profile), each test from empty."""
    if request.param == "sqlite":
        return Store(f"sqlite:///{tmp_path / 'nested' / 'assistant.db'}")
    running = request.getfixturevalue("services")
    opened = Store(running.database_url("assistant"))
    Base.metadata.drop_all(opened.engine)
    Base.metadata.create_all(opened.engine)
    return opened


def test_the_default_database_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    assert database_url(KnowledgeSettings(data_dir=tmp_path)) == f"sqlite:///{tmp_path / 'assistant.db'}"
    assert database_url(KnowledgeSettings(data_dir=tmp_path, database_url="postgresql://x/y")) == "postgresql://x/y"


def test_a_corpus_file_removed_from_git_is_retired_unless_staff_edited_it(store: Store) -> None:
    def doc(doc_id: str) -> dict[str, str]:
        return {"id": doc_id, "title": doc_id}

    assert store.import_corpus([(doc("a.en"), "1"), (doc("b.en"), "1"), (doc("c.en"), "1")]) == (3, 0, 0, 0)
    store.save_document(doc("c.en") | {"title": "edited"}, author="li", expected_version=1)
    # b and c were merged into a: their files are gone from the corpus.
    assert store.import_corpus([(doc("a.en"), "1")]) == (0, 0, 0, 1)
    statuses = {r.doc_id: r.status for r in store.documents()}
    assert statuses == {"a.en": "published", "b.en": "retired", "c.en": "published"}
    # Retired, not destroyed: the record and its history stay, and a file that comes back is restored
    # only by staff (rollback), never silently.
    assert store.document("b.en") is not None
    assert store.import_corpus([(doc("a.en"), "1")]) == (0, 0, 0, 0)
