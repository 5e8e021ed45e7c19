"""Does the bot's answer carry the asked fact? The real-source questions, end to end: ``make eval``.

``knowledge.evaluation`` judges the ranking on our own question set. This judges what a trader sees:
each question of ``knowledge/eval/real-source`` (written from real public pages, not from the corpus)
goes through ``action_answer_question`` as Rasa would call it (a tracker with the message, the real
index and search; the answer action also runs the advisors for a question that states a full case),
and the reply is scored:

* **correct**: it cites the knowledge base and contains every required word (``must_contain``: each
  item is a list of alternatives, any one of which will do, in either language);
* **wrong**: it cites the knowledge base as the answer, but a required word is missing;
* **refused**: it cites nothing (not found, "the knowledge base does not state it", or "which one?").

Out-of-scope questions and in-domain questions the knowledge base cannot answer should be refused.
The set is split once into a dev half (tune on it) and a locked test half (report it).

Usage: ``python -m actions.evaluation [--split dev|test] [--report PATH] [--show wrong,refused]``.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import unicodedata
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import knowledge_base
from actions.answers import ActionAnswerQuestion
from knowledge.search import HybridRetriever
from knowledge.settings import KnowledgeSettings
from records.store import Records

REAL_SOURCE = Path(__file__).resolve().parent.parent / "knowledge" / "eval" / "real-source"
LANGUAGES = ("en", "zh")


@dataclass(frozen=True)
class Question:
    id: str
    lang: str
    q: str
    category: str  # answerable | unanswerable | oos
    must_contain: tuple[tuple[str, ...], ...]
    expected: tuple[str, ...]
    kind: str
    via: str


@dataclass(frozen=True)
class Graded:
    question: Question
    verdict: str  # correct | wrong | refused
    text: str
    cited: tuple[str, ...]
    missing: tuple[tuple[str, ...], ...]


def load(split: str) -> list[Question]:
    """A half of the set by name ("dev", "test"), or any file in its format by path."""
    path = REAL_SOURCE / f"{split}.yaml" if split in ("dev", "test") else Path(split)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    questions = []
    for q in data["questions"]:
        category = "oos" if q["kind"] == "oos" else ("answerable" if q["answerable"] else "unanswerable")
        questions.append(
            Question(
                id=str(q["id"]),
                lang=str(q["lang"]),
                q=str(q["q"]),
                category=category,
                must_contain=tuple(tuple(str(a) for a in item) for item in q.get("must_contain") or ()),
                expected=tuple(q.get("expected") or ()),
                kind=str(q["kind"]),
                via=str(q.get("via") or ""),
            )
        )
    return questions


def _folded(text: str) -> str:
    """Case, width and spacing folded, so "USD 150,000" matches "usd150,000" and "１５万" "15万"."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text).lower())


