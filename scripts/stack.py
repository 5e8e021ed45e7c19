"""Prepare and run the whole assistant: Rasa, the action server and the gateway.

    python -m scripts.stack prepare   train the Rasa model if its data changed, build the index if missing, re-index changed documents
    python -m scripts.stack run       prepare, then start and supervise the three processes

Each child's output goes to the terminal with a ``[name]`` prefix and to ``DATA_DIR/logs/<name>.log``.
Ctrl-C or SIGTERM stops all three. A child that dies on its own is reported and restarted with
backoff; one that keeps dying stops the whole stack with a non-zero exit, so a broken stack is never
silently half up. Each child's pid is in ``DATA_DIR/run/<name>.pid``.

Run with the app environment's Python (``make run`` does); Rasa runs from ``.venv/rasa``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

from connectors.settings import GatewaySettings  # noqa: E402

ASSISTANT = REPO / "assistant"
RASA = REPO / ".venv" / "rasa" / "bin" / "rasa"
# `rasa run` through assistant/rasa_runtime.py: the same CLI with one speed fix installed first.
RASA_RUN = [str(REPO / ".venv" / "rasa" / "bin" / "python"), "-m", "rasa_runtime", "run"]
APP_PYTHON = REPO / ".venv" / "app" / "bin" / "python"
# Everything that changes what `rasa train` produces.
MODEL_INPUTS = ("config.yml", "domain.yml", "data", "nlu_components")
READY_TIMEOUT_SECONDS = 240
STOP_TIMEOUT_SECONDS = 15
# A child that dies is restarted with backoff (1, 2, 4 s); more crashes than this in the window
# mean something is broken for good, and the whole stack stops.
MAX_CRASHES = 3
CRASH_WINDOW_SECONDS = 60


def say(message: str) -> None:
    print(f"[stack] {message}", flush=True)


def models_dir(settings: GatewaySettings) -> Path:
    return Path(settings.models_dir) if settings.models_dir else settings.data_dir / "models"


def model_fingerprint() -> str:
    """Hash of the training data, config, custom components and the Rasa lock file."""
    digest = hashlib.sha256()
    files = [REPO / "requirements" / "rasa.lock", REPO / "knowledge" / "language.py"]
    for name in MODEL_INPUTS:
        path = ASSISTANT / name
        files.extend(
            sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
            if path.is_dir()
            else [path]
        )
    for path in files:
        digest.update(str(path.relative_to(REPO)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def child_env(settings: GatewaySettings) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=os.pathsep.join([str(ASSISTANT), str(REPO)]),
        DATA_DIR=str(settings.data_dir),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        RASA_TELEMETRY_ENABLED="false",
        TF_CPP_MIN_LOG_LEVEL="2",
        PYTHONUNBUFFERED="1",
        ACTION_ENDPOINT_URL=f"{settings.action_server_url}/webhook",
        TRACKER_WINDOW_TURNS=str(settings.tracker_window_turns),
    )
    if settings.profile == "default":  # the scale profile's services set their own (start_services)
        env["RASA_TRACKER_DB"] = str((settings.data_dir / "conversations.sqlite").resolve())
    return env


def ensure_model(settings: GatewaySettings) -> Path:
    """The trained model for the current data, training it only when the data changed."""
    fingerprint = model_fingerprint()
    target = models_dir(settings) / f"{fingerprint}.tar.gz"
    if target.exists():
        say(f"Rasa model is up to date ({target.name})")
        return target
    if not RASA.exists():
        sys.exit("[stack] .venv/rasa is missing: run `make setup` first")
    say("training the Rasa model (the data changed since the last model)")
    started = time.perf_counter()
    target.parent.mkdir(parents=True, exist_ok=True)
    command = [
        str(RASA),
        "train",
        "--config",
        str(ASSISTANT / "config.yml"),
        "--domain",
        str(ASSISTANT / "domain.yml"),
        "--data",
        str(ASSISTANT / "data"),
        "--out",
        str(target.parent),
        "--fixed-model-name",
        fingerprint,
    ]
    log = settings.data_dir / "logs" / "train.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as handle:
        result = subprocess.run(
            command, cwd=settings.data_dir, env=child_env(settings), stdout=handle, stderr=subprocess.STDOUT
        )
    if result.returncode != 0 or not target.exists():
        sys.exit(f"[stack] rasa train failed (exit {result.returncode}); see {log}")
    say(f"trained in {time.perf_counter() - started:.0f}s -> {target}")
    return target


def ensure_index(settings: GatewaySettings) -> None:
    if (settings.index_dir / "CURRENT").exists():
        # Edited corpus files are re-indexed (only those), so an answer never lags the reviewed text.
        synced = subprocess.run(
            [str(APP_PYTHON), "-m", "knowledge", "sync"],
            cwd=REPO,
            env=child_env(settings),
            capture_output=True,
            text=True,
        )
        detail = (synced.stdout or synced.stderr).strip().splitlines()
        say(f"search index ({settings.index_dir}): {detail[-1] if detail else 'checked'}")
        if synced.returncode != 0:
            sys.exit("[stack] the search index could not be brought up to date; `make index` rebuilds it")
        return
    say("building the search index from knowledge/corpus")
    result = subprocess.run([str(APP_PYTHON), "-m", "knowledge", "build"], cwd=REPO, env=child_env(settings))
    if result.returncode != 0:
        sys.exit("[stack] building the search index failed")


class Child:
    """One supervised process with prefixed, teed output; restartable."""

    def __init__(self, name: str, command: Sequence[str], *, cwd: Path, env: dict[str, str], log_dir: Path) -> None:
        self.name, self.command, self.cwd, self.env = name, list(command), cwd, env
        self.log = (log_dir / f"{name}.log").open("a", encoding="utf-8")
        self.pid_file = log_dir.parent / "run" / f"{name}.pid"
        self.pid_file.parent.mkdir(parents=True, exist_ok=True)
        self.crashes: list[float] = []
        self.restart_at: float | None = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            self.command,
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            text=True,
            errors="replace",
        )
        self.pid_file.write_text(str(self.process.pid))
        self._pump = threading.Thread(
            target=self._copy_output, args=(self.process,), name=f"log-{self.name}", daemon=True
        )
        self._pump.start()

    def _copy_output(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            sys.stdout.write(f"[{self.name}] {line}")
            sys.stdout.flush()
            self.log.write(line)
            self.log.flush()

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)

    def kill_group(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def wait(self, timeout: float) -> int | None:
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            return self.process.wait()
        finally:
            self._pump.join(timeout=2)
            self.pid_file.unlink(missing_ok=True)

    def close(self) -> None:
        self.log.close()


def healthy(settings: GatewaySettings) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{settings.gateway_port}/healthz", timeout=3) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def start_services(settings: GatewaySettings) -> None:
    """Scale profile: PostgreSQL and Redis on loopback; their settings go to every child's environment."""
    from scripts import services

    try:
        running = services.start(settings.data_dir, settings.postgres_port, settings.redis_port)
    except (services.ServiceError, subprocess.CalledProcessError) as exc:
        sys.exit(f"[stack] the scale profile's services could not start: {exc}")
    os.environ.update(running.env())


