"""``action_request_human``: open a handoff ticket with the transcript and tell the trader what happens next.

The ticket lands in the database the staff console reads (``records.store``); one conversation has
at most one ticket that is not closed, so asking twice updates it rather than queueing twice. The
Telegram connector posts new tickets to the staff group when one is configured.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import knowledge_base
from actions.language import reply_language

logger = logging.getLogger(__name__)

TEXT = {
    "en": {
        "opened": (
            "I have passed our conversation to the staff team (ticket #{ticket}). A member of staff will reply "
            "in this chat, normally within one working day (Monday to Friday, 9:00–17:30 China time). "
            "You can keep asking me questions in the meantime."
        ),
        "failed": (
            "Sorry, I could not reach the staff team just now. Please try again in a few minutes, or contact "
            "the office named in the answers directly."
        ),
    },
    "zh": {
        "opened": (
            "已将我们的对话转给工作人员（工单号 #{ticket}）。工作人员会在这个对话里回复您，通常在一个工作日内"
            "（周一至周五 9:00–17:30，北京时间）。在此期间您可以继续向我提问。"
        ),
        "failed": "抱歉，暂时无法转接工作人员。请几分钟后再试，或直接联系答案中提到的主管部门。",
    },
}


def transcript(tracker: Tracker) -> list[dict[str, Any]]:
    """The conversation so far as ``[{"role": "user"|"bot", "text": ..., "at": ...}]``."""
    turns: list[dict[str, Any]] = []
    for event in tracker.events:
        kind = event.get("event")
        text = event.get("text")
        if kind in ("user", "bot") and text:
            turns.append({"role": kind, "text": text, "at": event.get("timestamp")})
    return turns


def _channel(tracker: Tracker) -> str:
    prefix, _, rest = tracker.sender_id.partition(":")
    return prefix if rest else "unknown"


def _last_question(tracker: Tracker) -> str:
    question = tracker.get_slot("last_question")
    if question:
        return str(question)
    for event in reversed(tracker.events):
        if event.get("event") == "user" and event.get("text") and not str(event["text"]).startswith("/"):
            return str(event["text"])
    return ""


class ActionRequestHuman(Action):
    """Opens (or refreshes) the conversation's handoff ticket."""

    def name(self) -> str:
        return "action_request_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        lang = reply_language(tracker)
        try:
            ticket = await asyncio.to_thread(
                knowledge_base.records().open_ticket,
                sender_id=tracker.sender_id,
                channel=_channel(tracker),
                lang=lang,
                question=_last_question(tracker),
                transcript=transcript(tracker),
            )
        except Exception:
            logger.exception("could not open a handoff ticket for %s", tracker.sender_id)
            dispatcher.utter_message(text=TEXT[lang]["failed"])
            return []
        logger.info("handoff ticket #%s for %s", ticket.id, tracker.sender_id)
        dispatcher.utter_message(
            text=TEXT[lang]["opened"].format(ticket=ticket.id), json_message={"handoff_ticket": ticket.id}
        )
        return []
