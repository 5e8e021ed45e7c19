"""Index persistence and incremental updates, tested without the model (random unit vectors)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from knowledge import index as index_module
from knowledge import index_files
from knowledge.documents import Document
from knowledge.errors import IndexCorruptError, IndexMismatchError, IndexMissingError
from knowledge.index import build_snapshot, corpus_changes, replace_documents
from knowledge.index_files import current_generation, load_snapshot, save_snapshot


class RandomEmbedder:
    """Deterministic pseudo-random unit vectors per text; counts what it was asked to embed."""

    name = "random-test-model"
    dimension = 16

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def encode(self, texts: list[str], **_: object) -> np.ndarray:
        self.embedded.extend(texts)
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            vector = np.random.default_rng(seed).normal(size=self.dimension).astype(np.float32)
            rows.append(vector / np.linalg.norm(vector))
        return np.array(rows, dtype=np.float32).reshape(len(texts), self.dimension)


@pytest.fixture
def docs(small_documents: list[Document]) -> list[Document]:
    return small_documents[:6]


def test_saved_index_loads_back_identically(tmp_path: Path, docs: list[Document]) -> None:
    snapshot = build_snapshot(RandomEmbedder(), docs)  # type: ignore[arg-type]
    save_snapshot(snapshot, tmp_path)
    loaded = load_snapshot(tmp_path)
    assert [p.id for p in loaded.passages] == [p.id for p in snapshot.passages]
    assert np.array_equal(loaded.vectors, snapshot.vectors)
    assert loaded.tokens == snapshot.tokens
    assert loaded.corpus_hash() == snapshot.corpus_hash()


def test_missing_index_names_the_rebuild_command(tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError, match="make index"):
        load_snapshot(tmp_path)


@pytest.mark.parametrize("victim", ["vectors.npy", "passages.jsonl", "manifest.json"])
def test_corrupted_files_are_detected_not_served(tmp_path: Path, docs: list[Document], victim: str) -> None:
    save_snapshot(build_snapshot(RandomEmbedder(), docs), tmp_path)  # type: ignore[arg-type]
    generation = current_generation(tmp_path)
    assert generation is not None
    path = generation / victim
    path.write_bytes(path.read_bytes()[:-40] + b"garbage")
    with pytest.raises(IndexCorruptError, match="make index"):
        load_snapshot(tmp_path)


def test_a_crash_while_saving_leaves_the_previous_index_serving(
    tmp_path: Path, docs: list[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    embedder = RandomEmbedder()
    old = build_snapshot(embedder, docs[:3])  # type: ignore[arg-type]
    save_snapshot(old, tmp_path)

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(index_files.os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        save_snapshot(build_snapshot(embedder, docs), tmp_path)  # type: ignore[arg-type]
    monkeypatch.undo()
    assert [p.id for p in load_snapshot(tmp_path).passages] == [p.id for p in old.passages]
    assert not list(tmp_path.glob(".gen-*")), "the half-written generation was not cleaned up"


def test_updating_one_document_embeds_only_that_document(docs: list[Document]) -> None:
    embedder = RandomEmbedder()
    snapshot = build_snapshot(embedder, docs)  # type: ignore[arg-type]
    target = docs[2]
    edited = target.model_copy(update={"body": target.body + "\n\n## Added section\n\nA brand new paragraph."})
    embedder.embedded.clear()
    updated = replace_documents(snapshot, embedder, [edited])  # type: ignore[arg-type]
    assert embedder.embedded and all(target.title in text for text in embedder.embedded)
    assert len(updated) == len(snapshot) + 1
    assert {p.doc_id for p in updated.passages} == {d.id for d in docs}
    assert any(p.section == "Added section" for p in updated.passages)
    # The other documents' rows are carried over untouched.
    before = {p.id: snapshot.vectors[i] for i, p in enumerate(snapshot.passages) if p.doc_id != target.id}
    after = {p.id: updated.vectors[i] for i, p in enumerate(updated.passages) if p.doc_id != target.id}
    assert before.keys() == after.keys()
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_deleting_a_document_removes_all_its_passages(docs: list[Document]) -> None:
    embedder = RandomEmbedder()
    snapshot = build_snapshot(embedder, docs)  # type: ignore[arg-type]
    updated = replace_documents(snapshot, embedder, [], [docs[0].id])  # type: ignore[arg-type]
    assert docs[0].id not in updated.doc_ids
    assert docs[0].id not in {p.doc_id for p in updated.passages}
    assert (
        len(updated)
        == len(updated.vectors)
        == len(snapshot) - len([p for p in snapshot.passages if p.doc_id == docs[0].id])
    )
    # The removed rows are never offered to a search, by any retriever.
    rows = {row for row in range(updated.row_count) if updated.passage(row).doc_id == docs[0].id}
    query = RandomEmbedder().encode([updated.passage(min(rows)).indexed_text])[0]
    assert not rows & set(updated.dense_top(query, updated.alive.copy(), n=len(snapshot)))
    scores = updated.bm25_scores(list(updated.row_tokens(min(rows))))
    assert not (scores[updated.alive] == 0).all() and not any(scores[row] > 0 and updated.alive[row] for row in rows)


def test_an_index_from_another_model_is_refused(embedder: object, tmp_path: Path, docs: list[Document]) -> None:
    from knowledge.search import HybridRetriever
    from knowledge.settings import KnowledgeSettings

    snapshot = build_snapshot(RandomEmbedder(), docs)  # type: ignore[arg-type]
    with pytest.raises(IndexMismatchError, match="make index"):
        HybridRetriever(KnowledgeSettings(data_dir=tmp_path), embedder, snapshot)  # type: ignore[arg-type]


def test_only_edited_added_and_removed_documents_count_as_corpus_changes(tmp_path: Path, docs: list[Document]) -> None:
    save_snapshot(build_snapshot(RandomEmbedder(), docs), tmp_path)  # type: ignore[arg-type]
    saved = load_snapshot(tmp_path)  # compared after a round trip through the files, as `knowledge sync` does
    assert corpus_changes(saved, docs) == ([], [])
    edited = docs[0].model_copy(update={"last_reviewed": docs[0].last_reviewed.replace(year=2030)})
    changed, removed = corpus_changes(saved, [edited, *docs[1:-1]])
    assert [d.id for d in changed] == [edited.id]
    assert removed == [docs[-1].id]


def test_an_edit_writes_only_the_delta_and_shares_the_base_files(tmp_path: Path, docs: list[Document]) -> None:
    embedder = RandomEmbedder()
    base = build_snapshot(embedder, docs)  # type: ignore[arg-type]
    first = save_snapshot(base, tmp_path)
    target = docs[1]
    edited = target.model_copy(update={"body": target.body + "\n\n## Kelp permits\n\nA new permit for kelp."})
    updated = replace_documents(base, embedder, [edited])  # type: ignore[arg-type]
    second = save_snapshot(updated, tmp_path)
    # Same bytes on disk, not a copy: a save at 50k passages does not rewrite 80 MB.
    assert (first / "vectors.npy").stat().st_ino == (second / "vectors.npy").stat().st_ino
    assert (second / "delta-passages.jsonl").read_text(encoding="utf-8").count("\n") == len(
        [p for p in updated.passages if p.doc_id == target.id]
    )
    # A process that already holds the base reads only the delta, and sees the same passages as a fresh load.
    reused = load_snapshot(tmp_path, reuse=base.base)
    fresh = load_snapshot(tmp_path)
    assert reused.base is base.base
    assert [p.id for p in reused.passages] == [p.id for p in fresh.passages] == [p.id for p in updated.passages]
    assert np.array_equal(reused.vectors, fresh.vectors)
    assert any(p.section == "Kelp permits" for p in fresh.passages)


def test_a_corrupted_delta_is_detected_even_when_the_base_is_reused(tmp_path: Path, docs: list[Document]) -> None:
    embedder = RandomEmbedder()
    base = build_snapshot(embedder, docs)  # type: ignore[arg-type]
    save_snapshot(base, tmp_path)
    generation = save_snapshot(replace_documents(base, embedder, [docs[0]]), tmp_path)  # type: ignore[arg-type]
    path = generation / "delta-passages.jsonl"
    path.write_bytes(path.read_bytes()[:-20] + b"garbage")
    with pytest.raises(IndexCorruptError, match="make index"):
        load_snapshot(tmp_path, reuse=base.base)


def test_many_edits_fold_the_delta_into_a_new_base(
    tmp_path: Path, docs: list[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(index_module, "_COMPACT_FLOOR", 2)
    embedder = RandomEmbedder()
    snapshot = build_snapshot(embedder, docs)  # type: ignore[arg-type]
    first_base = snapshot.base
    for round_ in range(3):
        snapshot = replace_documents(snapshot, embedder, docs[:3])  # type: ignore[arg-type]
        save_snapshot(snapshot, tmp_path)
        assert len(snapshot.delta) <= 2 or round_ == 0
    assert snapshot.base is not first_base and not snapshot.dead
    assert sorted(p.id for p in snapshot.passages) == sorted(p.id for p in build_snapshot(embedder, docs).passages)  # type: ignore[arg-type]
    assert [p.id for p in load_snapshot(tmp_path).passages] == [p.id for p in snapshot.passages]


def test_an_index_saved_in_the_first_format_still_loads(tmp_path: Path, docs: list[Document]) -> None:
    import json

    snapshot = build_snapshot(RandomEmbedder(), docs)  # type: ignore[arg-type]
    generation = save_snapshot(snapshot, tmp_path)
    manifest = json.loads((generation / "manifest.json").read_text())
    for name in ("delta-vectors.npy", "delta-passages.jsonl", "dead.json"):
        (generation / name).unlink()
        del manifest["files"][name]
    manifest["format"] = 1
    del manifest["base_id"]
    (generation / "manifest.json").write_text(json.dumps(manifest))
    assert [p.id for p in load_snapshot(tmp_path).passages] == [p.id for p in snapshot.passages]
