"""``/api/v1/admin/audit``: who did what."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.connectors.gateway.staff_client import NEW_DOC, client, login

__all__ = ["client"]  # pytest fixtures used by name


def test_the_audit_log_records_who_did_what(client: TestClient) -> None:
    editor = login(client, "ed")
    doc_id = client.post("/api/v1/admin/documents", headers=editor, json=NEW_DOC).json()["doc_id"]
    client.delete(f"/api/v1/admin/documents/{doc_id}", headers=editor)
    client.post("/api/v1/auth/token", data={"username": "ed", "password": "wrong password"})
    events = client.get("/api/v1/admin/audit", headers=login(client, "root")).json()
    seen = [(e["actor"], e["action"], e["target"]) for e in events]
    assert ("ed", "document_create", doc_id) in seen and ("ed", "document_retire", doc_id) in seen
    assert ("ed", "login", "testclient") in seen and ("ed", "login_failed", "testclient") in seen
