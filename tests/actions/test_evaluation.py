"""The answer evaluation's grading: correct needs a citation and every required word, in either form."""

from __future__ import annotations

from actions.evaluation import Question, grade, missing_words


def question(category: str = "answerable") -> Question:
    return Question(
        id="t-en-001",
        lang="en",
        q="Is there a cap on one market procurement declaration?",
        category=category,
        must_contain=(("150,000", "15万"), ("1039",)),
        expected=("market-procurement",),
        kind="number",
        via="",
    )


def test_every_required_item_must_appear_in_one_of_its_forms() -> None:
    items = question().must_contain
    assert missing_words("Up to USD 150,000 per declaration under code 1039.", items) == ()
    assert missing_words("每票不超过１５万美元（1039）", items) == ()  # full-width digits fold
    assert missing_words("Up to USD 150,000 per declaration.", items) == (("1039",),)


def test_a_reply_is_correct_wrong_or_refused() -> None:
    right = "Each declaration may cover up to USD 150,000 (code 1039)."
    assert grade(question(), right, ("market-procurement.en",)).verdict == "correct"
    assert grade(question(), "Code 1039 is market procurement.", ("market-procurement.en",)).verdict == "wrong"
    # The right words without a citation are not an answer the trader can check.
    assert grade(question(), right, ()).verdict == "refused"
    # Citing anything for a question the knowledge base cannot answer presents a passage as the answer.
    assert grade(question("oos"), "Something cited.", ("ewtp.en",)).verdict == "wrong"
    assert grade(question("oos"), "I could not find this.", ()).verdict == "refused"
