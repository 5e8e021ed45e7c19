"""Per-language intent scores from ``rasa test nlu --cross-validation`` output -> docs/nlu-report.md.

Rasa's cross-validation writes the held-out predictions (``intent_successes.json`` and
``intent_errors.json``); this scores them separately for Chinese and English messages (a message
with any Han character counts as Chinese), because one blended figure can hide a weak language.

    python scripts/nlu_report.py var/nlu-cv docs/nlu-report.md
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

HAN = re.compile(r"[\u3400-\u9fff]")
TARGET_MACRO_F1 = 0.90


def _f1_table(rows: list[tuple[str, str]]) -> tuple[float, dict[str, tuple[float, float, float, int]]]:
    intents = sorted({gold for gold, _ in rows})
    scores = {}
    for intent in intents:
        tp = sum(1 for g, p in rows if g == intent and p == intent)
        fp = sum(1 for g, p in rows if g != intent and p == intent)
        fn = sum(1 for g, p in rows if g == intent and p != intent)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[intent] = (precision, recall, f1, tp + fn)
    macro = sum(s[2] for s in scores.values()) / len(scores) if scores else 0.0
    return macro, scores


def main(results_dir: str, report: str) -> int:
    directory = Path(results_dir)
    predictions = []
    for name in ("intent_successes.json", "intent_errors.json"):
        path = directory / name
        if path.exists():
            predictions += json.loads(path.read_text(encoding="utf-8"))
    if not predictions:
        print(f"no predictions in {directory}: run rasa test nlu --cross-validation --successes first", file=sys.stderr)
        return 1
    by_language: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for item in predictions:
        language = "zh" if HAN.search(item["text"]) else "en"
        predicted = (item.get("intent_prediction") or {}).get("name") or "None"
        by_language[language].append((item["intent"], predicted))
    lines = [
        "# NLU cross-validation report",
        "",
        "Produced by `make nlu-report` (`rasa test nlu --cross-validation --folds 5` on `assistant/data/nlu`,",
        "then `scripts/nlu_report.py`). Every example is predicted once, by the fold that did not train on it.",
        f"Target: intent macro-F1 >= {TARGET_MACRO_F1:.2f} in each language.",
        "",
        "| language | examples | intent macro-F1 | accuracy | target met |",
        "|---|---|---|---|---|",
    ]
    failed = False
    tables = {}
    for language in ("en", "zh"):
        rows = by_language.get(language, [])
        macro, scores = _f1_table(rows)
        tables[language] = scores
        accuracy = sum(1 for g, p in rows if g == p) / len(rows) if rows else 0.0
        met = macro >= TARGET_MACRO_F1
        failed |= not met
        lines.append(f"| {language} | {len(rows)} | {macro:.3f} | {accuracy:.3f} | {'yes' if met else 'no'} |")
    for language, scores in tables.items():
        lines += [
            "",
            f"## {language}: per intent",
            "",
            "| intent | precision | recall | F1 | examples |",
            "|---|---|---|---|---|",
        ]
        for intent, (precision, recall, f1, support) in sorted(scores.items(), key=lambda kv: kv[1][2]):
            lines.append(f"| {intent} | {precision:.2f} | {recall:.2f} | {f1:.2f} | {support} |")
    confusions: dict[tuple[str, str], int] = defaultdict(int)
    for rows in by_language.values():
        for gold, predicted in rows:
            if gold != predicted:
                confusions[(gold, predicted)] += 1
    lines += ["", "## Most frequent confusions", "", "| expected | predicted | count |", "|---|---|---|"]
    for (gold, predicted), count in sorted(confusions.items(), key=lambda kv: -kv[1])[:15]:
        lines.append(f"| {gold} | {predicted} | {count} |")
    Path(report).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines[6:10]))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
