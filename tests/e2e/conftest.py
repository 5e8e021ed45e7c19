"""Starts the real stack (``scripts/stack.py run``) once for the end-to-end tests.

Rasa 3.6 on Python 3.10, the rasa-sdk action server and the gateway on Python 3.11, on free
loopback ports, with a fresh DATA_DIR (conversation database, logs) and the model and index that
``make prepare`` built.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from bench.local_stack import APP_PYTHON, PREPARED_INDEX, PREPARED_MODELS, PREPARED_ONNX

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 300
CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).exists()), None)
# Screenshots for a person to look at (Chinese renders with fonts-noto-cjk).
ARTIFACTS = REPO / "var" / "test-artifacts"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Stack:
    url: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log: Path

    def pid(self, child: str) -> int:
        return int((self.data_dir / "run" / f"{child}.pid").read_text())

    def chat(self, message: str, session_id: str | None = None, **extra: object) -> httpx.Response:
        body = {"message": message, "session_id": session_id, **extra}
        return httpx.post(f"{self.url}/api/v1/chat", json=body, timeout=30)

    def wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"the stack exited with {self.process.returncode}; log:\n{self.log.read_text()[-4000:]}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=3).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        pytest.fail(f"the stack was not healthy after {timeout}s; log:\n{self.log.read_text()[-4000:]}")


E2E_ADMIN = ("e2e-admin", "e2e-admin-password-1234")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    index = PREPARED_INDEX
    if not (index / "CURRENT").exists():
        pytest.fail("no prepared index: run `make prepare` (make test does it) before the e2e tests")
    data_dir = tmp_path_factory.mktemp("stack")
    shutil.copytree(index, data_dir / "index")
    gateway_port = free_port()
    env = {
        **os.environ,
        "DATA_DIR": str(data_dir),
        "MODELS_DIR": str(PREPARED_MODELS),
        "EMBEDDING_CACHE_DIR": str(PREPARED_ONNX),
        "GATEWAY_HOST": "127.0.0.1",
        "GATEWAY_PORT": str(gateway_port),
        "RASA_PORT": str(free_port()),
        "ACTION_SERVER_PORT": str(free_port()),
        "ADMIN_USERNAME": E2E_ADMIN[0],
        "ADMIN_PASSWORD": E2E_ADMIN[1],
    }
    log = data_dir / "stack.log"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [str(APP_PYTHON), str(REPO / "scripts" / "stack.py"), "run"],
            cwd=REPO,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )
    running = Stack(f"http://127.0.0.1:{gateway_port}", data_dir, process, log)
    try:
        running.wait_healthy(START_TIMEOUT_SECONDS)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium, driven by Playwright (no browser download). Per module: Playwright's sync
    API keeps an event loop running in this thread, and other modules' tests use asyncio.run()."""
    if CHROMIUM is None:
        pytest.fail("Debian's chromium is not installed: `apt-get install chromium` (.ci/run and `make browser` do it)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield launched
        launched.close()


def shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
