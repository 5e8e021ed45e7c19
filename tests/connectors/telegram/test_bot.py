"""The Telegram channel, end to end inside the gateway: real python-telegram-bot against a fake Bot API.

``fake_telegram.FakeTelegram`` stands in for Telegram's servers (the one thing out of reach here);
Rasa sits behind an ``httpx.MockTransport`` as in test_gateway.py. Each test starts the real gateway
(``create_app``, lifespan and all) with a token and ``TELEGRAM_BASE_URL`` pointing at the fake, puts
updates where Telegram would, and checks what the bot sent back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from connectors.gateway.main import create_app
from connectors.settings import GatewaySettings
from connectors.telegram.render import (
    MESSAGE_LIMIT,
    telegram_length,
)
from records.models import StaffMessage
from tests.connectors.telegram.fake_telegram import (
    BOT_USER,
    TOKEN,
    FakeTelegram,
    callback_update,
    message_update,
    staff_reply_update,
    user,
)

STAFF_CHAT = -100_555
SECRET = "s3cret-token_for-the-webhook-0123456789"
Reply = Callable[[dict[str, Any]], list[dict[str, Any]]]


class FakeRasa:
    """Rasa's REST webhook behind a mock transport: records what it got, answers ``reply(body)``."""

    def __init__(self, reply: Reply | list[dict[str, Any]] | None = None, *, down: bool = False) -> None:
        self.reply = reply if reply is not None else [{"text": "ok"}]
        self.down = down
        self.seen: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/health":
            return httpx.Response(200, json={"status": "ok"})
        if request.url.path != "/webhooks/rest/webhook":
            return httpx.Response(404)
        body = json.loads(request.content)
        self.seen.append(body)
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        messages = self.reply(body) if callable(self.reply) else self.reply
        return httpx.Response(200, json=messages)

    @property
    def messages(self) -> list[str]:
        return [str(b["message"]) for b in self.seen]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeTelegram]:
    server = FakeTelegram().start()
    yield server
    server.stop()


@pytest.fixture
def settings(tmp_path: Any, fake: FakeTelegram) -> GatewaySettings:
    fake.reset()
    return GatewaySettings(
        data_dir=tmp_path,
        rasa_port=9,
        action_server_port=9,
        rasa_timeout_seconds=2,
        telegram_bot_token=TOKEN,
        telegram_base_url=fake.url,
        telegram_staff_chat_id=STAFF_CHAT,
    )


@contextmanager
def gateway(settings: GatewaySettings, rasa: FakeRasa, *, wait: bool = True) -> Iterator[tuple[TestClient, Any]]:
    """The running gateway and its state, with Rasa mocked and the Telegram channel connected."""
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        state = client.app.state.gateway  # type: ignore[attr-defined]
        state.rasa.http = httpx.AsyncClient(transport=httpx.MockTransport(rasa))
        if wait:
            deadline = time.monotonic() + 10
            while not state.telegram.running:
                assert time.monotonic() < deadline, "the Telegram channel did not start"
                time.sleep(0.02)
        yield client, state


def keyboard(call: Any) -> list[list[dict[str, Any]]]:
    rows: list[list[dict[str, Any]]] = json.loads(call["reply_markup"])["inline_keyboard"]
    return rows


# --- rendering, without a server -----------------------------------------------------------------


# --- talking to the bot --------------------------------------------------------------------------