def stop_services(settings: GatewaySettings) -> None:
    from scripts import services

    services.stop(settings.data_dir, settings.redis_port)


def rasa_children(settings: GatewaySettings, model: Path, env: dict[str, str], log_dir: Path) -> list[Child]:
    """One Rasa (default profile), or one per replica port sharing PostgreSQL and Redis (scale)."""
    endpoints = ASSISTANT / ("endpoints.scale.yml" if settings.profile == "scale" else "endpoints.yml")
    ports = settings.rasa_ports
    return [
        Child(
            "rasa" if len(ports) == 1 else f"rasa-{number}",
            [
                *RASA_RUN,
                "--model",
                str(model),
                "--endpoints",
                str(endpoints),
                "--credentials",
                str(ASSISTANT / "credentials.yml"),
                "--interface",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            cwd=settings.data_dir,
            env=env,
            log_dir=log_dir,
        )
        for number, port in enumerate(ports, start=1)
    ]


def run(settings: GatewaySettings) -> int:
    model = ensure_model(settings)
    if settings.profile == "scale":
        start_services(settings)
    ensure_index(settings)
    env = child_env(settings)
    log_dir = settings.data_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())

    children = [
        *rasa_children(settings, model, env, log_dir),
        Child(
            "actions",
            [str(APP_PYTHON), "-m", "actions.server", "--port", str(settings.action_server_port)],
            cwd=REPO,
            env=env,
            log_dir=log_dir,
        ),
        Child(
            "gateway",
            [
                str(APP_PYTHON),
                "-m",
                "uvicorn",
                "connectors.gateway.main:create_app",
                "--factory",
                "--host",
                settings.gateway_host,
                "--port",
                str(settings.gateway_port),
                "--no-access-log",
                # Idle keep-alive connections stay open longer than clients and proxies keep theirs
                # (httpx 5 s, browsers and load balancers about 60 s), so the server is never the one
                # closing a connection at the moment a client reuses it: with uvicorn's 5 s default,
                # one POST in 1382 of `make bench`'s 50-session phase failed with a ReadError.
                "--timeout-keep-alive",
                "65",
            ],
            cwd=REPO,
            env=env,
            log_dir=log_dir,
        ),
    ]
    rasa_ports = ", ".join(f"127.0.0.1:{port}" for port in settings.rasa_ports)
    say(
        f"starting rasa ({rasa_ports}), actions (127.0.0.1:{settings.action_server_port}), "
        f"gateway ({settings.gateway_host}:{settings.gateway_port}), profile {settings.profile}"
    )
    started, announced, exit_code = time.monotonic(), False, 0
    while not stopping.is_set() and exit_code == 0:
        now = time.monotonic()
        for child in children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    say(f"restarting {child.name}")
                    child.restart_at = None
                    child.start()
                continue
            code = child.process.poll()
            if code is None:
                continue
            child.kill_group()  # workers a server forked (Sanic does) would keep its port
            child.wait(0)
            child.crashes = [t for t in child.crashes if now - t < CRASH_WINDOW_SECONDS] + [now]
            log = log_dir / f"{child.name}.log"
            if len(child.crashes) > MAX_CRASHES:
                say(
                    f"{child.name} exited with code {code}, {len(child.crashes)} times in "
                    f"{CRASH_WINDOW_SECONDS}s; giving up and stopping the others (log: {log})"
                )
                exit_code = 1
                break
            delay = 2 ** (len(child.crashes) - 1)
            say(f"{child.name} exited unexpectedly with code {code}; restarting it in {delay}s (log: {log})")
            child.restart_at = now + delay
        if not announced and healthy(settings):
            announced = True
            base = settings.base_url
            say(f"ready in {time.monotonic() - started:.0f}s")
            say(f'  chat API:   {base}/api/v1/chat   (POST {{"message": "hello"}})')
            say(f"  search API: {base}/api/v1/search?q=9610")
            say(f"  API docs:   {base}/docs")
            say(f"  health:     {base}/healthz")
            say("press Ctrl-C to stop")
        elif not announced and time.monotonic() - started > READY_TIMEOUT_SECONDS:
            say(f"not healthy after {READY_TIMEOUT_SECONDS}s; see {base_url_hint(settings)}")
            announced = True
        stopping.wait(0.5)
    say("stopping")
    for child in children:
        child.stop()
    for child in children:
        if child.restart_at is None:
            code = child.wait(STOP_TIMEOUT_SECONDS)
            say(f"{child.name} stopped ({f'signal {-code}' if code and code < 0 else f'exit {code}'})")
        child.close()
    if settings.profile == "scale":
        stop_services(settings)
    return exit_code


def base_url_hint(settings: GatewaySettings) -> str:
    return f"http://127.0.0.1:{settings.gateway_port}/healthz and {settings.data_dir / 'logs'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["prepare", "run", "model-path"])
    args = parser.parse_args(argv)
    settings = GatewaySettings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings = settings.model_copy(update={"data_dir": settings.data_dir.resolve()})
    if args.command == "model-path":
        print(models_dir(settings) / f"{model_fingerprint()}.tar.gz")
        return 0
    if args.command == "prepare":
        ensure_model(settings)
        ensure_index(settings)
        return 0
    return run(settings)


if __name__ == "__main__":
    sys.exit(main())
