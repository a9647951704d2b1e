"""Each handler runs with only its own environment and the AWS actions its manifest entry grants, as
its deployed role would: a missing grant or variable fails here, not in a customer's account.

The first three tests are the features that could not work in a deployed stack before the roles were
derived from the manifest (the notifier's event, the aws_sms connector's send, the user-creation
rollback); the others prove that the local stack refuses what AWS would refuse.
"""

from __future__ import annotations

import dataclasses
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError
from queue_helpers import avail, inbound, setup

from smsdesk import aws, config, manifest
from smsdesk.data import users as users_repo
from smsdesk.local.stack import LocalStack

pytestmark = [pytest.mark.local, pytest.mark.usefixtures("fast_pipeline")]

Http = Callable[..., tuple[int, dict[str, str], Any]]


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def invocations_after(stack: LocalStack, seq: int, function: str, timeout: float = 8.0) -> list[dict[str, Any]]:
    """Wait for ``function``'s invocations newer than ``seq`` to settle; return them."""
    stack.invocations.wait_for(lambda e: e.get("function") == function, since=seq, timeout=timeout)
    time.sleep(0.5)
    return stack.invocations.entries(function=function, since=seq)


def test_notifier_publishes_notification_created(stack: LocalStack, http: Http, make_user: Any) -> None:
    channel_id, [(_a, token)] = setup(stack, http, make_user, "manual", 1)
    avail(stack, http, token, True)
    seq = stack.invocations.last_seq
    before = stack.access.calls[("notifier", "events:PutEvents", manifest.EVENT_BUS.name)]
    inbound(channel_id)
    runs = invocations_after(stack, seq, "notifier")
    assert runs and all(r["ok"] for r in runs), [r["error"] for r in runs]
    assert stack.access.calls[("notifier", "events:PutEvents", manifest.EVENT_BUS.name)] > before


def test_aws_sms_channel_sends_and_is_delivered(stack: LocalStack, http: Http) -> None:
    base, h = stack.base_url, auth(stack.token)
    assert http("POST", f"{base}/v1/credits/top-ups", headers=h, body={"credits": 5, "reference": "roles"})[0] == 201
    body = {"name": f"aws-{uuid.uuid4().hex[:6]}", "type": "one_way", "sender": "Shop", "provider": "aws_sms"}
    status, _, ch = http("POST", f"{base}/v1/channels", headers=h, body=body)
    assert status == 201, ch
    status, _, msg = http(
        "POST", f"{base}/v1/messages", headers=h, body={"channel_id": ch["id"], "to": "0612345670", "text": "Hi"}
    )
    assert status == 202, msg
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        got = http("GET", f"{base}/v1/messages/{msg['id']}", headers=h)[2]
        if got["status"] in ("delivered", "failed", "undelivered"):
            break
        time.sleep(0.2)
    assert got["status"] == "delivered", got
    assert got["refunded"] is False
    (sent,) = [s for s in stack.sms_voice.sent if s["Context"] == {"smsdesk_message_id": msg["id"]}]
    assert (sent["DestinationPhoneNumber"], sent["OriginationIdentity"]) == ("+31612345670", "Shop")
    assert got["provider_id"] == sent["MessageId"]


def test_failed_user_creation_leaves_no_cognito_user(
    stack: LocalStack, http: Http, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(_profile: dict[str, Any]) -> None:
        raise RuntimeError("DynamoDB is down")

    monkeypatch.setattr(users_repo, "put_profile", broken)
    email = f"half-{uuid.uuid4().hex[:8]}@example.com"
    status, _, err = http(
        "POST",
        f"{stack.base_url}/v1/users",
        headers=auth(stack.token),
        body={"email": email, "name": "Half", "role": "agent"},
    )
    assert status == 500, err
    with pytest.raises(ClientError) as exc:
        aws.cognito().admin_get_user(UserPoolId=config.user_pool_id(), Username=email)
    assert exc.value.response["Error"]["Code"] == "UserNotFoundException"
    monkeypatch.undo()
    status, _, user = http(
        "POST",
        f"{stack.base_url}/v1/users",
        headers=auth(stack.token),
        body={"email": email, "name": "Half", "role": "agent"},
    )
    assert status == 201, user  # the e-mail is free again


def test_a_revoked_grant_is_refused_as_aws_would(
    stack: LocalStack, http: Http, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Take PutEvents away from the notifier (as an edit of its manifest entry would): its invocations
    fail with AccessDeniedException, as its deployed role would make them."""
    notifier = manifest.function("notifier")
    revoked = dataclasses.replace(
        notifier, access=tuple(a for a in notifier.access if a.resource != manifest.EVENT_BUS)
    )
    monkeypatch.setitem(stack.access.functions, "notifier", revoked)
    channel_id, [(_a, token)] = setup(stack, http, make_user, "manual", 1)
    avail(stack, http, token, True)
    seq = stack.invocations.last_seq
    inbound(channel_id)
    runs = invocations_after(stack, seq, "notifier")
    errors = [r["error"] for r in runs if not r["ok"]]
    assert errors and all("AccessDeniedException" in e and "events:PutEvents" in e for e in errors), runs


def test_a_handler_sees_only_its_own_environment(stack: LocalStack, http: Http, make_user: Any) -> None:
    """The process holds every resource's variable; an invocation sees only its function's."""
    assert "USER_POOL_ID" in stack.env and "USER_POOL_ID" not in stack.function_env("notifier")
    assert "EVENT_BUS_NAME" not in stack.function_env("webhooks")
    assert set(stack.function_env("receipts")) >= set(manifest.function_env_names(manifest.function("receipts")))
    env = stack.function_env("notifier")
    saved = env.pop(manifest.EVENT_BUS.env)
    try:
        channel_id, [(_a, token)] = setup(stack, http, make_user, "manual", 1)
        avail(stack, http, token, True)
        seq = stack.invocations.last_seq
        inbound(channel_id)
        runs = invocations_after(stack, seq, "notifier")
    finally:
        env[manifest.EVENT_BUS.env] = saved
    errors = [r["error"] for r in runs if not r["ok"]]
    assert errors and all(manifest.EVENT_BUS.env in e for e in errors), runs
