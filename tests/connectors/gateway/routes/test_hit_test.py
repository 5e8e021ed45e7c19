"""``/api/v1/admin/hit-test``: ranked passages with their evidence and the bot's answer."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.connectors.gateway.staff_client import client, login

__all__ = ["client"]  # pytest fixtures used by name


def test_hit_testing_shows_ranked_passages_with_their_evidence_and_the_bots_answer(client: TestClient) -> None:
    response = client.post(
        "/api/v1/admin/hit-test", headers=login(client, "vi"), json={"question": "which customs code is 9610"}
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["lang"] == "en" and result["hits"]
    top = result["hits"][0]
    assert top["rank"] == 1 and "9610" in top["text"]
    assert top["exact_match"] and "exact" in top["found_by"] and top["ranks"]["exact"] >= 1
    # The bot's answer leads with the sentence that answers, from one of the ranked documents.
    cited = result["answer"]["citations"][0]
    assert result["answered"] and cited["doc_id"] in [h["doc_id"] for h in result["hits"]]
    assert cited["title"] in result["answer"]["text"] and "9610" in result["answer"]["text"]
    refused = client.post("/api/v1/admin/hit-test", headers=login(client, "vi"), json={"question": "   "})
    assert refused.status_code == 422 and refused.json()["error"]["message"]
