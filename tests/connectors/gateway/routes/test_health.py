"""``GET /healthz``: names the failing components."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.connectors.gateway.chat_client import client, settings

__all__ = ["client", "settings"]  # pytest fixtures used by name


def test_health_names_the_failing_components(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 503
    components = response.json()["components"]
    assert components["rasa"] == "unreachable"
    assert components["actions"] == "unreachable"
    assert "index" in components
