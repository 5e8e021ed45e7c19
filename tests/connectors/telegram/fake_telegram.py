"""A small fake Telegram Bot API server, so the tests run the real python-telegram-bot against it.

FastAPI + uvicorn in a background thread on a free 127.0.0.1 port. It implements the methods the
channel calls, at ``/bot<token>/<method>``, answering ``{"ok": true, "result": ...}`` in Telegram's
JSON shapes: ``getMe``, ``getUpdates`` (queued updates, honouring ``offset`` and ``timeout``),
``sendMessage`` (recorded; can answer 429 with ``retry_after`` or 403 "blocked by the user"),
``answerCallbackQuery``, ``deleteWebhook``, ``setWebhook``, ``getWebhookInfo`` and ``setMyCommands``.
Everything the bot sends is recorded in ``calls``. Thread-safe: tests run in the main thread while
the server and the bot run in their own event loops.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

TOKEN = "123456:TEST-token_for-the-fake-api"
BOT_USER = {
    "id": 123456,
    "is_bot": True,
    "first_name": "Trade Assistant",
    "username": "zj_trade_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    status: int = 200
    result: Any = None

    def __getitem__(self, key: str) -> Any:
        return self.params[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.params.get(key, default)


@dataclass
class FakeTelegram:
    token: str = TOKEN
    calls: list[Call] = field(default_factory=list)
    _updates: list[dict[str, Any]] = field(default_factory=list)
    _failures: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)
    _blocked: set[int] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1000))
    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _closing: bool = False
    url: str = ""
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    # --- test side ----------------------------------------------------------------------------

    def start(self) -> FakeTelegram:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        config = uvicorn.Config(self._app(), log_level="warning", timeout_graceful_shutdown=2, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("the fake Telegram server did not start")
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        self._closing = True
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self._updates.clear()
            self._failures.clear()
            self._blocked.clear()

    def push(self, update: dict[str, Any]) -> dict[str, Any]:
        """Queue an update for getUpdates; gives it the next update_id unless it has one."""
        with self._lock:
            update.setdefault("update_id", next(self._update_ids))
            self._updates.append(update)
        return update

    def push_together(self, *updates: dict[str, Any]) -> None:
        """Queue several updates at once, so one getUpdates answer carries them all (ids kept as given)."""
        with self._lock:
            for update in updates:
                update.setdefault("update_id", next(self._update_ids))
            self._updates.extend(updates)

    def fail_next(self, method: str, status: int, description: str, **parameters: Any) -> None:
        """The next call of ``method`` answers this error (e.g. 429 with ``retry_after=1``)."""
        with self._lock:
            self._failures.append((method, status, {"description": description, "parameters": parameters}))

    def block(self, chat_id: int) -> None:
        """Every sendMessage to ``chat_id`` answers 403: the user blocked the bot."""
        with self._lock:
            self._blocked.add(chat_id)

    def sent(self, chat_id: int | None = None, *, delivered: bool = True) -> list[Call]:
        with self._lock:
            return [
                c
                for c in self.calls
                if c.method == "sendMessage"
                and (chat_id is None or int(c["chat_id"]) == chat_id)
                and (not delivered or c.status == 200)
            ]

    def called(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def wait_for(self, predicate: Callable[[], Any], timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            result = predicate()
            if result:
                return result
            time.sleep(0.02)
        raise AssertionError(f"timed out after {timeout} s; calls so far: {[(c.method, c.params) for c in self.calls]}")

    def wait_sent(self, chat_id: int, count: int = 1, timeout: float = 10.0) -> list[Call]:
        result: list[Call] = self.wait_for(lambda: len(self.sent(chat_id)) >= count and self.sent(chat_id), timeout)
        return result

    # --- server side --------------------------------------------------------------------------

    def _app(self) -> FastAPI:
        app = FastAPI()

        @app.api_route("/bot{token}/{method}", methods=["GET", "POST"])
        async def bot_api(token: str, method: str, request: Request) -> JSONResponse:
            if token != self.token:
                return _error(401, "Unauthorized")
            params = await _params(request)
            if method == "getUpdates":
                return _ok(await self._get_updates(params))
            call = Call(method, params)
            with self._lock:
                self.calls.append(call)
                failure = next((f for f in self._failures if f[0] == method), None)
                if failure is not None:
                    self._failures.remove(failure)
                blocked = method == "sendMessage" and int(params.get("chat_id", 0)) in self._blocked
            if failure is not None:
                call.status = failure[1]
                return _error(failure[1], failure[2]["description"], failure[2]["parameters"])
            if blocked:
                call.status = 403
                return _error(403, "Forbidden: bot was blocked by the user")
            handler = getattr(self, f"_{method}", None)
            if handler is None:
                call.status = 404
                return _error(404, "Not Found: method not found")
            call.result = handler(params)
            return _ok(call.result)

        return app

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if offset:  # confirmed: Telegram forgets them
                    self._updates[:] = [u for u in self._updates if u["update_id"] >= offset]
                ready = [u for u in self._updates if u["update_id"] >= offset][:limit]
            if ready or self._closing or time.monotonic() >= deadline:
                return ready
            await asyncio.sleep(0.02)

    def _getMe(self, params: dict[str, Any]) -> dict[str, Any]:
        return BOT_USER

    def _sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        message: dict[str, Any] = {
            "message_id": next(self._ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"}
            if chat_id > 0
            else {"id": chat_id, "type": "supergroup", "title": "Staff"},
            "from": BOT_USER,
            "text": params["text"],
        }
        if params.get("reply_markup"):
            message["reply_markup"] = json.loads(params["reply_markup"])
        return message

    def _answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        return True

    def _deleteWebhook(self, params: dict[str, Any]) -> bool:
        return True

    def _setWebhook(self, params: dict[str, Any]) -> bool:
        return True

    def _setMyCommands(self, params: dict[str, Any]) -> bool:
        return True

    def _getWebhookInfo(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"url": "", "has_custom_certificate": False, "pending_update_count": 0}


async def _params(request: Request) -> dict[str, Any]:
    """python-telegram-bot posts form fields (non-string values JSON-encoded) or, rarely, JSON."""
    if request.headers.get("content-type", "").startswith("application/json"):
        body = await request.json()
        return dict(body) if isinstance(body, dict) else {}
    form = await request.form()
    return {key: value for key, value in form.items() if isinstance(value, str)}


def _ok(result: Any) -> JSONResponse:
    return JSONResponse({"ok": True, "result": result})


def _error(status: int, description: str, parameters: dict[str, Any] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if parameters:
        body["parameters"] = parameters
    return JSONResponse(body, status_code=status)


# --- updates in Telegram's shapes ---------------------------------------------------------------


def user(user_id: int, first_name: str = "Trader", last_name: str | None = None) -> dict[str, Any]:
    person: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "en"}
    if last_name:
        person["last_name"] = last_name
    return person


def private_chat(chat_id: int) -> dict[str, Any]:
    return {"id": chat_id, "type": "private", "first_name": "Trader"}


def message_update(chat_id: int, text: str | None = None, **extra: Any) -> dict[str, Any]:
    """A message from a trader in a private chat (``text`` or e.g. ``photo=[...]``)."""
    message: dict[str, Any] = {
        "message_id": int(time.time() * 1000) % 1_000_000,
        "date": int(time.time()),
        "chat": private_chat(chat_id),
        "from": user(chat_id),
        **extra,
    }
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    return {"message": message}


def callback_update(chat_id: int, data: str, keyboard: dict[str, Any] | None = None) -> dict[str, Any]:
    """A press on an inline button of a message the bot sent to ``chat_id``."""
    message: dict[str, Any] = {
        "message_id": 77,
        "date": int(time.time()),
        "chat": private_chat(chat_id),
        "from": BOT_USER,
        "text": "…",
    }
    if keyboard is not None:
        message["reply_markup"] = keyboard
    return {
        "callback_query": {
            "id": f"cbq-{chat_id}-{time.monotonic_ns()}",
            "from": user(chat_id),
            "chat_instance": f"ci-{chat_id}",
            "data": data,
            "message": message,
        }
    }


def staff_reply_update(staff_chat_id: int, post: dict[str, Any], text: str, author: dict[str, Any]) -> dict[str, Any]:
    """A staff member's Telegram reply, in the staff group, to a message the bot posted there."""
    return {
        "message": {
            "message_id": int(time.time() * 1000) % 1_000_000,
            "date": int(time.time()),
            "chat": {"id": staff_chat_id, "type": "supergroup", "title": "Staff"},
            "from": author,
            "text": text,
            "reply_to_message": post,
        }
    }
