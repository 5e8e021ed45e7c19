"""The search index: passages, their vectors (FAISS) and their BM25 tokens, persisted atomically.

An index is an immutable ``Snapshot`` made of two segments, the way Lucene keeps an index:

* the **base** segment holds most passages, with a FAISS index over its vectors and a bm25s index
  over its tokens. Building it is the expensive part (seconds at 50k passages), so it is built once
  (``make index``) and then shared, unchanged, by every later snapshot;
* the **delta** segment holds the passages of documents added or edited since: a few rows searched
  with numpy (dense) and scored with the base's BM25 statistics, so its scores rank with the base's.

An edit or a retirement marks the document's base rows dead (a tombstone) and puts its new passages
in the delta: only the changed document is embedded and tokenised, nothing is re-indexed, and the
new snapshot is swapped in with one assignment, so a search running during an update sees either the
old or the new document, never half of one. When the delta or the dead rows grow past a share of the
base (``COMPACT_*``), the next update folds everything into a fresh base (a full rebuild).

On disk, each saved snapshot is a generation directory under ``DATA_DIR/index``::

    index/CURRENT                      name of the live generation (replaced atomically, os.replace)
    index/gen-<n>/manifest.json        model, dimension, passage counts, corpus hash, base id, checksums
    index/gen-<n>/vectors.npy          base vectors, float32 [rows x dimension], L2-normalised
    index/gen-<n>/passages.jsonl       base passages, one per line, with their BM25 tokens
    index/gen-<n>/delta-vectors.npy    delta vectors
    index/gen-<n>/delta-passages.jsonl delta passages
    index/gen-<n>/dead.json            base rows no longer served

A new generation hard-links the base files of the previous one when the base did not change, so a
save writes only the delta (kilobytes) and another process that already holds that base loads only
the delta. A generation is written completely in a temporary directory and renamed before CURRENT
points at it: a crash during a save leaves the previous generation serving.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import os
import shutil
import tempfile
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import bm25s
import faiss
import numpy as np

from knowledge.documents import Document
from knowledge.embedding import Embedder
from knowledge.errors import REBUILD_HINT, IndexCorruptError, IndexMissingError
from knowledge.language import TOKENIZER_VERSION, identifiers, spelling_variants, tokenize
from knowledge.passages import Passage, split_document

FORMAT_VERSION = 2
_READABLE_FORMATS = (1, 2)  # format 1 is a base segment without a delta
_KEEP_GENERATIONS = 2
# Fold the delta into a new base when it holds more rows than this (or this share of the base), or
# when this share of the base is dead. Below that, an update costs milliseconds, not a rebuild.
COMPACT_DELTA_ROWS = 2000
COMPACT_DELTA_SHARE = 0.10
COMPACT_DEAD_SHARE = 0.20
_EMPTY = "\u2205"  # bm25s needs at least one token per document: an empty passage gets a placeholder
# bm25s's defaults ("lucene" BM25); the delta is scored with the same formula and statistics.
_K1, _B = 1.5, 0.75
_BASE_FILES = ("vectors.npy", "passages.jsonl")
_DELTA_FILES = ("delta-vectors.npy", "delta-passages.jsonl", "dead.json")


def _exact_map(passages: Sequence[Passage]) -> dict[str, frozenset[int]]:
    exact: dict[str, set[int]] = {}
    for row, passage in enumerate(passages):
        for code in identifiers(passage.indexed_text):
            exact.setdefault(code, set()).add(row)
    return {code: frozenset(rows) for code, rows in exact.items()}


@dataclass(frozen=True, eq=False)
class _Segment:
    """Rows of passages with their tokens and vectors. Never mutated after construction."""

    passages: tuple[Passage, ...]
    tokens: tuple[tuple[str, ...], ...]
    vectors: np.ndarray
    exact: dict[str, frozenset[int]] = field(repr=False)

    def __len__(self) -> int:
        return len(self.passages)

    def column(self, name: str) -> np.ndarray:
        """One passage attribute for every row, as an array (cached: a segment never changes)."""
        cache: dict[str, np.ndarray] = self.__dict__.setdefault("_columns", {})
        if name not in cache:
            column = np.empty(len(self.passages), dtype=object)  # filled, so tuples stay one value per row
            column[:] = [getattr(p, name) for p in self.passages]
            column.setflags(write=False)
            cache[name] = column
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
        return cache[today]


@dataclass(frozen=True, eq=False)
class BaseSegment(_Segment):
    """The large segment: FAISS (inner product, fp16) and bm25s indexes, built once and shared."""

    dense: Any = field(default=None, repr=False)
    bm25: Any = field(default=None, repr=False)
    base_id: str = ""  # names this segment's files on disk: a generation built on it links them

    @classmethod
    def build(
        cls,
        passages: Sequence[Passage],
        tokens: Sequence[Sequence[str]],
        vectors: np.ndarray,
        *,
        dimension: int,
        base_id: str | None = None,
    ) -> BaseSegment:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(passages), dimension)
        # Exact inner product over half-precision copies of the vectors: a one-query scan is bound by
        # memory traffic, and fp16 halves it (50k passages: ~3.5x faster, the same top 100; the
        # float32 vectors stay in ``vectors`` for the similarities search reports).
        dense = faiss.IndexScalarQuantizer(dimension, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT)
        if len(passages):
            dense.add(vectors)
        bm25 = bm25s.BM25(k1=_K1, b=_B, method="lucene")
        bm25.index([list(t) or [_EMPTY] for t in tokens] or [[_EMPTY]], show_progress=False)
        return cls(
            passages=tuple(passages),
            tokens=tuple(tuple(t) for t in tokens),
            vectors=vectors,
            exact=_exact_map(passages),
            dense=dense,
            bm25=bm25,
            base_id=base_id or uuid.uuid4().hex,
        )

    @cached_property
    def average_length(self) -> float:
        return max(1.0, sum(max(1, len(t)) for t in self.tokens) / max(1, len(self.tokens)))

    def doc_freq(self, token: str) -> int:
        column = self.bm25.vocab_dict.get(token)
        if column is None:
            return 0
        indptr = self.bm25.scores["indptr"]
        return int(indptr[column + 1] - indptr[column])


@dataclass(frozen=True, eq=False)
class DeltaSegment(_Segment):
    """The small segment of recently added or edited passages: searched with numpy."""

    @classmethod
    def build(
        cls, passages: Sequence[Passage], tokens: Sequence[Sequence[str]], vectors: np.ndarray, *, dimension: int
    ) -> DeltaSegment:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32).reshape(len(passages), dimension)
        return cls(
            passages=tuple(passages),
            tokens=tuple(tuple(t) for t in tokens),
            vectors=vectors,
            exact=_exact_map(passages),
        )

    @cached_property
    def term_counts(self) -> tuple[Counter[str], ...]:
        return tuple(Counter(t or (_EMPTY,)) for t in self.tokens)

    @cached_property
    def doc_freqs(self) -> Counter[str]:
        freqs: Counter[str] = Counter()
        for counts in self.term_counts:
            freqs.update(counts.keys())
        return freqs


def _empty_delta(dimension: int) -> DeltaSegment:
    return DeltaSegment.build([], [], np.zeros((0, dimension), dtype=np.float32), dimension=dimension)


@dataclass(frozen=True, eq=False)
class Snapshot:
    """One consistent view of the index: a base segment, a delta segment and the dead base rows.

    Rows are numbered across both segments, base rows first. ``passages``, ``tokens`` and
    ``vectors`` are the live rows only, in row order; search works on row numbers.
    """

    base: BaseSegment
    delta: DeltaSegment
    dead: frozenset[int]
    model: str
    dimension: int

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
        """A snapshot with every passage in a freshly built base segment (a full rebuild)."""
        base = BaseSegment.build(passages, tokens, vectors, dimension=dimension)
        return cls(base, _empty_delta(dimension), frozenset(), model, dimension)

    # --- rows -----------------------------------------------------------------------------------

    @property
    def row_count(self) -> int:
        """Rows in both segments, dead ones included."""
        return len(self.base) + len(self.delta)

    def __len__(self) -> int:
        """Live passages."""
        return self.row_count - len(self.dead)

    def passage(self, row: int) -> Passage:
        n = len(self.base)
        return self.base.passages[row] if row < n else self.delta.passages[row - n]

    def row_tokens(self, row: int) -> tuple[str, ...]:
        n = len(self.base)
        return self.base.tokens[row] if row < n else self.delta.tokens[row - n]

    def vector(self, row: int) -> np.ndarray:
        n = len(self.base)
        vector: np.ndarray = self.base.vectors[row] if row < n else self.delta.vectors[row - n]
        return vector

    @cached_property
    def alive(self) -> np.ndarray:
        mask = np.ones(self.row_count, dtype=bool)
        if self.dead:
            mask[np.fromiter(self.dead, dtype=np.int64, count=len(self.dead))] = False
        mask.setflags(write=False)
        return mask

    @cached_property
    def passages(self) -> tuple[Passage, ...]:
        if not self.dead:
            return self.base.passages + self.delta.passages
        return tuple(self.passage(int(row)) for row in np.flatnonzero(self.alive))

    @cached_property
    def tokens(self) -> tuple[tuple[str, ...], ...]:
        if not self.dead:
            return self.base.tokens + self.delta.tokens
        return tuple(self.row_tokens(int(row)) for row in np.flatnonzero(self.alive))

    @cached_property
    def vectors(self) -> np.ndarray:
        if not self.dead and not len(self.delta):
            return self.base.vectors
        return np.concatenate([self.base.vectors[self.alive[: len(self.base)]], self.delta.vectors])

    @cached_property
    def has_superseded(self) -> bool:
        """Whether any passage belongs to a rule another document replaced (worth a second search)."""
        return any(p.superseded_by for p in self.passages)

    @cached_property
    def doc_ids(self) -> frozenset[str]:
        return frozenset(p.doc_id for p in self.passages)

    def document_rows(self, doc_id: str) -> list[int]:
        """The live rows of one document, in its section order."""
        return self._rows_by_document.get(doc_id, [])

    @cached_property
    def _rows_by_document(self) -> dict[str, list[int]]:
        rows: dict[str, list[int]] = {}
        for row in np.flatnonzero(self.alive):
            rows.setdefault(self.passage(int(row)).doc_id, []).append(int(row))
        return rows

    def corpus_hash(self) -> str:
        digest = hashlib.sha256()
        for passage in self.passages:
            digest.update(passage.id.encode())
            digest.update(passage.indexed_text.encode())
        return digest.hexdigest()

    # --- what search needs, over all rows ---------------------------------------------------------

    def column(self, name: str) -> np.ndarray:
        """One passage attribute for every row (dead rows included; ``alive`` masks them)."""
        if not len(self.delta):
            return self.base.column(name)
        cache: dict[str, np.ndarray] = self.__dict__.setdefault("_columns", {})
        if name not in cache:
            cache[name] = np.concatenate([self.base.column(name), self.delta.column(name)])
        return cache[name]

    def current_mask(self, today: dt.date) -> np.ndarray:
        """True for the live rows in force on ``today``. A fresh array the caller may change."""
        mask = np.concatenate([self.base.current_mask(today), self.delta.current_mask(today)])
        if self.dead:
            mask &= self.alive
        return mask

    def exact_rows(self, code: str) -> set[int]:
        """Rows (dead ones included) whose text names ``code``."""
        n = len(self.base)
        rows = set(self.base.exact.get(code, ()))
        rows.update(n + row for row in self.delta.exact.get(code, ()))
        return rows

    def in_vocabulary(self, token: str) -> bool:
        return token in self.base.bm25.vocab_dict or token in self.delta.doc_freqs

    def spelled(self, token: str) -> str:
        """``token``, or the most frequent indexed word one typo away ("orign" -> "origin").

        Only for Latin words of 5 to 20 letters that the index lacks: shorter words have too many
        neighbours, longer ones are not typed words (and would cost ~50 variants per letter), and
        Chinese words are cut by jieba, not typed letter by letter.
        """
        if not 5 <= len(token) <= 20 or not token.isascii() or not token.isalpha() or self.in_vocabulary(token):
            return token
        cache: dict[str, str] = self.__dict__.setdefault("_spelled", {})
        if token not in cache:
            known = [w for w in spelling_variants(token) if self.in_vocabulary(w)]
            cache[token] = max(known, key=lambda w: (self.doc_freq(w), w)) if known else token
        return cache[token]

    def doc_freq(self, token: str) -> int:
        return self.base.doc_freq(token) + self.delta.doc_freqs.get(token, 0)

    def bm25_scores(self, tokens: Sequence[str]) -> np.ndarray:
        """BM25 score of every row for the query ``tokens``.

        The base is scored by bm25s; the delta with the same formula and the base's statistics
        (document count, frequencies, average length), as if its rows were base rows, so the two
        rank on one scale: re-saving a document unchanged does not move it. A word only the delta
        has gets its frequency from the delta.
        """
        n_base = len(self.base)
        known = [t for t in tokens if t in self.base.bm25.vocab_dict]
        if n_base and known:
            base_scores = np.asarray(self.base.bm25.get_scores(known), dtype=np.float32)[:n_base]
        else:
            base_scores = np.zeros(n_base, dtype=np.float32)
        if not len(self.delta):
            return base_scores
        idf: dict[str, float] = {}
        for token in set(tokens):
            base_df = self.base.doc_freq(token) if n_base else 0
            count, df = (n_base, base_df) if base_df else (self.row_count, self.delta.doc_freqs.get(token, 0))
            if df:
                idf[token] = math.log(1 + (count - df + 0.5) / (df + 0.5))
        average = self.base.average_length if n_base else max(1.0, float(np.mean([len(c) for c in self.delta.tokens])))
        delta_scores = np.zeros(len(self.delta), dtype=np.float32)
        for row, counts in enumerate(self.delta.term_counts):
            norm = _K1 * ((1 - _B) + _B * max(1, len(self.delta.tokens[row])) / average)
            delta_scores[row] = sum(idf[t] * counts[t] / (norm + counts[t]) for t in tokens if t in idf and t in counts)
        return np.concatenate([base_scores, delta_scores])

    def dense_top(self, query_vector: np.ndarray, allowed: np.ndarray, n: int) -> list[int]:
        """The ``n`` allowed rows most similar to ``query_vector``, best first."""
        n_base = len(self.base)
        candidates: list[tuple[float, int]] = []
        if n_base:
            base_allowed = allowed[:n_base]
            blocked = n_base - int(np.count_nonzero(base_allowed))
            params = None
            want = min(n + blocked, n_base)
            if blocked > _FEW_BLOCKED:
                # Many rows filtered out (a topic or language filter): let FAISS skip them.
                rows = np.flatnonzero(base_allowed).astype(np.int64)
                params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(rows)) if len(rows) else None  # type: ignore[call-arg]
                want = min(n, len(rows))
            if want > 0:
                similarities, found = self.base.dense.search(query_vector.reshape(1, -1), want, params=params)
                candidates.extend(
                    (float(s), int(r))
                    for s, r in zip(similarities[0], found[0], strict=True)
                    if r >= 0 and base_allowed[r]
                )
        if len(self.delta):
            rows = np.flatnonzero(allowed[n_base:])
            if len(rows):
                similarities = self.delta.vectors[rows] @ query_vector
                candidates.extend((float(s), n_base + int(r)) for s, r in zip(similarities, rows, strict=True))
        candidates.sort(key=lambda candidate: -candidate[0])
        return [row for _, row in candidates[:n]]

    # --- changes --------------------------------------------------------------------------------

    def needs_compaction(self) -> bool:
        n_base = len(self.base)
        delta_limit = max(_COMPACT_FLOOR, min(COMPACT_DELTA_ROWS, COMPACT_DELTA_SHARE * n_base))
        return len(self.delta) > delta_limit or len(self.dead) > max(_COMPACT_FLOOR, COMPACT_DEAD_SHARE * n_base)

    def compacted(self) -> Snapshot:
        """The same live passages in one freshly built base segment (no embedding: vectors are kept)."""
        return Snapshot.build(self.passages, self.tokens, self.vectors, model=self.model, dimension=self.dimension)

    def replaced(
        self,
        drop: set[str],
        passages: Sequence[Passage],
        tokens: Sequence[Sequence[str]],
        vectors: np.ndarray,
    ) -> Snapshot:
        """A snapshot without the documents in ``drop`` and with the new rows in the delta."""
        dead = set(self.dead)
        if drop and len(self.base):
            found = np.isin(self.base.column("doc_id"), sorted(drop))
            dead.update(int(row) for row in np.flatnonzero(found))
        keep = [row for row, p in enumerate(self.delta.passages) if p.doc_id not in drop]
        delta = DeltaSegment.build(
            [self.delta.passages[row] for row in keep] + list(passages),
            [self.delta.tokens[row] for row in keep] + [tuple(t) for t in tokens],
            np.concatenate(
                [self.delta.vectors[keep], np.asarray(vectors, dtype=np.float32).reshape(-1, self.dimension)]
            ),
            dimension=self.dimension,
        )
        snapshot = Snapshot(self.base, delta, frozenset(dead), self.model, self.dimension)
        return snapshot.compacted() if snapshot.needs_compaction() else snapshot


_FEW_BLOCKED = 1024  # fewer filtered-out rows than this: ask FAISS for more and drop them after
_COMPACT_FLOOR = 200  # a small index is never compacted for fewer changed rows than this


def _passage_rows(
    embedder: Embedder, documents: Iterable[Document], *, progress: bool = False
) -> tuple[list[Passage], list[list[str]], np.ndarray]:
    passages = [p for document in documents for p in split_document(document)]
    tokens = [tokenize(p.indexed_text) for p in passages]
    vectors = embedder.encode([p.indexed_text for p in passages], kind="passage", progress=progress)
    return passages, tokens, vectors


def build_snapshot(embedder: Embedder, documents: Iterable[Document], *, progress: bool = False) -> Snapshot:
    """Embed and tokenise every passage of ``documents`` into a fresh snapshot."""
    passages, tokens, vectors = _passage_rows(embedder, documents, progress=progress)
    return Snapshot.build(passages, tokens, vectors, model=embedder.name, dimension=embedder.dimension)


def replace_documents(
    snapshot: Snapshot, embedder: Embedder, upserts: Sequence[Document], deletes: Sequence[str] = ()
) -> Snapshot:
    """A new snapshot with ``upserts`` added or replaced and the ``deletes`` doc ids removed.

    Only the changed documents are embedded and tokenised; the other rows are shared, unchanged.
    """
    passages, tokens, vectors = _passage_rows(embedder, upserts)
    return snapshot.replaced(set(deletes) | {d.id for d in upserts}, passages, tokens, vectors)


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

_DATE_FIELDS = ("source_date", "last_reviewed", "valid_from", "valid_until")
_PASSAGE_FIELDS = tuple(Passage.__dataclass_fields__)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _passage_to_json(passage: Passage, tokens: Sequence[str]) -> str:
    record: dict[str, Any] = {name: getattr(passage, name) for name in _PASSAGE_FIELDS}
    for key in _DATE_FIELDS:
        if record[key] is not None:
            record[key] = record[key].isoformat()
    record["zones"], record["tags"] = list(passage.zones), list(passage.tags)
    record["tokens"] = list(tokens)
    return json.dumps(record, ensure_ascii=False)


def _passage_from_json(line: str) -> tuple[Passage, list[str]]:
    record = json.loads(line)
    tokens = record.pop("tokens")
    for key in _DATE_FIELDS:
        if record.get(key):
            record[key] = dt.date.fromisoformat(record[key])
    record["zones"] = tuple(record["zones"])
    record["tags"] = tuple(record["tags"])
    return Passage(**record), tokens


def _write_rows(directory: Path, vectors_name: str, passages_name: str, segment: _Segment) -> None:
    np.save(directory / vectors_name, segment.vectors, allow_pickle=False)
    with (directory / passages_name).open("w", encoding="utf-8") as handle:
        for passage, tokens in zip(segment.passages, segment.tokens, strict=True):
            handle.write(_passage_to_json(passage, tokens) + "\n")


def _read_rows(
    directory: Path, vectors_name: str, passages_name: str
) -> tuple[list[Passage], list[list[str]], np.ndarray]:
    vectors = np.load(directory / vectors_name, allow_pickle=False)
    rows = [
        _passage_from_json(line)
        for line in (directory / passages_name).read_text(encoding="utf-8").splitlines()
        if line
    ]
    return [p for p, _ in rows], [t for _, t in rows], vectors


def current_generation(index_dir: Path) -> Path | None:
    """The live generation directory, or None when no index has been saved."""
    pointer = index_dir / "CURRENT"
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return index_dir / name


def _reusable_base(index_dir: Path, base: BaseSegment) -> tuple[Path, dict[str, str]] | None:
    """The current generation's directory and base checksums, when it holds ``base``."""
    generation = current_generation(index_dir)
    if generation is None or not base.base_id:
        return None
    try:
        manifest = json.loads((generation / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if manifest.get("base_id") != base.base_id:
        return None
    files = manifest.get("files", {})
    if not all(name in files and (generation / name).exists() for name in _BASE_FILES):
        return None
    return generation, {name: files[name] for name in _BASE_FILES}


def save_snapshot(snapshot: Snapshot, index_dir: Path) -> Path:
    """Write ``snapshot`` as a new generation and make it current. Returns its directory.

    When the current generation already holds the snapshot's base segment, its files are
    hard-linked (same bytes, same checksums) and only the delta is written.
    """
    index_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".gen-", dir=index_dir))
    try:
        checksums: dict[str, str] = {}
        written: list[str] = list(_DELTA_FILES)
        reusable = _reusable_base(index_dir, snapshot.base)
        if reusable is not None:
            previous, checksums = reusable
            for name in _BASE_FILES:
                try:
                    os.link(previous / name, staging / name)
                except OSError:  # a filesystem without hard links: copy
                    shutil.copy2(previous / name, staging / name)
        else:
            _write_rows(staging, *_BASE_FILES, snapshot.base)
            written += _BASE_FILES
        _write_rows(staging, "delta-vectors.npy", "delta-passages.jsonl", snapshot.delta)
        (staging / "dead.json").write_text(json.dumps(sorted(snapshot.dead)), encoding="utf-8")
        checksums.update({name: _sha256(staging / name) for name in written if name not in checksums})
        manifest = {
            "format": FORMAT_VERSION,
            "model": snapshot.model,
            "tokenizer": TOKENIZER_VERSION,
            "dimension": snapshot.dimension,
            "passage_count": len(snapshot),
            "document_count": len(snapshot.doc_ids),
            "base_id": snapshot.base.base_id,
            "base_rows": len(snapshot.base),
            "delta_rows": len(snapshot.delta),
            "dead_rows": len(snapshot.dead),
            "corpus_hash": snapshot.corpus_hash(),
            "created_at": dt.datetime.now(dt.UTC).isoformat(),
            "files": checksums,
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        for name in [*written, "manifest.json"]:
            with (staging / name).open("rb") as handle:
                os.fsync(handle.fileno())
        previous_generation = current_generation(index_dir)
        number = int(previous_generation.name.split("-")[1]) + 1 if previous_generation is not None else 1
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


def load_snapshot(index_dir: Path, *, reuse: BaseSegment | None = None) -> Snapshot:
    """Load the current generation, verifying it against its manifest.

    ``reuse`` is a base segment this process already holds: when the generation is built on it,
    only the delta files are read (an edit becomes visible in milliseconds, not seconds).
    """
    manifest = read_manifest(index_dir)
    generation = current_generation(index_dir)
    assert generation is not None
    try:
        if manifest.get("format") not in _READABLE_FORMATS:
            raise IndexCorruptError(f"index format {manifest.get('format')} is not {FORMAT_VERSION}")
        dimension = int(manifest["dimension"])
        base_id = manifest.get("base_id") or manifest["files"]["vectors.npy"]
        keep_base = reuse is not None and reuse.base_id == base_id
        for name, checksum in manifest["files"].items():
            if keep_base and name in _BASE_FILES:
                continue
            if _sha256(generation / name) != checksum:
                raise IndexCorruptError(f"{generation / name} does not match its checksum")
        if keep_base:
            assert reuse is not None
            base = reuse
        else:
            passages, tokens, vectors = _read_rows(generation, *_BASE_FILES)
            if vectors.shape != (len(passages), dimension):
                raise IndexCorruptError("the base passage count or vector shape disagrees with the manifest")
            base = BaseSegment.build(passages, tokens, vectors, dimension=dimension, base_id=base_id)
        delta = _empty_delta(dimension)
        dead: frozenset[int] = frozenset()
        if "delta-vectors.npy" in manifest["files"]:
            passages, tokens, vectors = _read_rows(generation, "delta-vectors.npy", "delta-passages.jsonl")
            if vectors.shape != (len(passages), dimension):
                raise IndexCorruptError("the delta passage count or vector shape disagrees with the manifest")
            delta = DeltaSegment.build(passages, tokens, vectors, dimension=dimension)
            dead = frozenset(int(row) for row in json.loads((generation / "dead.json").read_text(encoding="utf-8")))
        snapshot = Snapshot(base, delta, dead, manifest["model"], dimension)
        if len(snapshot) != manifest["passage_count"] or any(not 0 <= row < len(base) for row in dead):
            raise IndexCorruptError("passage count or dead rows disagree with the manifest")
    except IndexCorruptError as exc:
        raise IndexCorruptError(f"{exc}: {REBUILD_HINT}") from exc
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexCorruptError(f"index in {generation} is unreadable ({exc}): {REBUILD_HINT}") from exc
    return snapshot
