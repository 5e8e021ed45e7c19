"""``/api/v1/admin/tickets``: claimed, answered and closed; the reply reaches the widget."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.connectors.gateway.staff_client import client, login, store_of

__all__ = ["client"]  # pytest fixtures used by name


def test_tickets_are_claimed_answered_and_closed_and_the_widget_gets_the_reply(client: TestClient) -> None:
    store = store_of(client)
    ticket = store.open_ticket(
        sender_id="web:abcdefghijklmnopqrstuvwx", channel="web", lang="en", question="call me", transcript=[]
    )
    editor = login(client, "ed")
    listed = client.get("/api/v1/admin/tickets", headers=login(client, "vi"), params={"status": "open"}).json()
    assert [t["id"] for t in listed] == [ticket.id]
    reply = client.post(
        f"/api/v1/admin/tickets/{ticket.id}/reply", headers=editor, json={"text": "We will call at 3 pm."}
    )
    assert reply.status_code == 200 and reply.json()["outcome"] == "queued"
    updates = client.get("/api/v1/chat/updates", params={"session_id": "abcdefghijklmnopqrstuvwx"}).json()
    assert [m["text"] for m in updates["messages"]] == ["We will call at 3 pm."]
    closed = client.post(f"/api/v1/admin/tickets/{ticket.id}/status", headers=editor, json={"status": "closed"})
    assert closed.json()["status"] == "closed"
    assert client.post("/api/v1/admin/tickets/999/status", headers=editor, json={"status": "closed"}).status_code == 404
    bad = client.post(f"/api/v1/admin/tickets/{ticket.id}/status", headers=editor, json={"status": "done"})
    assert bad.status_code == 422
