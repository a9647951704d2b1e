"""provider_settings are typed per provider; secrets go in provider_secret only; Twilio needs its auth
token (issue 10, item 4), through the local stack."""

from __future__ import annotations

import uuid
from typing import Any

import boto3
import pytest

from smsdesk.local.stack import LocalStack

pytestmark = pytest.mark.local

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
SERVICE_SID = "MG" + "fedcba9876543210" * 2


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def create(stack: LocalStack, http: Any, **over: Any) -> tuple[int, Any]:
    body = {"name": f"ch-{uuid.uuid4().hex[:8]}", "type": "one_way", "sender": "Shop", "provider": "sandbox", **over}
    status, _, out = http("POST", f"{stack.base_url}/v1/channels", headers=auth(stack.token), body=body)
    return status, out


def patch(stack: LocalStack, http: Any, channel_id: str, body: dict[str, Any]) -> tuple[int, Any]:
    status, _, out = http("PATCH", f"{stack.base_url}/v1/channels/{channel_id}", headers=auth(stack.token), body=body)
    return status, out


def twilio(stack: LocalStack, http: Any, **over: Any) -> tuple[int, Any]:
    body = {
        "provider": "twilio",
        "provider_settings": {"account_sid": ACCOUNT_SID},
        "provider_secret": {"auth_token": "tw-" + "x" * 29},
        **over,
    }
    return create(stack, http, **body)


def stored_secret(stack: LocalStack, channel_id: str) -> str | None:
    sm = boto3.client("secretsmanager", endpoint_url=stack.endpoint, region_name=stack.region)
    try:
        return sm.get_secret_value(SecretId=f"smsdesk/local/providers/{channel_id}")["SecretString"]
    except sm.exceptions.ResourceNotFoundException:
        return None


@pytest.mark.parametrize(
    ("provider", "settings", "field"),
    [
        ("sandbox", {"region": "eu"}, "provider_settings.region"),
        ("aws_sms", {"account_sid": ACCOUNT_SID}, "provider_settings.account_sid"),  # another provider's
        ("aws_sms", {"origination_identity": "+31612345678", "pool": "x"}, "provider_settings.pool"),
        ("aws_sms", {"origination_identity": "bad identity!"}, "provider_settings.origination_identity"),
        ("aws_sms", {"configuration_set": ""}, "provider_settings.configuration_set"),
        (
            "twilio",
            {"account_sid": ACCOUNT_SID, "messagingServiceSid": SERVICE_SID},
            "provider_settings.messagingServiceSid",
        ),
        ("twilio", {"account_sid": "AC123"}, "provider_settings.account_sid"),
        ("twilio", {"messaging_service_sid": SERVICE_SID}, "provider_settings.account_sid"),  # required
        (
            "twilio",
            {"account_sid": ACCOUNT_SID, "messaging_service_sid": "MG1"},
            "provider_settings.messaging_service_sid",
        ),
    ],
)
def test_unknown_or_malformed_provider_settings_are_refused(
    stack: LocalStack, http: Any, provider: str, settings: dict[str, str], field: str
) -> None:
    status, out = create(
        stack,
        http,
        provider=provider,
        provider_settings=settings,
        provider_secret={"auth_token": "t"} if provider == "twilio" else None,
    )
    assert status == 422, out
    assert out["error"]["field"] == field, out


@pytest.mark.parametrize(
    "key",
    [
        "auth_token",
        "token",
        "secret",
        "client_secret",
        "password",
        "api_key",
        "apiKey",
        "key",
        "signing_key",
        "AccessKeyId",
    ],
)
@pytest.mark.parametrize("provider", ["sandbox", "aws_sms", "twilio"])
def test_a_secret_in_provider_settings_is_refused_with_a_pointer_to_provider_secret(
    stack: LocalStack, http: Any, provider: str, key: str
) -> None:
    settings = {"account_sid": ACCOUNT_SID} if provider == "twilio" else {}
    status, out = create(
        stack,
        http,
        provider=provider,
        provider_settings={**settings, key: "s3cr3t-value"},
        provider_secret={"auth_token": "t"} if provider == "twilio" else None,
    )
    assert status == 422, out
    assert out["error"]["field"] == f"provider_settings.{key}", out
    assert "provider_secret" in out["error"]["message"], out
    assert "s3cr3t-value" not in repr(out)


