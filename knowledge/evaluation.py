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

import numpy as np
import yaml
from tqdm import tqdm

from knowledge.search import CODE_REASON, HybridRetriever, SearchResult
from knowledge.settings import KnowledgeSettings, Thresholds

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
    unknown: float = 0.0


def load_questions(path: Path) -> list[Question]:
    """Our own set (``questions.yaml``) or a real-source half, whose in-domain questions the
    knowledge base cannot answer are left out (they are neither answerable nor out of scope)."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [
        Question(str(q["id"]), str(q["q"]), str(q["lang"]), tuple(q.get("expected") or ()), str(q.get("style", "")))
        for q in data["questions"]
        if q.get("answerable", True) or q.get("kind") == "oos"
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
                result.reason == CODE_REASON,  # answered whatever the thresholds (a code, not a year)
                result.unknown_share,
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


def decide(outcome: Outcome, thresholds: Thresholds) -> bool:
    return outcome.exact or thresholds.reason(outcome.dense, outcome.coverage, outcome.unknown) is not None


def _grid(values: np.ndarray, points: int) -> list[float]:
    """Thresholds at the observed values' quantiles (a threshold between two of them changes nothing)."""
    return sorted({round(float(v), 3) for v in np.quantile(values, np.linspace(0, 1, points))})


def calibrate(outcomes: list[Outcome], target: float = 0.9) -> tuple[Thresholds, float, float]:
    """Best (thresholds, oos_rejection, false_rejection) on these outcomes.

    Primary: reject at least ``target`` of the out-of-scope questions; then the fewest false
    rejections; then the most rejection. The grid is the observed evidence's quantiles (so it fits
    any model's similarity range), searched with numpy.
    """
    in_scope = np.array([bool(o.question.expected) for o in outcomes])
    dense = np.array([o.dense for o in outcomes])[:, None]
    coverage = np.array([o.coverage for o in outcomes])[:, None]
    unknown = np.array([o.unknown for o in outcomes])[:, None]
    exact = np.array([o.exact for o in outcomes])[:, None]
    dense_grid = [*_grid(dense, 24), 1.01]
    coverage_grid = [*_grid(coverage, 12), 1.01]
    unknown_grid = [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 1.0]
    candidates = [
        Thresholds(d, c, jd, jc, u)
        for d, c in itertools.product(dense_grid, coverage_grid)
        for jd, jc in [
            (1.0, 1.0),
            *itertools.product([x for x in dense_grid if x < d], [y for y in coverage_grid if y < c]),
        ]
        for u in unknown_grid
    ]
    grid = np.array(candidates).T  # 5 x candidates
    answered = (exact | (dense >= grid[0]) | (coverage >= grid[1]) | ((dense >= grid[2]) & (coverage >= grid[3]))) & (
        exact | (unknown <= grid[4])
    )
    rejection = (~answered[~in_scope]).mean(axis=0) if (~in_scope).any() else np.zeros(len(candidates))
    false = (~answered[in_scope]).mean(axis=0) if in_scope.any() else np.zeros(len(candidates))
    keys = [((r >= target - 1e-9), -f, r) for r, f in zip(rejection, false, strict=True)]
    best = max(range(len(candidates)), key=lambda i: keys[i])
    return candidates[best], float(rejection[best]), float(false[best])


def holdout(outcomes: list[Outcome], target: float = 0.9) -> list[tuple[float, float]]:
    """(OOS rejection, false rejection) on each half of ``outcomes`` with thresholds calibrated on
    the other half: how far the calibrated figures are from what unseen questions would get."""
    figures = []
    for fold in (0, 1):
        train = [o for i, o in enumerate(outcomes) if i % 2 == fold]
        test = [o for i, o in enumerate(outcomes) if i % 2 != fold]
        thresholds, _, _ = calibrate(train, target)
        out_scope = [o for o in test if not o.question.expected]
        in_scope = [o for o in test if o.question.expected]
        figures.append(
            (
                sum(1 for o in out_scope if not decide(o, thresholds)) / max(len(out_scope), 1),
                sum(1 for o in in_scope if not decide(o, thresholds)) / max(len(in_scope), 1),
            )
        )
    return figures


def report(results: dict[str, list[Outcome]], settings: KnowledgeSettings) -> str:
    lines = [
        f"# Retrieval evaluation ({dt.date.today().isoformat()})",
        "",
        "Produced by `make eval` (`python -m knowledge eval`). Document-level ranks over the top "
        f"{DEPTH} documents; answer thresholds (dense, coverage, joint dense, joint coverage, max unknown): "
        f"en {tuple(settings.answer_thresholds('en'))}, zh {tuple(settings.answer_thresholds('zh'))}.",
        "",
        table(results),
    ]
    return "\n".join(lines)


def table(results: dict[str, list[Outcome]]) -> str:
    lines = [
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
    # More questions for the calibration only (the real-source dev half): more out-of-scope ones.
    extra = [o for path in args.calibrate_with for o in run(retriever, load_questions(Path(path)), "hybrid")]
    if extra:
        text += "\n" + table({"hybrid, calibration-only sets": extra})
    if args.calibrate:
        pooled = results["hybrid"] + extra
        hybrid = {lang: [o for o in pooled if o.question.lang == lang] for lang in ("en", "zh")}
        for lang, outcomes in hybrid.items():
            best, rejection, false = calibrate(outcomes, args.target)
            halves = ", ".join(f"{r:.3f} / {f:.3f}" for r, f in holdout(outcomes, args.target))
            text += (
                f"\nCalibration (hybrid, {lang}): min_dense_similarity_{lang}={best.dense}, "
                f"min_lexical_coverage_{lang}={best.coverage}, min_joint_dense_{lang}={best.joint_dense}, "
                f"min_joint_coverage_{lang}={best.joint_coverage}, max_unknown_share_{lang}={best.max_unknown} "
                f"-> OOS rejection {rejection:.3f}, "
                f"false rejection {false:.3f}. Calibrated on one half, measured on the other (OOS rejection / "
                f"false rejection): {halves}\n"
            )
        text += (
            "\nWhat each rejection level costs (hybrid; the fewest false rejections any threshold set on the "
            "grid gets while rejecting at least this share of out-of-scope questions):\n\n"
            "| lang | OOS rejection >= 0.75 | >= 0.80 | >= 0.85 | >= 0.90 | >= 0.95 |\n|---|---|---|---|---|---|\n"
        )
        for lang, outcomes in hybrid.items():
            cells = [f"{calibrate(outcomes, level)[2]:.3f}" for level in (0.75, 0.80, 0.85, 0.90, 0.95)]
            text += f"| {lang} | " + " | ".join(cells) + " |\n"
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
