"""One conversation turn, whatever the channel: the web chat route, Telegram, and any later channel.

A channel turns its input into text and a Rasa sender id ("web:<session>", "tg:<chat id>"), calls
``Conversations.turn``, and renders the ``Turn`` it gets back in its own way. The turn itself is the
same everywhere: the reply language (asked for by the channel, typed as "/lang zh", or chosen
earlier by this sender), the message sent to Rasa with the channel in its metadata, a language
switch remembered for the sender, and silence from Rasa read as "the action server could not run".

Must not: render anything (HTML, Markdown, keyboards: the channel's job), or lose a language
preference error into a failed turn (preferences are a convenience; chat works without the store).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Literal

from connectors.commands import requested_language, to_rasa_message
from connectors.rasa_client import EngineUnavailable, RasaClient, language_choice, to_chat_messages
from records.store import Records

logger = logging.getLogger(__name__)

Component = Literal["rasa", "actions"]


@dataclass(frozen=True)
class Turn:
    """What one message produced: the messages to show, Rasa's raw replies and the reply language."""

    messages: list[dict[str, Any]]
    replies: list[dict[str, Any]]
    lang: str | None


class TurnFailed(Exception):
    """No reply: ``component`` says what is down (Rasa, or the action server behind it)."""

    def __init__(self, component: Component, lang: str | None) -> None:
        super().__init__(f"{component} could not answer")
        self.component, self.lang = component, lang


class Conversations:
    """Rasa plus the language preferences kept in the store."""

    def __init__(self, rasa: RasaClient, records: Records | None) -> None:
        self.rasa, self.records = rasa, records

    async def turn(self, sender: str, text: str, channel: str, lang: str | None = None) -> Turn:
        """Send ``text`` from ``sender`` to Rasa; raises ``TurnFailed`` when nothing could answer."""
        lang = lang or requested_language(text) or await self.preferred_language(sender)
        metadata = {"channel": channel, **({"lang": lang} if lang else {})}
        try:
            replies = await self.rasa.send(sender, to_rasa_message(text), metadata)
        except EngineUnavailable as exc:
            logger.warning("%s: %s", sender.split(":", 1)[0], exc)
            raise TurnFailed("rasa", lang) from exc
        choice = language_choice(replies)
        if choice is not None:
            await self.remember_language(sender, choice)
            lang = choice
        messages = to_chat_messages(replies)
        if not messages:
            # Every intent has a reply, so silence means the action Rasa chose could not run.
            actions_ok, detail = await self.rasa.check_actions()
            logger.warning("%s got no reply from rasa; action server: %s", sender.split(":", 1)[0], detail)
            raise TurnFailed("rasa" if actions_ok else "actions", lang)
        return Turn(messages, replies, lang)

    async def preferred_language(self, sender_id: str) -> str | None:
        if self.records is None:
            return None
        try:
            return await asyncio.to_thread(self.records.language, sender_id)
        except Exception:
            logger.exception("could not read the language preference of %s", sender_id)
            return None

    async def remember_language(self, sender_id: str, lang: str) -> None:
        if self.records is None:
            return
        try:
            await asyncio.to_thread(self.records.set_language, sender_id, lang)
        except Exception:
            logger.exception("could not store the language preference of %s", sender_id)
