"""The two kinds of segment a search-index snapshot is made of (see ``knowledge.index``).

A segment is rows of passages with their BM25 tokens and vectors, never mutated after construction:
the **base** carries a FAISS index and a bm25s index, the **delta** is searched with numpy and scored
with the base's BM25 statistics."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import bm25s
import faiss
import numpy as np

from knowledge.language import identifiers
from knowledge.passages import Passage

# bm25s's defaults ("lucene" BM25); the delta is scored with the same formula and statistics.
BM25_K1, BM25_B = 1.5, 0.75
_EMPTY = "\u2205"  # bm25s needs at least one token per document: an empty passage gets a placeholder


def _exact_map(passages: Sequence[Passage]) -> dict[str, frozenset[int]]:
    exact: dict[str, set[int]] = {}
    for row, passage in enumerate(passages):
        for code in identifiers(passage.indexed_text):
            exact.setdefault(code, set()).add(row)
    return {code: frozenset(rows) for code, rows in exact.items()}


@dataclass(frozen=True, eq=False)
class Segment:
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
class BaseSegment(Segment):
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
        bm25 = bm25s.BM25(k1=BM25_K1, b=BM25_B, method="lucene")
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
class DeltaSegment(Segment):
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


def empty_delta(dimension: int) -> DeltaSegment:
    return DeltaSegment.build([], [], np.zeros((0, dimension), dtype=np.float32), dimension=dimension)
