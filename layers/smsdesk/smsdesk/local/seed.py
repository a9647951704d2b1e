"""Seed the first user (the account owner) and keep a working token in ``.smsdesk/local.json``.

``local.json`` (mode 0600, under the git-ignored ``.smsdesk/``) holds the ID token, which expires
within the hour, so scripts and the README's examples can use the API; it never holds the password,
a credential that lasts. ``smsdesk local`` shows the password only on a terminal (see ``cli.py``).

The token is the Cognito **ID token** (``aud`` = the app client, carries ``email`` and
``cognito:groups``), which the HTTP API JWT authorizer accepts. moto 5.2.5 ignores the client's
token validity (every token lasts 1 h), so :class:`TokenKeeper` refreshes it (REFRESH_TOKEN_AUTH,
falling back to the password) ``margin_s`` before it expires and rewrites ``local.json``.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import threading
import time
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from smsdesk import aws, config, users

log = logging.getLogger("smsdesk_local")

ADMIN_EMAIL = "admin@smsdesk.local"
ADMIN_NAME = "Local Admin"


def generate_password() -> str:
    return f"Sd-{secrets.token_urlsafe(12)}-9a"


def seed_admin(password: str | None) -> tuple[str, str]:
    """Create the owner (or find them after a state restore); return (user_id, password)."""
    idp = aws.cognito()
    pool = config.user_pool_id()
    try:
        user = idp.admin_get_user(UserPoolId=pool, Username=ADMIN_EMAIL)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "UserNotFoundException":
            raise
        password = password or generate_password()
        profile = users.create_user(ADMIN_EMAIL, ADMIN_NAME, "owner", password=password)
        return profile["user_id"], password
    sub = next(a["Value"] for a in user.get("UserAttributes", []) if a["Name"] == "sub")
    # A restored user: make the password we hold (derived from the state key, or new) the one that works.
    password = password or generate_password()
    idp.admin_set_user_password(UserPoolId=pool, Username=ADMIN_EMAIL, Password=password, Permanent=True)
    return sub, password


class TokenKeeper:
    def __init__(self, *, password: str, user_id: str, base_url: str, path: Path | None, margin_s: float = 300) -> None:
        self.password = password
        self.user_id = user_id
        self.base_url = base_url
        self.path = path
        self.margin_s = margin_s
        self.id_token = ""
        self.access_token = ""
        self.expires_at = 0.0
        self._refresh_token = ""
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def authenticate(self) -> None:
        idp = aws.cognito()
        kwargs: dict[str, Any] = {"UserPoolId": config.user_pool_id(), "ClientId": config.user_pool_client_id()}
        result: dict[str, Any] | None = None
        if self._refresh_token:
            try:
                result = idp.admin_initiate_auth(
                    AuthFlow="REFRESH_TOKEN_AUTH", AuthParameters={"REFRESH_TOKEN": self._refresh_token}, **kwargs
                )["AuthenticationResult"]
            except ClientError:
                log.warning("token refresh failed; signing in with the password again")
        if result is None:
            result = idp.admin_initiate_auth(
                AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                AuthParameters={"USERNAME": ADMIN_EMAIL, "PASSWORD": self.password},
                **kwargs,
            )["AuthenticationResult"]
        with self._lock:
            self.id_token = result["IdToken"]
            self.access_token = result["AccessToken"]
            self.expires_at = time.time() + int(result.get("ExpiresIn", 3600))
            self._refresh_token = result.get("RefreshToken") or self._refresh_token
        self.write()

    @property
    def token(self) -> str:
        with self._lock:
            return self.id_token

    def info(self) -> dict[str, Any]:
        """What ``local.json`` holds: the short-lived token scripts use, never the password."""
        return {
            "base_url": self.base_url,
            "token": self.token,
            "token_expires_at": int(self.expires_at),
            "admin_user_id": self.user_id,
            "email": ADMIN_EMAIL,
        }

    def write(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never readable by others, even briefly
        with os.fdopen(fd, "w") as f:
            f.write(json.dumps(self.info(), indent=2) + "\n")
        tmp.replace(self.path)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="local-token-refresh", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(max(1.0, self.expires_at - self.margin_s - time.time())):
            try:
                self.authenticate()
                log.info("refreshed the seeded token (expires in %.0f s)", self.expires_at - time.time())
            except Exception:
                log.exception("could not refresh the seeded token; retrying in 30 s")
                self._stop.wait(30)

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)
