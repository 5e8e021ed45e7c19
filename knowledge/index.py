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

This module is the snapshot and its updates; ``knowledge.segments`` the two kinds of segment;
``knowledge.index_files`` saving and loading generations.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

import faiss
import numpy as np

from knowledge.documents import Document
from knowledge.embedding import Embedder
from knowledge.language import spelling_variants, tokenize
from knowledge.passages import Passage, split_document
from knowledge.segments import BM25_B, BM25_K1, BaseSegment, DeltaSegment, empty_delta

# Fold the delta into a new base when it holds more rows than this (or this share of the base), or
# when this share of the base is dead. Below that, an update costs milliseconds, not a rebuild.
COMPACT_DELTA_ROWS = 2000
COMPACT_DELTA_SHARE = 0.10
COMPACT_DEAD_SHARE = 0.20


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
        return cls(base, empty_delta(dimension), frozenset(), model, dimension)

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
            norm = BM25_K1 * ((1 - BM25_B) + BM25_B * max(1, len(self.delta.tokens[row])) / average)
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
