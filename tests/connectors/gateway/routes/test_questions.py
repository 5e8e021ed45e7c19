"""``/api/v1/admin/questions``: the queue of unanswered and disliked questions, grouped."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.connectors.gateway.staff_client import client, login, store_of

__all__ = ["client"]  # pytest fixtures used by name


def test_the_questions_queue_groups_similar_gaps_biggest_first(client: TestClient) -> None:
    store = store_of(client)
    for text in [
        "how do I get a halal certificate for food exports",
        "halal certificate for exporting food?",
        "where to apply for a halal certification for food",
        "can I bring my dog on the Yiwu train",
    ]:
        store.log_question(sender_id="web:a", lang="en", question=text, answered=False, doc_ids=[], top_score=None)
    store.log_question(sender_id="web:a", lang="en", question="what is 9610", answered=True, doc_ids=[], top_score=1)
    row = store.record_feedback(
        sender_id="web:b", lang="en", rating="bad", question="RCEP origin rules", doc_ids=["rcep.en"]
    )
    store.add_feedback_comment(row.id, "the answer was out of date")
    groups = client.get("/api/v1/admin/questions", headers=login(client, "vi")).json()
    assert groups[0]["count"] == 3 and "halal" in groups[0]["question"]
    texts = [q["text"] for g in groups for q in g["questions"]]
    assert "what is 9610" not in texts  # answered questions are not gaps
    disliked = next(g for g in groups if g["question"] == "RCEP origin rules")
    assert disliked["doc_ids"] == ["rcep.en"] and disliked["questions"][0]["comment"] == "the answer was out of date"
    assert len(groups) == 3