def test_known_provider_settings_are_accepted(stack: LocalStack, http: Any) -> None:
    status, ch = create(
        stack,
        http,
        provider="aws_sms",
        provider_settings={"origination_identity": "+31612345678", "configuration_set": "smsdesk-events"},
    )
    assert status == 201, ch
    assert ch["provider_settings"] == {"origination_identity": "+31612345678", "configuration_set": "smsdesk-events"}
    assert ch["has_secret"] is False
    status, ch = twilio(
        stack, http, provider_settings={"account_sid": ACCOUNT_SID, "messaging_service_sid": SERVICE_SID}
    )
    assert status == 201, ch
    assert ch["provider_settings"] == {"account_sid": ACCOUNT_SID, "messaging_service_sid": SERVICE_SID}


def test_provider_secret_keys_are_typed_too(stack: LocalStack, http: Any) -> None:
    status, out = create(stack, http, provider="aws_sms", provider_secret={"password": "x"})
    assert status == 422 and out["error"]["field"] == "provider_secret.password", out
    assert "x" not in out["error"]["message"].split()  # the value is never echoed
    status, out = twilio(stack, http, provider_secret={"auth_token": "t", "authtoken": "u"})
    assert status == 422 and out["error"]["field"] == "provider_secret.authtoken", out
    status, out = create(stack, http, provider_secret={"signing_key": ""})
    assert status == 422 and out["error"]["field"] == "provider_secret.signing_key", out


def test_twilio_needs_its_auth_token(stack: LocalStack, http: Any) -> None:
    for secret in (None, {}, {"webhook_shared_key": "k"}, {"auth_token": ""}):
        status, out = create(
            stack, http, provider="twilio", provider_settings={"account_sid": ACCOUNT_SID}, provider_secret=secret
        )
        assert status == 422, (secret, out)
        assert out["error"]["field"] == "provider_secret.auth_token", (secret, out)

    status, ch = twilio(stack, http)
    assert status == 201, ch
    # PATCH keeps replacing the secret whole, but never leaves the channel without its token
    for secret in ({}, {"webhook_shared_key": "k"}):
        status, out = patch(stack, http, ch["id"], {"provider_secret": secret})
        assert status == 422 and out["error"]["field"] == "provider_secret.auth_token", out
    assert "tw-" in (stored_secret(stack, ch["id"]) or "")
    status, out = patch(stack, http, ch["id"], {"provider_secret": {"auth_token": "new", "webhook_shared_key": "k"}})
    assert status == 200 and out["has_secret"] is True, out
    # settings are still replaced whole and checked as a whole
    status, out = patch(stack, http, ch["id"], {"provider_settings": {"messaging_service_sid": SERVICE_SID}})
    assert status == 422 and out["error"]["field"] == "provider_settings.account_sid", out
    status, out = patch(stack, http, ch["id"], {"provider_settings": {"account_sid": ACCOUNT_SID, "auth_token": "x"}})
    assert status == 422 and out["error"]["field"] == "provider_settings.auth_token", out
    status, out = patch(stack, http, ch["id"], {"name": "Renamed"})
    assert status == 200 and out["provider_settings"] == {"account_sid": ACCOUNT_SID}, out


def test_sandbox_may_drop_its_secret_and_gets_a_new_signing_key(stack: LocalStack, http: Any) -> None:
    status, ch = create(stack, http)
    assert status == 201 and ch["has_secret"] is True
    status, out = patch(stack, http, ch["id"], {"provider_secret": {}})
    assert status == 200 and out["has_secret"] is True, out  # generated again: a sandbox channel signs
    status, out = patch(stack, http, ch["id"], {"provider_settings": {"foo": "bar"}})
    assert status == 422 and out["error"]["field"] == "provider_settings.foo", out
