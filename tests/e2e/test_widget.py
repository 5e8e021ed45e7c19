"""The website widget in a real browser (Debian's chromium through Playwright) against the real stack."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from scripts.devstack import LocalStack
from tests.e2e.conftest import CHROMIUM, E2E_ADMIN, shoot
from tests.e2e.xss_payloads import PAYLOADS

pytestmark = pytest.mark.e2e
ANSWER_TIMEOUT_MS = 30_000


@pytest.fixture
def page(browser: Browser, stack: LocalStack) -> Iterator[Page]:
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 800})
    opened = context.new_page()
    opened.on("dialog", lambda dialog: (opened.evaluate("window.__dialog = true"), dialog.dismiss()))
    opened.goto(stack.url + "/")
    yield opened
    context.close()


def ask(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Your message")
    box.fill(text)
    box.press("Enter")


def bot_messages(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("#zta-chat-widget .msg.bot")


def expect_reply(page: Page, before: int, what: str) -> None:
    """The widget answered (one reply may come as several bubbles) after `before` bot bubbles."""
    expect(page.locator("#zta-chat-widget .typing")).to_be_hidden(timeout=ANSWER_TIMEOUT_MS)
    assert bot_messages(page).count() > before, f"no reply to {what}"


def test_ask_in_english_and_chinese_see_cited_answers_click_a_reply_and_keep_history(page: Page) -> None:
    page.get_by_role("button", name="Open the trade assistant chat").click()
    expect(page.get_by_role("dialog", name="Zhejiang Trade Assistant")).to_be_visible()
    ask(page, "Which customs code fits parcels sold to consumers abroad?")
    answer = bot_messages(page).nth(1)  # the first is the welcome line
    expect(answer).to_contain_text("9610", timeout=ANSWER_TIMEOUT_MS)
    source = answer.locator(".sources a").first
    expect(source).to_have_attribute("target", "_blank")
    expect(source).to_have_attribute("rel", "noopener noreferrer")
    assert re.match(r"https?://", source.get_attribute("href") or "")

    shoot(page, "widget-english-answer")
    ask(page, "义乌市场采购出口能退税吗？")
    chinese = bot_messages(page).nth(2)
    expect(chinese).to_contain_text(re.compile(r"[\u4e00-\u9fff]"), timeout=ANSWER_TIMEOUT_MS)
    shoot(page, "widget-chinese-answer")

    replies = page.locator("#zta-chat-widget .replies button")
    expect(replies.first).to_be_visible()
    before = bot_messages(page).count()
    replies.first.click()
    expect(page.locator("#zta-chat-widget .msg.user")).to_have_count(3)
    expect_reply(page, before, "the quick reply")

    shown = page.locator("#zta-chat-widget .msg").count()
    page.reload()
    page.get_by_role("button", name="Open the trade assistant chat").click()
    expect(page.locator("#zta-chat-widget .msg")).to_have_count(shown)
    expect(page.locator("#zta-chat-widget .msg.user").first).to_have_text(
        "Which customs code fits parcels sold to consumers abroad?"
    )


def no_markup_ran(page: Page) -> None:
    page.wait_for_timeout(300)  # let any onerror / onload handler fire
    assert page.evaluate("window.__xss") is None
    assert page.evaluate("window.__dialog") is None
    for tag in ("img", "script", "svg", "iframe", "object", "embed", "video", "input", "style"):
        assert page.locator(f"#zta-chat-widget .log {tag}").count() == 0, tag
    hrefs = page.locator("#zta-chat-widget .log a").evaluate_all("links => links.map(a => a.href)")
    assert all(h.startswith(("http://", "https://")) for h in hrefs), hrefs


def test_hostile_user_messages_show_as_text_and_never_run(page: Page) -> None:
    page.get_by_role("button", name="Open the trade assistant chat").click()
    for number, payload in enumerate(PAYLOADS, start=1):
        before = bot_messages(page).count()
        ask(page, payload)
        expect(page.locator("#zta-chat-widget .msg.user")).to_have_count(number, timeout=ANSWER_TIMEOUT_MS)
        expect(page.locator("#zta-chat-widget .msg.user").last).to_have_text(payload)
        expect_reply(page, before, f"payload {number}: {payload!r}")
    no_markup_ran(page)


def test_hostile_knowledge_text_shows_as_text_and_never_runs(page: Page, stack: LocalStack) -> None:
    import httpx

    token = httpx.post(
        f"{stack.url}/api/v1/auth/token", data={"username": E2E_ADMIN[0], "password": E2E_ADMIN[1]}, timeout=10
    ).json()["access_token"]
    body = "Hostile rendering check for the Zhoushan kelp warehouse notice.\n\n" + "\n\n".join(PAYLOADS)
    document = {
        "title": "Zhoushan kelp warehouse notice",
        "body": body,
        "lang": "en",
        "topic": "port",
        "source_url": "https://example.org/kelp",
        "confidence": "high",
    }
    created = httpx.post(
        f"{stack.url}/api/v1/admin/documents", json=document, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert created.status_code == 201, created.text
    page.get_by_role("button", name="Open the trade assistant chat").click()
    ask(page, "Zhoushan kelp warehouse notice hostile rendering check")
    expect(bot_messages(page).nth(1)).to_contain_text("kelp", timeout=ANSWER_TIMEOUT_MS)
    expect(bot_messages(page).nth(1)).to_contain_text("<script>")
    no_markup_ran(page)


def test_the_host_page_styles_cannot_reach_the_widget(page: Page) -> None:
    launcher = page.get_by_role("button", name="Open the trade assistant chat")
    size = launcher.evaluate("b => getComputedStyle(b).fontSize")
    assert size != "40px"  # the demo page sets every button to 40px !important


def test_keyboard_only_use(page: Page) -> None:
    launcher = page.get_by_role("button", name="Open the trade assistant chat")
    launcher.focus()
    page.keyboard.press("Enter")
    box = page.get_by_role("textbox", name="Your message")
    expect(box).to_be_focused()
    page.keyboard.type("hello")
    page.keyboard.press("Enter")
    expect(bot_messages(page)).to_have_count(2, timeout=ANSWER_TIMEOUT_MS)
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(launcher).to_have_attribute("aria-expanded", "false")


def test_a_phone_sized_screen_gets_a_full_screen_chat(browser: Browser, stack: LocalStack) -> None:
    context = browser.new_context(
        locale="zh-CN", viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True
    )
    phone = context.new_page()
    phone.goto(stack.url + "/")
    phone.get_by_role("button", name="打开经贸助手对话").click()
    panel = phone.get_by_role("dialog")
    expect(panel).to_be_visible()
    box = panel.bounding_box()
    assert box is not None and box["width"] >= 370 and box["height"] >= 600
    ask_zh = phone.get_by_role("textbox", name="您的消息")
    ask_zh.fill("你好")
    ask_zh.press("Enter")
    expect(phone.locator("#zta-chat-widget .msg.bot")).to_have_count(2, timeout=ANSWER_TIMEOUT_MS)
    shoot(phone, "widget-phone-chinese")
    context.close()


def test_an_unreachable_server_shows_a_clear_message_and_retry_works(page: Page) -> None:
    page.get_by_role("button", name="Open the trade assistant chat").click()
    page.route("**/api/v1/chat", lambda route: route.abort())
    ask(page, "What is market procurement trade?")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("can't reach the assistant", timeout=ANSWER_TIMEOUT_MS)
    page.unroute("**/api/v1/chat")
    alert.get_by_role("button", name="Retry").click()
    expect(bot_messages(page).last).to_contain_text("1039", timeout=ANSWER_TIMEOUT_MS)
    # The question was shown once, not once per attempt.
    expect(page.locator("#zta-chat-widget .msg.user")).to_have_count(1)


def test_chromium_is_the_debian_package() -> None:
    assert CHROMIUM is not None and shutil.which("chromium") is not None