def test_a_text_gets_the_reply_with_an_inline_keyboard_and_citation_links_html_escaped(
    settings: GatewaySettings, fake: FakeTelegram
) -> None:
    long_payload = "How do I ship by the Yiwu–Europe train from the Yiwu International Land Port?"
    rasa = FakeRasa(
        lambda body: [
            {
                "text": f"You asked: {body['message']}\n**9610** is for parcels & small B2C orders.",
                "buttons": [
                    {"title": "👍 Helpful", "payload": "/feedback_good"},
                    {"title": "👎 Not helpful", "payload": "/feedback_bad"},
                    {"title": "Yiwu rail freight", "payload": long_payload},
                ],
            },
            {
                "custom": {
                    "citations": [
                        {
                            "doc_id": "customs-9610.en",
                            "title": "GACC <Announcement> 56",
                            "source_url": "https://ex.org/a?x=1&y=2",
                        }
                    ]
                }
            },
        ]
    )
    with gateway(settings, rasa):
        fake.push(message_update(501, "<script>alert(1)</script> which code for parcels?"))
        [sent] = fake.wait_sent(501)
    assert sent["parse_mode"] == "HTML"
    text = sent["text"]
    assert "You asked: &lt;script&gt;alert(1)&lt;/script&gt; which code for parcels?" in text
    assert "<script>" not in text
    assert "<b>9610</b> is for parcels &amp; small B2C orders." in text
    assert '<a href="https://ex.org/a?x=1&amp;y=2">GACC &lt;Announcement&gt; 56</a>' in text
    rows = keyboard(sent)
    assert [[b["text"] for b in row] for row in rows] == [["👍 Helpful", "👎 Not helpful"], ["Yiwu rail freight"]]
    assert rows[0][0]["callback_data"] == "/feedback_good"
    long_key = rows[1][0]["callback_data"]
    assert long_key != long_payload and len(long_key.encode()) <= 64
    assert rasa.seen[0] == {
        "sender": "tg:501",
        "message": "<script>alert(1)</script> which code for parcels?",
        "metadata": {"channel": "telegram"},
    }


def test_a_button_press_is_answered_and_its_payload_sent_to_rasa(settings: GatewaySettings, fake: FakeTelegram) -> None:
    long_payload = "怎样通过义新欧班列从义乌国际陆港发货到欧洲？需要哪些单证？"  # 90 bytes in UTF-8
    rasa = FakeRasa([{"text": "Choose", "buttons": [{"title": "义新欧", "payload": long_payload}]}])
    with gateway(settings, rasa):
        fake.push(message_update(502, "hello"))
        [sent] = fake.wait_sent(502)
        markup = json.loads(sent["reply_markup"])
        key = markup["inline_keyboard"][0][0]["callback_data"]
        fake.push(callback_update(502, key, markup))
        fake.wait_sent(502, 2)
        # A key from before a restart is not in memory any more: the button's title is sent instead.
        stale = {"inline_keyboard": [[{"text": "Yiwu rail freight", "callback_data": "btn:forgotten"}]]}
        fake.push(callback_update(502, "btn:forgotten", stale))
        fake.push(callback_update(502, "/feedback_good"))
        fake.wait_sent(502, 4)
        answered = fake.called("answerCallbackQuery")
    assert len(answered) == 3
    assert rasa.messages == ["hello", long_payload, "Yiwu rail freight", "/feedback_good"]
    assert all(b["sender"] == "tg:502" for b in rasa.seen)


def test_commands_are_mapped_as_on_the_web_and_a_chosen_language_is_kept(
    settings: GatewaySettings, fake: FakeTelegram
) -> None:
    def reply(body: dict[str, Any]) -> list[dict[str, Any]]:
        if body["message"].startswith("/switch_language"):
            return [{"text": "好的，接下来用中文回答。"}, {"custom": {"set_language": "zh"}}]
        return [{"text": "ok"}]

    rasa = FakeRasa(reply)
    with gateway(settings, rasa):
        for i, typed in enumerate(["/start", "/lang zh", "/human", "/start@zj_trade_test_bot", "/9610", "hello"]):
            fake.push(message_update(503, typed))
            fake.wait_sent(503, i + 1)
    assert rasa.messages == [
        "/greet",
        '/switch_language{"language": "zh"}',
        "/request_human",
        "/greet",
        "9610",
        "hello",
    ]
    assert [b["metadata"].get("lang") for b in rasa.seen] == [None, "zh", "zh", "zh", "zh", "zh"]
    assert {b["metadata"]["channel"] for b in rasa.seen} == {"telegram"}
    assert {c["command"] for c in json.loads(fake.called("setMyCommands")[0]["commands"])} == {
        "start",
        "help",
        "lang",
        "human",
    }


def test_a_duplicate_update_is_answered_once(settings: GatewaySettings, fake: FakeTelegram) -> None:
    rasa = FakeRasa()
    with gateway(settings, rasa):
        update = message_update(504, "what is 9610")
        # The same update twice (same update_id) in one getUpdates answer, then a marker in the same
        # chat: one chat's messages are handled in order, so once the marker is answered a second
        # copy would have been answered before it.
        fake.push_together(update, update, message_update(504, "marker"))
        fake.wait_sent(504, 2)
        assert len(fake.sent(504)) == 2
    assert rasa.messages == ["what is 9610", "marker"]


