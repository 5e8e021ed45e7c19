"""assistant/tracker_window.py, in Rasa's own interpreter, on a real SQLite tracker database.

A scripted conversation of 40 messages (a language chosen in the first, a form open from message 20
to 35) goes through the store the way Rasa uses it: load, append the turn's events, save. What a
trader would notice if the window were wrong: a slot or an open form forgotten after the cut, a
message stored twice or lost, a conversation that costs more the longer it runs.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
RASA_PYTHON = REPO / ".venv" / "rasa" / "bin" / "python"
WINDOW = 3
MESSAGES = 40
FORM_OPEN, FORM_CLOSED = 20, 35

DRIVER = """
import asyncio, json, sys
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, SlotSet, UserUttered
from tracker_window import WindowedSQLTrackerStore

db, window, messages, form_open, form_closed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
domain = Domain.load("domain.yml")

def store():
    return WindowedSQLTrackerStore(domain=domain, dialect="sqlite", db=db, window_turns=window)

def users(tracker):
    return [e.text for e in tracker.events if isinstance(e, UserUttered)]

async def main():
    first = store()
    seen = []
    for number in range(1, messages + 1):
        tracker = await first.get_or_create_tracker("web:long")
        seen.append({"users": users(tracker), "events": len(tracker.events),
                     "language": tracker.get_slot("language"), "form": tracker.active_loop_name})
        tracker.update(UserUttered(f"message {number}", {"name": "ask_question", "confidence": 1.0}))
        if number == 1:
            tracker.update(SlotSet("language", "zh"))
        if number == form_open:
            tracker.update(ActiveLoop("odi_form"))
            tracker.update(SlotSet("requested_slot", "odi_destination"))
        if number == form_closed:
            tracker.update(ActiveLoop(None))
            tracker.update(SlotSet("requested_slot", None))
        tracker.update(ActionExecuted("action_answer_question"))
        tracker.update(BotUttered(f"answer {number}"))
        tracker.update(ActionExecuted("action_listen"))
        await first.save(tracker)
        if number == messages:
            await first.save(tracker)  # saving the same tracker again stores nothing twice
    second = store()  # a restarted Rasa, or the other replica
    latest = await second.retrieve("web:long")
    full = await second.retrieve_full_tracker("web:long")
    print(json.dumps({"seen": seen, "restarted": {"users": users(latest), "language": latest.get_slot("language")},
                      "full": users(full), "bots": [e.text for e in full.events if isinstance(e, BotUttered)]}))

asyncio.run(main())
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    if not RASA_PYTHON.exists():
        pytest.skip("Rasa's environment is set up by `make setup`")
    db = tmp_path_factory.mktemp("window") / "conversations.sqlite"
    env = {**os.environ, "PYTHONPATH": str(REPO / "assistant"), "TF_CPP_MIN_LOG_LEVEL": "3"}
    args = [str(db), str(WINDOW), str(MESSAGES), str(FORM_OPEN), str(FORM_CLOSED)]
    done = subprocess.run(
        [str(RASA_PYTHON), "-c", DRIVER, *args],
        cwd=REPO / "assistant",
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def test_a_loaded_conversation_holds_a_bounded_number_of_messages(run: dict[str, Any]) -> None:
    counts = [len(turn["users"]) for turn in run["seen"]]
    assert counts[: 2 * WINDOW + 1] == list(range(2 * WINDOW + 1))  # short conversations load whole
    assert max(counts) == 2 * WINDOW
    assert min(counts[2 * WINDOW :]) >= WINDOW
    # the newest messages are always the ones loaded, in order
    for number, turn in enumerate(run["seen"], start=1):
        assert turn["users"] == [f"message {n}" for n in range(number - len(turn["users"]), number)]
    assert max(turn["events"] for turn in run["seen"][2 * WINDOW :]) < 4 * (2 * WINDOW + 4)


def test_slots_and_an_open_form_survive_the_cut(run: dict[str, Any]) -> None:
    assert all(turn["language"] == "zh" for turn in run["seen"][1:])
    for number, turn in enumerate(run["seen"], start=1):
        expected = "odi_form" if FORM_OPEN < number <= FORM_CLOSED else None
        assert turn["form"] == expected, number
    assert run["restarted"]["language"] == "zh"


def test_every_message_is_stored_once_in_order(run: dict[str, Any]) -> None:
    assert run["full"] == [f"message {n}" for n in range(1, MESSAGES + 1)]
    assert run["bots"] == [f"answer {n}" for n in range(1, MESSAGES + 1)]


def test_a_restarted_rasa_loads_the_same_window(run: dict[str, Any]) -> None:
    users = run["restarted"]["users"]
    assert WINDOW <= len(users) <= 2 * WINDOW
    assert users[-1] == f"message {MESSAGES}"
