"""Settings of the gateway and the processes it starts (read once per process).

Same sources as ``knowledge.settings``: environment, ``.env``, then ``config.yml``, which holds every
default.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from knowledge.settings import KnowledgeSettings, configured

# Telegram accepts 1-256 characters of A-Z, a-z, 0-9, "_" and "-" as a webhook secret token.
_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{16,256}$")
# Values copied from a template and never changed. "password1", "changethis!" count too.
_PLACEHOLDER_SECRETS = frozenset(
    {
        "changethis",
        "changeme",
        "change-me",
        "change_me",
        "secret",
        "placeholder",
        "todo",
        "admin",
        "password",
        "passw0rd",
        "letmein",
        "qwerty",
        "123456",
        "12345678",
        "default",
        "example",
        "test",
    }
)
MIN_PASSWORD_CHARS = 12
MIN_JWT_SECRET_CHARS = 32


def is_placeholder(value: str) -> bool:
    """A template value: one of the known placeholders, with or without trailing digits or marks."""
    return value.lower() in _PLACEHOLDER_SECRETS or value.lower().rstrip("0123456789!._-") in _PLACEHOLDER_SECRETS


class GatewaySettings(KnowledgeSettings):
    """Everything the gateway and ``scripts/stack.py`` need to know."""

    # Errors name the setting, never its value: several are secrets (tokens, passwords).
    model_config = SettingsConfigDict(hide_input_in_errors=True)

    gateway_host: str = Field(default_factory=configured("gateway_host"))
    gateway_port: int = Field(default_factory=configured("gateway_port"), ge=1, le=65535)
    # Rasa and the action server listen on loopback only; the gateway is the one public edge.
    rasa_port: int = Field(default_factory=configured("rasa_port"), ge=1, le=65535)
    action_server_port: int = Field(default_factory=configured("action_server_port"), ge=1, le=65535)
    # "scale": PostgreSQL tracker and knowledge stores, a Redis lock store and several Rasa replicas
    # (scripts/services.py runs PostgreSQL and Redis on loopback). "default": SQLite, one Rasa.
    profile: Literal["default", "scale"] = Field(default_factory=configured("profile"))
    # Scale profile: the replicas' ports (empty: rasa_port and rasa_port + 1).
    rasa_replica_ports: list[int] = Field(default_factory=configured("rasa_replica_ports"))
    postgres_port: int = Field(default_factory=configured("postgres_port"), ge=1, le=65535)
    redis_port: int = Field(default_factory=configured("redis_port"), ge=1, le=65535)
    rasa_timeout_seconds: float = Field(default_factory=configured("rasa_timeout_seconds"), gt=0, le=60)
    # User messages of a conversation Rasa loads per message, at least (assistant/tracker_window.py).
    tracker_window_turns: int = Field(default_factory=configured("tracker_window_turns"), ge=1, le=1000)
    # Send each typed message to the action server's /embed-ahead while Rasa parses it, so the
    # query embedding is ready when the answer action searches (knowledge p50 42-46 against 47-53 ms
    # in make bench; README, "Measured").
    # Only useful when that action server is the one Rasa calls: turn it off behind a load balancer
    # that spreads action calls over several action servers (docs/scaling.md).
    embed_ahead: bool = Field(default_factory=configured("embed_ahead"))
    health_timeout_seconds: float = Field(default_factory=configured("health_timeout_seconds"), gt=0, le=10)
    public_url: str = Field(default_factory=configured("public_url"))
    # Web pages allowed to embed the chat widget and call the chat API from the browser (CORS).
    # "*" allows any site; the gateway's own pages always work.
    widget_allowed_origins: list[str] = Field(default_factory=configured("widget_allowed_origins"))

    # Telegram channel (connectors.telegram): off while the token is empty.
    telegram_bot_token: str = Field(default_factory=configured("telegram_bot_token"))
    # "polling" needs no public URL; "webhook" receives updates on POST /telegram/webhook.
    telegram_mode: Literal["polling", "webhook"] = Field(default_factory=configured("telegram_mode"))
    telegram_webhook_secret: str = Field(default_factory=configured("telegram_webhook_secret"))
    # The staff group that receives handoff tickets and whose replies go back to the trader.
    telegram_staff_chat_id: int | None = Field(default_factory=configured("telegram_staff_chat_id"))
    # Root of the Bot API server; empty means Telegram's own (https://api.telegram.org).
    telegram_base_url: str = Field(default_factory=configured("telegram_base_url"))

    # Staff console. ADMIN_USERNAME / ADMIN_PASSWORD create the first admin when no account exists.
    admin_username: str = Field(default_factory=configured("admin_username"))
    admin_password: str = Field(default_factory=configured("admin_password"))
    # Signs staff access tokens. Empty: a random secret is generated once and kept in DATA_DIR.
    jwt_secret: str = Field(default_factory=configured("jwt_secret"))
    access_token_minutes: int = Field(default_factory=configured("access_token_minutes"), ge=1, le=24 * 60)
    login_attempts_per_minute: int = Field(default_factory=configured("login_attempts_per_minute"), ge=1, le=100)
    # Rasa's tracker store, read by the console's conversations page. Empty: the default profile's
    # SQLite file (the scale profile's services set it to their PostgreSQL database).
    tracker_database_url: str = Field(default_factory=configured("tracker_database_url"))
    # The trained Rasa models. Empty: DATA_DIR/models (the benchmarks and end-to-end stacks point
    # it at the one `make prepare` trained).
    models_dir: str = Field(default_factory=configured("models_dir"))

    @field_validator("telegram_staff_chat_id", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        """``TELEGRAM_STAFF_CHAT_ID=`` (empty) means no staff chat, not a parse error."""
        return None if isinstance(value, str) and not value.strip() else value

    @model_validator(mode="after")
    def _replicas_need_the_scale_profile(self) -> GatewaySettings:
        """Several Rasa replicas on SQLite without a lock store would interleave one conversation."""
        if self.rasa_replica_ports and self.profile != "scale":
            raise ValueError("RASA_REPLICA_PORTS needs PROFILE=scale (a shared tracker store and a Redis lock store)")
        return self

    @model_validator(mode="after")
    def _staff_secrets_are_real(self) -> GatewaySettings:
        """The first admin's password and a configured signing secret: long, and not a placeholder."""
        password = self.admin_password
        if self.admin_username and (len(password) < MIN_PASSWORD_CHARS or is_placeholder(password)):
            raise ValueError(
                f"ADMIN_PASSWORD must be at least {MIN_PASSWORD_CHARS} characters and not a placeholder such as "
                '"changethis" or "password" (a passphrase of four words will do)'
            )
        if self.jwt_secret and (len(self.jwt_secret) < MIN_JWT_SECRET_CHARS or is_placeholder(self.jwt_secret)):
            raise ValueError(
                f"JWT_SECRET must be at least {MIN_JWT_SECRET_CHARS} random characters, not a placeholder (or leave it "
                'empty: one is generated and kept in DATA_DIR; for example python -c "import secrets; '
                'print(secrets.token_urlsafe(48))")'
            )
        return self

    @model_validator(mode="after")
    def _webhook_needs_a_real_secret(self) -> GatewaySettings:
        """Webhook mode refuses to start without a secret only Telegram and the gateway know."""
        if self.telegram_bot_token and self.telegram_mode == "webhook":
            secret = self.telegram_webhook_secret
            if not _WEBHOOK_SECRET.match(secret) or is_placeholder(secret):
                raise ValueError(
                    "TELEGRAM_MODE=webhook needs TELEGRAM_WEBHOOK_SECRET: 16 to 256 characters of A-Z, a-z, 0-9, "
                    '"_" or "-", not a placeholder (for example: python -c "import secrets; '
                    'print(secrets.token_urlsafe(32))")'
                )
        return self

    @property
    def rasa_ports(self) -> list[int]:
        """Where the Rasa replicas listen: one in the default profile, two or more in the scale one."""
        if self.profile == "default":
            return [self.rasa_port]
        return self.rasa_replica_ports or [self.rasa_port, self.rasa_port + 1]

    @property
    def tracker_url(self) -> str:
        return self.tracker_database_url or f"sqlite:///{(self.data_dir / 'conversations.sqlite').resolve()}"

    @property
    def rasa_urls(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.rasa_ports]

    @property
    def rasa_url(self) -> str:
        return self.rasa_urls[0]

    @property
    def action_server_url(self) -> str:
        return f"http://127.0.0.1:{self.action_server_port}"

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://localhost:{self.gateway_port}"