def test_a_429_is_waited_out_and_the_message_delivered(settings: GatewaySettings, fake: FakeTelegram) -> None:
    fake.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    with gateway(settings, FakeRasa([{"text": "delivered after a pause"}])):
        started = time.monotonic()
        fake.push(message_update(506, "hi"))
        [sent] = fake.wait_sent(506)
        waited = time.monotonic() - started
    attempts = fake.sent(506, delivered=False)
    assert [a.status for a in attempts] == [429, 200]
    assert sent["text"] == "delivered after a pause"
    assert waited >= 1.0


def test_a_trader_who_blocked_the_bot_does_not_stop_the_channel(settings: GatewaySettings, fake: FakeTelegram) -> None:
    fake.block(507)
    rasa = FakeRasa()
    with gateway(settings, rasa) as (_, state):
        fake.push(message_update(507, "hi"))
        fake.wait_for(lambda: fake.sent(507, delivered=False))
        fake.push(message_update(508, "first"))
        fake.wait_sent(508)
        fake.push(message_update(508, "second"))
        fake.wait_sent(508, 2)
        assert state.telegram.running
    assert [a.status for a in fake.sent(507, delivered=False)] == [403]
    assert rasa.messages == ["hi", "first", "second"]


@pytest.mark.parametrize(
    "content",
    [
        {"photo": [{"file_id": "p1", "file_unique_id": "u1", "width": 90, "height": 90}]},
        {
            "sticker": {
                "file_id": "s1",
                "file_unique_id": "u2",
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
            }
        },
        {"voice": {"file_id": "v1", "file_unique_id": "u3", "duration": 3}},
        {"location": {"latitude": 29.3, "longitude": 120.07}},
        {"document": {"file_id": "d1", "file_unique_id": "u4", "file_name": "invoice.pdf"}},
    ],
    ids=["photo", "sticker", "voice", "location", "document"],
)
def test_anything_but_text_gets_a_bilingual_text_only_reply(
    settings: GatewaySettings, fake: FakeTelegram, content: dict[str, Any]
) -> None:
    rasa = FakeRasa()
    with gateway(settings, rasa):
        fake.push(message_update(509, **content))
        [sent] = fake.wait_sent(509)
    assert "only read text" in sent["text"] and "文字" in sent["text"]
    assert rasa.seen == []


def test_a_reply_over_4096_characters_is_split_at_line_breaks(settings: GatewaySettings, fake: FakeTelegram) -> None:
    reply = "\n".join(f"line {i:03d} " + "x" * 40 for i in range(100)) + "."  # 100 lines, 5000 characters
    with gateway(settings, FakeRasa([{"text": reply, "buttons": [{"title": "More", "payload": "/help"}]}])):
        fake.push(message_update(510, "everything about 9610"))
        fake.push(message_update(510, "marker"))  # the same long reply, sent after the whole first one
        fake.wait_sent(510, 4)
        everything = fake.sent(510)
    assert len(everything) == 4 and everything[2]["text"] == everything[0]["text"]  # two parts each, no more
    sent = everything[:2]
    assert len(reply) == 5000 and len(sent) == 2
    assert all(telegram_length(s["text"]) <= MESSAGE_LIMIT for s in sent)
    assert "\n".join(s["text"] for s in sent) == reply  # cut between two lines, nothing lost
    assert "reply_markup" not in sent[0].params and keyboard(sent[1])[0][0]["text"] == "More"


def test_when_rasa_is_down_the_trader_is_asked_to_try_again_in_their_language(
    settings: GatewaySettings, fake: FakeTelegram
) -> None:
    with gateway(settings, FakeRasa(down=True)) as (_, state):
        state.records.set_language("tg:511", "zh")
        fake.push(message_update(511, "9610是什么"))
        fake.push(message_update(512, "what is 9610"))
        [zh] = fake.wait_sent(511)
        [en] = fake.wait_sent(512)
        assert state.telegram.running
    assert "一分钟后再试" in zh["text"]
    assert "try again in a minute" in en["text"]


# --- webhook mode --------------------------------------------------------------------------------


