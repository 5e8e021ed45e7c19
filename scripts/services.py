"""PostgreSQL and Redis for the scale-out profile: installed from Debian, run on loopback, data under DATA_DIR.

    python scripts/services.py start   install what is missing, initialise, start; print the settings
    python scripts/services.py stop    stop both (data is kept)

``scripts/stack.py run --profile scale`` calls ``start`` before Rasa and ``stop`` after it. Each
service gets a random password on first start (kept, mode 600, next to its data), listens on
127.0.0.1 only, and is checked before ``start`` returns. PostgreSQL holds Rasa's tracker store and
the knowledge store; Redis holds Rasa's lock store, so two Rasa replicas never process two messages
of one conversation at once.

PostgreSQL refuses to run as root: when this runs as root, the server runs as the ``postgres`` user
the Debian package creates, with its data in a directory that user can reach.
"""

from __future__ import annotations

import argparse
import contextlib
import glob
import hashlib
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

START_TIMEOUT_SECONDS = 60
DATABASES = ("rasa", "assistant")  # Rasa's tracker store, the knowledge store
POSTGRES_USER = "zta"


@dataclass(frozen=True)
class Services:
    """Where the running services are; ``env()`` is what Rasa and the gateway read."""

    postgres_port: int
    postgres_password: str
    redis_port: int
    redis_password: str

    def database_url(self, database: str) -> str:
        return (
            f"postgresql+psycopg://{POSTGRES_USER}:{self.postgres_password}@127.0.0.1:{self.postgres_port}/{database}"
        )

    def env(self) -> dict[str, str]:
        return {
            "POSTGRES_HOST": "127.0.0.1",
            "POSTGRES_PORT": str(self.postgres_port),
            "POSTGRES_USER": POSTGRES_USER,
            "POSTGRES_PASSWORD": self.postgres_password,
            "RASA_TRACKER_DB": "rasa",
            "REDIS_HOST": "127.0.0.1",
            "REDIS_PORT": str(self.redis_port),
            "REDIS_PASSWORD": self.redis_password,
            "DATABASE_URL": self.database_url("assistant"),
            "TRACKER_DATABASE_URL": self.database_url("rasa"),
        }


def say(message: str) -> None:
    print(f"[services] {message}", flush=True)


class ServiceError(RuntimeError):
    pass


# --- installation ------------------------------------------------------------------------------


def _postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    return Path(found[-1]).parent if found else None


