"""The python-telegram-bot application the channel runs: Bot API defaults (HTML, no link previews),
updates handled concurrently, and a rate limiter that paces each chat."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, Final

from aiolimiter import AsyncLimiter
from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.ext import (
    AIORateLimiter,
    Application,
    ContextTypes,
    Defaults,
    ExtBot,
)

if TYPE_CHECKING:
    from connectors.settings import GatewaySettings

TelegramApplication = Application[
    ExtBot[Any], ContextTypes.DEFAULT_TYPE, dict[Any, Any], dict[Any, Any], dict[Any, Any], Any
]

# Updates handled at once (each waits up to RASA_TIMEOUT_SECONDS); one chat is still served in order.
CONCURRENT_UPDATES: Final = 32


class ChatPacedRateLimiter(AIORateLimiter):
    """``AIORateLimiter`` (30 requests/s overall, 20/min per group, retries after a 429) plus
    about one message a second per private chat, with short bursts allowed as Telegram does."""

    def __init__(self, *, per_chat_burst: int = 5, max_retries: int = 3, max_chats: int = 1024) -> None:
        super().__init__(
            overall_max_rate=30, overall_time_period=1, group_max_rate=20, group_time_period=60, max_retries=max_retries
        )
        self._burst = per_chat_burst
        self._max_chats = max_chats
        self._chats: OrderedDict[int, AsyncLimiter] = OrderedDict()

    def _chat_limiter(self, chat_id: int) -> AsyncLimiter:
        limiter = self._chats.pop(chat_id, None) or AsyncLimiter(self._burst, self._burst)
        self._chats[chat_id] = limiter
        while len(self._chats) > self._max_chats:
            self._chats.popitem(last=False)
        return limiter

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        chat_id = data.get("chat_id")
        if isinstance(chat_id, int) and chat_id > 0:  # private chats; groups are paced by the parent class
            async with self._chat_limiter(chat_id):
                return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)
        return await super().process_request(callback, args, kwargs, endpoint, data, rate_limit_args)


def build_application(settings: GatewaySettings) -> TelegramApplication:
    """The python-telegram-bot ``Application`` for these settings (no handlers yet, not started)."""
    builder = (
        Application.builder()
        .token(settings.telegram_bot_token)
        .rate_limiter(ChatPacedRateLimiter())
        .concurrent_updates(CONCURRENT_UPDATES)
        .defaults(Defaults(parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)))
    )
    if settings.telegram_base_url:
        root = settings.telegram_base_url.rstrip("/")
        builder = builder.base_url(f"{root}/bot").base_file_url(f"{root}/file/bot")
    if settings.telegram_mode == "webhook":
        builder = builder.updater(None)  # updates arrive on the gateway's webhook route instead
    application: TelegramApplication = builder.build()
    return application
