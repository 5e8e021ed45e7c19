"""The search benchmark's corpus and embedders: real documents grown to a size with perturbed clones, and embedders that time themselves or replay precomputed vectors (see bench.search)."""

from __future__ import annotations

import random
import re
import time
from collections.abc import Sequence

import numpy as np

from knowledge.documents import Document
from knowledge.e5_export import Kind
from knowledge.embedding import Embedder
from knowledge.passages import split_document

_HEADING_LINE = re.compile(r"^(#{1,6}[ \t]+.*)$", re.MULTILINE)
_PARAGRAPH_BREAK = re.compile(r"(\n[ \t]*\n)")
_SENTENCE_END = {"en": re.compile(r"(?<=[.!?])\s+"), "zh": re.compile(r"(?<=[。！？；])")}
_SENTENCE_JOIN = {"en": " ", "zh": ""}
_NUMBER = re.compile(r"\d+")


class TimedEmbedder(Embedder):
    """The real model, recording how long each ``encode`` call took (the engine's interface)."""

    def __init__(self, inner: Embedder) -> None:  # wraps a loaded model: no super().__init__
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.calls: list[tuple[int, float]] = []  # (texts, seconds) per call

    def encode(
        self, texts: list[str], *, kind: Kind, batch_size: int | None = None, progress: bool = False
    ) -> np.ndarray:
        started = time.perf_counter()
        vectors = self.inner.encode(texts, kind=kind, batch_size=batch_size, progress=progress)
        self.calls.append((len(texts), time.perf_counter() - started))
        return vectors

    def seconds_since(self, mark: int) -> float:
        return sum(seconds for _, seconds in self.calls[mark:])


class PrecomputedEmbedder(Embedder):
    """Returns a vector computed in advance for each passage text; a text without one is a bug."""

    def __init__(self, name: str, dimension: int, table: dict[str, np.ndarray]) -> None:
        self.name = name
        self.dimension = dimension
        self.table = table

    def encode(
        self, texts: list[str], *, kind: Kind, batch_size: int | None = None, progress: bool = False
    ) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.ascontiguousarray(np.stack([self.table[text] for text in texts]), dtype=np.float32)


class SyntheticCorpus:
    """The real documents followed by as many perturbed clones as a size needs, grown on demand."""

    def __init__(
        self, documents: Sequence[Document], vectors: dict[str, np.ndarray], *, seed: int, noise: float
    ) -> None:
        self.sources = list(documents)
        self.documents: list[Document] = list(documents)
        self._source_passages = {d.id: split_document(d) for d in documents}
        self.cumulative: list[int] = []
        total = 0
        for document in documents:
            total += len(self._source_passages[document.id])
            self.cumulative.append(total)
        self.vectors = {p.indexed_text: vectors[p.id] for ps in self._source_passages.values() for p in ps}
        self.real_passages = total
        self.noise = noise
        self.cosines: list[float] = []
        self._rng = random.Random(seed)
        self._np_rng = np.random.default_rng(seed)
        self._queue: list[Document] = []
        self._round = 0
        self._pool: dict[str, list[str]] = {"en": [], "zh": []}
        for passages in self._source_passages.values():
            for passage in passages:
                self._pool[passage.lang].extend(self._sentences(passage.text, passage.lang))

    def take(self, passages: int) -> list[Document]:
        """The shortest prefix of the corpus with at least ``passages`` passages."""
        while self.cumulative[-1] < passages:
            self._add_clone()
        end = next(i for i, total in enumerate(self.cumulative) if total >= passages)
        return self.documents[: end + 1]

    def embedder(self, name: str, dimension: int) -> PrecomputedEmbedder:
        return PrecomputedEmbedder(name, dimension, self.vectors)

    @staticmethod
    def _sentences(text: str, lang: str) -> list[str]:
        found: list[str] = []
        for paragraph in _PARAGRAPH_BREAK.split(text):
            if paragraph.strip() and not paragraph.lstrip().startswith(("|", "#", "-", "*")):
                found.extend(s.strip() for s in _SENTENCE_END[lang].split(paragraph) if len(s.strip()) >= 8)
        return found

    def _renumber(self, text: str) -> str:
        def replace(match: re.Match[str]) -> str:
            digits = len(match.group())
            if digits == 1:
                return str(self._rng.randrange(10))
            return str(self._rng.randrange(10 ** (digits - 1), 10**digits))

        return _NUMBER.sub(replace, text)

    def _shuffle(self, text: str, lang: str) -> str:
        """Swap about half the sentences of each prose paragraph for sentences of other documents."""
        out = []
        for paragraph in _PARAGRAPH_BREAK.split(text):
            if not paragraph.strip() or paragraph.lstrip().startswith(("|", "-", "*")):
                out.append(paragraph)
                continue
            sentences = [s for s in _SENTENCE_END[lang].split(paragraph.strip()) if s]
            sentences = [self._rng.choice(self._pool[lang]) if self._rng.random() < 0.5 else s for s in sentences]
            out.append(_SENTENCE_JOIN[lang].join(sentences))
        return "".join(out)

    def _clone(self, source: Document) -> Document:
        suffix = f"-syn{self._round}"
        parts = _HEADING_LINE.split(source.body)  # [text, heading line, text, heading line, ...]
        body = "".join(part if i % 2 else self._shuffle(part, source.lang) for i, part in enumerate(parts))
        translation = None
        if source.translation is not None:
            slug, lang = source.translation.rsplit(".", 1)
            translation = f"{slug}{suffix}.{lang}"
        return source.model_copy(
            update={
                "id": f"{source.slug}{suffix}.{source.lang}",
                "translation": translation,
                "title": self._renumber(source.title),
                "tags": [self._renumber(tag) for tag in source.tags],
                "body": self._renumber(body),
            }
        )

    def _add_clone(self) -> None:
        if not self._queue:
            self._round += 1
            self._queue = list(self.sources)
            self._rng.shuffle(self._queue)
        source = self._queue.pop()
        clone = self._clone(source)
        passages = split_document(clone)
        originals = self._source_passages[source.id]
        if len(passages) != len(originals):
            raise RuntimeError(f"clone of {source.id} has {len(passages)} passages, the source {len(originals)}")
        for passage, original in zip(passages, originals, strict=True):
            base = self.vectors[original.indexed_text]
            vector = base + self._np_rng.normal(0.0, self.noise, size=base.shape).astype(np.float32)
            vector /= np.linalg.norm(vector)
            self.cosines.append(float(vector @ base))
            self.vectors[passage.indexed_text] = vector.astype(np.float32)
        self.documents.append(clone)
        self.cumulative.append(self.cumulative[-1] + len(passages))
