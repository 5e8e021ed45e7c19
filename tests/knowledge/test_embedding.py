"""The ONNX Runtime backend gives the model's own vectors, keeps its export, and never serves a bad one."""

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
from knowledge.settings import KnowledgeSettings, default_embedding_model

REPO = Path(__file__).resolve().parents[2]
TEXTS = [
    "How do I file an outbound direct investment with the provincial commerce department?",
    "义乌到欧洲的中欧班列怎么订舱？",
    "9610",
    "   bonded bunkering at Zhoushan   ",
    "cross-border e-commerce retail import positive list " * 60,  # past the model's 256-token window
]


@pytest.fixture(scope="module")
def torch_embedder() -> Embedder:
    return Embedder(default_embedding_model(), backend="torch")


def test_onnx_vectors_match_the_model_in_both_languages(embedder: Embedder, torch_embedder: Embedder) -> None:
    assert torch_embedder.backend == "torch"
    onnx = embedder.encode(TEXTS, batch_size=2)  # several batches, sorted by length and restored
    reference = torch_embedder.encode(TEXTS)
    assert onnx.shape == reference.shape == (len(TEXTS), embedder.dimension)
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_less(0.9999, np.sum(onnx * reference, axis=1))
    # One query at a time, as a chat turn encodes it, gives the same vector as in a batch.
    single = np.stack([embedder.encode([text])[0] for text in TEXTS])
    np.testing.assert_array_less(0.9999, np.sum(single * onnx, axis=1))
    # and the ranking a search would see is the same: nearest text to each text.
    assert (np.argsort(-(onnx @ onnx.T), axis=1) == np.argsort(-(reference @ reference.T), axis=1)).all()


def test_the_export_is_kept_and_reused_without_torch(model_cache, embedder: Embedder) -> None:  # type: ignore[no-untyped-def]
    exports = sorted(model_cache.glob("*/model.onnx"))
    assert len(exports) == 1
    before = exports[0].stat().st_mtime_ns
    assert sorted(model_cache.iterdir()) == [exports[0].parent], "a temporary export was left behind"
    # A serving process with the export in place never loads torch (about 300 MB less).
    script = (
        "import sys; from pathlib import Path; from knowledge.embedding import Embedder;"
        "from knowledge.settings import default_embedding_model;"
        f"e = Embedder(default_embedding_model(), threads=1, cache_dir=Path({str(model_cache)!r}));"
        "print(e.backend, 'torch' in sys.modules, e.encode(['9610 parcels'])[0][:4].tolist())"
    )
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=120)
    backend, torch_loaded, prefix = run.stdout.split(maxsplit=2)
    assert (backend, torch_loaded) == ("onnx", "False"), run.stderr
    assert np.allclose(json.loads(prefix), embedder.encode(["9610 parcels"])[0][:4], atol=1e-5)
    assert exports[0].stat().st_mtime_ns == before, "a second start exported the model again"


def test_a_corrupt_export_is_replaced_not_served(tmp_path, caplog, torch_embedder: Embedder) -> None:  # type: ignore[no-untyped-def]
    first = Embedder(default_embedding_model(), cache_dir=tmp_path)
    (export,) = tmp_path.glob("*/model.onnx")
    export.write_bytes(export.read_bytes()[:4096])  # a crash mid-write, a full disk
    with caplog.at_level(logging.WARNING, logger="knowledge.embedding"):
        repaired = Embedder(default_embedding_model(), cache_dir=tmp_path)
    assert repaired.backend == "onnx"
    assert "unreadable" in caplog.text
    assert export.stat().st_size > 1_000_000
    vectors = repaired.encode(TEXTS[:2])
    np.testing.assert_array_less(0.9999, np.sum(vectors * first.encode(TEXTS[:2]), axis=1))
    np.testing.assert_array_less(0.9999, np.sum(vectors * torch_embedder.encode(TEXTS[:2]), axis=1))


def test_when_onnx_cannot_serve_torch_does(monkeypatch, caplog, tmp_path, torch_embedder: Embedder) -> None:  # type: ignore[no-untyped-def]
    import knowledge.embedding as embedding

    def broken_export(model_dir, target):  # type: ignore[no-untyped-def]
        raise RuntimeError("exporter crashed")

    monkeypatch.setattr(embedding, "_export", broken_export)
    with caplog.at_level(logging.WARNING, logger="knowledge.embedding"):
        fallback = Embedder(default_embedding_model(), cache_dir=tmp_path)
    assert fallback.backend == "torch"
    assert "exporter crashed" in caplog.text
    assert np.allclose(fallback.encode(TEXTS[:1]), torch_embedder.encode(TEXTS[:1]))


def test_a_missing_model_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(KnowledgeError, match="EMBEDDING_MODEL"):
        Embedder(str(tmp_path / "no-such-model"))


def test_the_backend_setting_accepts_only_known_backends(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("EMBEDDING_BACKEND", "torch")
    assert KnowledgeSettings().embedding_backend == "torch"
    monkeypatch.setenv("EMBEDDING_BACKEND", "tensorrt")
    with pytest.raises(ValueError, match="embedding_backend"):
        KnowledgeSettings()


def test_a_vector_encoded_ahead_serves_the_next_encode_once(model_cache, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import knowledge.embedding as embedding

    fresh = Embedder(default_embedding_model(), cache_dir=model_cache)
    assert fresh._onnx is not None
    runs: list[list[str]] = []
    model_encode = fresh._onnx.encode

    def counted(texts: list[str], **kwargs):  # type: ignore[no-untyped-def]
        runs.append(list(texts))
        return model_encode(texts, **kwargs)

    monkeypatch.setattr(fresh._onnx, "encode", counted)
    expected = fresh.encode([TEXTS[0]])
    fresh.encode_ahead(f"  {TEXTS[0]} ")  # as the gateway sends it; the search strips the query
    runs.clear()
    np.testing.assert_array_equal(fresh.encode([TEXTS[0]]), expected)
    assert runs == [], "the vector encoded ahead was not used"
    fresh.encode([TEXTS[0]])
    assert runs == [[TEXTS[0]]], "a vector encoded ahead served a second encode"
    # A batch, another text, or a vector that waited too long all go to the model.
    fresh.encode_ahead(TEXTS[1])
    runs.clear()
    fresh.encode([TEXTS[2]])
    fresh.encode([TEXTS[1], TEXTS[2]])
    assert runs == [[TEXTS[2]], [TEXTS[1], TEXTS[2]]]
    monkeypatch.setattr(embedding, "AHEAD_SECONDS", 0.0)
    fresh.encode_ahead(TEXTS[3])
    runs.clear()
    fresh.encode([TEXTS[3]])
    assert runs == [[TEXTS[3]]]
    # and the waiting room is bounded.
    monkeypatch.setattr(embedding, "AHEAD_MAX", 2)
    for text in ("a", "b", "c"):
        fresh.encode_ahead(text)
    assert list(fresh._ahead) == ["b", "c"]