def test_the_webhook_route_is_404_unless_telegram_runs_in_webhook_mode(settings: GatewaySettings) -> None:
    with gateway(settings, FakeRasa()) as (client, _):  # polling mode
        assert client.post("/telegram/webhook", json={"update_id": 1}).status_code == 404
    off = settings.model_copy(update={"telegram_bot_token": ""})
    with TestClient(create_app(off)) as client:
        response = client.post("/telegram/webhook", json={"update_id": 1})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_the_webhook_checks_the_secret_and_answers_each_update_once(
    settings: GatewaySettings, fake: FakeTelegram
) -> None:
    webhook = settings.model_copy(
        update={
            "telegram_mode": "webhook",
            "telegram_webhook_secret": SECRET,
            "public_url": "https://assistant.example.org/",
        }
    )
    rasa = FakeRasa([{"text": "hello from the webhook"}])
    update = {"update_id": 900_001, **message_update(513, "hi")}
    with gateway(webhook, rasa) as (client, _):
        [registered] = fake.called("setWebhook")
        assert registered["url"] == "https://assistant.example.org/telegram/webhook"
        assert registered["secret_token"] == SECRET
        assert fake.called("getUpdates") == []
        assert client.post("/telegram/webhook", json=update).status_code == 403
        wrong = {"X-Telegram-Bot-Api-Secret-Token": SECRET[:-1] + "x"}
        assert client.post("/telegram/webhook", json=update, headers=wrong).status_code == 403
        right = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        assert client.post("/telegram/webhook", json=update, headers=right).status_code == 200
        [sent] = fake.wait_sent(513)
        # Telegram delivers again when it did not see our 200 in time: still one reply.
        assert client.post("/telegram/webhook", json=update, headers=right).status_code == 200
        assert client.post("/telegram/webhook", content=b"nope", headers=right).status_code == 400
        # A big body is read only once the secret matched, and then only up to 1 MB.
        big = b'{"update_id": 1, "x": "' + b"x" * (2 * 1024 * 1024) + b'"}'
        assert client.post("/telegram/webhook", content=big, headers=wrong).status_code == 403
        too_large = client.post("/telegram/webhook", content=big, headers=right)
        assert too_large.status_code == 413 and too_large.json()["error"]["code"] == "too_large"
        # A marker in the same chat is answered after anything the repeats could have started.
        marker = {"update_id": 900_002, **message_update(513, "marker")}
        assert client.post("/telegram/webhook", json=marker, headers=right).status_code == 200
        fake.wait_sent(513, 2)
        assert len(fake.sent(513)) == 2
    assert sent["text"] == "hello from the webhook"
    assert rasa.messages == ["hi", "marker"]


@pytest.mark.parametrize("secret", ["", "changethis", "short", "has spaces in it, sixteen+"])
def test_webhook_mode_refuses_to_start_without_a_real_secret(secret: str) -> None:
    with pytest.raises(ValidationError, match="TELEGRAM_WEBHOOK_SECRET") as error:
        GatewaySettings(telegram_bot_token=TOKEN, telegram_mode="webhook", telegram_webhook_secret=secret)
    assert TOKEN not in str(error.value)


def test_the_gateway_stays_up_when_telegram_is_unreachable(settings: GatewaySettings) -> None:
    unreachable = settings.model_copy(update={"telegram_base_url": "http://127.0.0.1:9"})
    started = time.monotonic()
    with gateway(unreachable, FakeRasa(), wait=False) as (client, state):
        deadline = time.monotonic() + 5
        while state.telegram.failed_starts == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert state.telegram.failed_starts >= 1 and not state.telegram.running
        # Still serving: health answers about its own components (Telegram is not one), chat answers.
        assert set(client.get("/healthz").json()["components"]) == {"rasa", "actions", "index"}
        assert client.post("/api/v1/chat", json={"message": "hi"}).status_code == 200
    assert time.monotonic() - started < 10


# --- staff handoff -------------------------------------------------------------------------------


