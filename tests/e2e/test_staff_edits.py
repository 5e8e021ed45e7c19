"""A staff edit on the real stack reaches the bot's answers within seconds, with no retraining or restart."""

from __future__ import annotations

import time

import httpx
import pytest

from scripts.devstack import LocalStack
from tests.e2e.conftest import E2E_ADMIN

pytestmark = pytest.mark.e2e


def test_a_new_document_is_answered_in_chat_within_two_seconds_and_retiring_it_stops_that(stack: LocalStack) -> None:
    token = httpx.post(
        f"{stack.url}/api/v1/auth/token", data={"username": E2E_ADMIN[0], "password": E2E_ADMIN[1]}, timeout=10
    ).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    document = {
        "title": "Lishe airport cold-chain export hall opening hours",
        "body": "The cold-chain export hall at Ningbo Lishe airport accepts perishable cargo from 06:00 to 23:00 every day.",
        "lang": "en",
        "topic": "port",
        "source_url": "https://example.org/lishe-cold-chain",
        "source_date": "2026-11-28",
        "confidence": "high",
    }
    created = httpx.post(f"{stack.url}/api/v1/admin/documents", json=document, headers=auth, timeout=30)
    assert created.status_code == 201, created.text
    doc_id = created.json()["doc_id"]
    saved_at = time.monotonic()
    [answer] = stack.chat("When does the Lishe airport cold-chain export hall open?").json()["messages"]
    assert time.monotonic() - saved_at < 2.0
    assert answer["citations"][0]["doc_id"] == doc_id and "06:00" in answer["text"]

    assert httpx.delete(f"{stack.url}/api/v1/admin/documents/{doc_id}", headers=auth, timeout=30).status_code == 200
    [after] = stack.chat("When does the Lishe airport cold-chain export hall open?").json()["messages"]
    assert all(c["doc_id"] != doc_id for c in after["citations"])
