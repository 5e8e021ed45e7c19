"""One error shape for every route, and the knowledge and records error trees mapped to HTTP in one place."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.connectors.gateway.chat_client import client, settings

__all__ = ["client", "settings"]  # pytest fixtures used by name


def test_unknown_routes_and_methods_use_the_error_shape(client: TestClient) -> None:
    assert client.get("/nope").json()["error"]["code"] == "not_found"
    assert client.get("/api/v1/chat").json()["error"]["code"] == "method_not_allowed"


def test_the_knowledge_error_tree_maps_to_http_statuses_in_one_place() -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from connectors.gateway.errors import install_error_handlers
    from knowledge.errors import Conflict, IndexMismatchError, Invalid, NotFound, QueryError, VersionConflict

    app = FastAPI()
    install_error_handlers(app)
    raised = {
        "missing": NotFound("No document x.en."),
        "stale": VersionConflict("x.en", 1, 2),
        "last-admin": Conflict("the last active admin", code="last_admin"),
        "role": Invalid("role must be one of ..."),
        "query": QueryError("k must be between 1 and 50"),
        "index": IndexMismatchError("built with another model"),
    }

    @app.get("/raise/{name}")
    async def _raise(name: str) -> None:
        raise raised[name]

    client = TestClient(app, raise_server_exceptions=False)
    expected = {
        "missing": (404, "not_found"),
        "stale": (409, "edit_conflict"),
        "last-admin": (409, "last_admin"),
        "role": (422, "invalid_request"),
        "query": (422, "invalid_query"),
        "index": (503, "index_unavailable"),  # not a bad query: the server's index needs rebuilding
    }
    for name, (status, code) in expected.items():
        response = client.get(f"/raise/{name}")
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), name
        assert response.json()["error"]["message"] == str(raised[name])