def test_a_handoff_is_posted_to_staff_and_a_staff_reply_reaches_the_trader(
    settings: GatewaySettings, fake: FakeTelegram
) -> None:
    with gateway(settings, FakeRasa()) as (_, state):
        store = state.records
        ticket = store.open_ticket(
            sender_id="tg:514",
            channel="telegram",
            lang="en",
            question="Which code for <parcels>?",
            transcript=[{"role": "user" if i % 2 == 0 else "bot", "text": f"turn {i}"} for i in range(25)],
        )
        state.rasa.http = httpx.AsyncClient(
            transport=httpx.MockTransport(
                FakeRasa(
                    [{"text": f"Passed to staff (ticket #{ticket.id})."}, {"custom": {"handoff_ticket": ticket.id}}]
                )
            )
        )
        fake.push(message_update(514, "/human"))
        fake.wait_sent(514)
        [post] = fake.wait_sent(STAFF_CHAT)
        text = post["text"]
        assert f"ticket #{ticket.id}" in text and "telegram" in text
        assert "Which code for &lt;parcels&gt;?" in text
        assert "turn 24" in text and "turn 5" in text and "turn 4" not in text  # the last 20 turns

        author = user(777, "Li", "Wei")
        fake.push(staff_reply_update(STAFF_CHAT, post.result, "Use 9610 <b>for</b> parcels & samples.", author))
        relayed = fake.wait_sent(514, 2)[1]
        assert relayed["text"] == "<b>Staff:</b> Use 9610 &lt;b&gt;for&lt;/b&gt; parcels &amp; samples."
        confirmation = fake.wait_sent(STAFF_CHAT, 2)[1]
        assert "Sent to the trader" in confirmation["text"]
        with store.session() as session:
            [row] = session.query(StaffMessage).all()
        assert (row.ticket_id, row.author, row.text) == (ticket.id, "Li Wei", "Use 9610 <b>for</b> parcels & samples.")
        assert row.delivered_at is not None
        assert store.take_staff_messages("tg:514") == []  # nothing left to show twice
        assert store.ticket(ticket.id).status == "claimed"


def test_a_web_handoff_is_posted_and_the_staff_reply_waits_for_the_widget(
    settings: GatewaySettings, fake: FakeTelegram
) -> None:
    rasa = FakeRasa()
    with gateway(settings, rasa) as (client, state):
        store = state.records
        sender = "web:" + "s" * 32
        ticket = store.open_ticket(
            sender_id=sender, channel="web", lang="zh", question="ODI备案要多久？", transcript=[]
        )
        # What the web chat route does with a reply that opened a ticket.
        assert client.portal is not None
        client.portal.call(state.telegram.notify_handoffs, [{"custom": {"handoff_ticket": ticket.id}}])
        [post] = fake.wait_sent(STAFF_CHAT)
        assert f"ticket #{ticket.id}" in post["text"] and "web" in post["text"]

        staff = user(778, "Wang")
        fake.push(staff_reply_update(STAFF_CHAT, post.result, "一般需要5个工作日。", staff))
        fake.wait_sent(STAFF_CHAT, 2)
        # A post from before a restart is not remembered: its "ticket #N" text still identifies it.
        old_post = {**post.result, "message_id": 1}
        fake.push(staff_reply_update(STAFF_CHAT, old_post, "如有问题请再联系。", staff))
        fake.wait_sent(STAFF_CHAT, 3)
        # Staff talking among themselves: neither relayed nor sent to Rasa.
        fake.push(
            {
                "message": {
                    **staff_reply_update(STAFF_CHAT, post.result, "x", staff)["message"],
                    "reply_to_message": None,
                }
            }
        )
        fake.push(
            staff_reply_update(
                STAFF_CHAT, {**post.result, "message_id": 2, "from": user(779), "text": "lunch?"}, "ok", staff
            )
        )
        # A real reply after them: its confirmation comes after whatever the two above could cause.
        fake.push(staff_reply_update(STAFF_CHAT, post.result, "另外请带上发票。", staff))
        fake.wait_sent(STAFF_CHAT, 4)
        confirmations = [s["text"] for s in fake.sent(STAFF_CHAT)[1:]]
        waiting = store.take_staff_messages(sender)
    assert len(confirmations) == 3 and all("web chat" in c for c in confirmations)
    assert [(m.author, m.text) for m in waiting] == [
        ("Wang", "一般需要5个工作日。"),
        ("Wang", "如有问题请再联系。"),
        ("Wang", "另外请带上发票。"),
    ]
    assert rasa.seen == []
    assert [int(s["chat_id"]) for s in fake.sent()] == [STAFF_CHAT] * 4
    assert BOT_USER["id"] == post.result["from"]["id"]
