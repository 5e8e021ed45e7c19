"""``/api/v1/admin/conversations``: Rasa's stored conversations, listed, searched and read."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

from fastapi.testclient import TestClient

from tests.connectors.gateway.staff_client import client, login

__all__ = ["client"]  # pytest fixtures used by name


def _rasa_tracker(path: Path) -> None:
    """A tracker database with the columns of Rasa 3.6's SQL tracker store (``events`` table)."""
    with sqlite3.connect(path) as connection:
        connection.execute(
            "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255), type_name VARCHAR(255), "
            "timestamp FLOAT, intent_name VARCHAR(255), action_name VARCHAR(255), data TEXT)"
        )
        now = time.time()
        rows = [
            ("web:one", "user", now - 5, json.dumps({"event": "user", "text": "how do I ship by train"})),
            ("web:one", "bot", now - 4, json.dumps({"event": "bot", "text": "**Yiwu–Europe** railway …"})),
            ("tg:42", "user", now - 3, json.dumps({"event": "user", "text": "hello"})),
        ]
        connection.executemany("INSERT INTO events (sender_id, type_name, timestamp, data) VALUES (?, ?, ?, ?)", rows)


def test_conversations_are_listed_searchable_and_readable(client: TestClient) -> None:
    settings = client.app.state.gateway.settings  # type: ignore[attr-defined]
    viewer = login(client, "vi")
    assert client.get("/api/v1/admin/conversations", headers=viewer).json() == []  # Rasa has stored nothing yet
    _rasa_tracker(Path(settings.tracker_url.removeprefix("sqlite:///")))
    everything = client.get("/api/v1/admin/conversations", headers=viewer).json()
    assert [c["sender_id"] for c in everything] == ["tg:42", "web:one"]
    found = client.get("/api/v1/admin/conversations", headers=viewer, params={"q": "train"}).json()
    assert [c["sender_id"] for c in found] == ["web:one"] and found[0]["preview"] == "how do I ship by train"
    turns = client.get("/api/v1/admin/conversations/web:one", headers=viewer).json()
    assert [(t["who"], t["text"][:6]) for t in turns] == [("user", "how do"), ("bot", "**Yiwu")]
    assert client.get("/api/v1/admin/conversations/web:none", headers=viewer).status_code == 404
