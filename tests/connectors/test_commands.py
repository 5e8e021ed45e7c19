"""Slash commands shared by every channel."""

from __future__ import annotations

import pytest

from connectors.commands import requested_language, to_rasa_message


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        ("/start", "/greet"),
        ("/help", "/help"),
        ("/human", "/request_human"),
        ("/start@ZjTradeBot", "/greet"),
        ("/lang zh", '/switch_language{"language": "zh"}'),
        ("/lang", "/switch_language"),
        ("/feedback_good", "/feedback_good"),
        ("/start_customs_advisor", "/start_customs_advisor"),
        ("what is 9610", "what is 9610"),
    ],
)
def test_commands_and_button_payloads(typed: str, sent: str) -> None:
    assert to_rasa_message(typed) == sent


@pytest.mark.parametrize(
    ("typed", "sent"),
    [
        ('/switch_language{"language": "xx"}', 'switch_language{"language": "xx"}'),
        ('/ask_question{"zone": "ningbo"}', 'ask_question{"zone": "ningbo"}'),
        ("/9610", "9610"),
        ("/", "help"),
        ("/goodbye now", "goodbye now"),
    ],
)
def test_other_slash_text_cannot_inject_intents_or_entities(typed: str, sent: str) -> None:
    assert to_rasa_message(typed) == sent


def test_lang_command_names_the_language() -> None:
    assert requested_language("/lang en") == "en"
    assert requested_language("/lang fr") is None
    assert requested_language("hello") is None
