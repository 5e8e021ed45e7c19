"""What the answer action adds on top of search, measured on the labelled questions: ``make eval``.

``knowledge.evaluation`` judges the ranking. This judges two decisions ``action_answer_question``
takes after it, on the same questions and the same search call (k=8, the question's language):

* **asking back** (``is_ambiguous``): how often the bot asks "which one do you mean?" instead of
  answering, and whether that was worth it: the first hit was wrong and the expected document was
  one of the two choices (helped), the first hit was right anyway (an unneeded question), or neither
  choice was right;
* **zone preference** (``prefer_zone``): on the questions that name one zone, document hit@1 with
  the preference and without it.

Usage: ``python -m actions.evaluation [--questions PATH] [--report docs/dialogue-eval.md]``.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from actions.answers import is_ambiguous, prefer_zone
from knowledge import entities
from knowledge.evaluation import Question, document_rank, load_questions
from knowledge.search import HybridRetriever
from knowledge.settings import KnowledgeSettings

QUESTIONS = Path(__file__).resolve().parent.parent / "knowledge" / "eval" / "questions.yaml"
SEARCH_K = 8  # what action_answer_question asks for


@dataclass(frozen=True)
class Decision:
    question: Question
    answered: bool
    asked_back: bool
    rank: int | None  # document rank of the expected document, plain search
    zone: str | None  # the one zone the question names, if exactly one
    zone_rank: int | None  # document rank after prefer_zone
    choices_right: bool  # the expected document is one of the two "which one?" choices


def decide(retriever: HybridRetriever, question: Question) -> Decision:
    result = retriever.search(question.q, k=SEARCH_K, lang=question.lang)
    zones = {e.value for e in entities.extract(question.q) if e.entity == "zone"}
    preferred = prefer_zone(result, question.q)
    choices = {h.passage.slug for h in result.hits[:2]}
    return Decision(
        question=question,
        answered=result.answered,
        asked_back=is_ambiguous(result),
        rank=document_rank(result, question.expected),
        zone=next(iter(zones)) if len(zones) == 1 else None,
        zone_rank=document_rank(preferred, question.expected),
        choices_right=bool(choices & set(question.expected)),
    )


def report(decisions: list[Decision]) -> str:
    lines = [
        "# Dialogue decisions on the labelled questions",
        "",
        "Produced by `make eval` (`python -m actions.evaluation`).",
        "",
    ]
    lines += ["## Asking back when two topics are close", ""]
    lines += [
        "| language | answered in-scope | asked back | helped | unneeded | neither choice right |",
        "|---|---|---|---|---|---|",
    ]
    for lang in ("en", "zh"):
        answered = [d for d in decisions if d.question.lang == lang and d.answered]
        asked = [d for d in answered if d.asked_back]
        helped = sum(1 for d in asked if d.rank != 1 and d.choices_right)
        unneeded = sum(1 for d in asked if d.rank == 1)
        neither = len(asked) - helped - unneeded
        share = f"{len(asked)} ({len(asked) / max(1, len(answered)):.1%})"
        lines.append(f"| {lang} | {len(answered)} | {share} | {helped} | {unneeded} | {neither} |")
    lines += ["", "## Preferring the zone the question names", ""]
    lines += [
        "| language | questions naming one zone | hit@1 plain search | hit@1 with zone preference |",
        "|---|---|---|---|",
    ]
    for lang in ("en", "zh"):
        zoned = [d for d in decisions if d.question.lang == lang and d.zone]
        plain = sum(1 for d in zoned if d.rank == 1)
        preferred = sum(1 for d in zoned if d.zone_rank == 1)
        lines.append(f"| {lang} | {len(zoned)} | {plain} | {preferred} |")
    changed = [d for d in decisions if d.zone and (d.rank == 1) != (d.zone_rank == 1)]
    if changed:
        lines += ["", "Questions whose first document the zone preference changed:", ""]
        lines += [
            f"- {d.question.id} `{d.question.q}` ({d.zone}): {'fixed' if d.zone_rank == 1 else 'broken'}"
            for d in changed
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m actions.evaluation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--questions", type=Path, default=QUESTIONS)
    parser.add_argument("--report", type=Path, help="write the Markdown report here")
    args = parser.parse_args(argv)
    questions = [q for q in load_questions(args.questions) if q.expected]
    retriever = HybridRetriever.open(KnowledgeSettings())
    decisions = [
        decide(retriever, q) for q in tqdm(questions, desc="dialogue eval", unit="q", disable=not sys.stderr.isatty())
    ]
    text = report(decisions)
    print(text)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
