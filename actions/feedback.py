"""Thumbs up / down on an answer, and the optional "what was wrong?" that follows a thumbs-down.

Each rating is stored at once (``records.store``) with the question, the documents the answer cited
and the session, so staff see it even if the trader never answers the follow-up question.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import knowledge_base
from actions.language import reply_language

logger = logging.getLogger(__name__)

TEXT = {
    "en": {
        "good": "Thank you, that helps us keep the answers useful.",
        "nothing": "Thank you. Ask me a question and you can rate my answer.",
        "saved": "Thank you, I have passed that on to the team that maintains the answers.",
        "skipped": "No problem. You can rephrase the question, or type /human to reach a person.",
    },
    "zh": {
        "good": "谢谢您的反馈，这能帮助我们改进回答。",
        "nothing": "谢谢。先提一个问题，然后就可以给我的回答打分。",
        "saved": "谢谢，您的意见已转给维护知识库的同事。",
        "skipped": "没关系。您可以换个说法再问，或输入 /human 转人工。",
    },
}
_SKIP = re.compile(r"^\s*(skip|no|nothing|none|n/a|跳过|没有|无|不用了?|算了)\s*[.!。！]*\s*$", re.IGNORECASE)


class ActionRecordFeedback(Action):
    """Stores a thumbs up or down on the last answer."""

    def name(self) -> str:
        return "action_record_feedback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        lang = reply_language(tracker)
        rating = "good" if (tracker.latest_message.get("intent") or {}).get("name") == "feedback_good" else "bad"
        question = tracker.get_slot("last_question") or ""
        doc_ids = tracker.get_slot("last_doc_ids") or []
        if not question:
            if rating == "good":
                dispatcher.utter_message(text=TEXT[lang]["nothing"])
            return [SlotSet("feedback_id", None)]
        try:
            row = await asyncio.to_thread(
                knowledge_base.records().record_feedback,
                sender_id=tracker.sender_id,
                lang=lang,
                rating=rating,
                question=question,
                doc_ids=doc_ids,
            )
        except Exception:
            # Losing one rating must not break the conversation; the log keeps it.
            logger.exception("could not store %s feedback for %r", rating, question[:80])
            row = None
        if rating == "good":
            dispatcher.utter_message(text=TEXT[lang]["good"])
        return [SlotSet("feedback_id", float(row.id) if row is not None else None)]


class ValidateFeedbackForm(FormValidationAction):
    """Accepts any comment; "skip" (or a stop) leaves it empty."""

    def name(self) -> str:
        return "validate_feedback_form"

    async def validate_feedback_comment(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = str(slot_value or "").strip()
        if (
            not text
            or _SKIP.match(text)
            or (tracker.latest_message.get("intent") or {}).get("name") in ("stop", "deny")
        ):
            return {"feedback_comment": "-"}
        return {"feedback_comment": text}


class ActionSaveFeedbackComment(Action):
    """Adds the trader's comment to the thumbs-down just recorded."""

    def name(self) -> str:
        return "action_save_feedback_comment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        lang = reply_language(tracker)
        comment = tracker.get_slot("feedback_comment") or "-"
        feedback_id = tracker.get_slot("feedback_id")
        if comment == "-":
            dispatcher.utter_message(text=TEXT[lang]["skipped"])
        else:
            if feedback_id is not None:
                try:
                    await asyncio.to_thread(knowledge_base.records().add_feedback_comment, int(feedback_id), comment)
                except Exception:
                    logger.exception("could not store the comment on feedback %s", feedback_id)
            dispatcher.utter_message(text=TEXT[lang]["saved"])
        return [SlotSet("feedback_comment", None), SlotSet("feedback_id", None)]
