"""Settings of the gateway and the processes it starts (read once per process).

Same sources as ``knowledge.settings``: environment, ``.env``, ``config.yml``, defaults.
"""

from __future__ import annotations

from pydantic import Field

from knowledge.settings import KnowledgeSettings


class GatewaySettings(KnowledgeSettings):
    """Everything the gateway and ``scripts/stack.py`` need to know."""

    gateway_host: str = "0.0.0.0"
    gateway_port: int = Field(default=8000, ge=1, le=65535)
    # Rasa and the action server listen on loopback only; the gateway is the one public edge.
    rasa_port: int = Field(default=5005, ge=1, le=65535)
    action_server_port: int = Field(default=5055, ge=1, le=65535)
    rasa_timeout_seconds: float = Field(default=4.5, gt=0, le=60)
    health_timeout_seconds: float = Field(default=1.5, gt=0, le=10)
    public_url: str = ""
    # Web pages allowed to embed the chat widget and call the chat API from the browser (CORS).
    # "*" allows any site; the gateway's own pages always work.
    widget_allowed_origins: list[str] = Field(default_factory=list)

    @property
    def rasa_url(self) -> str:
        return f"http://127.0.0.1:{self.rasa_port}"

    @property
    def action_server_url(self) -> str:
        return f"http://127.0.0.1:{self.action_server_port}"

    @property
    def base_url(self) -> str:
        return self.public_url or f"http://localhost:{self.gateway_port}"
