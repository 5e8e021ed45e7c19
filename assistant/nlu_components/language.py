"""Marks every message with the language the assistant should answer in.

The gateway sends the language it was asked for (or detected) in the message metadata; messages that
arrive without it (``rasa shell``, ``rasa test``) are detected here with the same rule the knowledge
search uses. The result is a ``language`` entity, which fills the ``language`` slot that conditional
responses switch on. Messages without a clear language add no entity, so the conversation keeps the
language it had: only digits or emoji, and short Latin-only answers ("ok", "yes", "USD 5m") that a
Chinese-speaking trader types as readily as an English-speaking one.

This component must stay free of anything heavier than the standard library and ``knowledge.language``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Text

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.extractors.extractor import EntityExtractorMixin
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message

from knowledge.language import SUPPORTED_LANGUAGES, detect_language

LANGUAGE_ENTITY = "language"
# Fewer Latin letters than this, and no Han characters, is not evidence of English.
MIN_LATIN_LETTERS = 8


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False
)
class LanguageEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Adds a ``language`` entity (``en`` or ``zh``) to each message that has a clear language."""

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "LanguageEntityExtractor":
        return cls()

    @staticmethod
    def supported_languages() -> Optional[List[Text]]:
        return None

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            language = self._language_of(message)
            if language is None:
                continue
            text = message.get(TEXT) or ""
            entity = {
                "entity": LANGUAGE_ENTITY,
                "value": language,
                "start": 0,
                "end": len(text),
                "confidence": 1.0,
                "extractor": self.__class__.__name__,
            }
            message.set(ENTITIES, [*message.get(ENTITIES, []), entity], add_to_output=True)
        return messages

    @staticmethod
    def _language_of(message: Message) -> Optional[str]:
        metadata = message.get("metadata") or {}
        requested = metadata.get("lang") if isinstance(metadata, dict) else None
        if requested in SUPPORTED_LANGUAGES:
            return str(requested)
        text = message.get(TEXT) or ""
        detected = detect_language(text)
        if detected == "en" and sum(ch.isascii() and ch.isalpha() for ch in text) < MIN_LATIN_LETTERS:
            return None
        return detected
