"""The real stack end to end: gateway -> Rasa 3.6 -> rasa-sdk action server -> hybrid search."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import time

import httpx
import pytest

from scripts.devstack import LocalStack

pytestmark = pytest.mark.e2e
HAN = re.compile(r"[\u4e00-\u9fff]")


def user_messages(stack: LocalStack, session_id: str) -> list[str]:
    """What Rasa's SQL tracker store holds as this web session's user messages."""
    with sqlite3.connect(stack.data_dir / "conversations.sqlite") as db:
        query = "select json_extract(data, '$.text') from events where sender_id = ? and type_name = 'user'"
        return [row[0] for row in db.execute(query, (f"web:{session_id}",))]


def test_health_reports_every_component_up(stack: LocalStack) -> None:
    body = httpx.get(f"{stack.url}/healthz", timeout=10).json()
    assert body["status"] == "ok"
    assert body["components"]["rasa"] == "ok"
    assert body["components"]["actions"] == "ok"
    assert body["components"]["index"].startswith("ok")


def test_hello_and_nihao_are_answered_in_their_own_language(stack: LocalStack) -> None:
    english = stack.chat("hello")
    chinese = stack.chat("你好")
    assert english.status_code == chinese.status_code == 200
    assert not HAN.search(english.json()["messages"][0]["text"])
    assert HAN.search(chinese.json()["messages"][0]["text"])
    asked_in_chinese = stack.chat("hello", lang="zh")
    assert HAN.search(asked_in_chinese.json()["messages"][0]["text"])


def test_an_english_question_gets_a_cited_answer_from_the_action_server(stack: LocalStack) -> None:
    response = stack.chat("Which customs code do I use for parcels sold to consumers abroad?")
    assert response.status_code == 200
    [message] = response.json()["messages"]
    # The sentence that answers comes first; a close second from another document may be cited too.
    citations = message["citations"]
    assert citations[0]["doc_id"] in {"customs-9610.en", "howto-choose-customs-code.en", "customs-codes-overview.en"}
    assert all(c["source_url"].startswith("http") for c in citations) and len(citations) <= 3
    assert "9610" in message["text"]


def test_a_chinese_question_gets_a_chinese_cited_answer(stack: LocalStack) -> None:
    response = stack.chat("义乌市场采购每票报关单最多多少美元？")
    [message] = response.json()["messages"]
    assert message["citations"] and message["citations"][0]["doc_id"].endswith(".zh")
    assert HAN.search(message["text"])


def test_the_conversation_is_stored_under_a_namespaced_sender(stack: LocalStack) -> None:
    first = stack.chat("hi")
    session_id = first.json()["session_id"]
    stack.chat("thanks", session_id=session_id)
    texts = user_messages(stack, session_id)
    assert texts == ["hi", "thanks"]


def test_bad_input_gets_4xx_and_the_stack_stays_up(stack: LocalStack) -> None:
    assert stack.chat("").status_code == 422
    assert stack.chat("x" * 5000).status_code == 422
    raw = httpx.post(f"{stack.url}/api/v1/chat", content=b"{not json", headers={"content-type": "application/json"})
    assert raw.status_code == 400 and raw.json()["error"]["code"] == "invalid_json"
    assert httpx.get(f"{stack.url}/healthz", timeout=10).status_code == 200


def test_action_server_down_gives_a_clear_503_then_answers_resume(own_stack: LocalStack) -> None:
    stack = own_stack  # it kills a process: never the stack the other tests share
    os.killpg(stack.pid("actions"), signal.SIGKILL)  # the server and its workers
    started = time.monotonic()
    response = stack.chat("what is market procurement trade")
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "actions_unavailable"
    stack.wait_healthy(120)  # the supervisor restarts it; nothing else is restarted
    assert stack.chat("what is market procurement trade").json()["messages"][0]["citations"]


def test_rasa_down_gives_503_naming_it_and_history_survives_the_crash(own_stack: LocalStack) -> None:
    stack = own_stack
    session_id = stack.chat("hello").json()["session_id"]
    os.killpg(stack.pid("rasa"), signal.SIGKILL)
    started = time.monotonic()
    response = stack.chat("hello again", session_id=session_id)
    assert time.monotonic() - started < 5
    assert response.status_code == 503 and response.json()["error"]["code"] == "engine_unavailable"
    health = httpx.get(f"{stack.url}/healthz", timeout=10)
    assert health.status_code == 503 and health.json()["components"]["rasa"] != "ok"
    stack.wait_healthy(180)
    assert stack.chat("thanks", session_id=session_id).status_code == 200
    texts = user_messages(stack, session_id)
    assert texts == ["hello", "thanks"]
