"""Private instances of the real stack (``python -m scripts.stack run``) on free loopback ports.

The one place the benchmarks (``bench/``) and the end-to-end tests (``tests/e2e``) start a stack:
a fresh DATA_DIR (conversation database, logs, pid files) holding a copy of the prepared index, the
models that ``make prepare`` trained, and the gateway, Rasa and the action server each on a free
port of 127.0.0.1; the health probe; the free-port helper; and, for the scale profile, the local
PostgreSQL and Redis (``scripts/services.py``). It never trains or builds anything itself: without a
prepared index it stops with a message saying to run ``make prepare``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
APP_PYTHON = REPO / ".venv" / "app" / "bin" / "python"
PREPARED_INDEX = REPO / "var" / "index"
PREPARED_MODELS = REPO / "var" / "models"
PREPARED_ONNX = REPO / "var" / "onnx"
CHILDREN = ("rasa", "actions", "gateway")


class StackError(RuntimeError):
    """The stack could not be started, or stopped being healthy."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LocalStack:
    """A running ``scripts/stack.py run`` and where to reach its parts."""

    data_dir: Path
    process: subprocess.Popen[bytes]
    log: Path
    ports: dict[str, int]
    launched_at: float
    env: dict[str, str] = field(repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['gateway']}"

    @property
    def rasa_url(self) -> str:
        """The (first) Rasa replica."""
        return f"http://127.0.0.1:{self.replica_ports[0]}"

    @property
    def replica_ports(self) -> list[int]:
        """Every Rasa replica's port: one in the default profile, two or more in the scale one."""
        return json.loads(self.env.get("RASA_REPLICA_PORTS") or "null") or [self.ports["rasa"]]

    @property
    def children(self) -> list[str]:
        """The supervisor's children by pid-file name: rasa (or rasa-1, rasa-2, ...), actions, gateway."""
        replicas = self.replica_ports
        rasa = ["rasa"] if len(replicas) == 1 else [f"rasa-{n}" for n in range(1, len(replicas) + 1)]
        return [*rasa, "actions", "gateway"]

    @property
    def actions_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['actions']}"

    def pid(self, child: str) -> int:
        """The pid the supervisor wrote for ``child`` (rasa, actions or gateway)."""
        return int((self.data_dir / "run" / f"{child}.pid").read_text())

    def healthy(self) -> bool:
        return _answers(f"{self.url}/healthz")

    def chat(self, message: str, session_id: str | None = None, **extra: object) -> httpx.Response:
        """POST one message to the public chat route."""
        body = {"message": message, "session_id": session_id, **extra}
        return httpx.post(f"{self.url}/api/v1/chat", json=body, timeout=30)

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def wait_all_replicas(self, timeout: float) -> None:
        """/healthz is 200 once one replica answers; wait until every replica does."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(_answers(f"http://127.0.0.1:{port}/") for port in self.replica_ports):
                return
            time.sleep(1)
        raise StackError(f"not every Rasa replica came up in {timeout:.0f}s; log:\n{self.log_tail()}")

    def wait_healthy(self, timeout: float) -> float:
        """Seconds until ``/healthz`` answered 200; raises ``StackError`` on exit or timeout."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            if self.process.poll() is not None:
                raise StackError(f"the stack exited with {self.process.returncode}; log:\n{self.log_tail()}")
            if self.healthy():
                return time.monotonic() - started
            time.sleep(0.25)
        raise StackError(f"the stack was not healthy after {timeout:.0f}s; log:\n{self.log_tail()}")

    def stop(self, timeout: float = 60) -> int | None:
        """SIGTERM the supervisor (it stops its children) and wait; SIGKILL if it does not exit."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode

    def stop_services(self) -> None:
        """Stop and delete the scale profile's PostgreSQL and Redis (nothing in the default profile)."""
        if self.env.get("PROFILE") != "scale":
            return
        from scripts import services

        services.stop(self.data_dir, int(self.env["REDIS_PORT"]), purge=True)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def scale_env(replicas: int = 2) -> dict[str, str]:
    """Environment for ``start_stack`` that runs the scale profile on free loopback ports."""
    return {
        "PROFILE": "scale",
        "RASA_REPLICA_PORTS": json.dumps([free_port() for _ in range(replicas)]),
        "POSTGRES_PORT": str(free_port()),
        "REDIS_PORT": str(free_port()),
    }


def start_stack(data_dir: Path, extra_env: dict[str, str] | None = None) -> LocalStack:
    """Launch the stack in ``data_dir`` (created; the prepared index is copied in). Returns at once."""
    if not (PREPARED_INDEX / "CURRENT").exists():
        raise StackError("no prepared index: run `make prepare` first")
    data_dir.mkdir(parents=True, exist_ok=True)
    if not (data_dir / "index").exists():
        shutil.copytree(PREPARED_INDEX, data_dir / "index")
    ports = {"gateway": free_port(), "rasa": free_port(), "actions": free_port()}
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "MODELS_DIR": str(PREPARED_MODELS),
        "EMBEDDING_CACHE_DIR": str(PREPARED_ONNX),
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(ports["gateway"]),
        "RASA_PORT": str(ports["rasa"]),
        "ACTION_SERVER_PORT": str(ports["actions"]),
        **(extra_env or {}),
    }
    log = data_dir / "stack.log"
    launched_at = time.monotonic()
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [str(APP_PYTHON), "-m", "scripts.stack", "run"],
            cwd=REPO,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    return LocalStack(data_dir, process, log, ports, launched_at, env)
