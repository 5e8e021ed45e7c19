"""``/api/v1/auth``: the first admin, tokens carrying the role, wrong passwords refused then rate limited."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.connectors.gateway.staff_client import PASSWORD, client

__all__ = ["client"]  # pytest fixtures used by name


def test_the_first_admin_comes_from_the_settings_and_tokens_carry_the_role(client: TestClient) -> None:
    response = client.post("/api/v1/auth/token", data={"username": "root", "password": PASSWORD})
    assert response.status_code == 200
    assert response.json()["token_type"] == "bearer" and response.json()["role"] == "admin"


def test_wrong_passwords_are_refused_then_rate_limited(client: TestClient) -> None:
    for _ in range(5):
        wrong = client.post("/api/v1/auth/token", data={"username": "ed", "password": "guess"})
        assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_credentials"
    limited = client.post("/api/v1/auth/token", data={"username": "ed", "password": PASSWORD})
    assert limited.status_code == 429 and limited.headers["retry-after"] == "60"
