"""Slash commands every channel understands, turned into what Rasa expects.

``/start``, ``/help``, ``/human`` and ``/lang en|zh`` work the same on the website and on Telegram.
Buttons send a few intent payloads (``/feedback_good``, ``/start_odi_advisor`` ...); those pass
through. Any other text that starts with "/" is sent without the slash, so a typed "/9610" is a
question about 9610 rather than an intent injection (a trader cannot set slots or entities by typing
``/intent{"slot": ...}``).
"""

from __future__ import annotations

import json
import re

from knowledge.language import SUPPORTED_LANGUAGES

# Intents a button or a trader may trigger directly.
PASS_THROUGH_INTENTS = frozenset(
    {
        "greet",
        "help",
        "stop",
        "request_human",
        "feedback_good",
        "feedback_bad",
        "start_odi_advisor",
        "start_customs_advisor",
        "switch_language",
    }
)
_ALIASES = {"start": "/greet", "help": "/help", "human": "/request_human", "stop": "/stop", "cancel": "/stop"}
_COMMAND = re.compile(r"^/(?P<name>[A-Za-z_]+)(?:@\w+)?(?:\s+(?P<arg>.*))?$", re.DOTALL)


def to_rasa_message(text: str) -> str:
    """What to send to Rasa for ``text`` typed or clicked in a channel."""
    text = text.strip()
    match = _COMMAND.match(text)
    if match is None:
        if text.startswith("/"):
            return text.lstrip("/").strip() or "help"
        return text
    name, arg = match.group("name").lower(), (match.group("arg") or "").strip().lower()
    if name == "lang":
        if arg in SUPPORTED_LANGUAGES:
            return "/switch_language" + json.dumps({"language": arg})
        return "/switch_language"
    if name in _ALIASES and not arg:
        return _ALIASES[name]
    if name in PASS_THROUGH_INTENTS and not arg:
        return f"/{name}"
    return text[1:].strip()


def requested_language(text: str) -> str | None:
    """The language a ``/lang xx`` command chooses, if ``text`` is one."""
    match = _COMMAND.match(text.strip())
    if match and match.group("name").lower() == "lang":
        arg = (match.group("arg") or "").strip().lower()
        return arg if arg in SUPPORTED_LANGUAGES else None
    return None
