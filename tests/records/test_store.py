"""The records store: feedback, tickets, staff replies, preferences (real SQLite and real PostgreSQL)."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from records.errors import Invalid
from records.models import HandoffTicket, RecordsBase
from records.store import Records


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Records:
    """The records on SQLite (the default) and on PostgreSQL (the scale profile), each test from empty."""
    if request.param == "sqlite":
        return Records(f"sqlite:///{tmp_path / 'nested' / 'assistant.db'}")
    running = request.getfixturevalue("services")
    opened = Records(running.database_url("assistant"))
    RecordsBase.metadata.drop_all(opened.engine)
    RecordsBase.metadata.create_all(opened.engine)
    return opened


def test_feedback_survives_reopening_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'a.db'}"
    row = Records(url).record_feedback(sender_id="web:x", lang="en", rating="bad", question="q", doc_ids=["d.en"])
    assert Records(url).add_feedback_comment(row.id, "  out of date  ")
    [again] = Records(url).feedback(rating="bad")
    assert (again.question, again.doc_ids, again.comment) == ("q", ["d.en"], "out of date")


def test_a_rating_must_be_good_or_bad(store: Records) -> None:
    with pytest.raises(Invalid, match="rating"):
        store.record_feedback(sender_id="web:x", lang="en", rating="meh", question="q", doc_ids=[])


def test_a_comment_on_a_missing_record_is_reported(store: Records) -> None:
    assert store.add_feedback_comment(999, "x") is False


def test_one_open_ticket_per_conversation_and_a_new_one_after_closing(store: Records) -> None:
    first = store.open_ticket(
        sender_id="tg:1", channel="tg", lang="zh", question="a", transcript=[{"role": "user", "text": "a"}]
    )
    again = store.open_ticket(sender_id="tg:1", channel="tg", lang="zh", question="b", transcript=[])
    assert again.id == first.id and store.count_tickets("open") == 1
    with store.session() as session:
        ticket = session.get(HandoffTicket, first.id)
        assert ticket is not None
        ticket.status = "closed"
    third = store.open_ticket(sender_id="tg:1", channel="tg", lang="zh", question="c", transcript=[])
    assert third.id != first.id and store.count_tickets("open") == 1


def test_language_preference_is_kept_and_updated(store: Records) -> None:
    assert store.language("web:x") is None
    store.set_language("web:x", "zh")
    store.set_language("web:x", "en")
    assert store.language("web:x") == "en"


def test_two_writers_at_once_do_not_lose_records(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    stores = [Records(url), Records(url)]  # like the gateway and the action server

    def write(store: Records, n: int) -> None:
        for i in range(25):
            store.record_feedback(sender_id=f"web:{n}", lang="en", rating="good", question=str(i), doc_ids=[])

    threads = [threading.Thread(target=write, args=(s, n)) for n, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(Records(url).feedback(limit=100)) == 50


def test_staff_replies_are_delivered_once_in_order_and_claim_the_ticket(store: Records) -> None:
    ticket = store.open_ticket(sender_id="web:abc", channel="web", lang="en", question="q", transcript=[])
    assert store.add_staff_message(ticket_id=999, text="nobody") is None
    store.add_staff_message(ticket_id=ticket.id, text="Hello, I can help.", author="Li")
    store.add_staff_message(ticket_id=ticket.id, text="Which port do you use?")
    assert [m.text for m in store.take_staff_messages("web:abc")] == ["Hello, I can help.", "Which port do you use?"]
    assert store.take_staff_messages("web:abc") == []
    claimed = store.ticket(ticket.id)
    assert claimed is not None and claimed.status == "claimed"
