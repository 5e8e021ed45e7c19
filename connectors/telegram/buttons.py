"""Rasa buttons as Telegram inline keyboards, and what a pressed button sends back.

Telegram's callback data holds 64 bytes. A longer payload is kept in memory behind a short key
(bounded, lost on restart); a key forgotten after a restart sends the button's title instead.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Sequence
from typing import Final

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Message
from telegram.constants import InlineKeyboardButtonLimit

CALLBACK_DATA_LIMIT: Final = int(InlineKeyboardButtonLimit.MAX_CALLBACK_DATA)  # 64 bytes
# Callback data starting with this is a key into the payload table, never a payload itself.
BUTTON_KEY_PREFIX: Final = "btn:"
BUTTON_PAYLOADS: Final = 10_000


class Buttons:
    """The payloads behind short callback keys, most recent BUTTON_PAYLOADS."""

    def __init__(self) -> None:
        self._payloads: OrderedDict[str, str] = OrderedDict()

    def keyboard(self, buttons: Sequence[dict[str, str]]) -> InlineKeyboardMarkup | None:
        """Rasa buttons as an inline keyboard: short titles two to a row, long ones alone."""
        rows: list[list[InlineKeyboardButton]] = []
        for button in buttons:
            title = button["title"] or button["payload"]
            if not title:
                continue
            key = InlineKeyboardButton(title[:100], callback_data=self._callback_data(button["payload"] or title))
            if rows and len(rows[-1]) == 1 and len(title) <= 16 and len(rows[-1][0].text) <= 16:
                rows[-1].append(key)
            else:
                rows.append([key])
        return InlineKeyboardMarkup(rows) if rows else None

    def _callback_data(self, payload: str) -> str:
        """The payload itself when it fits Telegram's 64 bytes, else a short key remembered in memory."""
        if len(payload.encode()) <= CALLBACK_DATA_LIMIT and not payload.startswith(BUTTON_KEY_PREFIX):
            return payload
        key = BUTTON_KEY_PREFIX + secrets.token_urlsafe(12)
        self._payloads[key] = payload
        while len(self._payloads) > BUTTON_PAYLOADS:
            self._payloads.popitem(last=False)
        return key

    def payload_for(self, data: str, message: Message | None) -> str | None:
        """What a pressed button sends: its payload, or (key forgotten after a restart) its title."""
        if not data.startswith(BUTTON_KEY_PREFIX):
            return data or None
        if data in self._payloads:
            return self._payloads[data]
        if message is not None and message.reply_markup is not None:
            for row in message.reply_markup.inline_keyboard:
                for button in row:
                    if button.callback_data == data:
                        return button.text
        return None
