"""Starts the real stack (``python -m scripts.stack run``) once for the end-to-end tests that share it.

Rasa 3.6 on Python 3.10, the rasa-sdk action server and the gateway on Python 3.11, on free
loopback ports, with a fresh DATA_DIR (conversation database, logs) and the model and index that
``make prepare`` built: ``scripts.devstack.start_stack``, the same launcher the benchmarks use. A
test that kills or stops a process starts its own stack with ``own_stack`` and never touches this one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from scripts.devstack import PREPARED_INDEX, LocalStack, StackError, start_stack

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 300
CHROMIUM = next((p for p in ("/usr/bin/chromium", "/usr/bin/chromium-browser") if Path(p).exists()), None)
# Screenshots for a person to look at (Chinese renders with fonts-noto-cjk).
ARTIFACTS = REPO / "var" / "test-artifacts"
E2E_ADMIN = ("e2e-admin", "e2e-admin-password-1234")


def running_stack(data_dir: Path, extra_env: dict[str, str] | None = None) -> LocalStack:
    """A healthy stack in ``data_dir`` (the test fails with the stack's log when it does not come up)."""
    if not (PREPARED_INDEX / "CURRENT").exists():
        pytest.fail("no prepared index: run `make prepare` (make test does it) before the e2e tests")
    stack = start_stack(data_dir, extra_env)
    try:
        stack.wait_healthy(START_TIMEOUT_SECONDS)
    except StackError as exc:
        stack.stop()
        pytest.fail(str(exc))
    return stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The stack the e2e tests share (with a first staff account for the console tests)."""
    shared = running_stack(
        tmp_path_factory.mktemp("stack"), {"ADMIN_USERNAME": E2E_ADMIN[0], "ADMIN_PASSWORD": E2E_ADMIN[1]}
    )
    try:
        yield shared
    finally:
        shared.stop()


@pytest.fixture
def own_stack(tmp_path: Path) -> Iterator[LocalStack]:
    """A stack for one test that kills or stops its processes."""
    private = running_stack(tmp_path / "stack")
    try:
        yield private
    finally:
        private.stop()


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
