"""Hybrid search: dense (FAISS), sparse (BM25 over jieba/word tokens) and exact identifiers, fused.

``HybridRetriever.search`` is the one entry point. It ranks passages three ways, fuses the rankings
with weighted reciprocal rank fusion (``fuse``), prefers the query's language, applies metadata
filters, and decides ``answered``: whether the best hit is good enough to show a trader as an answer.

It must not: call the network, mutate a snapshot, or present an expired passage as current.
"""

from __future__ import annotations

import datetime as dt
import math
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from knowledge.documents import Document
from knowledge.embedding import Embedder, open_embedder
from knowledge.errors import IndexMissingError, QueryError
from knowledge.index import Snapshot, replace_documents
from knowledge.index_files import current_generation, load_snapshot, save_snapshot
from knowledge.language import SUPPORTED_LANGUAGES, detect_language, identifiers, tokenize
from knowledge.passages import Passage
from knowledge.settings import KnowledgeSettings

RETRIEVERS = ("dense", "bm25", "exact")
_YEAR = re.compile(r"(?:19|20)\d{2}")
CODE_REASON = "the best passage names the code in the query"
# The documents of this many best hits come with all their sections (SearchResult.sections).
CONTEXT_DOCUMENTS = 4


@dataclass(frozen=True)
class Hit:
    """One ranked passage with the evidence behind its rank."""

    passage: Passage
    score: float
    dense_similarity: float
    lexical_coverage: float
    exact_match: bool
    ranks: Mapping[str, int] = field(default_factory=dict)

    @property
    def found_by(self) -> list[str]:
        return [name for name in RETRIEVERS if name in self.ranks]


@dataclass(frozen=True)
class Section:
    """A passage of one of the best documents, with its similarity to the query."""

    passage: Passage
    dense_similarity: float


@dataclass(frozen=True)
class SearchResult:
    query: str
    lang: str
    answered: bool
    hits: list[Hit]
    reason: str = ""
    # What answer composition needs beyond the ranking: each query token's idf, and every current
    # passage of the best documents (the sentence that answers is often in another section).
    term_weights: Mapping[str, float] = field(default_factory=dict)
    sections: Mapping[str, tuple[Section, ...]] = field(default_factory=dict)
    # Query words read as an indexed word one typo away ("orign" -> "origin"), and the share of the
    # query's idf weight in words no passage contains.
    spelling: Mapping[str, str] = field(default_factory=dict)
    unknown_share: float = 0.0
    unknown_words: frozenset[str] = frozenset()
    query_vector: np.ndarray | None = field(default=None, repr=False, compare=False)


def fuse(rankings: Mapping[str, list[int]], weights: Mapping[str, float], k: int) -> dict[int, float]:
    """Weighted reciprocal rank fusion: each ranking adds ``weight / (k + rank)`` (rank from 1)."""
    fused: dict[int, float] = {}
    for name, rows in rankings.items():
        weight = weights.get(name, 0.0)
        for rank, row in enumerate(rows, start=1):
            fused[row] = fused.get(row, 0.0) + weight / (k + rank)
    return fused


def _top(scores: np.ndarray, allowed: np.ndarray, n: int) -> list[int]:
    """Rows of the ``n`` best positive scores among ``allowed`` rows, best first."""
    scores = np.where(allowed, scores, 0.0)
    n = min(n, int(np.count_nonzero(scores > 0)))
    if n <= 0:
        return []
    best = np.argpartition(-scores, n - 1)[:n]
    return [int(row) for row in best[np.argsort(-scores[best], kind="stable")]]


