"""The search index: passages, their vectors (FAISS) and their BM25 tokens, persisted atomically.

An index is an immutable ``Snapshot``. Adding, replacing or removing a document builds a new snapshot
from the old one (only the changed document is embedded and tokenised) and swaps it in with one
assignment, so a search running during an update sees either the old or the new document, never
half of one.

On disk, each saved snapshot is a generation directory under ``DATA_DIR/index``::

    index/CURRENT            name of the live generation (replaced atomically with os.replace)
    index/gen-<n>/manifest.json   model, dimension, passage count, corpus hash, file checksums
    index/gen-<n>/vectors.npy     float32 [passages x dimension], L2-normalised
    index/gen-<n>/passages.jsonl  one passage per line, with its BM25 tokens

A generation is written completely in a temporary directory and renamed before CURRENT points at
it: a crash during a save leaves the previous generation serving.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bm25s
import faiss
import numpy as np

from knowledge.documents import Document
from knowledge.embedding import Embedder
from knowledge.errors import REBUILD_HINT, IndexCorruptError, IndexMissingError
from knowledge.language import identifiers, tokenize
from knowledge.passages import Passage, split_document

FORMAT_VERSION = 1
_KEEP_GENERATIONS = 2


@dataclass(frozen=True)
class Snapshot:
    """One consistent view of the index. Never mutated after construction."""

    passages: tuple[Passage, ...]
    tokens: tuple[tuple[str, ...], ...]
    vectors: np.ndarray
    model: str
    dimension: int
    dense: Any = dataclasses.field(repr=False)
    bm25: Any = dataclasses.field(repr=False)
    exact: dict[str, frozenset[int]] = dataclasses.field(repr=False)

    @classmethod
    def build(
        cls,
        passages: Sequence[Passage],
        tokens: Sequence[Sequence[str]],
        vectors: np.ndarray,
        *,
        model: str,
        dimension: int,
    ) -> Snapshot:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(passages), dimension)
        dense = faiss.IndexFlatIP(dimension)
        if len(passages):
            dense.add(vectors)
        bm25 = bm25s.BM25()
        # bm25s needs at least one token per document; an empty passage gets a placeholder.
        bm25.index([list(t) or ["\u2205"] for t in tokens] or [["\u2205"]], show_progress=False)
        exact: dict[str, set[int]] = {}
        for row, passage in enumerate(passages):
            for code in identifiers(passage.indexed_text):
                exact.setdefault(code, set()).add(row)
        return cls(
            passages=tuple(passages),
            tokens=tuple(tuple(t) for t in tokens),
            vectors=vectors,
            model=model,
            dimension=dimension,
            dense=dense,
            bm25=bm25,
            exact={code: frozenset(rows) for code, rows in exact.items()},
        )

    def __len__(self) -> int:
        return len(self.passages)

    def column(self, name: str) -> np.ndarray:
        """One passage attribute for every row, as an array (cached: a snapshot never changes)."""
        cache: dict[str, np.ndarray] = self.__dict__.setdefault("_columns", {})
        if name not in cache:
            cache[name] = np.array([getattr(p, name) for p in self.passages], dtype=object)
        return cache[name]

    def current_mask(self, today: dt.date) -> np.ndarray:
        """True for the rows in force on ``today`` (only passages with validity dates are checked)."""
        cache: dict[dt.date, np.ndarray] = self.__dict__.setdefault("_current", {})
        if today not in cache:
            mask = np.ones(len(self.passages), dtype=bool)
            for row, passage in enumerate(self.passages):
                if passage.valid_from is not None or passage.valid_until is not None:
                    mask[row] = passage.is_current(today)
            mask.setflags(write=False)
            cache.clear()
            cache[today] = mask
        return cache[today].copy()

    @property
    def doc_ids(self) -> set[str]:
        return {p.doc_id for p in self.passages}

    def corpus_hash(self) -> str:
        digest = hashlib.sha256()
        for passage in self.passages:
            digest.update(passage.id.encode())
            digest.update(passage.indexed_text.encode())
        return digest.hexdigest()


def _passage_rows(
    embedder: Embedder, documents: Iterable[Document], *, progress: bool = False
) -> tuple[list[Passage], list[list[str]], np.ndarray]:
    passages = [p for document in documents for p in split_document(document)]
    tokens = [tokenize(p.indexed_text) for p in passages]
    vectors = embedder.encode([p.indexed_text for p in passages], progress=progress)
    return passages, tokens, vectors


def build_snapshot(embedder: Embedder, documents: Iterable[Document], *, progress: bool = False) -> Snapshot:
    """Embed and tokenise every passage of ``documents`` into a fresh snapshot."""
    passages, tokens, vectors = _passage_rows(embedder, documents, progress=progress)
    return Snapshot.build(passages, tokens, vectors, model=embedder.name, dimension=embedder.dimension)


def replace_documents(
    snapshot: Snapshot, embedder: Embedder, upserts: Sequence[Document], deletes: Sequence[str] = ()
) -> Snapshot:
    """A new snapshot with ``upserts`` added or replaced and the ``deletes`` doc ids removed.

    Only the changed documents are embedded; the other rows are carried over as they are.
    """
    drop = set(deletes) | {d.id for d in upserts}
    keep = [row for row, p in enumerate(snapshot.passages) if p.doc_id not in drop]
    new_passages, new_tokens, new_vectors = _passage_rows(embedder, upserts)
    passages = [snapshot.passages[row] for row in keep] + new_passages
    tokens = [list(snapshot.tokens[row]) for row in keep] + new_tokens
    vectors = np.concatenate([snapshot.vectors[keep], new_vectors]) if passages else new_vectors
    return Snapshot.build(passages, tokens, vectors, model=snapshot.model, dimension=snapshot.dimension)


def corpus_changes(snapshot: Snapshot, documents: Sequence[Document]) -> tuple[list[Document], list[str]]:
    """(documents that are new or differ from their indexed passages, doc ids no longer present).

    Compared passage by passage (text, titles, sources, dates, validity), so an edited date or a
    retired section counts as a change. Nothing is embedded to find out.
    """
    indexed: dict[str, list[Passage]] = {}
    for passage in snapshot.passages:
        indexed.setdefault(passage.doc_id, []).append(passage)
    changed = [d for d in documents if indexed.get(d.id) != split_document(d)]
    present = {d.id for d in documents}
    removed = sorted(doc_id for doc_id in indexed if doc_id not in present)
    return changed, removed


# --- persistence -------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _passage_to_json(passage: Passage, tokens: Sequence[str]) -> str:
    record = dataclasses.asdict(passage)
    for key, value in record.items():
        if isinstance(value, dt.date):
            record[key] = value.isoformat()
    record["tokens"] = list(tokens)
    return json.dumps(record, ensure_ascii=False)


def _passage_from_json(line: str) -> tuple[Passage, list[str]]:
    record = json.loads(line)
    tokens = record.pop("tokens")
    for key in ("source_date", "last_reviewed", "valid_from", "valid_until"):
        if record.get(key):
            record[key] = dt.date.fromisoformat(record[key])
    record["zones"] = tuple(record["zones"])
    record["tags"] = tuple(record["tags"])
    return Passage(**record), tokens


def current_generation(index_dir: Path) -> Path | None:
    """The live generation directory, or None when no index has been saved."""
    pointer = index_dir / "CURRENT"
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return index_dir / name


def save_snapshot(snapshot: Snapshot, index_dir: Path) -> Path:
    """Write ``snapshot`` as a new generation and make it current. Returns its directory."""
    index_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".gen-", dir=index_dir))
    try:
        np.save(staging / "vectors.npy", snapshot.vectors, allow_pickle=False)
        with (staging / "passages.jsonl").open("w", encoding="utf-8") as handle:
            for passage, tokens in zip(snapshot.passages, snapshot.tokens, strict=False):
                handle.write(_passage_to_json(passage, tokens) + "\n")
        manifest = {
            "format": FORMAT_VERSION,
            "model": snapshot.model,
            "dimension": snapshot.dimension,
            "passage_count": len(snapshot),
            "document_count": len(snapshot.doc_ids),
            "corpus_hash": snapshot.corpus_hash(),
            "created_at": dt.datetime.now(dt.UTC).isoformat(),
            "files": {name: _sha256(staging / name) for name in ("vectors.npy", "passages.jsonl")},
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        for path in staging.iterdir():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
        previous = current_generation(index_dir)
        number = int(previous.name.split("-")[1]) + 1 if previous is not None else 1
        final = index_dir / f"gen-{number:06d}"
        while final.exists():
            number += 1
            final = index_dir / f"gen-{number:06d}"
        staging.rename(final)
        pointer_tmp = index_dir / f".CURRENT.{os.getpid()}"
        pointer_tmp.write_text(final.name, encoding="utf-8")
        os.replace(pointer_tmp, index_dir / "CURRENT")
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _prune(index_dir, keep=final)
    return final


def _prune(index_dir: Path, keep: Path) -> None:
    generations = sorted(p for p in index_dir.glob("gen-*") if p.is_dir())
    for old in generations[:-_KEEP_GENERATIONS]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)


def read_manifest(index_dir: Path) -> dict[str, Any]:
    generation = current_generation(index_dir)
    if generation is None:
        raise IndexMissingError(f"no search index under {index_dir}: {REBUILD_HINT}")
    try:
        manifest: dict[str, Any] = json.loads((generation / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexCorruptError(f"index manifest in {generation} is unreadable ({exc}): {REBUILD_HINT}") from exc
    return manifest


def load_snapshot(index_dir: Path) -> Snapshot:
    """Load the current generation, verifying it against its manifest."""
    manifest = read_manifest(index_dir)
    generation = current_generation(index_dir)
    assert generation is not None
    try:
        if manifest.get("format") != FORMAT_VERSION:
            raise IndexCorruptError(f"index format {manifest.get('format')} is not {FORMAT_VERSION}")
        for name, checksum in manifest["files"].items():
            if _sha256(generation / name) != checksum:
                raise IndexCorruptError(f"{generation / name} does not match its checksum")
        vectors = np.load(generation / "vectors.npy", allow_pickle=False)
        rows = [
            _passage_from_json(line)
            for line in (generation / "passages.jsonl").read_text(encoding="utf-8").splitlines()
            if line
        ]
        if len(rows) != manifest["passage_count"] or vectors.shape != (len(rows), manifest["dimension"]):
            raise IndexCorruptError("passage count or vector shape disagrees with the manifest")
    except IndexCorruptError as exc:
        raise IndexCorruptError(f"{exc}: {REBUILD_HINT}") from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptError(f"index in {generation} is unreadable ({exc}): {REBUILD_HINT}") from exc
    return Snapshot.build(
        [p for p, _ in rows],
        [t for _, t in rows],
        vectors,
        model=manifest["model"],
        dimension=manifest["dimension"],
    )
