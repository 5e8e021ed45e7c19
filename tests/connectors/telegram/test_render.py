"""Telegram HTML: escaping before the few tags we add, splitting long messages, ticket posts."""

from __future__ import annotations

from typing import Any

from connectors.telegram.render import MESSAGE_LIMIT, handoff_tickets, render_reply, telegram_length, ticket_posts
from records.models import HandoffTicket


def test_bot_text_is_escaped_before_bold_and_only_web_links_are_rendered() -> None:
    message = {
        "text": "**<i>9610</i>** & 9710 <script>alert(1)</script>",
        "buttons": [],
        "citations": [
            {"doc_id": "a", "title": "GACC <No. 56>", "source_url": 'https://example.org/a?x=1&y="2"'},
            {"doc_id": "b", "title": "Note", "source_url": "javascript:alert(1)"},
            {"doc_id": "c", "title": "Offline", "source_url": None},
        ],
    }
    [rendered] = render_reply(message, "zh")
    assert rendered.startswith("<b>&lt;i&gt;9610&lt;/i&gt;</b> &amp; 9710 &lt;script&gt;alert(1)&lt;/script&gt;")
    assert '<a href="https://example.org/a?x=1&amp;y=&quot;2&quot;">GACC &lt;No. 56&gt;</a>' in rendered
    assert "<b>来源：</b>" in rendered
    assert "• Note" in rendered and "javascript" not in rendered
    assert "• Offline" in rendered


def test_a_long_line_without_breaks_is_split_too() -> None:
    text = "& " * 2600  # 5200 characters, 7800 once escaped
    chunks = render_reply({"text": text, "buttons": [], "citations": []}, "en")
    assert len(chunks) >= 2
    assert all(telegram_length(c) <= MESSAGE_LIMIT for c in chunks)
    assert all(c.count("&amp;") == c.count("&") for c in chunks)  # no entity cut in half
    assert sum(c.count("&amp;") for c in chunks) == 2600


def test_handoff_ticket_ids_are_read_from_custom_payloads() -> None:
    replies: list[dict[str, Any]] = [
        {"text": "passed on"},
        {"custom": {"handoff_ticket": 7}},
        {"custom": {"handoff_ticket": True}},
    ]
    assert handoff_tickets(replies) == [7]


def test_a_long_ticket_is_split_and_every_part_names_the_ticket() -> None:
    ticket = HandoffTicket(
        id=42,
        sender_id="web:abc",
        channel="web",
        lang="en",
        question="q",
        transcript=[{"role": "user", "text": "x" * 1400 + " <&>"} for _ in range(20)],
    )
    parts = ticket_posts(ticket)
    assert len(parts) > 1
    assert all(telegram_length(p) <= MESSAGE_LIMIT and "ticket #42" in p for p in parts)
    assert all("<&>" not in p for p in parts)
