"""The staff API's test client: a gateway on a small real index, with an admin from the settings and an editor and a viewer."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from connectors.gateway.auth import hasher
from connectors.gateway.main import create_app
from connectors.settings import GatewaySettings
from knowledge.index_files import save_snapshot
from records.store import Records

PASSWORD = "correct horse battery staple"


@pytest.fixture
def client(tmp_path: Path, small_snapshot: Any, embedder: Any) -> Iterator[TestClient]:
    settings = GatewaySettings(
        data_dir=tmp_path, rasa_port=9, action_server_port=9, admin_username="root", admin_password=PASSWORD
    )
    save_snapshot(small_snapshot, settings.index_dir)
    app = create_app(settings)
    with TestClient(app) as test_client:
        state = app.state.gateway
        for _ in range(600):  # the index loads in the background
            if state.retriever is not None:
                break
            time.sleep(0.05)
        state.retriever.embedder = embedder  # reuse the session's model instead of a second copy
        store: Records = state.records
        store.create_user("ed", hasher.hash(PASSWORD), "editor")
        store.create_user("vi", hasher.hash(PASSWORD), "viewer")
        yield test_client


def login(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


NEW_DOC = {
    "title": "Night-time container pickup at Meishan terminal",
    "body": "Trucks can collect containers at the Meishan terminal between 22:00 and 06:00 with a booked slot.\n\n## How to book\n\nBook the slot in the terminal's app a day before.",
    "lang": "en",
    "topic": "port",
    "source_url": "https://example.org/meishan-night-pickup",
    "source_date": "2026-11-20",
}


def store_of(client: TestClient) -> Records:
    store: Records = client.app.state.gateway.records  # type: ignore[attr-defined]
    return store
