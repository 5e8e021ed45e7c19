"""Roles on every staff route (``deps.Viewer``/``Editor``/``Admin``): no token 401, a lower role 403."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.connectors.gateway.staff_client import NEW_DOC, client, login

__all__ = ["client"]  # pytest fixtures used by name

# The lowest role each staff route lets through. Reads are for viewers, changes for editors, unless
# listed here. A new route falls under that default, so it cannot be forgotten: the walk below checks it.
LOWEST_ROLE = {
    ("post", "/api/v1/admin/hit-test"): "viewer",
    ("get", "/api/v1/admin/users"): "admin",
    ("post", "/api/v1/admin/users"): "admin",
    ("patch", "/api/v1/admin/users/{username}"): "admin",
    ("get", "/api/v1/admin/audit"): "admin",
}


EXAMPLE_PATH_VALUES = {"{doc_id}": "customs-9610.en", "{ticket_id}": "1", "{username}": "vi", "{sender_id}": "web:x"}


def test_every_admin_route_needs_a_token_and_the_right_role(client: TestClient) -> None:
    below = {"editor": login(client, "vi"), "admin": login(client, "ed")}
    schema = client.get("/openapi.json").json()
    checked = 0
    for path, operations in schema["paths"].items():
        if not path.startswith("/api/v1/admin"):
            continue
        concrete = path
        for name, value in EXAMPLE_PATH_VALUES.items():
            concrete = concrete.replace(name, value)
        for method in operations:
            needed = LOWEST_ROLE.get((method, path), "viewer" if method == "get" else "editor")
            anonymous = client.request(method, concrete, params={"version": 1}, json=NEW_DOC)
            assert anonymous.status_code == 401, (method, path)
            bad_token = client.request(method, concrete, headers={"Authorization": "Bearer x.y.z"}, json=NEW_DOC)
            assert bad_token.status_code == 401, (method, path)
            if needed in below:
                too_low = client.request(method, concrete, headers=below[needed], params={"version": 1}, json=NEW_DOC)
                assert too_low.status_code == 403, (method, path, too_low.text)
                assert too_low.json()["error"]["code"] == "forbidden"
            checked += 1
    assert checked >= 20
