"""``action_answer_question`` on trackers built from JSON fixtures, against the real search."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import knowledge_base
from actions.answers import ActionAnswerQuestion
from knowledge.answers import trim_to_sentence
from knowledge.search import HybridRetriever

FIXTURES = Path(__file__).parent / "fixtures"
HAN = re.compile(r"[\u4e00-\u9fff]")


def tracker_from(name: str) -> Tracker:
    return Tracker.from_dict(json.loads((FIXTURES / name).read_text(encoding="utf-8")))


def run_action(tracker: Tracker) -> list[dict[str, Any]]:
    dispatcher = CollectingDispatcher()
    asyncio.run(ActionAnswerQuestion().run(dispatcher, tracker, {}))
    return dispatcher.messages


@pytest.fixture(autouse=True)
def _search_with(retriever: HybridRetriever) -> None:
    knowledge_base.use(retriever)


def test_an_english_question_gets_a_cited_english_answer() -> None:
    [message] = run_action(tracker_from("question_en.json"))
    citations = message["custom"]["citations"]
    assert citations and citations[0]["doc_id"].endswith(".en")
    assert citations[0]["source_url"].startswith(("http://", "https://"))
    assert "9610" in message["text"]
    assert "Source:" in message["text"] and "Last reviewed" in message["text"]
    assert not HAN.search(message["text"].split("Source:")[0].split("—")[-1])
    assert all(b["payload"] and b["title"] for b in message["buttons"])
    related = [b for b in message["buttons"] if not b["payload"].startswith("/")]
    assert len(related) <= 3
    assert [b["payload"] for b in message["buttons"][-2:]] == ["/feedback_good", "/feedback_bad"]


def test_a_chinese_question_gets_a_chinese_answer_with_its_source() -> None:
    [message] = run_action(tracker_from("question_zh.json"))
    assert message["custom"]["citations"][0]["doc_id"].endswith(".zh")
    assert "来源" in message["text"]
    assert HAN.search(message["text"])


def test_an_unanswerable_question_is_admitted_not_guessed() -> None:
    [message] = run_action(tracker_from("out_of_scope_en.json"))
    assert message["custom"]["citations"] == []
    assert "could not find" in message["text"]
    assert message["buttons"][-1]["payload"] == "/request_human"
    assert not any(b["payload"].startswith("/feedback") for b in message["buttons"])


def test_a_search_failure_sends_the_unavailable_response(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(timeout: float = 0) -> HybridRetriever:
        raise RuntimeError("index files missing")

    monkeypatch.setattr(knowledge_base, "retriever", broken)
    [message] = run_action(tracker_from("question_en.json"))
    assert message["response"] == "utter_answer_unavailable"


def test_answers_are_trimmed_at_a_sentence_boundary() -> None:
    text = "First sentence is here. " * 40
    trimmed = trim_to_sentence(text, limit=200)
    assert len(trimmed) <= 200 and trimmed.endswith(".")
    chinese = "这是第一句话。" * 60
    trimmed = trim_to_sentence(chinese, limit=100)
    assert trimmed.endswith("。") and len(trimmed) <= 100


@pytest.mark.parametrize(
    "text",
    [
        "",
        "🚢🚢🚢👍",
        "a" * 2000,
        "九六一零" * 500,
        "9610和9810 difference 区别?? ＡＢＣ １２３ 🙂",
        "\u202e\u200bHello\u0000 world",
    ],
)
def test_bad_input_gets_a_clear_reply_and_never_an_error(text: str) -> None:
    from tests.actions.helpers import make_tracker

    [message] = run_action(make_tracker(text))
    assert message.get("text"), message  # a sentence the trader can read, not the "unavailable" response
    assert "custom" in message and isinstance(message["custom"]["citations"], list)