class HybridRetriever:
    """Searches the current snapshot; applies document changes without a rebuild."""

    def __init__(
        self,
        settings: KnowledgeSettings,
        embedder: Embedder,
        snapshot: Snapshot,
        *,
        today: Callable[[], dt.date] = dt.date.today,
    ) -> None:
        embedder.check_compatible(snapshot.model, snapshot.dimension)
        self.settings = settings
        self.embedder = embedder
        self._snapshot = snapshot
        self._generation = current_generation(settings.index_dir)
        self._today = today
        self._write_lock = threading.Lock()

    @classmethod
    def open(cls, settings: KnowledgeSettings, embedder: Embedder | None = None) -> HybridRetriever:
        """Load the saved index under ``settings.data_dir`` (raises IndexMissingError if none)."""
        snapshot = load_snapshot(settings.index_dir)
        embedder = embedder or open_embedder(settings)
        return cls(settings, embedder, snapshot)

    @property
    def snapshot(self) -> Snapshot:
        return self._snapshot

    # --- updates --------------------------------------------------------------------------------

    def apply(self, upserts: Sequence[Document] = (), deletes: Sequence[str] = (), *, persist: bool = True) -> None:
        """Add or replace ``upserts`` and remove ``deletes`` (doc ids); searchable on return."""
        with self._write_lock:
            snapshot = replace_documents(self._snapshot, self.embedder, upserts, deletes)
            if persist:
                self._generation = save_snapshot(snapshot, self.settings.index_dir)
            self._snapshot = snapshot

    def refresh(self) -> bool:
        """Pick up a generation another process saved. Returns True when a new one was loaded."""
        generation = current_generation(self.settings.index_dir)
        if generation is None or generation == self._generation:
            return False
        with self._write_lock:
            snapshot = load_snapshot(self.settings.index_dir, reuse=self._snapshot.base)
            self.embedder.check_compatible(snapshot.model, snapshot.dimension)
            self._snapshot, self._generation = snapshot, generation
        return True

    # --- search ---------------------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        k: int = 5,
        lang: str | None = None,
        topic: str | None = None,
        zone: str | None = None,
        only_lang: bool = False,
        other_language_only: bool = False,
        include_expired: bool = False,
        query_vector: np.ndarray | None = None,
        retrievers: tuple[str, ...] = RETRIEVERS,
    ) -> SearchResult:
        """Rank passages for ``query``; ``answered`` says whether the best one clears the bar.

        ``retrievers`` limits the fusion to some rankings (the evaluation compares BM25 only,
        dense only and the hybrid in one run). ``only_lang`` keeps passages in the query's language;
        ``other_language_only`` keeps the documents that exist only in the other language (the
        answer's fallback: a translated document already answered, or not, in the query's language).
        ``query_vector``: the query's embedding when the caller has it (a second search of one query).
        """
        settings = self.settings
        query = (query or "").strip()
        if not query:
            raise QueryError("the query is empty: type a question or a few keywords")
        if len(query) > settings.max_query_chars:
            raise QueryError(f"the query is {len(query)} characters long; the limit is {settings.max_query_chars}")
        if not 1 <= k <= settings.max_k:
            raise QueryError(f"k must be between 1 and {settings.max_k}, got {k}")
        if lang is not None and lang not in SUPPORTED_LANGUAGES:
            raise QueryError(f"unknown language {lang!r}: use one of {', '.join(SUPPORTED_LANGUAGES)}")
        query_lang = lang or detect_language(query) or "en"
        snapshot = self._snapshot
        typed = tokenize(query)
        query_tokens = [snapshot.spelled(t) for t in typed]
        tokens = [t for t in query_tokens if snapshot.in_vocabulary(t)]
        codes = identifiers(query)
        if not query_tokens and not codes:
            return SearchResult(query, query_lang, False, [], "the query has no words to search for")
        if not len(snapshot):
            return SearchResult(query, query_lang, False, [], "the knowledge base is empty")

        allowed = self._allowed_rows(snapshot, topic, zone, query_lang if only_lang else None, include_expired)
        if other_language_only:
            # other_title is set exactly for the documents written in one language (passages.py).
            allowed &= (snapshot.column("lang") != query_lang) & (snapshot.column("other_title") != "")
        if query_vector is None:
            query_vector = self.embedder.encode([query], kind="query")[0]

        def similarity(row: int) -> float:
            # Only for the rows that need it: FAISS already ranked the whole index.
            return float(snapshot.vector(row) @ query_vector)

        rankings: dict[str, list[int]] = {"dense": snapshot.dense_top(query_vector, allowed, settings.candidates)}
        if tokens:
            rankings["bm25"] = _top(snapshot.bm25_scores(tokens), allowed, settings.candidates)
        exact_rows = sorted(set().union(*(snapshot.exact_rows(code) for code in codes)) if codes else set())
        if exact_rows:
            # Among passages naming the code, those that the other retrievers like better come first.
            exact_rows = [r for r in exact_rows if allowed[r]]
            exact_rows.sort(key=lambda r: -similarity(r))
            rankings["exact"] = exact_rows

        rankings = {name: rows for name, rows in rankings.items() if name in retrievers}
        dense_weight = settings.weight_dense_zh if query_lang == "zh" else settings.weight_dense
        fused = fuse(
            rankings,
            {"dense": dense_weight, "bm25": settings.weight_bm25, "exact": settings.weight_exact},
            settings.rrf_k,
        )
        for row in fused:
            if snapshot.passage(row).lang != query_lang:
                fused[row] *= settings.other_language_factor
        positions = {name: {row: rank for rank, row in enumerate(rows, 1)} for name, rows in rankings.items()}
        idf = self._idf(snapshot, query_tokens)
        best = sorted(fused, key=lambda row: -fused[row])[:k]
        hits = [
            Hit(
                passage=snapshot.passage(row),
                score=round(fused[row], 6),
                dense_similarity=round(similarity(row), 4),
                lexical_coverage=round(self._coverage(snapshot.row_tokens(row), query_tokens, idf), 4),
                exact_match=bool(codes) and row in positions.get("exact", {}),
                ranks={name: ranks[row] for name, ranks in positions.items() if row in ranks},
            )
            for row in best
        ]
        unknown_words = frozenset(t for t in query_tokens if not snapshot.in_vocabulary(t))
        # jieba's search mode also yields the pieces of a long word ("交上去" -> "交上", "上去"): an
        # unknown word weighs once, not once per piece, or a colloquial phrase outweighs the question.
        pieces = {t for t in unknown_words if any(t != u and t in u for u in unknown_words)}
        weighed = [t for t in query_tokens if t not in pieces]
        unknown = self._coverage(tuple(unknown_words - pieces), weighed, idf)  # their share of the idf weight
        answered, reason = self._decide(hits, codes, query_lang, unknown)
        sections: dict[str, tuple[Section, ...]] = {}
        for hit in hits:
            doc_id = hit.passage.doc_id
            if doc_id not in sections and len(sections) < CONTEXT_DOCUMENTS:
                rows = [r for r in snapshot.document_rows(doc_id) if allowed[r]]
                sections[doc_id] = tuple(Section(snapshot.passage(r), round(similarity(r), 4)) for r in rows)
        spelling = {t: s for t, s in zip(typed, query_tokens, strict=True) if t != s}
        return SearchResult(
            query,
            query_lang,
            answered,
            hits,
            reason,
            idf,
            sections,
            spelling,
            round(unknown, 4),
            unknown_words,
            query_vector,
        )

    def _allowed_rows(
        self, snapshot: Snapshot, topic: str | None, zone: str | None, lang: str | None, include_expired: bool
    ) -> np.ndarray:
        """Rows a search may return. Vectorised: at 50k passages a per-row Python test cost ~20 ms."""
        allowed = snapshot.alive.copy() if include_expired else snapshot.current_mask(self._today())
        if lang is not None:
            allowed &= snapshot.column("lang") == lang
        if topic is not None:
            allowed &= snapshot.column("topic") == topic
        if zone is not None:
            allowed &= np.fromiter(
                (zone in zones for zones in snapshot.column("zones")), dtype=bool, count=len(allowed)
            )
        return allowed

    @staticmethod
    def _idf(snapshot: Snapshot, tokens: list[str]) -> dict[str, float]:
        """BM25-style idf of each query token over the snapshot, for the coverage measure.

        A token no passage contains gets the highest idf: a query about something the knowledge
        base never mentions ("天气") must not look covered because its other words are common.
        """
        n = snapshot.row_count
        result = {}
        for token in set(tokens):
            df = snapshot.doc_freq(token)
            result[token] = math.log(1 + (n - df + 0.5) / (df + 0.5))
        return result

    @staticmethod
    def _coverage(passage_tokens: tuple[str, ...], query_tokens: list[str], idf: Mapping[str, float]) -> float:
        """Share of the query's idf weight whose tokens appear in the passage (0..1)."""
        if not query_tokens:
            return 0.0
        present = set(passage_tokens)
        total = sum(idf[t] for t in set(query_tokens))
        if total <= 0:
            return 0.0
        return sum(idf[t] for t in set(query_tokens) if t in present) / total

    def _decide(self, hits: list[Hit], codes: list[str], lang: str, unknown: float) -> tuple[bool, str]:
        if not hits:
            return False, "nothing in the knowledge base matches the query"
        top = hits[0]
        # A code settles it ("9610", "8517.62"), a year does not: "trade in 2024" is answered by the
        # 2024 figure, not by any passage that mentions 2024.
        decisive = [c for c in codes if not _YEAR.fullmatch(c)]
        if decisive and top.exact_match and any(c in identifiers(top.passage.indexed_text) for c in decisive):
            return True, CODE_REASON
        dense, thresholds = top.dense_similarity, self.settings.answer_thresholds(lang)
        if top.passage.lang != lang:
            # Only the other language's version matches (a staff document written in one language):
            # a question and its answer in two languages sit lower on the model's scale.
            dense += self.settings.cross_language_dense_offset
        reason = thresholds.reason(dense, top.lexical_coverage, unknown)
        if reason is not None:
            return True, reason
        return False, "no passage is close enough to the question to count as an answer"


def open_or_build(settings: KnowledgeSettings, embedder: Embedder | None = None) -> HybridRetriever:
    """Open the saved index, building it from the corpus first if there is none."""
    try:
        return HybridRetriever.open(settings, embedder)
    except IndexMissingError:
        from knowledge.documents import load_corpus
        from knowledge.index import build_snapshot

        embedder = embedder or open_embedder(settings)
        snapshot = build_snapshot(embedder, load_corpus(Path(settings.corpus_dir)))
        save_snapshot(snapshot, settings.index_dir)
        return HybridRetriever(settings, embedder, snapshot)
