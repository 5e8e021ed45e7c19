"""The Telegram channel: python-telegram-bot handlers, HTML rendering, and staff handoff in a group.

Every text a trader sends goes to Rasa as ``tg:<chat_id>`` through the gateway's ``RasaClient``, with
the same command mapping (``/start``, ``/help``, ``/lang en|zh``, ``/human``) and language
preference as the web chat. Replies are rendered as Telegram HTML: every bot, user and staff text is
escaped before the few tags we add (``<b>`` for the bot's ``**bold**``, ``<a>`` for http(s)
citations), and a message longer than Telegram allows is split at line breaks.

Handoff to the staff group is ``connectors.telegram.staff``. What this module keeps only in memory
(lost on restart, bounded): recently seen update ids and long button payloads behind short callback
keys; after a restart an expired button sends its title instead.

It must not block the gateway: start-up connects in the background and retries, and nothing here
raises into the web routes.
"""

from __future__ import annotations

import asyncio
import html
import logging
import weakref
from collections import deque
from collections.abc import Sequence
from contextlib import suppress
from typing import TYPE_CHECKING, Any, Final

from telegram import (
    BotCommand,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.error import Forbidden, InvalidToken, TelegramError
from telegram.ext import (
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from connectors.conversation import Conversations, TurnFailed
from connectors.telegram.application import build_application
from connectors.telegram.buttons import Buttons
from connectors.telegram.render import (
    TEXT,
    render_reply,
)
from connectors.telegram.staff import STAFF_REPLIES, StaffRelay
from knowledge.language import detect_language

if TYPE_CHECKING:
    from connectors.settings import GatewaySettings
    from records.store import Records

logger = logging.getLogger(__name__)


ALLOWED_UPDATES: Final = (Update.MESSAGE, Update.CALLBACK_QUERY)
COMMANDS: Final = ("start", "help", "lang", "human")
SEEN_UPDATES: Final = 2048
RETRY_START_SECONDS: Final = 5.0
RETRY_START_MAX_SECONDS: Final = 300.0
WEBHOOK_PATH: Final = "/telegram/webhook"

TEXT_ONLY: Final = (
    "Sorry, I can only read text messages for now. Please type your question.\n"
    "抱歉，我目前只能阅读文字消息，请直接输入您的问题。"
)
BUTTON_EXPIRED: Final = "That button has expired; please type your question.\n这个按钮已失效，请直接输入您的问题。"
COMMAND_MENU: Final = (
    BotCommand("start", "Start · 开始"),
    BotCommand("help", "What I can answer · 我能回答什么"),
    BotCommand("lang", "Reply language: /lang en or /lang zh · 切换语言"),
    BotCommand("human", "Talk to a member of staff · 转人工"),
)
_UNSUPPORTED = (
    filters.PHOTO
    | filters.Sticker.ALL
    | filters.VOICE
    | filters.AUDIO
    | filters.VIDEO
    | filters.VIDEO_NOTE
    | filters.ANIMATION
    | filters.Document.ALL
    | filters.LOCATION
    | filters.VENUE
    | filters.CONTACT
    | filters.POLL
)


# --- the application ----------------------------------------------------------------------------


class TelegramChannel:
    """The Telegram side of the gateway: owns the PTB application, its handlers and the staff relay."""

    def __init__(
        self,
        settings: GatewaySettings,
        conversations: Conversations,
        records: Records | None,
        *,
        retry_seconds: float = RETRY_START_SECONDS,
    ) -> None:
        self.conversations, self.records = conversations, records
        self.settings = settings
        self.staff_chat_id = self.settings.telegram_staff_chat_id
        self.retry_seconds = retry_seconds
        self.application = build_application(self.settings)
        self._seen: set[int] = set()
        self._seen_order: deque[int] = deque()
        self.buttons = Buttons()
        self._chat_locks: weakref.WeakValueDictionary[int, asyncio.Lock] = weakref.WeakValueDictionary()
        self._tasks: set[asyncio.Task[None]] = set()
        self._starter: asyncio.Task[None] | None = None
        # Attempts to reach Telegram that failed (it retries with backoff; the gateway stays up).
        self.failed_starts = 0
        # httpx logs every request URL at INFO, and Bot API URLs contain the token.
        httpx_logger = logging.getLogger("httpx")
        if httpx_logger.getEffectiveLevel() < logging.WARNING:
            httpx_logger.setLevel(logging.WARNING)
        self.staff = StaffRelay(
            bot=lambda: self.application.bot,
            staff_chat_id=self.staff_chat_id,
            records=records,
            conversations=conversations,
            send=self._send,
            connected=lambda: self.running,
        )
        self._install_handlers()

    @property
    def webhook_mode(self) -> bool:
        return self.settings.telegram_mode == "webhook"

    @property
    def running(self) -> bool:
        """True once updates are being received and processed."""
        app = self.application
        if not app.running:
            return False
        return self.webhook_mode or (app.updater is not None and app.updater.running)

    def _install_handlers(self) -> None:
        app = self.application
        staff = filters.Chat(chat_id=self.staff_chat_id) if self.staff_chat_id is not None else None
        users: filters.BaseFilter = filters.UpdateType.MESSAGE
        if staff is not None:
            users = users & ~staff  # the staff group is for staff replies, never for Rasa
        app.add_handler(TypeHandler(Update, self.on_any_update), group=-1)
        if staff is not None:
            app.add_handler(
                MessageHandler(staff & filters.UpdateType.MESSAGE & filters.REPLY & filters.TEXT, self.on_staff_reply)
            )
        app.add_handler(CommandHandler(list(COMMANDS), self.on_command, filters=users))
        app.add_handler(MessageHandler(users & filters.TEXT, self.on_text))
        app.add_handler(MessageHandler(users & _UNSUPPORTED, self.on_unsupported))
        app.add_handler(CallbackQueryHandler(self.on_button))
        app.add_error_handler(self.on_error)

    # --- lifecycle --------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect to Telegram in the background; the gateway does not wait, and stays up if it fails."""
        if self._starter is None or self._starter.done():
            self._starter = asyncio.create_task(self._connect(), name="telegram-connect")

    async def _connect(self) -> None:
        delay = self.retry_seconds
        while True:
            try:
                await self._start_once()
            except InvalidToken:
                # The exception's message contains the token: log without it.
                logger.error("Telegram rejected TELEGRAM_BOT_TOKEN; the Telegram channel stays off")
                await self._shut_down()
                return
            except Exception as exc:
                logger.warning("could not start the Telegram channel (%s); trying again in %.0f s", exc, delay)
                self.failed_starts += 1
                await self._shut_down()
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_START_MAX_SECONDS)
            else:
                logger.info(
                    "Telegram channel started as @%s (%s)", self.application.bot.username, self.settings.telegram_mode
                )
                return

    async def _start_once(self) -> None:
        app = self.application
        await app.initialize()  # getMe: fails here when Telegram is unreachable or the token is wrong
        await app.start()
        bot = app.bot
        if self.webhook_mode:
            if self.settings.public_url:
                await bot.set_webhook(
                    url=self.settings.public_url.rstrip("/") + WEBHOOK_PATH,
                    secret_token=self.settings.telegram_webhook_secret,
                    allowed_updates=list(ALLOWED_UPDATES),
                )
            else:
                logger.warning("PUBLIC_URL is empty: register %s with Telegram's setWebhook yourself", WEBHOOK_PATH)
        else:
            if app.updater is None:
                raise RuntimeError("polling mode needs the application's updater")
            await app.updater.start_polling(allowed_updates=list(ALLOWED_UPDATES))
        try:
            await bot.set_my_commands(list(COMMAND_MENU))
        except TelegramError as exc:
            logger.warning("could not set the bot's command menu: %s", exc)

    async def _shut_down(self) -> None:
        app = self.application
        try:
            if app.updater is not None and app.updater.running:
                await app.updater.stop()
            if app.running:
                await app.stop()
            await app.shutdown()
            await app.bot.shutdown()  # also when initialize() failed half-way
        except Exception:
            logger.exception("error while stopping the Telegram channel")

    async def stop(self) -> None:
        """Stop receiving updates and close connections; replies already being sent are finished."""
        if self._starter is not None and not self._starter.done():
            self._starter.cancel()
            with suppress(asyncio.CancelledError):
                await self._starter
        if tasks := self._tasks | self.staff.tasks:
            _, late = await asyncio.wait(list(tasks), timeout=5)
            for task in late:
                task.cancel()
        await self._shut_down()

    async def accept_webhook_update(self, data: dict[str, Any]) -> bool:
        """Queue an update Telegram posted to the webhook; False while the channel is not running."""
        if not self.running:
            return False
        await self.application.update_queue.put(Update.de_json(data, self.application.bot))
        return True

    # --- handlers ---------------------------------------------------------------------------

    async def on_any_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Drop an update already seen (Telegram redelivers after timeouts), so it is answered once."""
        if update.update_id in self._seen:
            logger.info("dropping duplicate telegram update %s", update.update_id)
            raise ApplicationHandlerStop
        if len(self._seen_order) >= SEEN_UPDATES:
            self._seen.discard(self._seen_order.popleft())
        self._seen_order.append(update.update_id)
        self._seen.add(update.update_id)

    async def on_command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """``/start``, ``/help``, ``/lang en|zh``, ``/human``: mapped exactly as on the web."""
        await self.on_text(update, context)

    async def on_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A trader's text message: to Rasa, and the replies back to the chat."""
        message = update.effective_message
        if message is None or not message.text:
            return
        await self.converse(message.chat_id, message.text)

    async def on_unsupported(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A photo, sticker, voice note, location, file...: say, in both languages, that only text works."""
        if update.effective_chat is not None:
            await self._send(update.effective_chat.id, html.escape(TEXT_ONLY, quote=False))

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An inline button: answer the callback query, then send its payload to Rasa as the trader's message."""
        query = update.callback_query
        if query is None:
            return
        try:
            await query.answer()  # stops the button's spinner; Telegram refuses queries older than a few minutes
        except TelegramError as exc:
            logger.info("could not answer callback query %s: %s", query.id, exc)
        chat = update.effective_chat
        if chat is None:
            return
        payload = self.buttons.payload_for(
            query.data or "", query.message if isinstance(query.message, Message) else None
        )
        if payload is None:
            await self._send(chat.id, html.escape(BUTTON_EXPIRED, quote=False))
            return
        await self.converse(chat.id, payload)

    async def on_staff_reply(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A staff member's reply to a ticket post: stored on the ticket and relayed to the trader."""
        message = update.effective_message
        if message is None or not message.text or message.reply_to_message is None:
            return
        ticket_id = self.staff.ticket_for_post(message.reply_to_message)
        if ticket_id is None:
            return  # staff talking among themselves
        author = (message.from_user.full_name if message.from_user else "") or "staff"
        outcome = await self.staff.relay(ticket_id, message.text, author)
        await message.reply_text(html.escape(STAFF_REPLIES[outcome].format(ticket=ticket_id), quote=False))

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log an error a handler raised, with the update and chat it came from."""
        update_id = update.update_id if isinstance(update, Update) else None
        chat = update.effective_chat if isinstance(update, Update) else None
        if isinstance(context.error, Forbidden):
            logger.info("telegram chat %s cannot be reached: %s", chat.id if chat else None, context.error)
            return
        logger.error(
            "telegram update %s (chat %s) failed", update_id, chat.id if chat else None, exc_info=context.error
        )

    # --- conversation -----------------------------------------------------------------------

    async def converse(self, chat_id: int, text: str) -> None:
        """Send what the trader typed or clicked to Rasa and the replies to the chat (one chat at a time)."""
        lock = self._chat_locks.get(chat_id)
        if lock is None:
            lock = self._chat_locks[chat_id] = asyncio.Lock()
        async with lock:
            await self._converse(chat_id, text)

    async def _converse(self, chat_id: int, text: str) -> None:
        try:
            turn = await self.conversations.turn(f"tg:{chat_id}", text, "telegram")
        except TurnFailed as exc:
            await self._send(chat_id, self._unavailable(exc.lang or detect_language(text)))
            return
        replies, messages = turn.replies, turn.messages
        self.notify_handoffs(replies)
        lang = turn.lang or detect_language(" ".join(m["text"] for m in messages)) or "en"
        for message in messages:
            chunks = render_reply(message, lang)
            keyboard = self.buttons.keyboard(message["buttons"])
            for i, chunk in enumerate(chunks):
                if not await self._send(chat_id, chunk, keyboard if i == len(chunks) - 1 else None):
                    return  # blocked: the rest would fail the same way

    @staticmethod
    def _unavailable(lang: str | None) -> str:
        if lang in TEXT:
            return html.escape(TEXT[lang]["unavailable"], quote=False)
        return html.escape(f"{TEXT['en']['unavailable']}\n{TEXT['zh']['unavailable']}", quote=False)

    async def _send(self, chat_id: int, text: str, keyboard: InlineKeyboardMarkup | None = None) -> Message | None:
        """Send HTML to a chat; None (logged, not raised) when the trader blocked the bot or left."""
        try:
            return await self.application.bot.send_message(chat_id, text, reply_markup=keyboard)
        except Forbidden as exc:
            logger.info("telegram chat %s cannot be reached (%s); message not delivered", chat_id, exc)
            return None

    # --- staff handoff (connectors/telegram/staff.py) ----------------------------------------

    def notify_handoffs(self, replies: Sequence[dict[str, Any]]) -> None:
        """Post every handoff ticket in a Rasa reply to the staff chat, in the background (any channel)."""
        self.staff.notify_handoffs(replies)

    async def relay_staff_reply(self, ticket_id: int, text: str, author: str) -> str:
        """Store a staff reply on the ticket and deliver it to a Telegram trader; returns the outcome key."""
        return await self.staff.relay(ticket_id, text, author)
