"""The app itself: CORS allows only the configured sites."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from connectors.gateway.main import create_app
from connectors.settings import GatewaySettings
from tests.connectors.gateway.chat_client import client, settings

__all__ = ["client", "settings"]  # pytest fixtures used by name


def test_cors_allows_only_the_configured_sites(tmp_path: Any) -> None:
    settings = GatewaySettings(
        data_dir=tmp_path, rasa_port=9, action_server_port=9, widget_allowed_origins=["https://portal.example"]
    )
    with TestClient(create_app(settings)) as client:
        preflight = {"access-control-request-method": "POST", "access-control-request-headers": "content-type"}
        allowed = client.options("/api/v1/chat", headers={"origin": "https://portal.example", **preflight})
        assert allowed.headers.get("access-control-allow-origin") == "https://portal.example"
        refused = client.options("/api/v1/chat", headers={"origin": "https://evil.example", **preflight})
        assert "access-control-allow-origin" not in refused.headers
