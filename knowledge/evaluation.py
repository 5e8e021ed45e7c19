"""Retrieval evaluation: BM25 only, dense only and hybrid, on the labelled question set, in one run.

Ranking is judged per document: the top passages are collapsed to their documents (both language
versions of a document count as that document, by slug), and a question is a hit at k when one of
its expected documents is among the first k. Out-of-scope questions (``expected: []``) count as
rejected when ``answered`` is false; in-scope questions count as falsely rejected when it is false.

``--calibrate`` searches the two thresholds of the ``answered`` decision on the same run (the
per-question evidence is recorded once, decisions are recomputed per threshold pair) and prints the
pair that meets the rejection targets with the fewest false rejections.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import yaml
from tqdm import tqdm

from knowledge.search import HybridRetriever, SearchResult
from knowledge.settings import KnowledgeSettings

MODES: dict[str, tuple[str, ...]] = {
    "bm25": ("bm25", "exact"),
    "dense": ("dense",),
    "hybrid": ("dense", "bm25", "exact"),
}
DEPTH = 10


@dataclass(frozen=True)
class Question:
    id: str
    q: str
    lang: str
    expected: tuple[str, ...]
    style: str


@dataclass(frozen=True)
class Outcome:
    question: Question
    rank: int | None  # 1-based document rank of the first expected document, None if not in top DEPTH
    answered: bool
    dense: float  # evidence for recomputing "answered" under other thresholds
    coverage: float
    exact: bool


def load_questions(path: Path) -> list[Question]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        Question(str(q["id"]), str(q["q"]), str(q["lang"]), tuple(q.get("expected") or ()), str(q.get("style", "")))
        for q in data["questions"]
    ]


def document_rank(result: SearchResult, expected: tuple[str, ...]) -> int | None:
    slugs: list[str] = []
    for hit in result.hits:
        if hit.passage.slug not in slugs:
            slugs.append(hit.passage.slug)
    for rank, slug in enumerate(slugs, 1):
        if slug in expected:
            return rank
    return None


def run(retriever: HybridRetriever, questions: list[Question], mode: str, *, progress: bool = False) -> list[Outcome]:
    outcomes = []
    for question in tqdm(questions, desc=f"eval {mode}", unit="q", disable=not progress, leave=False):
        result = retriever.search(question.q, k=3 * DEPTH, retrievers=MODES[mode])
        top = result.hits[0] if result.hits else None
        outcomes.append(
            Outcome(
                question,
                document_rank(result, question.expected) if question.expected else None,
                result.answered,
                top.dense_similarity if top else 0.0,
                top.lexical_coverage if top else 0.0,
                bool(top and top.exact_match),
            )
        )
    return outcomes


def metrics(outcomes: list[Outcome]) -> dict[str, float]:
    in_scope = [o for o in outcomes if o.question.expected]
    out_scope = [o for o in outcomes if not o.question.expected]
    n = max(len(in_scope), 1)
    result = {f"hit@{k}": sum(1 for o in in_scope if o.rank and o.rank <= k) / n for k in (1, 3, 5)}
    result["mrr@10"] = sum(1 / o.rank for o in in_scope if o.rank) / n
    result["false_rejection"] = sum(1 for o in in_scope if not o.answered) / n
    result["oos_rejection"] = sum(1 for o in out_scope if not o.answered) / max(len(out_scope), 1)
    result["in_scope"], result["out_of_scope"] = len(in_scope), len(out_scope)
    return result


def decide(outcome: Outcome, min_dense: float, min_coverage: float) -> bool:
    return outcome.exact or outcome.dense >= min_dense or outcome.coverage >= min_coverage


def calibrate(outcomes: list[Outcome]) -> tuple[float, float, float, float]:
    """Best (min_dense, min_coverage, oos_rejection, false_rejection) on these outcomes."""
    in_scope = [o for o in outcomes if o.question.expected]
    out_scope = [o for o in outcomes if not o.question.expected]
    best: tuple[float, float, float, float] | None = None
    for min_dense, min_coverage in itertools.product(
        [round(0.30 + 0.025 * i, 3) for i in range(21)], [round(0.40 + 0.05 * i, 2) for i in range(13)]
    ):
        rejection = sum(1 for o in out_scope if not decide(o, min_dense, min_coverage)) / max(len(out_scope), 1)
        false = sum(1 for o in in_scope if not decide(o, min_dense, min_coverage)) / max(len(in_scope), 1)
        # Primary: meet the rejection target; then fewest false rejections; then most rejection.
        key = (rejection >= 0.9, -false, rejection)
        if best is None or key > ((best[2] >= 0.9), -best[3], best[2]):
            best = (min_dense, min_coverage, rejection, false)
    assert best is not None
    return best


def report(results: dict[str, list[Outcome]], settings: KnowledgeSettings) -> str:
    lines = [
        f"# Retrieval evaluation ({dt.date.today().isoformat()})",
        "",
        "Produced by `make eval` (`python -m knowledge eval`). Document-level ranks over the top "
        f"{DEPTH} documents; answer thresholds (dense, coverage): en {settings.answer_thresholds('en')}, "
        f"zh {settings.answer_thresholds('zh')}.",
        "",
        "| mode | lang | n | hit@1 | hit@3 | hit@5 | MRR@10 | OOS rejection (n) | false rejection |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for mode, outcomes in results.items():
        by_lang: dict[str, list[Outcome]] = defaultdict(list)
        for outcome in outcomes:
            by_lang[outcome.question.lang].append(outcome)
        for lang in ("en", "zh"):
            m = metrics(by_lang[lang])
            lines.append(
                f"| {mode} | {lang} | {m['in_scope']:.0f} | {m['hit@1']:.3f} | {m['hit@3']:.3f} | {m['hit@5']:.3f} "
                f"| {m['mrr@10']:.3f} | {m['oos_rejection']:.3f} ({m['out_of_scope']:.0f}) | {m['false_rejection']:.3f} |"
            )
    return "\n".join(lines) + "\n"


def main(settings: KnowledgeSettings, args: argparse.Namespace) -> int:
    questions = load_questions(Path(args.questions))
    retriever = HybridRetriever.open(settings)
    results = {mode: run(retriever, questions, mode, progress=sys.stderr.isatty()) for mode in MODES}
    text = report(results, settings)
    if args.calibrate:
        for lang in ("en", "zh"):
            min_dense, min_coverage, rejection, false = calibrate(
                [o for o in results["hybrid"] if o.question.lang == lang]
            )
            text += (
                f"\nCalibration (hybrid, {lang}): min_dense_similarity_{lang}={min_dense}, "
                f"min_lexical_coverage_{lang}={min_coverage} -> OOS rejection {rejection:.3f}, "
                f"false rejection {false:.3f}\n"
            )
    misses = [o for o in results["hybrid"] if o.question.expected and not (o.rank and o.rank <= 3)]
    text += f"\nHybrid misses at 3: {len(misses)}\n" + "".join(
        f"- {o.question.id} `{o.question.q}` expected {', '.join(o.question.expected)} (rank {o.rank})\n"
        for o in misses[:40]
    )
    print(text)
    if args.report:
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(text, encoding="utf-8")
    return 0
