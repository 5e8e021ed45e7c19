"""Search benchmark: query latency, one-document update time and memory at 1k, 10k and 50k passages.

``python -m bench.search [--sizes 1000,10000,50000] [--skip-build]`` (``make bench-search``)

What it measures, one operation at a time:

* index build rate of the real corpus with the real embedding model (``build_snapshot``), unless
  ``--skip-build``;
* ``HybridRetriever.search(q, k=5, lang=...)`` latency p50/p95/p99 over the questions of
  ``knowledge/eval/questions.yaml`` (both languages) after a warm-up; the query is encoded by the real
  model inside ``search``, and the encode time is reported separately as well;
* ``HybridRetriever.apply`` of one edited real document and of one deletion, in memory
  (``persist=False``) and saved to a temporary DATA_DIR (``persist=True``), median of a few runs;
* peak RSS of the process while each size is measured (``VmHWM``, reset per size when the kernel
  allows it).

The real corpus has ~766 passages. Larger sizes are grown synthetically: real documents are cloned
under new ids/slugs with half their sentences swapped for sentences of other documents of the same
language and every number replaced, so BM25 statistics (vocabulary, document frequencies, lengths)
stay realistic. Embedding 50k passages with the real model would take over an hour on 2 cores, so
the dense vector of a synthetic passage is its source passage's real vector plus small Gaussian
noise, re-normalised. The real passages keep their real vectors.

Results: a Markdown summary on stdout and ``bench/results/search-<date>.json`` with every figure.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import gc
import hashlib
import importlib.metadata
import json
import os
import pstats
import random
import re
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench import environment, measure
from bench.measure import CpuMonitor
from knowledge.documents import Document, load_corpus
from knowledge.e5_export import Kind
from knowledge.embedding import Embedder, open_embedder
from knowledge.evaluation import Question, load_questions
from knowledge.index import build_snapshot, load_snapshot, save_snapshot
from knowledge.passages import Passage, split_document
from knowledge.search import HybridRetriever
from knowledge.settings import REPO_ROOT, KnowledgeSettings

RESULTS_DIR = Path(__file__).resolve().parent / "results"
QUESTIONS = REPO_ROOT / "knowledge" / "eval" / "questions.yaml"
DEFAULT_SIZES = (1_000, 10_000, 50_000)
K = 5
TARGET_P95_MS = 25.0
TARGET_P95_AT = 50_000
TARGET_UPDATE_S = 1.0
TARGET_ENCODE_MS = 10.0  # issue 14: one query, one thread
TARGET_BUILD_RATE = 20.0  # issue 14: passages per second, the real corpus
SYNTHETIC_NOTE = "dense vectors of synthetic passages are perturbed copies"

_HEADING_LINE = re.compile(r"^(#{1,6}[ \t]+.*)$", re.MULTILINE)
_PARAGRAPH_BREAK = re.compile(r"(\n[ \t]*\n)")
_SENTENCE_END = {"en": re.compile(r"(?<=[.!?])\s+"), "zh": re.compile(r"(?<=[。！？；])")}
_SENTENCE_JOIN = {"en": " ", "zh": ""}
_NUMBER = re.compile(r"\d+")
_PROFILE_HIDDEN = ("torch/", "transformers/", "sentence_transformers/", "tqdm/", "bench/search.py")


# --- embedders ---------------------------------------------------------------------------------


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


# --- the synthetic corpus ----------------------------------------------------------------------


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


# --- measurements ------------------------------------------------------------------------------


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """Search latencies are a few milliseconds: three decimals."""
    return measure.percentiles(samples, digits=3)


def memory_mb() -> dict[str, float]:
    """Current and peak resident set size of this process (MB)."""
    fields: dict[str, float] = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                fields[key] = int(value.split()[0]) / 1024
    except OSError:
        pass
    peak = fields.get("VmHWM", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"rss_mb": round(fields.get("VmRSS", peak), 1), "peak_rss_mb": round(peak, 1)}


def wait_for_quiet(limit_s: float, label: str, threshold: float = 0.05) -> float:
    """Wait (up to ``limit_s``) until other processes use under ``threshold`` of the CPUs for 3 s."""
    started = time.perf_counter()
    announced = False
    while time.perf_counter() - started < limit_s:
        monitor = CpuMonitor()
        time.sleep(3)
        share = monitor.stop()["other_processes_cpu_share"]
        if share < threshold:
            break
        if not announced:
            print(f"{label}: other processes use {share:.0%} of the CPUs; waiting for a quiet machine", file=sys.stderr)
            announced = True
    return round(time.perf_counter() - started, 1)


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS mark (Linux ``clear_refs`` 5), so a peak belongs to one size."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def passage_key(passages: Sequence[Passage], model: str) -> str:
    digest = hashlib.sha256(model.encode())
    for passage in passages:
        digest.update(passage.id.encode())
        digest.update(passage.indexed_text.encode())
    return digest.hexdigest()[:16]


def real_vectors(
    documents: Sequence[Document], embedder: TimedEmbedder, cache_dir: Path, *, measure: bool
) -> tuple[dict[str, np.ndarray], dict[str, Any] | None]:
    """Real-model vectors of every real passage by passage id, and the build figures when measured.

    The build is timed with ``build_snapshot`` + ``save_snapshot`` (what ``make index`` does). Without
    ``measure`` the vectors come from a cache under DATA_DIR/bench, computed (untimed) when missing.
    """
    passages = [p for d in documents for p in split_document(d)]
    cache = cache_dir / f"real-vectors-{passage_key(passages, embedder.name)}.npy"
    if not measure and cache.exists():
        vectors = np.load(cache, allow_pickle=False)
        return {p.id: vectors[row] for row, p in enumerate(passages)}, None
    gc.collect()
    mark = len(embedder.calls)
    started = time.perf_counter()
    snapshot = build_snapshot(embedder, documents)
    built = time.perf_counter() - started
    embedding = embedder.seconds_since(mark)
    with tempfile.TemporaryDirectory(prefix="bench-search-build-") as tmp:
        started = time.perf_counter()
        save_snapshot(snapshot, Path(tmp) / "index")
        saved = time.perf_counter() - started
    cache_dir.mkdir(parents=True, exist_ok=True)
    np.save(cache, snapshot.vectors, allow_pickle=False)
    figures = {
        "documents": len(documents),
        "passages": len(snapshot),
        "build_snapshot_s": round(built, 2),
        "of_which_embedding_s": round(embedding, 2),
        "save_snapshot_s": round(saved, 3),
        "passages_per_s": round(len(snapshot) / built, 1),
        "passages_per_s_incl_save": round(len(snapshot) / (built + saved), 1),
    }
    return {p.id: snapshot.vectors[row] for row, p in enumerate(snapshot.passages)}, figures if measure else None


def time_searches(
    retriever: HybridRetriever, embedder: TimedEmbedder, queries: Sequence[Question], warmup: Sequence[Question]
) -> dict[str, Any]:
    for question in warmup:
        retriever.search(question.q, k=K, lang=question.lang)
    gc.collect()
    total: list[float] = []
    encode: list[float] = []
    by_lang: dict[str, list[float]] = {}
    for question in queries:
        mark = len(embedder.calls)
        started = time.perf_counter()
        retriever.search(question.q, k=K, lang=question.lang)
        elapsed = (time.perf_counter() - started) * 1000
        total.append(elapsed)
        encode.append(embedder.seconds_since(mark) * 1000)
        by_lang.setdefault(question.lang, []).append(elapsed)
    return {
        "search_ms": percentiles(total),
        "encode_ms": percentiles(encode),
        "search_excl_encode_ms": percentiles([t - e for t, e in zip(total, encode, strict=True)]),
        "search_ms_by_lang": {lang: percentiles(samples) for lang, samples in sorted(by_lang.items())},
    }


def edited(document: Document, run: int) -> Document:
    """``document`` with one sentence appended to its last section (a different one per run)."""
    sentence = (
        f"此段为基准测试第 {run} 次编辑添加的说明。"
        if document.lang == "zh"
        else f"This sentence was added by benchmark edit {run}."
    )
    return document.model_copy(update={"body": f"{document.body}\n\n{sentence}"})


def time_updates(retriever: HybridRetriever, embedder: TimedEmbedder, document: Document, runs: int) -> dict[str, Any]:
    """Median seconds of upserting an edited ``document`` and of deleting it, in memory and saved."""
    results: dict[str, Any] = {}
    edit = 0
    for persist in (False, True):
        label = "persist" if persist else "memory"
        upserts: list[float] = []
        embedding: list[float] = []
        for _ in range(runs):
            edit += 1
            change = edited(document, edit)
            gc.collect()
            mark = len(embedder.calls)
            started = time.perf_counter()
            retriever.apply(upserts=[change], persist=persist)
            upserts.append(time.perf_counter() - started)
            embedding.append(embedder.seconds_since(mark))
        deletes: list[float] = []
        for _ in range(runs):
            gc.collect()
            started = time.perf_counter()
            retriever.apply(deletes=[document.id], persist=persist)
            deletes.append(time.perf_counter() - started)
            if document.id in retriever.snapshot.doc_ids:
                raise RuntimeError(f"{document.id} is still indexed after its deletion")
            retriever.apply(upserts=[document], persist=False)  # restore, untimed
        results[f"upsert_{label}_s"] = round(statistics.median(upserts), 3)
        results[f"upsert_{label}_embedding_s"] = round(statistics.median(embedding), 3)
        results[f"upsert_{label}_runs_s"] = [round(s, 3) for s in upserts]
        results[f"delete_{label}_s"] = round(statistics.median(deletes), 3)
        results[f"delete_{label}_runs_s"] = [round(s, 3) for s in deletes]
    started = time.perf_counter()
    load_snapshot(retriever.settings.index_dir)
    results["load_snapshot_s"] = round(time.perf_counter() - started, 3)
    return results


def profile(action: Callable[[], object], operations: int, top: int = 18) -> list[dict[str, Any]]:
    """The functions with the most cumulative time under ``action``, in ms per operation."""
    profiler = cProfile.Profile()
    profiler.enable()
    action()
    profiler.disable()
    rows: list[dict[str, Any]] = []
    for name, entry in pstats.Stats(profiler).get_stats_profile().func_profiles.items():
        where = entry.file_name
        if "site-packages/" in where:
            where = where.split("site-packages/", 1)[1]
        elif where.startswith(str(REPO_ROOT)):
            where = where[len(str(REPO_ROOT)) + 1 :]
        elif "/lib/python3" in where:
            where = where.split("/lib/", 1)[1].split("/", 1)[1]
        # The model's internals are summed up by knowledge/embedding.py(encode).
        if where.startswith(_PROFILE_HIDDEN) or "torch" in name or "cProfile" in where or name == "<lambda>":
            continue
        rows.append(
            {
                "function": f"{where}:{entry.line_number}({name})" if where != "~" else name,
                "calls_per_op": round(int(entry.ncalls.split("/")[0]) / operations, 1),
                "cum_ms_per_op": round(entry.cumtime * 1000 / operations, 2),
                "own_ms_per_op": round(entry.tottime * 1000 / operations, 2),
            }
        )
    rows.sort(key=lambda row: -float(row["cum_ms_per_op"]))
    return rows[:top]


def profile_largest(
    retriever: HybridRetriever, queries: Sequence[Question], document: Document
) -> dict[str, list[dict[str, Any]]]:
    sample = list(queries[:100])

    def searches() -> None:
        for question in sample:
            retriever.search(question.q, k=K, lang=question.lang)

    return {
        "search": profile(searches, len(sample)),
        "upsert_memory": profile(lambda: retriever.apply(upserts=[edited(document, 999)], persist=False), 1),
        "upsert_persist": profile(lambda: retriever.apply(upserts=[edited(document, 1000)], persist=True), 1),
    }


# --- report ------------------------------------------------------------------------------------


def machine_info(embedder: Embedder) -> dict[str, Any]:
    import faiss
    import torch

    def version(package: str) -> str:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            return "?"

    return {
        **environment.machine_info(),
        "faiss": faiss.__version__,
        "bm25s": version("bm25s"),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "faiss_omp_threads": faiss.omp_get_max_threads(),
        "omp_env": {k: v for k, v in os.environ.items() if k.startswith(("OMP_", "MKL_", "OPENBLAS_", "GOMP_"))},
        "sentence_transformers": version("sentence-transformers"),
        "jieba": version("jieba"),
        "embedding_model": embedder.name,
        "embedding_dimension": embedder.dimension,
    }


def markdown(report: dict[str, Any]) -> str:
    engine = report["engine"]
    dirty = f", uncommitted changes in knowledge/: {len(engine['uncommitted'])}"
    lines = [
        f"## Search benchmark {report['date']}",
        "",
        f"Engine at commit {engine['commit'][:10]}{dirty if engine['uncommitted'] else ''}; "
        f"{report['machine']['cpu_count']} CPUs ({report['machine']['cpu_model']}), Python {report['machine']['python']}, "
        f"faiss {report['machine']['faiss']}, bm25s {report['machine']['bm25s']}, torch threads "
        f"{report['machine']['torch_threads']}, faiss threads {report['machine']['faiss_omp_threads']}.",
        "",
    ]
    build = report.get("build")
    if build:
        lines += [
            f"Index build, real model, real corpus: {build['passages']} passages in {build['build_snapshot_s']} s "
            f"(embedding {build['of_which_embedding_s']} s) = **{build['passages_per_s']} passages/s**; "
            f"save {build['save_snapshot_s']} s.",
            "",
        ]
    lines += [
        f"Search: `HybridRetriever.search(q, k={K}, lang=q.lang)`, {report['config']['queries']} timed queries "
        f"per size after {report['config']['warmup']} warm-up, one at a time; query encoding by the real model.",
        "",
        "| passages | docs | search p50 ms | p95 ms | p99 ms | encode p50 / p95 ms | search excl. encode p50 / p95 ms "
        "| en p95 | zh p95 | snapshot build (no embedding) s | other processes' CPU |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in report["sizes"]:
        s, e, x = row["search_ms"], row["encode_ms"], row["search_excl_encode_ms"]
        langs = row["search_ms_by_lang"]
        lines.append(
            f"| {row['passages']:,} | {row['documents']:,} | {s['p50']:.1f} | {s['p95']:.1f} | {s['p99']:.1f} "
            f"| {e['p50']:.1f} / {e['p95']:.1f} | {x['p50']:.1f} / {x['p95']:.1f} "
            f"| {langs.get('en', {}).get('p95', float('nan')):.1f} | {langs.get('zh', {}).get('p95', float('nan')):.1f} "
            f"| {row['snapshot_build_s']:.2f} | {row['cpu']['search']['other_processes_cpu_share']:.0%} |"
        )
    lines += [
        "",
        f"Updates: `HybridRetriever.apply` for `{report['update_document']['id']}` "
        f"({report['update_document']['passages']} passages), median of {report['config']['update_runs']} runs, "
        "seconds; persist = saved as a new generation in a temporary DATA_DIR.",
        "",
        "| passages | upsert (memory) | of which embedding | upsert (persist) | delete (memory) | delete (persist) "
        "| load_snapshot | peak RSS MB | RSS before MB | other processes' CPU |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in report["sizes"]:
        u = row["updates"]
        lines.append(
            f"| {row['passages']:,} | {u['upsert_memory_s']:.3f} | {u['upsert_memory_embedding_s']:.3f} "
            f"| {u['upsert_persist_s']:.3f} | {u['delete_memory_s']:.3f} | {u['delete_persist_s']:.3f} "
            f"| {u['load_snapshot_s']:.3f} | {row['memory']['peak_rss_mb']:,.0f} | {row['memory_before']['rss_mb']:,.0f} "
            f"| {row['cpu']['updates']['other_processes_cpu_share']:.0%} |"
        )
    lines += ["", "Targets:", ""]
    for target in report["targets"]:
        lines.append(f"- {target['name']}: {target['measured']} -> **{target['result']}**")
    lines += ["", "Notes:", ""] + [f"- {note}" for note in report["notes"]]
    for name, rows in report.get("profile", {}).items():
        lines += [
            "",
            f"Profile at {report['profile_size']:,} passages, {name} (cumulative ms per operation):",
            "",
            "| function | calls/op | cum ms/op | own ms/op |",
            "|---|---:|---:|---:|",
        ]
        lines += [
            f"| `{r['function']}` | {r['calls_per_op']} | {r['cum_ms_per_op']} | {r['own_ms_per_op']} |" for r in rows
        ]
    lines += ["", f"Total run time: {report['run_seconds']:.0f} s. Results: {report['output']}"]
    return "\n".join(lines)


def targets(sizes: list[dict[str, Any]], build: dict[str, Any] | None) -> list[dict[str, str]]:
    result = []
    if sizes:  # the query is encoded the same way at every size: the smallest is the least contended
        encode = sizes[0]["encode_ms"]["p50"]
        result.append(
            {
                "name": f"query embedding p50 <= {TARGET_ENCODE_MS:.0f} ms (EMBEDDING_THREADS=1)",
                "measured": f"{encode:.1f} ms",
                "result": "PASS" if encode <= TARGET_ENCODE_MS else "FAIL",
            }
        )
    if build:
        rate = build["passages_per_s"]
        result.append(
            {
                "name": f"index build >= {TARGET_BUILD_RATE:.0f} passages/s (real corpus)",
                "measured": f"{rate:.1f} passages/s",
                "result": "PASS" if rate >= TARGET_BUILD_RATE else "FAIL",
            }
        )
    at = [row for row in sizes if row["passages"] >= TARGET_P95_AT * 0.99]
    if at:
        p95 = at[0]["search_ms"]["p95"]
        passed = "PASS" if p95 <= TARGET_P95_MS else "FAIL"
        measured = f"{p95:.1f} ms at {at[0]['passages']:,} passages"
    else:
        passed, measured = "NOT MEASURED", f"no size of {TARGET_P95_AT:,} passages was run"
    result.append({"name": f"search p95 <= {TARGET_P95_MS:.0f} ms at 50k", "measured": measured, "result": passed})
    for row in sizes:
        u = row["updates"]
        worst = max(u["upsert_memory_s"], u["upsert_persist_s"], u["delete_memory_s"], u["delete_persist_s"])
        result.append(
            {
                "name": f"one-document update <= {TARGET_UPDATE_S:.0f} s at {row['passages']:,} passages",
                "measured": f"upsert {u['upsert_memory_s']:.2f} s in memory / {u['upsert_persist_s']:.2f} s saved, "
                f"delete {u['delete_memory_s']:.2f} / {u['delete_persist_s']:.2f} s",
                "result": "PASS" if worst <= TARGET_UPDATE_S else "FAIL",
            }
        )
    return result


# --- main --------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.search", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default=",".join(str(s) for s in DEFAULT_SIZES), help="passage counts, comma-separated"
    )
    parser.add_argument("--skip-build", action="store_true", help="do not time the real-model index build")
    parser.add_argument("--queries", type=int, default=0, help="timed queries per size (default: all, at least 200)")
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--update-runs", type=int, default=5)
    parser.add_argument("--noise", type=float, default=0.02, help="std of the per-dimension noise of clone vectors")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=120,
        help="before each timed phase, wait up to this many seconds for other processes to go quiet (0: don't)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch and faiss (OpenMP) threads for this process (default: the libraries' own choice)",
    )
    parser.add_argument("--no-profile", action="store_true", help="skip the cProfile pass at the largest size")
    parser.add_argument("--output", type=Path, help="JSON path (default bench/results/search-<date>.json)")
    args = parser.parse_args(argv)
    sizes = sorted({int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()})
    run_started = time.perf_counter()
    today = dt.date.today()
    output: Path = args.output or RESULTS_DIR / f"search-{today.isoformat()}.json"

    if args.threads:
        import faiss
        import torch

        torch.set_num_threads(args.threads)
        faiss.omp_set_num_threads(args.threads)
    engine = environment.engine_version("knowledge")  # before the run: the code this process imported
    settings = KnowledgeSettings()
    print(f"loading the model {settings.embedding_model or '(default: multilingual-e5-small)'}", file=sys.stderr)
    embedder = TimedEmbedder(open_embedder(settings, threads=args.threads or 0, bulk=True))
    documents = load_corpus(Path(settings.corpus_dir))
    questions = load_questions(QUESTIONS)
    rng = random.Random(args.seed)
    order = list(questions)
    rng.shuffle(order)
    count = args.queries or max(200, len(questions))
    queries = [order[i % len(order)] for i in range(count)]
    warmup = [q for q in order if q.lang == "en"][: args.warmup // 2] + [q for q in order if q.lang == "zh"][
        : args.warmup - args.warmup // 2
    ]

    print("embedding the real corpus" + ("" if args.skip_build else " (timed build)"), file=sys.stderr)
    waited = {"build": wait_for_quiet(args.quiet_wait, "build")} if not args.skip_build else {}
    monitor = CpuMonitor()
    vectors, build = real_vectors(documents, embedder, settings.data_dir / "bench", measure=not args.skip_build)
    if build is not None:
        build["cpu"] = monitor.stop()
    if not args.threads and settings.embedding_threads > 0:
        # Searches encode queries as the serving processes do (EMBEDDING_THREADS); the build above
        # used every core, as `make index` does. The thread count is fixed when a model is opened.
        embedder.inner = open_embedder(settings)
        gc.collect()
    corpus = SyntheticCorpus(documents, vectors, seed=args.seed, noise=args.noise)
    precomputed = corpus.embedder(embedder.name, embedder.dimension)

    by_passages = sorted(documents, key=lambda d: (len(split_document(d)), d.id))
    english = [d for d in by_passages if d.lang == "en"]
    update_document = english[len(english) // 2]

    rows: list[dict[str, Any]] = []
    profile_rows: dict[str, list[dict[str, Any]]] = {}
    peak_resettable = True
    for size in sizes:
        gc.collect()
        peak_resettable = reset_peak_rss() and peak_resettable
        memory_before = memory_mb()
        chosen = corpus.take(size)
        print(f"{size:,} passages: building the snapshot of {len(chosen):,} documents", file=sys.stderr)
        gc.collect()
        started = time.perf_counter()
        snapshot = build_snapshot(precomputed, chosen)
        snapshot_build = time.perf_counter() - started
        with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
            retriever = HybridRetriever(KnowledgeSettings(data_dir=Path(tmp)), embedder, snapshot)
            print(f"{len(snapshot):,} passages: {len(queries)} searches", file=sys.stderr)
            waited[f"search-{size}"] = wait_for_quiet(args.quiet_wait, f"{size:,} passages")
            monitor = CpuMonitor()
            latency = time_searches(retriever, embedder, queries, warmup)
            search_cpu = monitor.stop()
            print(f"{len(snapshot):,} passages: updates", file=sys.stderr)
            waited[f"updates-{size}"] = wait_for_quiet(args.quiet_wait, f"{size:,} passages")
            monitor = CpuMonitor()
            updates = time_updates(retriever, embedder, update_document, args.update_runs)
            update_cpu = monitor.stop()
            memory = memory_mb()
            if not args.no_profile and size == sizes[-1]:
                print(f"{len(snapshot):,} passages: profile", file=sys.stderr)
                profile_rows = profile_largest(retriever, queries, update_document)
            rows.append(
                {
                    "size": size,
                    "passages": len(snapshot),
                    "documents": len(chosen),
                    "synthetic_passages": len(snapshot) - min(len(snapshot), corpus.real_passages),
                    "vocabulary": len(snapshot.base.bm25.vocab_dict),
                    "snapshot_build_s": round(snapshot_build, 3),
                    **latency,
                    "updates": updates,
                    "memory_before": memory_before,
                    "memory": memory,
                    "cpu": {"search": search_cpu, "updates": update_cpu},
                }
            )
            del retriever
        del snapshot
        embedder.calls.clear()

    cosines = np.asarray(corpus.cosines or [1.0])
    notes = [
        f"{SYNTHETIC_NOTE}: source passage vector + N(0, {args.noise}^2) per dimension, re-normalised "
        f"(cosine to the source: mean {cosines.mean():.3f}, min {cosines.min():.3f}); real passages "
        f"({corpus.real_passages}) keep their real vectors. Synthetic documents clone real ones with about half "
        "their sentences swapped for sentences of other documents of the same language and every number replaced.",
        "Query vectors always come from the real model, inside search(); encode = time in Embedder.encode.",
        "peak RSS = VmHWM while that size was built and measured"
        + (", reset before each size" if peak_resettable else " (could not be reset: cumulative peak)")
        + "; RSS before = the process (model, corpus, clones so far) before the size's snapshot was built.",
        "Updates embed the edited document with the real model (the 'of which embedding' column).",
    ]
    contended = [
        f"{name} ({cpu['other_processes_cpu_share']:.0%})"
        for name, cpu in [("build", (build or {}).get("cpu"))]
        + [(f"{row['passages']:,} {phase}", row["cpu"][phase]) for row in rows for phase in ("search", "updates")]
        if cpu and cpu["other_processes_cpu_share"] > 0.05
    ]
    if contended:
        notes.append(
            "WARNING: other processes used more than 5% of the CPUs during "
            + ", ".join(contended)
            + ": those figures are inflated by contention (see 'cpu' in the JSON; rerun on a quiet machine)."
        )
    else:
        notes.append("other processes used under 5% of the CPUs during every timed phase")
    if build is None:
        notes.append("index build not timed (--skip-build); real passage vectors came from the cache")
    report: dict[str, Any] = {
        "date": today.isoformat(),
        "config": {
            "sizes": sizes,
            "queries": len(queries),
            "question_set": str(QUESTIONS.relative_to(REPO_ROOT)),
            "questions": len(questions),
            "warmup": len(warmup),
            "k": K,
            "update_runs": args.update_runs,
            "noise": args.noise,
            "seed": args.seed,
            "waited_for_quiet_s": waited,
            "threads": args.threads
            or f"build: library default, search: EMBEDDING_THREADS={settings.embedding_threads}",
        },
        "engine": engine,
        "machine": machine_info(embedder),
        "build": build,
        "update_document": {"id": update_document.id, "passages": len(split_document(update_document))},
        "sizes": rows,
        "targets": targets(rows, build),
        "notes": notes,
        "profile_size": rows[-1]["passages"] if profile_rows else None,
        "profile": profile_rows,
        "output": str(output),
    }
    report["run_seconds"] = round(time.perf_counter() - run_started, 1)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(markdown(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
