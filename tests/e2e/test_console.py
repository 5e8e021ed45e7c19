"""The staff console in a real browser (Debian's chromium) against the real stack: an editor signs in,
publishes a new fact, the bot cites it through /api/v1/chat, a rollback takes it away again."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from scripts.devstack import LocalStack
from tests.e2e.conftest import E2E_ADMIN, shoot

pytestmark = pytest.mark.e2e
QUESTION = "What are the opening hours of the Beilun night customs inspection desk?"


@pytest.fixture
def console(browser: Browser, stack: LocalStack) -> Iterator[Page]:
    context = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.on("dialog", lambda dialog: (page.evaluate("window.__dialog = true"), dialog.dismiss()))
    page.goto(stack.url + "/admin")
    expect(page).to_have_url(stack.url + "/admin/login")
    page.get_by_label("Username", exact=True).fill(E2E_ADMIN[0])
    page.get_by_label("Password", exact=True).fill(E2E_ADMIN[1])
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Questions this week")).to_be_visible()
    yield page
    context.close()


def cited_text(stack: LocalStack, question: str) -> tuple[list[str], str]:
    messages = stack.chat(question).json()["messages"]
    return [c["doc_id"] for m in messages for c in m["citations"]], " ".join(m["text"] for m in messages)


def test_publish_a_fact_see_the_bot_cite_it_then_roll_it_back(console: Page, stack: LocalStack) -> None:
    page = console
    shoot(page, "console-dashboard")
    page.get_by_role("link", name="Documents").click()
    page.get_by_role("link", name="New document").click()
    editor = page.locator("form.editor")
    editor.get_by_label("Title", exact=True).fill("Beilun night customs inspection desk")
    editor.get_by_label("Slug (new documents)", exact=True).fill("beilun-night-inspection")
    editor.get_by_label("Topic", exact=True).fill("port")
    editor.get_by_label("Source URL", exact=True).fill("https://example.org/beilun-night-desk")
    editor.get_by_label("Source date", exact=True).fill("2026-11-30")
    body = "The Beilun night customs inspection desk is open from 20:00 to 02:00 for pre-booked containers."
    editor.get_by_label("Body (Markdown; '## ' starts a passage)", exact=True).fill(
        body + "\n\n<img src=x onerror=window.__xss=1> **booked** only"
    )
    # The preview is built from text nodes: the markup shows as text and never runs.
    expect(page.locator(".preview")).to_contain_text("<img src=x onerror=window.__xss=1>")
    expect(page.locator(".preview strong")).to_have_text("booked")
    shoot(page, "console-new-document")
    page.get_by_role("button", name="Create").click()
    expect(page).to_have_url(stack.url + "/admin/edit?doc=beilun-night-inspection.en")
    expect(page.get_by_role("heading", name="English · beilun-night-inspection.en · v1 · published")).to_be_visible()

    saved = time.monotonic()
    doc_ids, text = cited_text(stack, QUESTION)
    assert time.monotonic() - saved < 2.0 + 5.0  # chat round trip on a busy CI machine; the index change is instant
    assert "beilun-night-inspection.en" in doc_ids and "20:00 to 02:00" in text, text

    # An edit is version 2; the bot answers from it.
    english = page.locator("section.column").first
    english.get_by_label("Body (Markdown; '## ' starts a passage)", exact=True).fill(
        body.replace("20:00 to 02:00", "21:00 to 03:00")
    )
    english.get_by_role("button", name="Save").click()
    expect(english.get_by_text("Saved. v2")).to_be_visible()
    doc_ids, text = cited_text(stack, QUESTION)
    assert "21:00 to 03:00" in text and "20:00 to 02:00" not in text

    # History with a diff, then roll back to version 1: the old hours return, the new ones are gone.
    english.get_by_role("button", name="Diff").first.click()
    expect(english.locator(".diff .add").first).to_be_visible()
    expect(english.locator(".diff")).to_contain_text("21:00 to 03:00")
    shoot(page, "console-history-diff")
    english.get_by_role("button", name="Roll back to this (v1)").click()
    expect(page.get_by_role("heading", name="English · beilun-night-inspection.en · v3 · published")).to_be_visible()
    doc_ids, text = cited_text(stack, QUESTION)
    assert "20:00 to 02:00" in text and "21:00 to 03:00" not in text

    # Hit testing shows the passage and which retrievers found it.
    page.goto(stack.url + "/admin/hit-test")
    page.get_by_label("Question", exact=True).fill(QUESTION)
    page.get_by_role("button", name="Search").click()
    row = page.locator("table tr", has_text="Beilun night customs inspection desk").first
    expect(row).to_contain_text("bm25")
    expect(page.locator(".answer")).to_contain_text("20:00 to 02:00")
    shoot(page, "console-hit-test")
    assert page.evaluate("window.__xss === undefined && window.__dialog === undefined")


def test_unanswered_questions_reach_the_queue_and_prefill_a_new_document(console: Page, stack: LocalStack) -> None:
    page = console
    asked = (
        "How much is the fumigation certificate fee for wooden pallets?",
        "fumigation certificate fee for wooden pallets",
    )
    for question in asked:
        stack.chat(question)
    deadline = time.monotonic() + 10
    while True:  # the action server logs the question just after it replies
        page.goto(stack.url + "/admin/questions")
        group = page.locator("ol.groups > li", has_text="fumigation")
        if group.count() or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    expect(group.first).to_contain_text("2 times asked")
    group.first.get_by_role("link", name="Write an answer").click()
    expect(page.locator("form.editor textarea")).to_have_value(
        "## How much is the fumigation certificate fee for wooden pallets?\n\n"
    )


def test_the_console_speaks_chinese_and_viewers_cannot_open_admin_pages(console: Page, stack: LocalStack) -> None:
    page = console
    page.goto(stack.url + "/admin/documents?lang=zh")
    expect(page.get_by_role("link", name="文档", exact=True)).to_have_attribute("aria-current", "page")
    expect(page.get_by_role("columnheader", name="主题")).to_be_visible()
    expect(page.locator("td a", has_text="9610").first).to_be_visible()
    shoot(page, "console-documents-zh")
    page.goto(stack.url + "/admin/users?lang=en")
    page.get_by_label("Username", exact=True).fill("viewer-e2e")
    page.get_by_label("Password (10+ characters)", exact=True).fill("viewer-password-123")
    page.get_by_label("Role", exact=True).last.select_option("viewer")
    page.get_by_role("button", name="Add user").click()
    expect(page.get_by_role("cell", name="viewer-e2e", exact=True)).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("Username", exact=True).fill("viewer-e2e")
    page.get_by_label("Password", exact=True).fill("viewer-password-123")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("link", name="Users")).to_have_count(0)
    page.goto(stack.url + "/admin/users")
    expect(page.get_by_text("Your role cannot open this page.")).to_be_visible()


def test_a_handoff_ticket_shows_its_transcript_and_a_staff_reply_reaches_the_trader(
    console: Page, stack: LocalStack
) -> None:
    page = console
    session_id = stack.chat("How do I file an outbound investment with the NDRC?").json()["session_id"]
    stack.chat("/human", session_id)
    page.goto(stack.url + "/admin/tickets")
    card = page.locator("article.ticket", has_text=f"web:{session_id}")
    expect(card).to_be_visible()
    card.get_by_text("Transcript").click()
    expect(card.locator(".turn.user").first).to_contain_text("outbound investment")
    expect(card.locator(".turn.bot").first).to_be_visible()
    card.get_by_label("Reply to the trader").fill("We will call you at 3 pm today.")
    card.get_by_role("button", name="Send").click()
    expect(card).to_contain_text("Sent: queued")
    shoot(page, "console-ticket")
    updates = httpx.get(f"{stack.url}/api/v1/chat/updates", params={"session_id": session_id}, timeout=10).json()
    assert [m["text"] for m in updates["messages"]] == ["We will call you at 3 pm today."]


def test_a_long_conversation_reaches_staff_whole(console: Page, stack: LocalStack) -> None:
    """Rasa loads only the last few messages of a long conversation (assistant/tracker_window.py):
    the ticket carries the recent turns the action server saw, the console the whole history."""
    page = console
    messages = ["What is customs code 9610 for?"] + ["hello", "宁波舟山港有哪些保税区？", "How big is Yiwu market?"] * 5
    session_id = stack.chat(messages[0]).json()["session_id"]
    for message in messages[1:]:
        assert stack.chat(message, session_id).status_code == 200
    stack.chat("/human", session_id)
    page.goto(stack.url + "/admin/tickets")
    card = page.locator("article.ticket", has_text=f"web:{session_id}")
    card.get_by_text("Transcript", exact=True).click()
    recent = card.locator(".turn.user")
    expect(recent.first).to_be_visible()
    assert recent.count() <= 2 * 6 + 1  # tracker_window_turns: 6 in config.yml
    expect(card).not_to_contain_text("9610")
    card.get_by_role("link", name="Whole conversation").click()
    whole = page.locator(".turn.user")
    expect(whole).to_have_count(len(messages) + 1)
    expect(whole.first).to_contain_text("What is customs code 9610 for?")
