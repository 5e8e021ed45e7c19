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
import datetime as dt
import gc
import hashlib
import json
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bench import environment, measure
from bench.measure import CpuMonitor, memory_mb, profile, reset_peak_rss, wait_for_quiet
from bench.search_report import SYNTHETIC_NOTE, K, machine_info, markdown, targets
from bench.synthetic import SyntheticCorpus, TimedEmbedder
from knowledge.documents import Document, load_corpus
from knowledge.embedding import open_embedder
from knowledge.evaluation import Question, load_questions
from knowledge.index import build_snapshot
from knowledge.index_files import load_snapshot, save_snapshot
from knowledge.passages import Passage, split_document
from knowledge.search import HybridRetriever
from knowledge.settings import REPO_ROOT, KnowledgeSettings

RESULTS_DIR = Path(__file__).resolve().parent / "results"
QUESTIONS = REPO_ROOT / "knowledge" / "eval" / "questions.yaml"
DEFAULT_SIZES = (1_000, 10_000, 50_000)


# --- embedders ---------------------------------------------------------------------------------


# --- the synthetic corpus ----------------------------------------------------------------------


# --- measurements ------------------------------------------------------------------------------


def percentiles(samples: Sequence[float]) -> dict[str, float]:
    """Search latencies are a few milliseconds: three decimals."""
    return measure.percentiles(samples, digits=3)


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
