"""Staff handoff in a Telegram group: tickets posted to the staff chat, staff replies relayed back.

When a reply carries ``{"handoff_ticket": id}`` (from any channel) and a staff chat is configured,
the ticket is posted there. A staff member's Telegram *reply* to that post is stored as a
``StaffMessage`` and, for Telegram conversations, sent straight to the trader's chat; a web trader
sees it in the widget. Which post belongs to which ticket is kept in memory (bounded); after a
restart a reply is still matched by the "ticket #N" its post starts with.

Nothing here raises into the web routes: a failure is logged, or returned as an outcome key.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, Final

from telegram import Bot, Message

from connectors.conversation import Conversations
from connectors.telegram.render import (
    MESSAGE_LIMIT,
    TEXT,
    handoff_tickets,
    pack_lines,
    render_lines,
    telegram_length,
    ticket_posts,
)

if TYPE_CHECKING:
    from records.store import Records

logger = logging.getLogger(__name__)

STAFF_POSTS: Final = 5_000
# What the staff member who replied is told, per outcome of relay().
STAFF_REPLIES: Final = {
    "delivered": "✓ Sent to the trader on Telegram (ticket #{ticket}). / 已发送给用户。",
    "queued": "✓ Saved to ticket #{ticket}; the trader sees it in the web chat. / 已保存，用户会在网页对话中看到。",
    "blocked": "✗ Saved to ticket #{ticket}, but not delivered: the trader has blocked the bot. / 已保存，但用户已屏蔽机器人，未送达。",
    "unknown": "✗ Ticket #{ticket} does not exist any more; nothing was sent. / 工单不存在，未发送。",
    "no_store": "✗ The database is not available; the reply was not saved or sent. / 数据库不可用，回复未保存。",
}
_TICKET_IN_POST = re.compile(r"ticket #(\d+)", re.IGNORECASE)

Send = Callable[[int, str], Awaitable[Message | None]]


class StaffRelay:
    """Posts tickets to ``staff_chat_id`` and relays staff replies, through the channel's ``send``."""

    def __init__(
        self,
        *,
        bot: Callable[[], Bot],
        staff_chat_id: int | None,
        records: Records | None,
        conversations: Conversations,
        send: Send,
        connected: Callable[[], bool],
    ) -> None:
        self._bot, self.staff_chat_id, self.records = bot, staff_chat_id, records
        self.conversations, self._send, self._connected = conversations, send, connected
        self._posts: OrderedDict[int, int] = OrderedDict()
        self.tasks: set[asyncio.Task[None]] = set()  # posts in flight (the channel waits for them on stop)

    def notify_handoffs(self, replies: Sequence[dict[str, Any]]) -> None:
        """Post every handoff ticket in a Rasa reply to the staff chat, in the background (any channel)."""
        if self.staff_chat_id is None:
            return
        for ticket_id in handoff_tickets(replies):
            task = asyncio.create_task(self.notify_staff(ticket_id), name=f"telegram-notify-{ticket_id}")
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def notify_staff(self, ticket_id: int) -> None:
        """Post ticket ``ticket_id`` to the staff chat and remember which posts belong to it; never raises."""
        records = self.records
        if self.staff_chat_id is None or records is None:
            return
        if not self._connected():
            logger.warning("handoff ticket #%s not posted: the Telegram channel is not connected", ticket_id)
            return
        try:
            ticket = await asyncio.to_thread(records.ticket, ticket_id)
            if ticket is None:
                logger.warning("handoff ticket #%s not found; not posted to the staff chat", ticket_id)
                return
            for part in ticket_posts(ticket):
                posted = await self._bot().send_message(self.staff_chat_id, part)
                self._remember_post(posted.message_id, ticket_id)
        except Exception:
            logger.exception("could not post handoff ticket #%s to the staff chat", ticket_id)

    def _remember_post(self, message_id: int, ticket_id: int) -> None:
        self._posts[message_id] = ticket_id
        while len(self._posts) > STAFF_POSTS:
            self._posts.popitem(last=False)

    def ticket_for_post(self, post: Message) -> int | None:
        """The ticket a staff-chat message belongs to: from memory, or from the "ticket #N" it starts with."""
        if post.message_id in self._posts:
            return self._posts[post.message_id]
        if post.from_user is None or post.from_user.id != self._bot().id:
            return None
        match = _TICKET_IN_POST.search(post.text or "")
        return int(match.group(1)) if match else None

    async def relay(self, ticket_id: int, text: str, author: str) -> str:
        """Store a staff reply on the ticket and deliver it to a Telegram trader; returns the outcome key."""
        records = self.records
        if records is None:
            return "no_store"
        stored = await asyncio.to_thread(records.add_staff_message, ticket_id=ticket_id, text=text, author=author)
        if stored is None:
            return "unknown"
        prefix, _, rest = stored.sender_id.partition(":")
        if prefix != "tg" or not rest.lstrip("-").isdigit():
            return "queued"  # the web widget picks it up with take_staff_messages
        chat_id = int(rest)
        ticket = await asyncio.to_thread(records.ticket, ticket_id)
        lang = await self.conversations.preferred_language(stored.sender_id) or (ticket.lang if ticket else None)
        if not await self._send_staff_text(chat_id, stored.text, lang):
            return "blocked"
        # Mark it delivered, and deliver any older reply (from the console) that was still waiting.
        pending = await asyncio.to_thread(records.take_staff_messages, stored.sender_id)
        for row in pending:
            if row.id != stored.id:
                await self._send_staff_text(chat_id, row.text, lang)
        return "delivered"

    async def _send_staff_text(self, chat_id: int, text: str, lang: str | None) -> bool:
        label = html.escape(TEXT[lang if lang in TEXT else "en"]["staff"], quote=False)
        room = MESSAGE_LIMIT - telegram_length(label) - 10
        chunks = pack_lines(render_lines(text, room, markdown=False), room)
        for i, chunk in enumerate(chunks):
            if await self._send(chat_id, f"<b>{label}</b> {chunk}" if i == 0 else chunk) is None:
                return False
        return True
