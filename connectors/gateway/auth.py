"""Staff authentication: argon2 password hashes (pwdlib), signed expiring tokens (PyJWT), roles.

Roles are ordered: ``viewer`` reads and hit-tests, ``editor`` also changes knowledge, ``admin`` also
manages accounts and settings. ``connectors.gateway.deps`` turns these into the ``Viewer`` /
``Editor`` / ``Admin`` dependencies every admin route declares (401 without a valid token, 403
when the role is too low). Failed logins are limited per
username and client address (``login_attempts_per_minute``), so passwords cannot be guessed at speed.

The console's pages send the same token in an HttpOnly, SameSite=Strict cookie (``SESSION_COOKIE``)
instead of a header. A request authenticated by that cookie that changes something must also send
``X-CSRF-Token``: an HMAC of the session token that the page reads from its own markup, which another
site can neither read nor compute.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import os
import secrets
import threading
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Any

import jwt
from fastapi import Request
from fastapi.security import OAuth2PasswordBearer
from pwdlib import PasswordHash

from connectors.settings import GatewaySettings
from records.models import ROLES, StaffUser
from records.store import Records

ALGORITHM = "HS256"
SESSION_COOKIE = "zta_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
RANK = {role: rank for rank, role in enumerate(reversed(ROLES))}  # viewer 0, editor 1, admin 2
hasher = PasswordHash.recommended()  # argon2id
oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def signing_secret(settings: GatewaySettings) -> str:
    """The configured JWT secret (``GatewaySettings`` refuses a weak one), or one generated once and
    kept (0600) under DATA_DIR."""
    if settings.jwt_secret:
        return settings.jwt_secret
    path = Path(settings.data_dir) / "jwt-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def bootstrap_admin(records: Records, settings: GatewaySettings) -> str | None:
    """Create the first admin from ADMIN_USERNAME / ADMIN_PASSWORD when there is no account yet
    (``GatewaySettings`` has refused a short or placeholder password already)."""
    if records.count_users() or not settings.admin_username:
        return None
    records.create_user(settings.admin_username, hasher.hash(settings.admin_password), "admin")
    return settings.admin_username


def issue_token(user: StaffUser, secret: str, minutes: int) -> str:
    now = dt.datetime.now(dt.UTC)
    claims = {"sub": user.username, "role": user.role, "iat": now, "exp": now + dt.timedelta(minutes=minutes)}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


class LoginLimiter:
    """At most N failed logins per (username, client) per minute."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._failures: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        window = self._failures[key]
        while window and window[0] < time.monotonic() - 60:
            window.popleft()
        return window

    def blocked(self, key: tuple[str, str]) -> bool:
        with self._lock:
            return len(self._recent(key)) >= self.per_minute

    def failed(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._recent(key).append(time.monotonic())
            if len(self._failures) > 10_000:  # bounded memory under a flood of distinct usernames
                self._failures.clear()


def csrf_token(session_token: str, secret: str) -> str:
    """The CSRF token that goes with a console session (bound to it, so it dies with it)."""
    return hmac.new(secret.encode(), b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()


def decode_session(token: str, secret: str) -> dict[str, Any]:
    """The claims of a signed, unexpired staff token; raises ``jwt.PyJWTError`` otherwise."""
    claims: dict[str, Any] = jwt.decode(token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]})
    return claims


def client_key(request: Request, username: str) -> tuple[str, str]:
    return username.lower(), request.client.host if request.client else "?"