def missing_words(text: str, must_contain: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
    folded = _folded(text)
    return tuple(item for item in must_contain if not any(_folded(a) in folded for a in item))


def ask(question: Question) -> tuple[str, tuple[str, ...]]:
    """The bot's reply text and cited document ids for one question, through the answer action."""
    tracker = Tracker(
        sender_id=f"eval:{question.id}",
        slots={"language": question.lang},
        latest_message={"text": question.q, "intent": {"name": "ask_question", "confidence": 0.9}, "entities": []},
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )
    dispatcher = CollectingDispatcher()

    async def run() -> None:
        await ActionAnswerQuestion().run(dispatcher, tracker, {})
        await asyncio.sleep(0)  # let the question log write finish inside this loop

    asyncio.run(run())
    text = "\n".join(m.get("text") or "" for m in dispatcher.messages)
    cited = tuple(c["doc_id"] for m in dispatcher.messages for c in (m.get("custom") or {}).get("citations", []))
    return text, cited


def grade(question: Question, text: str, cited: tuple[str, ...]) -> Graded:
    # A gap question's required words are graded too: the knowledge base may have grown to answer it.
    missing = missing_words(text, question.must_contain) if question.category != "oos" else ()
    if not cited:
        verdict = "refused"
    elif question.category == "answerable":
        verdict = "wrong" if missing else "correct"
    else:
        verdict = "wrong"  # it presented an answer to a question the knowledge base cannot answer
    return Graded(question, verdict, text, cited, missing)


def report(graded: list[Graded], split: str, show: set[str]) -> str:
    lines = [
        f"# Answers on the real-source questions ({split} half)",
        "",
        f"Produced by `python -m actions.evaluation --split {split}` (`make eval` runs the test half). Each "
        "question goes through `action_answer_question`; **correct** = cited and every required word "
        "present, **wrong** = cited but a required word missing, **refused** = nothing cited.",
        "",
        "| lang | answerable | correct | wrong | refused | cited an expected document |",
        "|---|---|---|---|---|---|",
    ]
    for lang in LANGUAGES:
        rows = [g for g in graded if g.question.lang == lang and g.question.category == "answerable"]
        n = max(len(rows), 1)
        counts = Counter(g.verdict for g in rows)
        expected = sum(1 for g in rows if set(g.question.expected) & {c.rsplit(".", 1)[0] for c in g.cited})
        lines.append(
            f"| {lang} | {len(rows)} | **{counts['correct'] / n:.3f}** ({counts['correct']}) | "
            f"{counts['wrong'] / n:.3f} ({counts['wrong']}) | {counts['refused'] / n:.3f} ({counts['refused']}) | "
            f"{expected / n:.3f} |"
        )
    lines += [
        "",
        "| lang | out of scope | refused | in domain, not in the knowledge base when written | refused | "
        "now answered with every required word |",
        "|---|---|---|---|---|---|",
    ]
    for lang in LANGUAGES:
        oos = [g for g in graded if g.question.lang == lang and g.question.category == "oos"]
        gaps = [g for g in graded if g.question.lang == lang and g.question.category == "unanswerable"]
        refused_oos = sum(1 for g in oos if g.verdict == "refused")
        refused_gaps = sum(1 for g in gaps if g.verdict == "refused")
        graded_gaps = [g for g in gaps if g.question.must_contain]
        filled = sum(1 for g in graded_gaps if g.cited and not g.missing)
        lines.append(
            f"| {lang} | {len(oos)} | **{refused_oos / max(len(oos), 1):.3f}** ({refused_oos}) | {len(gaps)} | "
            f"{refused_gaps / max(len(gaps), 1):.3f} ({refused_gaps}) | {filled} of {len(graded_gaps)} |"
        )
    by_kind: dict[str, Counter[str]] = defaultdict(Counter)
    for g in graded:
        if g.question.category == "answerable":
            by_kind[g.question.kind][g.verdict] += 1
    lines += ["", "By the kind of fact asked (answerable questions):", ""]
    lines += ["| kind | n | correct | wrong | refused |", "|---|---|---|---|---|"]
    for kind, counts in sorted(by_kind.items()):
        total = sum(counts.values())
        lines.append(f"| {kind} | {total} | {counts['correct']} | {counts['wrong']} | {counts['refused']} |")
    listed = [g for g in graded if g.verdict in show or (g.question.category != "answerable" and "oos" in show)]
    if listed:
        lines += ["", "## Questions", ""]
        for g in listed:
            detail = f"missing {list(g.missing)}" if g.missing else ""
            first = g.text.split("\n\n")[0:3]
            lines.append(
                f"- **{g.verdict}** {g.question.id} ({g.question.category}) `{g.question.q}` "
                f"cited {list(g.cited)} {detail}\n  > {' / '.join(first)[:300]}"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m actions.evaluation", description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", default="test", help="dev, test, or the path of a question file")
    parser.add_argument("--report", type=Path, help="write the Markdown report here")
    parser.add_argument("--show", default="", help="list questions with these verdicts: wrong,refused,correct,oos")
    args = parser.parse_args(argv)
    questions = load(args.split)
    with tempfile.TemporaryDirectory(prefix="answer-eval-") as scratch:
        # The bot logs each question for the console: into a scratch store, not the real one.
        knowledge_base.use_records(Records.open(KnowledgeSettings(data_dir=Path(scratch))))
        knowledge_base.use(HybridRetriever.open(KnowledgeSettings()))
        graded = [grade(q, *ask(q)) for q in questions]
    text = report(graded, args.split, set(filter(None, args.show.split(","))))
    print(text)
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text, encoding="utf-8")
    return 0


def summary(graded: list[Graded]) -> dict[str, Any]:
    """Shares per language, for tests and tuning scripts."""
    out: dict[str, Any] = {}
    for lang in LANGUAGES:
        rows = [g for g in graded if g.question.lang == lang and g.question.category == "answerable"]
        oos = [g for g in graded if g.question.lang == lang and g.question.category == "oos"]
        counts = Counter(g.verdict for g in rows)
        out[lang] = {v: counts[v] / max(len(rows), 1) for v in ("correct", "wrong", "refused")}
        out[lang]["oos_refused"] = sum(g.verdict == "refused" for g in oos) / max(len(oos), 1)
    return out


if __name__ == "__main__":
    sys.exit(main())
