"""SIGTERM stops the whole stack cleanly (on a stack of its own, so no other test depends on the order)."""

from __future__ import annotations

import os
import signal

import httpx
import pytest

from scripts.devstack import LocalStack

pytestmark = pytest.mark.e2e


def test_sigterm_stops_all_three_processes_cleanly(own_stack: LocalStack) -> None:
    stack = own_stack
    pids = [stack.pid(name) for name in ("rasa", "actions", "gateway")]
    stack.process.send_signal(signal.SIGTERM)
    assert stack.process.wait(60) == 0
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{stack.url}/healthz", timeout=2)
    assert "stopping" in stack.log.read_text()
