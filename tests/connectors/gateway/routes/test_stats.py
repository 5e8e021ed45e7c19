"""``/api/v1/admin/stats``: the console dashboard's figures."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.connectors.gateway.staff_client import client, login, store_of

__all__ = ["client"]  # pytest fixtures used by name


def test_the_dashboard_counts_questions_answers_feedback_and_open_tickets(client: TestClient) -> None:
    store = store_of(client)
    for i, answered in enumerate([True, True, False]):
        store.log_question(
            sender_id=f"web:{i}", lang="en", question=f"q{i}", answered=answered, doc_ids=[], top_score=None
        )
    store.record_feedback(sender_id="web:0", lang="en", rating="good", question="q0", doc_ids=["a.en"])
    store.record_feedback(sender_id="web:1", lang="en", rating="bad", question="q1", doc_ids=["a.en"])
    store.open_ticket(sender_id="web:2", channel="web", lang="en", question="q2", transcript=[])
    stats = client.get("/api/v1/admin/stats", headers=login(client, "vi")).json()
    assert stats == {
        "questions_today": 3,
        "questions_week": 3,
        "answered_share_week": 2 / 3,
        "thumbs_up_week": 1,
        "thumbs_down_week": 1,
        "open_tickets": 1,
    }
    disliked = client.get("/api/v1/admin/feedback", headers=login(client, "vi"), params={"rating": "bad"}).json()
    assert [(f["question"], f["doc_ids"]) for f in disliked] == [("q1", ["a.en"])]
