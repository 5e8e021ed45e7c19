"""``POST /api/v1/chat``: the fixed shape, sessions, languages, commands, bad input, Rasa down or silent, embed-ahead."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from connectors.gateway.main import create_app
from connectors.settings import GatewaySettings
from tests.connectors.gateway.chat_client import client, mock_rasa, rasa_replying, settings

__all__ = ["client", "settings"]  # pytest fixtures used by name


def test_chat_returns_the_fixed_shape_with_citations_merged_into_their_text(client: TestClient) -> None:
    seen: list[dict[str, Any]] = []
    mock_rasa(
        client,
        rasa_replying(
            [
                {"recipient_id": "x", "text": "Use 9610.", "buttons": [{"title": "More", "payload": "more"}]},
                {
                    "recipient_id": "x",
                    "custom": {
                        "citations": [
                            {"doc_id": "customs-9610.en", "title": "9610", "source_url": "https://example.org/a"}
                        ]
                    },
                },
                {"recipient_id": "x", "text": "Anything else?"},
                {"recipient_id": "x", "image": "https://example.org/x.png"},
            ],
            seen,
        ),
    )
    response = client.post("/api/v1/chat", json={"message": "  which code for parcels  "})
    assert response.status_code == 200
    body = response.json()
    assert body["messages"] == [
        {
            "text": "Use 9610.",
            "buttons": [{"title": "More", "payload": "more"}],
            "citations": [{"doc_id": "customs-9610.en", "title": "9610", "source_url": "https://example.org/a"}],
        },
        {"text": "Anything else?", "buttons": [], "citations": []},
    ]
    assert seen[0]["sender"] == f"web:{body['session_id']}"
    assert seen[0]["message"] == "which code for parcels"
    # No language was asked for: Rasa detects it from the message (nlu_components.language).
    assert seen[0]["metadata"] == {"channel": "web"}


def test_a_new_session_id_is_unguessable_and_a_given_one_is_kept(client: TestClient) -> None:
    mock_rasa(client, rasa_replying([{"text": "hi"}]))
    ids = {client.post("/api/v1/chat", json={"message": "hello"}).json()["session_id"] for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) >= 32 for i in ids)  # token_urlsafe(24): 192 random bits
    given = "my-session-0123456789"
    assert client.post("/api/v1/chat", json={"message": "hi", "session_id": given}).json()["session_id"] == given


def test_a_requested_language_is_passed_to_rasa_and_otherwise_left_to_detection(client: TestClient) -> None:
    seen: list[dict[str, Any]] = []
    mock_rasa(client, rasa_replying([{"text": "ok"}], seen))
    client.post("/api/v1/chat", json={"message": "你好"})
    client.post("/api/v1/chat", json={"message": "hello", "lang": "zh"})
    client.post("/api/v1/chat", json={"message": "/lang en"})
    assert [m["metadata"].get("lang") for m in seen] == [None, "zh", "en"]
    assert seen[2]["message"] == '/switch_language{"language": "en"}'


def test_a_language_chosen_in_the_conversation_is_kept_for_the_session(client: TestClient) -> None:
    seen: list[dict[str, Any]] = []
    switched = [{"text": "好的，接下来我会用中文回答。"}, {"custom": {"set_language": "zh"}}]
    mock_rasa(client, rasa_replying(switched, seen))
    first = client.post("/api/v1/chat", json={"message": "please answer in Chinese"}).json()
    # The preference payload is for the gateway, not shown to the user.
    assert first["messages"] == [{"text": "好的，接下来我会用中文回答。", "buttons": [], "citations": []}]
    mock_rasa(client, rasa_replying([{"text": "ok"}], seen))
    session = first["session_id"]
    client.post("/api/v1/chat", json={"message": "what is 9610", "session_id": session})
    client.post("/api/v1/chat", json={"message": "what is 9610"})  # another session: no preference
    client.post("/api/v1/chat", json={"message": "what is 9610", "session_id": session, "lang": "en"})
    assert [m["metadata"].get("lang") for m in seen] == [None, "zh", None, "en"]


def test_slash_commands_become_intents_and_other_slash_text_cannot_set_slots(client: TestClient) -> None:
    seen: list[dict[str, Any]] = []
    mock_rasa(client, rasa_replying([{"text": "ok"}], seen))
    for typed in ("/human", "/start", '/ask_question{"language": "xx"}'):
        client.post("/api/v1/chat", json={"message": typed})
    assert [m["message"] for m in seen] == ["/request_human", "/greet", 'ask_question{"language": "xx"}']


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"message": ""}, 422, "empty_message"),
        ({"message": "   \n\t "}, 422, "empty_message"),
        ({"message": "x" * 2001}, 422, "message_too_long"),
        ({"message": 42}, 422, "invalid_request"),
        ({"message": ["hi"]}, 422, "invalid_request"),
        ({}, 422, "invalid_request"),
        ({"message": "hi", "colour": "red"}, 422, "invalid_request"),
        ({"message": "hi", "session_id": 12345}, 422, "invalid_request"),
        ({"message": "hi", "session_id": "short"}, 422, "invalid_session_id"),
        ({"message": "hi", "session_id": "../../etc/passwd-xxxxxxxx"}, 422, "invalid_session_id"),
        ({"message": "hi", "lang": "fr"}, 422, "invalid_request"),
        ([1, 2, 3], 400, "invalid_json"),
    ],
)
def test_bad_chat_requests_get_a_clear_json_error(client: TestClient, body: Any, status: int, code: str) -> None:
    response = client.post("/api/v1/chat", json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b'{"message": "hi"', "application/json"),
        (b"message=hi", "application/json"),
        ('{"message": "你好"}'.encode("gbk"), "application/json"),
        (b"\xff\xfe\x00garbage", "application/json"),
        (b"", "application/json"),
    ],
)
def test_malformed_or_non_utf8_bodies_are_rejected(client: TestClient, content: bytes, content_type: str) -> None:
    response = client.post("/api/v1/chat", content=content, headers={"content-type": content_type})
    assert 400 <= response.status_code < 500
    assert response.json()["error"]["code"] in {"invalid_json", "invalid_request"}
    assert set(client.get("/healthz").json()["components"]) == {"rasa", "actions", "index"}  # still serving


def test_chat_answers_503_quickly_when_rasa_is_down(client: TestClient) -> None:
    started = time.monotonic()
    response = client.post("/api/v1/chat", json={"message": "hello"})
    assert time.monotonic() - started < 5
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "engine_unavailable"


def test_chat_answers_503_when_rasa_times_out(client: TestClient) -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("too slow", request=request)

    mock_rasa(client, slow)
    response = client.post("/api/v1/chat", json={"message": "hello"})
    assert response.status_code == 503
    assert "try again" in response.json()["error"]["message"]


def test_silence_from_rasa_with_the_action_server_down_names_the_actions(client: TestClient) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health":
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json=[])

    mock_rasa(client, handler)
    response = client.post("/api/v1/chat", json={"message": "what is 9610"})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "actions_unavailable"


def test_typed_messages_are_embedded_ahead_and_a_failing_action_server_changes_no_reply(
    settings: GatewaySettings,
) -> None:
    calls: list[tuple[str, Any]] = []
    failing = {"on": False}

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        calls.append((request.url.path, body))
        if request.url.path == "/embed-ahead":
            if failing["on"]:
                raise httpx.ConnectError("action server down")
            return httpx.Response(202, json={"accepted": True})
        return httpx.Response(200, json=[{"recipient_id": "x", "text": "Use 9610."}])

    def chat(client: TestClient, message: str) -> list[tuple[str, Any]]:
        calls.clear()
        response = client.post("/api/v1/chat", json={"message": message})
        assert response.status_code == 200 and response.json()["messages"][0]["text"] == "Use 9610."
        time.sleep(0.2)  # the embed-ahead request is not awaited by the reply
        return sorted(calls, key=lambda call: call[0])

    with TestClient(create_app(settings)) as client:
        mock_rasa(client, handler)
        [ahead, rasa] = chat(client, "  Which code for my parcels?  ")
        # The action server gets exactly the text Rasa gets, which is what the answer action searches.
        assert ahead == ("/embed-ahead", {"text": "Which code for my parcels?"})
        assert rasa[0] == "/webhooks/rest/webhook" and rasa[1]["message"] == "Which code for my parcels?"
        # Buttons and commands reach Rasa as "/intent": nothing to search, nothing to embed.
        assert [path for path, _ in chat(client, "/human")] == ["/webhooks/rest/webhook"]
        failing["on"] = True
        assert [path for path, _ in chat(client, "9610 or 1210?")] == ["/embed-ahead", "/webhooks/rest/webhook"]

    with TestClient(create_app(settings.model_copy(update={"embed_ahead": False}))) as client:
        mock_rasa(client, handler)
        assert [path for path, _ in chat(client, "9610 or 1210?")] == ["/webhooks/rest/webhook"]


def test_under_load_messages_are_not_embedded_ahead() -> None:
    import asyncio

    from connectors.rasa_client import EMBED_AHEAD_WHILE_IN_FLIGHT, RasaClient

    ahead: list[str] = []

    async def run() -> None:
        release = asyncio.Event()

        async def handler(request: httpx.Request) -> httpx.Response:
            if request.url.path == "/embed-ahead":
                ahead.append(json.loads(request.content)["text"])
                return httpx.Response(202)
            await release.wait()  # Rasa busy: every message stays in flight
            return httpx.Response(200, json=[{"text": "ok"}])

        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        client = RasaClient(http, ["http://rasa"], "http://actions", 5, 1, embed_ahead=True)
        sends = [asyncio.create_task(client.send(f"s{i}", f"question {i}", {})) for i in range(6)]
        await asyncio.sleep(0.1)
        release.set()
        assert all(reply == [{"text": "ok"}] for reply in await asyncio.gather(*sends))
        await client.send("s9", "question 9", {})  # quiet again
        await asyncio.sleep(0.05)

    asyncio.run(run())
    assert ahead == [f"question {i}" for i in range(EMBED_AHEAD_WHILE_IN_FLIGHT)] + ["question 9"]
