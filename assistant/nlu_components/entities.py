"""Adds zone, country, industry, customs_code and amount entities found by ``knowledge.entities``.

The values are canonical ("义乌" and "Yiwu" are both ``jinyi``), so no synonym table is needed and
the advisors, the follow-up completion and the search filters all see the same value. Rules rather
than a trained extractor: the lists are closed and must work on the first day for every country.

This component must stay free of anything heavier than the standard library, PyYAML and
``knowledge.entities``.
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

from knowledge.entities import extract


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False
)
class TradeEntityExtractor(GraphComponent, EntityExtractorMixin):
    """Rule-based bilingual extractor for the trade entities the actions use."""

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "TradeEntityExtractor":
        return cls()

    @staticmethod
    def supported_languages() -> Optional[List[Text]]:
        return None

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT) or ""
            found = [
                {
                    "entity": e.entity,
                    "value": e.value,
                    "start": e.start,
                    "end": e.end,
                    "confidence": 1.0,
                    "extractor": self.__class__.__name__,
                }
                for e in extract(text)
            ]
            if found:
                message.set(ENTITIES, [*message.get(ENTITIES, []), *found], add_to_output=True)
        return messages
