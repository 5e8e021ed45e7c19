"""The real-source evaluation set: split once, the test half locked, every question checkable."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path

import yaml

REAL_SOURCE = Path(__file__).resolve().parents[2] / "knowledge" / "eval" / "real-source"
# The test half as split on 2026-12-04. It is reported, never tuned on: a change to it is a new set,
# and the README's figures would no longer be a result. Edit dev.yaml instead.
TEST_SHA256 = "7aed24c15ead2f4c11e0288267607223a47cf09b2511257d8a5d10ce7c90d3b2"


def _questions(split: str) -> list[dict[str, object]]:
    return list(yaml.safe_load((REAL_SOURCE / f"{split}.yaml").read_text(encoding="utf-8"))["questions"])


def test_the_test_half_is_locked() -> None:
    assert hashlib.sha256((REAL_SOURCE / "test.yaml").read_bytes()).hexdigest() == TEST_SHA256


def test_the_halves_are_disjoint_and_large_enough() -> None:
    dev, test = _questions("dev"), _questions("test")
    assert not {q["id"] for q in dev} & {q["id"] for q in test}
    both = dev + test
    answerable = Counter(q["lang"] for q in both if q["answerable"])
    assert answerable["en"] >= 80 and answerable["zh"] >= 80
    out_of_scope = [q for q in both if q["kind"] == "oos"]
    assert len(out_of_scope) >= 30
    assert sum(1 for q in out_of_scope if q.get("near_domain")) >= len(out_of_scope) // 3
    for half in (dev, test):  # stratified: each half has both languages and both kinds of refusal
        assert {(q["lang"], q["kind"] == "oos") for q in half} == {
            ("en", False),
            ("en", True),
            ("zh", False),
            ("zh", True),
        }


def test_every_answerable_question_has_its_source_and_the_words_an_answer_needs() -> None:
    for q in _questions("dev") + _questions("test"):
        if not q["answerable"]:
            continue
        assert str(q["source_url"]).startswith(("http://", "https://")), q["id"]
        assert q["expected"] and q["fact"], q["id"]
        items = q["must_contain"]
        assert isinstance(items, list) and items, q["id"]
        assert all(isinstance(item, list) and item and all(str(a).strip() for a in item) for item in items), q["id"]


def test_a_gap_question_is_never_correct_but_its_required_words_are_still_checked() -> None:
    from actions.evaluation import Question, grade, report

    gap = Question("gap-1", "en", "Zhejiang total trade 2024?", "unanswerable", (("5.26",),), (), "number", "")
    filled = grade(gap, "In 2024 Zhejiang traded RMB 5.26 trillion.", ("zhejiang-trade-figures.en",))
    stale = grade(gap, "In 2023 Zhejiang traded RMB 4.90 trillion.", ("zhejiang-trade-figures.en",))
    refused = grade(gap, "I could not find this.", ())
    # Presented as an answer to a question written as a gap: counted against us either way...
    assert (filled.verdict, stale.verdict, refused.verdict) == ("wrong", "wrong", "refused")
    # ...but the report shows how many gaps the knowledge base has since filled.
    assert "| 1 of 1 |" in report([filled], "dev", set())
    assert "| 0 of 1 |" in report([stale], "dev", set())