def ensure_installed() -> Path:
    """Install PostgreSQL and Redis from Debian if missing; returns PostgreSQL's bin directory."""
    missing = [
        p for p, ok in (("postgresql", _postgres_bin()), ("redis-server", shutil.which("redis-server"))) if not ok
    ]
    if missing:
        if os.geteuid() != 0:
            raise ServiceError(f"{', '.join(missing)} not installed: run `sudo apt-get install -y {' '.join(missing)}`")
        say(f"installing {', '.join(missing)} from Debian (first run only)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env, stdout=subprocess.DEVNULL)
        subprocess.run(["apt-get", "install", "-y", "-q", *missing], check=True, env=env, stdout=subprocess.DEVNULL)
    bin_dir = _postgres_bin()
    if bin_dir is None or not shutil.which("redis-server"):
        raise ServiceError("PostgreSQL or Redis is still missing after apt-get install")
    return bin_dir


# --- helpers -----------------------------------------------------------------------------------


def _as_postgres() -> list[str]:
    """Prefix that runs a command as the postgres user when we are root (PostgreSQL refuses root)."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def _secret(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(24), encoding="utf-8")
        path.chmod(0o600)
    return path.read_text(encoding="utf-8").strip()


def _wait_for_port(port: int, what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
            return
        time.sleep(0.2)
    raise ServiceError(f"{what} did not start listening on 127.0.0.1:{port} within {START_TIMEOUT_SECONDS}s")


def services_dir(data_dir: Path) -> Path:
    return data_dir.resolve() / "services"


def _postgres_data(data_dir: Path) -> Path:
    """PostgreSQL's data directory: under DATA_DIR, unless the postgres user cannot reach it (root)."""
    own = services_dir(data_dir) / "postgres"
    if os.geteuid() != 0:
        return own
    probe = subprocess.run([*_as_postgres(), "test", "-w", str(own.parent)], capture_output=True)
    if probe.returncode == 0:
        return own
    # e.g. a 0700 pytest directory: keep the data in the postgres user's home, one per DATA_DIR.
    digest = hashlib.sha256(str(data_dir.resolve()).encode()).hexdigest()[:12]
    return Path("/var/lib/postgresql/zta") / digest


# --- PostgreSQL --------------------------------------------------------------------------------


def start_postgres(data_dir: Path, port: int, bin_dir: Path) -> str:
    base = services_dir(data_dir)
    base.mkdir(parents=True, exist_ok=True)
    password = _secret(base / "postgres-password")
    pgdata = _postgres_data(data_dir)
    if os.geteuid() == 0:
        base.chmod(0o755)  # the postgres user reads nothing here but must traverse to its own files
    if not (pgdata / "PG_VERSION").exists():
        pgdata.mkdir(parents=True, exist_ok=True)
        pwfile = pgdata.parent / f".pw-{pgdata.name}"
        pwfile.write_text(password, encoding="utf-8")
        if os.geteuid() == 0:
            shutil.chown(pgdata, "postgres", "postgres")
            shutil.chown(pwfile, "postgres", "postgres")
            for parent in pgdata.parents:
                if parent == Path("/var/lib/postgresql") or parent == base.parent:
                    break
                shutil.chown(parent, "postgres", "postgres")
        pwfile.chmod(0o600)
        say(f"initialising PostgreSQL in {pgdata}")
        try:
            subprocess.run(
                [
                    *_as_postgres(),
                    str(bin_dir / "initdb"),
                    "-D",
                    str(pgdata),
                    "-U",
                    POSTGRES_USER,
                    f"--pwfile={pwfile}",
                    "--auth=scram-sha-256",
                    "--encoding=UTF8",
                    "--locale=C.UTF-8",
                ],
                check=True,
                capture_output=True,
            )
        finally:
            pwfile.unlink(missing_ok=True)
    if not _postgres_running(pgdata, bin_dir):
        log = pgdata / "server.log"
        options = f"-p {port} -c listen_addresses=127.0.0.1 -k {pgdata}"
        result = subprocess.run(
            [*_as_postgres(), str(bin_dir / "pg_ctl"), "-D", str(pgdata), "-l", str(log), "-o", options, "-w", "start"],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else result.stderr
            raise ServiceError(f"PostgreSQL did not start: {tail}")
    _wait_for_port(port, "PostgreSQL")
    env = {**os.environ, "PGPASSWORD": password}
    listed = subprocess.run(
        [
            str(bin_dir / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-U",
            POSTGRES_USER,
            "-d",
            "postgres",
            "-Atc",
            "SELECT datname FROM pg_database",
        ],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout.split()
    for database in DATABASES:
        if database not in listed:
            subprocess.run(
                [str(bin_dir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", POSTGRES_USER, database],
                check=True,
                env=env,
            )
    (base / "postgres-data").write_text(str(pgdata), encoding="utf-8")
    return password


def _postgres_running(pgdata: Path, bin_dir: Path) -> bool:
    return (
        subprocess.run(
            [*_as_postgres(), str(bin_dir / "pg_ctl"), "-D", str(pgdata), "status"], capture_output=True
        ).returncode
        == 0
    )


def stop_postgres(data_dir: Path) -> None:
    bin_dir = _postgres_bin()
    pointer = services_dir(data_dir) / "postgres-data"
    if bin_dir is None or not pointer.exists():
        return
    pgdata = Path(pointer.read_text(encoding="utf-8").strip())
    if _postgres_running(pgdata, bin_dir):
        subprocess.run(
            [*_as_postgres(), str(bin_dir / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w", "stop"],
            capture_output=True,
        )


# --- Redis -------------------------------------------------------------------------------------


def start_redis(data_dir: Path, port: int) -> str:
    base = services_dir(data_dir) / "redis"
    base.mkdir(parents=True, exist_ok=True)
    password = _secret(services_dir(data_dir) / "redis-password")
    config = base / "redis.conf"
    # The password goes in a 0600 file, not on a command line every local user can read.
    config.write_text(
        "\n".join(
            [
                "bind 127.0.0.1",
                f"port {port}",
                "protected-mode yes",
                f"requirepass {password}",
                f"dir {base}",
                f"pidfile {base / 'redis.pid'}",
                f"logfile {base / 'redis.log'}",
                'save ""',  # locks need no persistence
                "appendonly no",
                "daemonize yes",
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    config.chmod(0o600)
    if not _redis_ping(port, password):
        subprocess.run(["redis-server", str(config)], check=True, capture_output=True)
    _wait_for_port(port, "Redis")
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not _redis_ping(port, password):
        if time.monotonic() > deadline:
            raise ServiceError(f"Redis on 127.0.0.1:{port} does not answer PING; see {base / 'redis.log'}")
        time.sleep(0.2)
    return password


def _redis_ping(port: int, password: str) -> bool:
    result = subprocess.run(
        ["redis-cli", "-h", "127.0.0.1", "-p", str(port), "--no-auth-warning", "-a", password, "ping"],
        capture_output=True,
        text=True,
    )
    return result.stdout.strip() == "PONG"


def stop_redis(data_dir: Path, port: int) -> None:
    secret = services_dir(data_dir) / "redis-password"
    if not secret.exists() or not shutil.which("redis-cli"):
        return
    subprocess.run(
        [
            "redis-cli",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "--no-auth-warning",
            "-a",
            _secret(secret),
            "shutdown",
            "nosave",
        ],
        capture_output=True,
    )


# --- entry points ------------------------------------------------------------------------------


def start(data_dir: Path, postgres_port: int, redis_port: int) -> Services:
    bin_dir = ensure_installed()
    postgres_password = start_postgres(data_dir, postgres_port, bin_dir)
    say(f"PostgreSQL on 127.0.0.1:{postgres_port} (databases: {', '.join(DATABASES)})")
    redis_password = start_redis(data_dir, redis_port)
    say(f"Redis on 127.0.0.1:{redis_port}")
    return Services(postgres_port, postgres_password, redis_port, redis_password)


def stop(data_dir: Path, redis_port: int, *, purge: bool = False) -> None:
    """Stop both services; ``purge`` also deletes their data (tests use it)."""
    stop_redis(data_dir, redis_port)
    stop_postgres(data_dir)
    if purge:
        pointer = services_dir(data_dir) / "postgres-data"
        if pointer.exists():
            shutil.rmtree(pointer.read_text(encoding="utf-8").strip(), ignore_errors=True)
        shutil.rmtree(services_dir(data_dir), ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    from connectors.settings import GatewaySettings

    settings = GatewaySettings()  # DATA_DIR, POSTGRES_PORT, REDIS_PORT: environment, .env or config.yml
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("start", "stop"))
    parser.add_argument("--data-dir", type=Path, default=settings.data_dir)
    parser.add_argument("--postgres-port", type=int, default=settings.postgres_port)
    parser.add_argument("--redis-port", type=int, default=settings.redis_port)
    args = parser.parse_args(argv)
    try:
        if args.command == "start":
            services = start(args.data_dir, args.postgres_port, args.redis_port)
            shown = {k: ("***" if "PASSWORD" in k or k == "DATABASE_URL" else v) for k, v in services.env().items()}
            print(json.dumps(shown, indent=2))
        else:
            stop(args.data_dir, args.redis_port)
            say("stopped")
    except (ServiceError, subprocess.CalledProcessError) as exc:
        print(f"[services] error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
