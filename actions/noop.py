"""``action_noop``: a custom action that does nothing, the benchmark's baseline for one action round trip.

``bench/chat.py`` triggers it through Rasa's ``POST /conversations/{id}/execute`` to measure what a
trip Rasa -> action server -> Rasa costs before any real work. No story or rule predicts it, so a
trader never reaches it; it must stay free of side effects.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher


class ActionNoop(Action):
    """Returns no events and sends no message."""

    def name(self) -> str:
        return "action_noop"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        return []
