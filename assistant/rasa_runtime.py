"""Rasa's command line with one speed fix: action-server replies validated by a validator built once.

``python -m rasa_runtime run ...`` is ``rasa run ...`` (``scripts/stack.py`` starts Rasa this way).

Rasa 3.6 checks every reply of the action server with ``jsonschema.validate(reply, schema)``
(``RemoteAction._validate_action_result``). That function first validates the schema itself against
the JSON Schema meta-schema and builds a new validator, every call: 18.6 ms per reply on this
machine, against 0.5 ms for a validator built once (jsonschema 4.17). A py-spy profile of Rasa
answering knowledge questions one after another put 21% of Rasa's busy time there.

The patched method validates against the same schema with the validator class ``jsonschema.validate``
would have chosen, so a malformed reply is rejected exactly as before: the same ``ValidationError``,
with Rasa's pointer to the custom-actions docs (``tests/test_rasa_runtime.py`` checks both).

This module runs only in Rasa's environment (Python 3.10).
"""

from __future__ import annotations

import functools
import sys
from typing import Any

from jsonschema import validators
from jsonschema.exceptions import best_match
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL


@functools.lru_cache(maxsize=1)
def _action_reply_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    cls = validators.validator_for(schema)
    cls.check_schema(schema)  # once, as jsonschema.validate did on every call
    return cls(schema)


def _validate_action_result(self: Any, result: dict[str, Any]) -> bool:
    # What jsonschema.validate raises: the most relevant of the errors, not merely the first.
    e = best_match(_action_reply_validator().iter_errors(result))
    if e is None:
        return True
    e.message += (
        ". Failed to validate Action server response from API, "
        "make sure your response from the Action endpoint is valid. "
        "For more information about the format visit "
        f"{DOCS_BASE_URL}/custom-actions"
    )
    raise e


def apply() -> None:
    """Install the fix. Idempotent."""
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]


def main() -> None:
    apply()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()
