"""``action_answer_question``: answer a business question from the knowledge base, with its source.

The reply itself is composed by ``knowledge.answers`` (the sentences that answer first, then their
context, the source and its date; an honest "not found" or "the knowledge base does not state it"
otherwise). This module is the Rasa side: which question to search (a follow-up is completed from the
previous one), the search call, logging the question for the console, and the slots it remembers.

A short follow-up that only names a new place or code ("and for Ningbo?", "9810呢？") is completed
from the previous question, which the action keeps in the ``last_question`` slot.
"""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import knowledge_base
from actions.advisors import recommend_customs, recommend_odi
from actions.cases import CASE_TEXT, Case, customs_result, known_facts, read_case
from actions.language import reply_language
from knowledge import entities
from knowledge.answer_texts import TEXT
from knowledge.answers import answer_question
from knowledge.errors import KnowledgeError

logger = logging.getLogger(__name__)

UNAVAILABLE_RESPONSE = "utter_answer_unavailable"


# Words that carry no topic of their own in a follow-up ("and what about ... then?", "那……呢？").
_FOLLOW_UP_FILLER_EN = re.compile(
    r"\b(?:and|what|about|how|for|then|same|in|at|the|area|zone|port|also|too|there|case|of|with|is|it|"
    r"please|ok|okay|so|but|or|if|via|using|under|code|mode)\b"
)
_FOLLOW_UP_FILLER_ZH = re.compile(
    r"那么|那|呢|的|怎么样|如何|怎样|情况|又|还有|也|呀|啊|吗|是|片区|地区|区域|同样|和|跟|用|走"
)
_PUNCTUATION = re.compile(r"[\s\W_]+")
_FOLLOW_UP_TYPES = ("zone", "customs_code", "country")


def _with_suffix_of(old: str, new: str) -> str:
    """ "Ningbo" replacing "Hangzhou area" becomes "Ningbo area" ("宁波" for "杭州片区": "宁波片区")."""
    for suffix in (" area", "片区", " zone"):
        if old.lower().endswith(suffix) and not new.lower().endswith(suffix):
            return new + suffix
    return new


def complete_follow_up(question: str, previous: str | None) -> str | None:
    """The previous question re-aimed at what ``question`` names, if ``question`` is only a follow-up.

    "and for Ningbo?" after "what is the Hangzhou area for" -> "what is the Ningbo area for".
    Returns None when ``question`` stands on its own.
    """
    if not previous:
        return None
    mentioned = [e for e in entities.extract(question) if e.entity in _FOLLOW_UP_TYPES]
    if not mentioned or len(question) > 60:
        return None
    rest = entities.normalise(question)
    for mention in sorted(mentioned, key=lambda e: -e.start):
        rest = rest[: mention.start] + " " + rest[mention.end :]
    rest = _FOLLOW_UP_FILLER_ZH.sub(" ", _FOLLOW_UP_FILLER_EN.sub(" ", rest))
    if _PUNCTUATION.sub("", rest):
        return None  # the message says more than a new place or code: a question of its own
    completed = previous
    for mention in mentioned:
        earlier = [e for e in entities.extract(completed) if e.entity == mention.entity]
        if earlier:
            old = earlier[0]
            completed = completed[: old.start] + _with_suffix_of(old.text, mention.text) + completed[old.end :]
        else:
            completed = f"{completed} {mention.text}"
    return completed


class ActionAnswerQuestion(Action):
    """Searches the knowledge base for the trader's question and replies with a cited passage."""

    def name(self) -> str:
        return "action_answer_question"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        lang = reply_language(tracker)
        message = tracker.latest_message.get("text") or ""
        case = read_case(message)
        if case is not None:  # the message states an advisor's whole case: advise, or ask only the rest
            return advise(dispatcher, tracker, case, lang)
        question = complete_follow_up(message, tracker.get_slot("last_question")) or message
        try:
            # In a worker thread: ONNX Runtime, FAISS and numpy release the GIL, so the server's event
            # loop takes the next action (another session's) on the other core meanwhile.
            retriever = await asyncio.to_thread(knowledge_base.retriever, 3.0)
            result, reply = await asyncio.to_thread(answer_question, retriever, question, lang)
        except KnowledgeError as exc:
            logger.warning("search refused %r: %s", question[:80], exc)
            dispatcher.utter_message(text=TEXT[lang]["not_found"], json_message={"citations": []})
            return []
        except Exception:
            logger.exception("knowledge search failed")
            dispatcher.utter_message(response=UNAVAILABLE_RESPONSE)
            return []
        dispatcher.utter_message(**reply.message)
        cited = [c["doc_id"] for c in reply.citations]
        log_question(
            tracker.sender_id, lang, question, reply.answered, cited, result.hits[0].score if result.hits else None
        )
        return [SlotSet("last_question", question), SlotSet("last_doc_ids", cited)]


def advise(dispatcher: CollectingDispatcher, tracker: Tracker, case: Case, lang: str) -> list[dict[str, Any]]:
    """The advisor's result for a complete case; otherwise its form, started with what is known."""
    message = tracker.latest_message.get("text") or ""
    if case.missing:
        count = len(case.missing)
        known = known_facts(case, lang)
        if known:
            text = CASE_TEXT[lang]["known"].format(known=known, count=count, s="" if count == 1 else "s")
            dispatcher.utter_message(text=text)
        return [*(SlotSet(slot, value) for slot, value in case.slots.items()), FollowupAction(case.form)]
    if case.form == "odi_form":
        note = CASE_TEXT[lang]["assumed_onshore"] if "odi_offshore" in case.assumed else ""
        events = recommend_odi(dispatcher, case.slots, lang, note=note)
    else:
        events = recommend_customs(dispatcher, customs_result(case), lang)
    cited: list[str] = next((e["value"] for e in events if e.get("name") == "last_doc_ids"), [])
    log_question(tracker.sender_id, lang, message, True, list(cited), None)
    return events


_pending_logs: set[asyncio.Task[None]] = set()


def log_question(
    sender_id: str, lang: str, question: str, answered: bool, cited: list[str], top_score: float | None
) -> None:
    """Record the question for the console (dashboard, questions queue) without delaying the reply.

    Only a real answer counts as answered: a "not stated" reply is a gap the questions queue shows.
    """

    async def write() -> None:
        try:
            await asyncio.to_thread(
                knowledge_base.records().log_question,
                sender_id=sender_id,
                lang=lang,
                question=question,
                answered=answered,
                doc_ids=cited,
                top_score=top_score,
            )
        except Exception:
            logger.exception("could not log the question %r", question[:80])

    task = asyncio.get_running_loop().create_task(write())
    _pending_logs.add(task)  # a reference, so the task is not collected before it runs
    task.add_done_callback(_pending_logs.discard)
