"""Sentence-transformers models (all-MiniLM-L6-v2 by default): an ONNX export, or torch.

Two backends give the same vectors (cosine >= 0.9999 to the model's own, checked at every load):
``onnx``, the sentence-transformers pipeline (transformer, pooling, normalisation) exported once
with ``torch.onnx.export`` and run by ONNX Runtime with the ``tokenizers`` library (a serving
process then never imports torch), and ``torch``, sentence-transformers' own ``encode``, used when
asked for and as the fallback when the export or its parity check fails.
"""

from __future__ import annotations

import json
import warnings
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.e5 import onnx_session
from knowledge.errors import KnowledgeError
from knowledge.exports import fingerprint, open_export

# Texts the export must encode as the model does before it serves: both languages, stray spaces,
# an identifier, and one longer than the model's window (truncation must match too).
PARITY_PROBES = (
    "  Which customs mode fits my cross-border parcels?  ",
    "义乌到欧洲的中欧班列怎么订舱？",
    "9610 / 9710 / 9810 / 1210 HS 8471.30",
    "Ningbo-Zhoushan port bonded fuel bunkering " * 80,
)
MIN_PARITY = 0.9999
_ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def export_name(model_dir: Path) -> str:
    """Where the export of ``model_dir`` lives: one directory per model and library versions."""
    return f"{model_name(model_dir)}-{fingerprint(model_dir)}"


def model_name(path: Path) -> str:
    """The name an index records: the directory, or its parent for a package's ``model/``."""
    return path.name if path.name != "model" else path.parent.name


def load_sentence_transformer(path: Path, threads: int) -> Any:
    import torch
    from sentence_transformers import SentenceTransformer

    if threads > 0:
        torch.set_num_threads(threads)  # process-wide: only the serving processes ask for it
    return SentenceTransformer(str(path), device="cpu", local_files_only=True)


def torch_encode(model: Any, texts: list[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
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


class OnnxEncoder:
    """The exported pipeline: ``tokenizers`` for token ids, ONNX Runtime for the unit vectors."""

    def __init__(self, export_dir: Path, threads: int) -> None:
        from tokenizers import Tokenizer

        meta = json.loads((export_dir / "export.json").read_text(encoding="utf-8"))
        self.dimension = int(meta["dimension"])
        self._tokenizer = Tokenizer.from_file(str(export_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=int(meta["max_length"]))
        self._tokenizer.enable_padding(pad_id=int(meta["pad_id"]), pad_token=str(meta["pad_token"]))
        self._session = onnx_session(export_dir / "model.onnx", threads)
        self._inputs = [i.name for i in self._session.get_inputs()]
        # The file must still encode as the model did when it was exported (a truncated copy, a
        # tokenizer that lower-cases differently or a wrong padding id all fail here).
        expected = np.load(export_dir / "probes.npy")
        agreement = float(np.min(np.sum(expected * self.encode(list(PARITY_PROBES)), axis=1)))
        if not agreement >= MIN_PARITY:  # also catches NaN
            raise KnowledgeError(f"ONNX vectors differ from the model's (min cosine {agreement:.6f} < {MIN_PARITY})")

    @classmethod
    def open(cls, model_dir: Path, cache_dir: Path | None, threads: int) -> OnnxEncoder:
        return open_export(
            cache_dir, export_name(model_dir), partial(_export, model_dir), lambda target: cls(target, threads)
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

    model = load_sentence_transformer(model_dir, 0)
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
    np.save(target / "probes.npy", torch_encode(model, list(PARITY_PROBES)))
    meta = {
        "dimension": int(model.get_embedding_dimension() or 0),
        "max_length": int(model.max_seq_length),
        "pad_id": int(tokenizer.pad_token_id or 0),
        "pad_token": str(tokenizer.pad_token),
    }
    (target / "export.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")
