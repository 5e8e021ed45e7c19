"""Which language to reply in, and ``action_switch_language``.

The reply language is the ``language`` slot: the gateway's explicit choice or the detected language
of each message (see ``nlu_components.language``). "Answer in English" / "/lang zh" switches it and
asks the channel to remember the choice, with a ``{"set_language": ...}`` payload the gateway stores
as the session's preference.
"""

from __future__ import annotations

import re
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from knowledge.language import SUPPORTED_LANGUAGES, detect_language

_ASKS_FOR = {
    "en": re.compile(r"english|英文|英语", re.IGNORECASE),
    "zh": re.compile(r"chinese|mandarin|中文|汉语|普通话|华语", re.IGNORECASE),
}
SWITCHED = {
    "en": "OK, I will answer in English from now on. Type /lang zh to switch back to Chinese.",
    "zh": "好的，接下来我会用中文回答。输入 /lang en 可以切换回英文。",
}


def reply_language(tracker: Tracker) -> str:
    """The language of the reply: the ``language`` slot, else the message's own language, else English."""
    slot = tracker.get_slot("language")
    if slot in SUPPORTED_LANGUAGES:
        return str(slot)
    return detect_language(tracker.latest_message.get("text") or "") or "en"


def requested_language(tracker: Tracker) -> str:
    """The language a switch request asks for: named in the entity or text, otherwise the other one."""
    message = tracker.latest_message
    text = message.get("text") or ""
    for entity in message.get("entities") or []:
        # A "/switch_language{"language": "zh"}" payload names it; a detected language does not.
        explicit = entity.get("entity") == "language" and entity.get("extractor") != "LanguageEntityExtractor"
        if explicit and entity.get("value") in SUPPORTED_LANGUAGES:
            return str(entity["value"])
    named = [lang for lang, pattern in _ASKS_FOR.items() if pattern.search(text)]
    if len(named) == 1:
        return named[0]
    current = tracker.get_slot("language")
    return "en" if current == "zh" else "zh"


class ActionSwitchLanguage(Action):
    """Switches the reply language and asks the channel to keep it for the session."""

    def name(self) -> str:
        return "action_switch_language"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        target = requested_language(tracker)
        dispatcher.utter_message(text=SWITCHED[target])
        dispatcher.utter_message(json_message={"set_language": target})
        return [SlotSet("language", target)]
