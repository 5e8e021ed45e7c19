"""Command line: ``python -m knowledge build | search | stats | check | eval``.

build            embed and index the corpus into DATA_DIR/index (progress bar)
sync             import new or changed corpus files into the store (never over a staff edit), then
                 re-index only the documents whose published version differs from the index
search "<q>"     ranked passages, as text or --json
stats            what the current index holds
check            validate the corpus files without building anything
eval             retrieval quality on knowledge/eval/questions.yaml (see knowledge.evaluation)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

from knowledge.documents import Document
from knowledge.errors import KnowledgeError
from knowledge.settings import KnowledgeSettings


def _documents(settings: KnowledgeSettings) -> list[Document]:
    """The documents to index: the store's published ones, after importing new or changed corpus files."""
    from knowledge.store import Store, import_corpus_files, published_documents

    store = Store.open(settings)
    added, updated, kept, retired = import_corpus_files(store, Path(settings.corpus_dir))
    if added or updated or kept or retired:
        print(
            f"corpus -> store: {added} added, {updated} updated, {kept} kept as edited by staff, {retired} retired (no longer in the corpus)"
        )
    return published_documents(store)


def _build(settings: KnowledgeSettings, args: argparse.Namespace) -> int:
    return _full_build(settings, _documents(settings), quiet=args.quiet)


def _full_build(settings: KnowledgeSettings, documents: list[Document], *, quiet: bool) -> int:
    from knowledge.embedding import open_embedder
    from knowledge.index import build_snapshot
    from knowledge.index_files import save_snapshot

    started = time.perf_counter()
    embedder = open_embedder(settings, threads=0, bulk=True)  # every core; torch for the batches
    snapshot = build_snapshot(embedder, documents, progress=not quiet)
    generation = save_snapshot(snapshot, settings.index_dir)
    elapsed = time.perf_counter() - started
    print(
        f"indexed {len(documents)} documents, {len(snapshot)} passages in {elapsed:.1f}s "
        f"({len(snapshot) / max(elapsed, 1e-9):.0f} passages/s) -> {generation}"
    )
    return 0


def _sync(settings: KnowledgeSettings, args: argparse.Namespace) -> int:
    from knowledge.embedding import configured_model_name, export_in_place, open_embedder
    from knowledge.index import corpus_changes, replace_documents
    from knowledge.index_files import load_snapshot, read_manifest, save_snapshot
    from knowledge.language import TOKENIZER_VERSION

    documents = _documents(settings)
    snapshot = load_snapshot(settings.index_dir)
    if snapshot.model != configured_model_name(settings):
        # EMBEDDING_MODEL changed since the index was built: its vectors mean nothing to the new model.
        print(f"the index was built with {snapshot.model}; rebuilding it for {configured_model_name(settings)}")
        return _full_build(settings, documents, quiet=True)
    if read_manifest(settings.index_dir).get("tokenizer", 1) != TOKENIZER_VERSION:
        print("the index was built with an older tokenizer; rebuilding it")
        return _full_build(settings, documents, quiet=True)
    changed, removed = corpus_changes(snapshot, documents)
    if not changed and not removed:
        if not export_in_place(settings):
            # Exported here, before the serving processes start: exporting needs torch, loading does not.
            print(f"embeddings: {open_embedder(settings, threads=0).backend}")
        print(f"index up to date ({len(snapshot)} passages)")
        return 0
    started = time.perf_counter()
    embedder = open_embedder(settings, threads=0)  # every core
    updated = replace_documents(snapshot, embedder, changed, removed)
    generation = save_snapshot(updated, settings.index_dir)
    print(
        f"re-indexed {len(changed)} changed documents, removed {len(removed)} "
        f"in {time.perf_counter() - started:.1f}s -> {generation}"
    )
    return 0


