"""assistant/rasa_runtime.py, in Rasa's own interpreter: the faster validator judges replies as Rasa's did.

The check runs real action-server replies (one the answer action sends, and broken ones) through
Rasa 3.6's original ``_validate_action_result`` and through the patched one, and compares verdicts
and error messages. The faster path is only worth having if a broken reply is still refused.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
RASA_PYTHON = REPO / ".venv" / "rasa" / "bin" / "python"

VALID = {
    "events": [{"event": "slot", "timestamp": None, "name": "last_topic", "value": "customs"}],
    "responses": [{"text": "9610 is ...", "buttons": [{"title": "Yes", "payload": "/feedback"}], "custom": {}}],
}
BROKEN = [
    {"events": [{"event": 5}]},  # event name of the wrong type
    {"events": [{"event": "slot", "value": "x"}]},  # a slot event without its name
    {"events": "not a list"},
    {"responses": [["not", "an", "object"]]},
]

CHECK = """
import json, sys
from rasa.core.actions.action import RemoteAction
from jsonschema import ValidationError
original = RemoteAction._validate_action_result
import rasa_runtime
rasa_runtime.apply()
assert RemoteAction._validate_action_result is not original, "the fix was not installed"
patched = RemoteAction._validate_action_result
action = RemoteAction("action_answer_question", None)
def verdict(method, reply):
    try:
        return ["ok", method(action, reply)]
    except ValidationError as error:
        return ["refused", error.message]
out = []
for reply in json.loads(sys.argv[1]):
    out.append([verdict(original, reply), verdict(patched, reply), verdict(patched, reply)])
print(json.dumps(out))
"""


@pytest.mark.skipif(not RASA_PYTHON.exists(), reason="Rasa's environment is set up by `make setup`")
def test_patched_validator_accepts_and_refuses_exactly_what_rasa_did() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO / "assistant"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    replies = [VALID, *BROKEN]
    done = subprocess.run(
        [str(RASA_PYTHON), "-c", CHECK, json.dumps(replies)],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    results = json.loads(done.stdout.strip().splitlines()[-1])
    assert results[0][1] == ["ok", True]
    for (original, patched, again), reply in zip(results, replies, strict=True):
        assert patched == original, reply
        assert again == patched, reply  # the cached validator carries no state between replies
    for _, patched, _ in results[1:]:
        assert patched[0] == "refused"
        assert "custom-actions" in patched[1]
