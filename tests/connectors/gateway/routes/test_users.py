"""``/api/v1/admin/users``: admins manage accounts but never remove the last admin."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.connectors.gateway.staff_client import client, login

__all__ = ["client"]  # pytest fixtures used by name


def test_admins_manage_accounts_but_never_remove_the_last_admin(client: TestClient) -> None:
    admin = login(client, "root")
    created = client.post(
        "/api/v1/admin/users",
        headers=admin,
        json={"username": "li.wei", "password": "a long password!", "role": "viewer"},
    )
    assert created.status_code == 201 and created.json()["role"] == "viewer"
    assert (
        client.post(
            "/api/v1/admin/users",
            headers=admin,
            json={"username": "li.wei", "password": "a long password!", "role": "viewer"},
        ).status_code
        == 409
    )
    promoted = client.patch("/api/v1/admin/users/li.wei", headers=admin, json={"role": "editor"})
    assert promoted.json()["role"] == "editor"
    login(client, "li.wei", "a long password!")
    client.patch("/api/v1/admin/users/li.wei", headers=admin, json={"active": False})
    assert (
        client.post("/api/v1/auth/token", data={"username": "li.wei", "password": "a long password!"}).status_code
        == 401
    )
    last = client.patch("/api/v1/admin/users/root", headers=admin, json={"role": "viewer"})
    assert last.status_code == 409 and "last active admin" in last.json()["error"]["message"]
    short = client.post(
        "/api/v1/admin/users", headers=admin, json={"username": "x1y", "password": "short", "role": "viewer"}
    )
    assert short.status_code == 422
