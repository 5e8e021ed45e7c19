"""The threshold calibration `make eval` uses to set the `answered` bar, on hand-made evidence."""

from __future__ import annotations

from knowledge.evaluation import Outcome, Question, calibrate, decide


def outcome(n: int, dense: float, in_scope: bool) -> Outcome:
    question = Question(f"q{n}", f"question {n}", "zh", ("doc",) if in_scope else (), "short")
    return Outcome(question, 1 if in_scope else None, False, dense, 0.0, False)


# Ten out-of-scope questions: nine far from any passage, one as close as the answerable ones.
OUT = [outcome(i, 0.30, False) for i in range(9)] + [outcome(9, 0.62, False)]
# Ten answerable questions: eight close, two only as close as the out-of-scope one.
IN = [outcome(10 + i, 0.80, True) for i in range(8)] + [outcome(18, 0.62, True), outcome(19, 0.62, True)]


def test_calibration_meets_the_rejection_target_first_then_answers_as_much_as_it_can() -> None:
    thresholds, rejection, false = calibrate(OUT + IN, target=0.9)
    assert rejection == 0.9  # the close out-of-scope question may pass, the nine far ones may not
    assert false == 0.0
    assert all(decide(o, thresholds) for o in IN)


def test_a_stricter_target_costs_the_answerable_questions_that_look_like_out_of_scope_ones() -> None:
    thresholds, rejection, false = calibrate(OUT + IN, target=1.0)
    assert rejection == 1.0
    assert false == 0.2  # the two answerable questions at 0.62 go with the out-of-scope one
    assert not decide(OUT[-1], thresholds)
