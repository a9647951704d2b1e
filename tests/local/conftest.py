"""Fixtures for the local-stack tests: one in-process stack per module, on free ports."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from smsdesk.local.stack import LocalStack


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    local_json = tmp_path_factory.mktemp("local") / "local.json"
    with LocalStack(port=0, local_json=local_json) as s:
        yield s


def _http(
    method: str, url: str, *, headers: dict[str, str] | None = None, body: Any = None
) -> tuple[int, dict[str, str], Any]:
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("content-type", "application/json")
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, rh, raw = resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        status, rh, raw = exc.code, dict(exc.headers), exc.read()
    try:
        parsed: Any = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return status, {k.lower(): v for k, v in rh.items()}, parsed


@pytest.fixture(scope="session")
def http() -> Any:
    """``http(method, url, headers=..., body=...) -> (status, headers, parsed body)``."""
    return _http


@pytest.fixture(scope="module")
def api(stack: LocalStack, http: Any) -> Any:
    """``api(method, path, body=None, expect=None, token=None)`` against this module's stack
    (``local_api.caller``; modules with an ``api`` fixture of their own keep theirs)."""
    from local_api import caller

    return caller(stack, http)


def user_token(stack: LocalStack, email: str, role: str, team_ids: list[str] | None = None) -> tuple[str, str]:
    """Create a user with ``role`` (and team memberships) directly in the stack; return
    ``(user_id, id_token)`` for ``Authorization: Bearer``."""
    import secrets

    from smsdesk import aws, config, users
    from smsdesk.inbox import teams

    password = f"Sd-{secrets.token_urlsafe(12)}-9a"
    profile = users.create_user(email, email.split("@")[0], role, password=password)  # type: ignore[arg-type]
    if team_ids:
        teams.add_user_to_teams(profile["user_id"], team_ids)
    result = aws.cognito().admin_initiate_auth(
        UserPoolId=config.user_pool_id(),
        ClientId=config.user_pool_client_id(),
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": email, "PASSWORD": password},
    )["AuthenticationResult"]
    return profile["user_id"], result["IdToken"]


@pytest.fixture(scope="module")
def make_user(stack: LocalStack) -> Any:
    """``make_user(role, team_ids=None, email=None) -> (user_id, token)``: a new user on the module's
    stack (unique e-mail unless given)."""
    import uuid

    def make(role: str = "agent", team_ids: list[str] | None = None, email: str | None = None) -> tuple[str, str]:
        return user_token(stack, email or f"{role}-{uuid.uuid4().hex[:10]}@example.com", role, team_ids)

    return make


@pytest.fixture(scope="module")
def fast_pipeline(stack: LocalStack) -> Iterator[None]:
    """Transient provider failures retry at once and sandbox receipts come quickly (the sender's
    environment, as a deployed function's configuration). Use with ``pytest.mark.usefixtures("fast_pipeline")``."""
    with stack.configure("sender", SENDER_BACKOFF_BASE_S="0", SANDBOX_RECEIPT_DELAY_S="0.1"):
        yield


@pytest.fixture
def stream_records(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """Every stream record the outbox function is invoked with while the test runs."""
    from smsdesk import manifest

    seen: list[dict[str, Any]] = []
    mod = stack.functions.load(manifest.OUTBOX)
    real = mod.handle

    def spy(event: dict[str, Any]) -> Any:
        seen.extend(json.loads(json.dumps(event["Records"])))
        return real(event)

    monkeypatch.setattr(mod, "handle", spy)
    yield seen
