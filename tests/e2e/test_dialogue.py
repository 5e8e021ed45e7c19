"""The dialogue on the real stack: advisors, follow-ups, feedback, handoff and language switching."""

from __future__ import annotations

import re
import sqlite3
from typing import Any

import pytest

from scripts.devstack import LocalStack

pytestmark = pytest.mark.e2e
HAN = re.compile(r"[\u4e00-\u9fff]")


class Conversation:
    def __init__(self, stack: LocalStack, lang: str | None = None) -> None:
        self.stack, self.session_id, self.lang = stack, None, lang

    def say(self, message: str) -> list[dict[str, Any]]:
        extra = {"lang": self.lang} if self.lang else {}
        response = self.stack.chat(message, session_id=self.session_id, **extra)
        assert response.status_code == 200, response.text
        body = response.json()
        self.session_id = body["session_id"]
        return list(body["messages"])

    def text(self, message: str) -> str:
        return "\n".join(m["text"] for m in self.say(message))


def rows(stack: LocalStack, query: str, *params: object) -> list[tuple[Any, ...]]:
    with sqlite3.connect(stack.data_dir / "assistant.db") as db:
        return list(db.execute(query, params))


def test_customs_advisor_recommends_9810_for_an_overseas_warehouse(stack: LocalStack) -> None:
    chat = Conversation(stack)
    first = chat.say("/start_customs_advisor")
    assert [b["title"] for b in first[0]["buttons"]] == ["Export", "Import"]
    chat.say("Export")
    chat.say("A foreign company, via an e-commerce platform")
    [answer] = chat.say("To an overseas warehouse first")
    assert "Recommended: 9810" in answer["text"]
    assert answer["citations"][0]["doc_id"] == "howto-choose-customs-code.en"


def test_odi_advisor_in_chinese_re_asks_a_bad_amount_and_gives_the_route(stack: LocalStack) -> None:
    chat = Conversation(stack, lang="zh")
    assert "投资主体" in chat.text("帮我判断一下境外投资要办哪些手续")
    assert "国家或地区" in chat.text("民营企业")
    assert "行业" in chat.text("越南")
    chat.say("制造业")
    assert "看起来不对" in chat.text("-5万美元")
    chat.say("500万美元")
    [answer] = chat.say("否")
    assert "浙江省发展改革委" in answer["text"] and "越南" in answer["text"]
    assert {"odi-ndrc-approval-vs-filing.zh", "howto-file-odi.zh"} <= {c["doc_id"] for c in answer["citations"]}


def test_stop_leaves_the_advisor_and_questions_work_again(stack: LocalStack) -> None:
    chat = Conversation(stack)
    chat.say("/start_odi_advisor")
    assert "stopped" in chat.text("stop")
    [answer] = chat.say("What does the 9710 code cover?")
    assert answer["citations"] and "9710" in answer["text"]


def test_a_follow_up_is_answered_in_the_context_of_the_previous_question(stack: LocalStack) -> None:
    chat = Conversation(stack)
    [first] = chat.say("What is the Hangzhou area of the free trade zone for?")
    assert first["citations"][0]["doc_id"] == "ftz-hangzhou-area.en"
    [second] = chat.say("and for Ningbo?")
    # The follow-up is searched as "What is the Ningbo area of the free trade zone for?".
    assert second["citations"] and second["citations"][0]["doc_id"] != first["citations"][0]["doc_id"]
    assert "Ningbo" in second["text"].split("Source:")[0]


def test_thumbs_down_with_a_comment_is_recorded_for_staff(stack: LocalStack) -> None:
    chat = Conversation(stack)
    [answer] = chat.say("How long does the Yiwu to Europe train take?")
    assert "/feedback_bad" in [b["payload"] for b in answer["buttons"]]
    [ask] = chat.say("/feedback_bad")
    assert "What was wrong" in ask["text"]
    chat.say("Out of date")
    [(rating, comment, doc_ids)] = rows(
        stack, "select rating, comment, doc_ids from feedback where sender_id = ?", f"web:{chat.session_id}"
    )
    assert (rating, comment) == ("bad", "Out of date")
    assert answer["citations"][0]["doc_id"] in doc_ids


def test_asking_for_a_person_opens_a_ticket_with_the_transcript(stack: LocalStack) -> None:
    chat = Conversation(stack)
    chat.say("Can I get a subsidy for a new factory in Jinhua?")
    reply = chat.text("转人工")
    assert "#" in reply
    [(status, transcript)] = rows(
        stack, "select status, transcript from handoff_ticket where sender_id = ?", f"web:{chat.session_id}"
    )
    assert status == "open" and "subsidy" in transcript


def test_switching_language_sticks_for_the_session(stack: LocalStack) -> None:
    chat = Conversation(stack)
    assert HAN.search(chat.text("/lang zh"))
    assert HAN.search(chat.text("hello there"))  # English message, Chinese reply: the choice is kept
    assert not HAN.search(chat.text("please answer in English from now on"))