def _search(settings: KnowledgeSettings, args: argparse.Namespace) -> int:
    from knowledge.search import HybridRetriever

    retriever = HybridRetriever.open(settings)
    result = retriever.search(args.query, k=args.k, lang=args.lang, topic=args.topic, zone=args.zone)
    if args.json:
        print(
            json.dumps(
                {
                    "query": result.query,
                    "lang": result.lang,
                    "answered": result.answered,
                    "reason": result.reason,
                    "hits": [
                        {
                            "passage_id": h.passage.id,
                            "doc_id": h.passage.doc_id,
                            "title": h.passage.doc_title,
                            "section": h.passage.section,
                            "lang": h.passage.lang,
                            "score": h.score,
                            "dense_similarity": h.dense_similarity,
                            "lexical_coverage": h.lexical_coverage,
                            "found_by": h.found_by,
                            "text": h.passage.text,
                            "source_url": h.passage.source_url,
                        }
                        for h in result.hits
                    ],
                },
                ensure_ascii=False,
                indent=2,
            )
        )
        return 0
    print(f"{'answered' if result.answered else 'NOT answered'} ({result.lang}): {result.reason}")
    for rank, hit in enumerate(result.hits, 1):
        print(
            f"{rank}. {hit.passage.doc_id} | {hit.passage.section} | score {hit.score:.4f} "
            f"dense {hit.dense_similarity:.2f} coverage {hit.lexical_coverage:.2f} via {'+'.join(hit.found_by)}"
        )
    return 0


def _stats(settings: KnowledgeSettings, args: argparse.Namespace) -> int:
    from knowledge.index_files import load_snapshot, read_manifest

    manifest = read_manifest(settings.index_dir)
    snapshot = load_snapshot(settings.index_dir)
    print(json.dumps({k: v for k, v in manifest.items() if k != "files"}, indent=2))
    print("passages by language:", dict(Counter(p.lang for p in snapshot.passages)))
    print("passages by topic:", dict(sorted(Counter(p.topic for p in snapshot.passages).items())))
    return 0


def _check(settings: KnowledgeSettings, args: argparse.Namespace) -> int:
    from knowledge.documents import load_corpus
    from knowledge.passages import split_document

    documents = load_corpus(Path(settings.corpus_dir))
    passages = sum(len(split_document(d)) for d in documents)
    print(
        f"{len(documents)} documents ({len({d.slug for d in documents})} topics x languages), {passages} passages: ok"
    )
    return 0


def _eval(settings: KnowledgeSettings, args: argparse.Namespace) -> int:
    from knowledge.evaluation import main as evaluate

    return evaluate(settings, args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m knowledge", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="embed and index the corpus")
    build.add_argument("--quiet", action="store_true", help="no progress bar")
    commands.add_parser("sync", help="re-index the corpus documents that changed")
    search = commands.add_parser("search", help="search the index")
    search.add_argument("query")
    search.add_argument("--k", type=int, default=5)
    search.add_argument("--lang", choices=["en", "zh"])
    search.add_argument("--topic")
    search.add_argument("--zone")
    search.add_argument("--json", action="store_true")
    commands.add_parser("stats", help="describe the current index")
    commands.add_parser("check", help="validate the corpus files")
    evaluation = commands.add_parser("eval", help="measure retrieval quality")
    evaluation.add_argument("--questions", default=str(Path(__file__).parent / "eval" / "questions.yaml"))
    evaluation.add_argument(
        "--calibrate-with", action="append", default=[], metavar="PATH", help="more questions for --calibrate only"
    )
    evaluation.add_argument("--report", help="write the Markdown report here")
    evaluation.add_argument("--calibrate", action="store_true", help="also search for the best thresholds")
    evaluation.add_argument("--target", type=float, default=0.95, help="OOS rejection the calibration must reach")
    args = parser.parse_args(argv)
    settings = KnowledgeSettings()
    handlers = {"build": _build, "sync": _sync, "search": _search, "stats": _stats, "check": _check, "eval": _eval}
    try:
        return handlers[args.command](settings, args)
    except KnowledgeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
