"""The chat side's test client: the gateway with Rasa behind an ``httpx.MockTransport``.

The real Rasa is exercised by tests/e2e; here every edge of the mapping and every error path can be
driven precisely."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from connectors.gateway.main import create_app
from connectors.settings import GatewaySettings

Handler = Callable[[httpx.Request], httpx.Response]


def rasa_replying(messages: list[dict[str, Any]], seen: list[dict[str, Any]] | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/webhooks/rest/webhook":
            if seen is not None:
                seen.append(json.loads(request.content))
            return httpx.Response(200, json=messages)
        if request.url.path == "/":
            return httpx.Response(200, text="Hello from Rasa: 3.6.21")
        if request.url.path == "/health":
            return httpx.Response(200, json={"status": "ok"})
        return httpx.Response(404)

    return handler


@pytest.fixture
def settings(tmp_path: Any) -> GatewaySettings:
    # Ports nobody listens on: without a mock, Rasa and the action server are "down".
    return GatewaySettings(data_dir=tmp_path, rasa_port=9, action_server_port=9, rasa_timeout_seconds=2)


@pytest.fixture
def client(settings: GatewaySettings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def mock_rasa(client: TestClient, handler: Handler) -> None:
    state = client.app.state.gateway  # type: ignore[attr-defined]
    state.rasa.http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
