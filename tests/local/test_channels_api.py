"""Channels API through the local stack: validation, secrets, access by team."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from smsdesk.local.stack import LocalStack

pytestmark = pytest.mark.local


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def new_channel(stack: LocalStack, http: Any, **over: Any) -> dict[str, Any]:
    body = {"name": "Support", "type": "one_way", "sender": "Acme", "provider": "sandbox", **over}
    status, _, out = http("POST", f"{stack.base_url}/v1/channels", headers=auth(stack.token), body=body)
    assert status == 201, out
    return out


def scan_main(stack: LocalStack) -> list[dict[str, Any]]:
    ddb = boto3.client("dynamodb", endpoint_url=stack.endpoint, region_name=stack.region)
    return ddb.scan(TableName=stack.env["TABLE_NAME"])["Items"]


def test_create_get_patch(stack: LocalStack, http: Any) -> None:
    ch = new_channel(stack, http, name="Sales", throughput_mps=5, default_region="be")
    assert ch["id"] and ch["enabled"] is True and ch["default_region"] == "BE" and ch["throughput_mps"] == 5
    assert ch["has_secret"] is True  # sandbox: signing key generated
    assert ch["webhook_urls"]["status"] == f"{stack.base_url}/webhooks/sandbox/{ch['id']}/status"
    assert ch["webhook_urls"]["inbound"].endswith(f"/webhooks/sandbox/{ch['id']}/inbound")
    status, _, got = http("GET", f"{stack.base_url}/v1/channels/{ch['id']}", headers=auth(stack.token))
    assert status == 200 and got == ch

    status, _, patched = http(
        "PATCH", f"{stack.base_url}/v1/channels/{ch['id']}", headers=auth(stack.token), body={"enabled": False}
    )
    assert status == 200, patched
    assert patched["enabled"] is False and patched["name"] == "Sales" and patched["updated_at"] > ch["updated_at"]
    status, _, got = http("GET", f"{stack.base_url}/v1/channels/{ch['id']}", headers=auth(stack.token))
    assert got["enabled"] is False


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"type": "one_way", "sender": "Acme&Co"}, "sender", "invalid_sender_id"),
        ({"type": "one_way", "sender": "12345"}, "sender", "invalid_sender_id"),
        ({"type": "two_way", "sender": "Acme"}, "sender", "validation_error"),
        ({"type": "two_way", "sender": "+3161234"}, "sender", "validation_error"),
        ({"type": "one_way", "sender": "Acme", "provider": "nokia"}, "provider", "validation_error"),
        ({"type": "one_way", "sender": "Acme", "throughput_mps": 0}, "throughput_mps", "validation_error"),
        ({"type": "one_way", "sender": "Acme", "max_segments": 11}, "max_segments", "validation_error"),
        ({"type": "one_way", "sender": "Acme", "secret": "x"}, "secret", "validation_error"),
    ],
)
def test_create_validation_names_the_field(stack: LocalStack, http: Any, body: dict, field: str, code: str) -> None:
    full = {"name": "Bad", "provider": "sandbox", **body}
    status, _, out = http("POST", f"{stack.base_url}/v1/channels", headers=auth(stack.token), body=full)
    assert status == 422, out
    assert out["error"]["field"] == field and out["error"]["code"] == code, out


def test_patch_is_validated_as_a_whole(stack: LocalStack, http: Any) -> None:
    ch = new_channel(stack, http, type="two_way", sender="+31612340001")
    url = f"{stack.base_url}/v1/channels/{ch['id']}"
    for body, field in [
        ({"sender": "Acme"}, "sender"),  # a two-way channel needs a number
        ({"type": "one_way"}, "type"),  # fixed at creation (code immutable)
        ({"provider": "twilio"}, "provider"),
        ({"validity_s": 5}, "validity_s"),
    ]:
        status, _, out = http("PATCH", url, headers=auth(stack.token), body=body)
        assert status == 422 and out["error"]["field"] == field, (body, out)
    status, _, out = http("PATCH", url, headers=auth(stack.token), body={"sender": "+31 6 1234 0002"})
    assert status == 200 and out["sender"] == "+31612340002", out
    # the old number is free again, the new one is taken
    assert new_channel(stack, http, type="two_way", sender="+31612340001")["sender"] == "+31612340001"
    status, _, out = http(
        "POST",
        f"{stack.base_url}/v1/channels",
        headers=auth(stack.token),
        body={"name": "Dup", "type": "two_way", "sender": "+31612340002", "provider": "sandbox"},
    )
    assert status == 409 and out["error"]["field"] == "sender", out
    status, _, out = http("PATCH", f"{stack.base_url}/v1/channels/nope", headers=auth(stack.token), body={})
    assert status == 404 and out["error"]["code"] == "not_found"


def test_patch_changes_only_the_given_queue_and_hours_fields(stack: LocalStack, http: Any) -> None:
    ch = new_channel(stack, http, type="two_way", sender="+31612340003")
    url = f"{stack.base_url}/v1/channels/{ch['id']}"
    body = {
        "queue": {"strategy": "round_robin", "service_level_s": 30},
        "business_hours": {"enabled": True, "timezone": "Europe/Amsterdam", "out_of_hours_message": "Closed"},
    }
    status, _, out = http("PATCH", url, headers=auth(stack.token), body=body)
    assert status == 200, out
    status, _, out = http(
        "PATCH",
        url,
        headers=auth(stack.token),
        body={"queue": {"max_in_queue": 5}, "business_hours": {"enabled": False}},
    )
    assert status == 200, out
    assert (out["queue"]["strategy"], out["queue"]["service_level_s"], out["queue"]["max_in_queue"]) == (
        "round_robin",
        30,
        5,
    )
    hours = out["business_hours"]
    assert (hours["enabled"], hours["timezone"], hours["out_of_hours_message"]) == (False, "Europe/Amsterdam", "Closed")
    status, _, out = http("PATCH", url, headers=auth(stack.token), body={"queue": {"max_in_queue": -1}})
    assert status == 422 and out["error"]["field"].startswith("queue"), out


def test_secrets_live_in_secrets_manager_only(stack: LocalStack, http: Any) -> None:
    from smsdesk import channels

    secret_value = "tw-secret-" + "x" * 20
    ch = new_channel(
        stack,
        http,
        name="Twilio",
        provider="twilio",
        provider_settings={"account_sid": "AC" + "0" * 32},
        provider_secret={"auth_token": secret_value},
    )
    assert ch["has_secret"] is True and "provider_secret" not in ch
    assert ch["webhook_urls"]["status"].endswith(f"/webhooks/twilio/{ch['id']}/status")
    assert secret_value not in repr(scan_main(stack))  # never in DynamoDB
    sm = boto3.client("secretsmanager", endpoint_url=stack.endpoint, region_name=stack.region)
    stored = sm.get_secret_value(SecretId=f"smsdesk/local/providers/{ch['id']}")["SecretString"]
    assert secret_value in stored
    assert channels.get_provider_secret(channels.get_channel(ch["id"])) == {"auth_token": secret_value}
    status, _, listed = http("GET", f"{stack.base_url}/v1/channels", headers=auth(stack.token))
    assert secret_value not in repr(listed)

    url = f"{stack.base_url}/v1/channels/{ch['id']}"
    status, _, out = http("PATCH", url, headers=auth(stack.token), body={"provider_secret": {"auth_token": "new"}})
    assert status == 200 and out["has_secret"] is True and "new" not in repr(out)
    assert channels.get_provider_secret(channels.get_channel(ch["id"])) == {"auth_token": "new"}
    status, _, out = http("PATCH", url, headers=auth(stack.token), body={"provider_secret": {}})
    assert status == 422 and out["error"]["field"] == "provider_secret.auth_token", out  # twilio needs it
    assert channels.get_provider_secret(channels.get_channel(ch["id"])) == {"auth_token": "new"}


def test_get_unknown_channel_404(stack: LocalStack, http: Any) -> None:
    status, _, out = http("GET", f"{stack.base_url}/v1/channels/NOPE", headers=auth(stack.token))
    assert status == 404 and out["error"] == {
        "code": "not_found",
        "message": "channel NOPE not found",
        "field": "channel_id",
    }


def test_access_follows_team_grants(stack: LocalStack, http: Any, make_user: Any) -> None:
    from smsdesk import access
    from smsdesk.auth import Caller

    ch = new_channel(stack, http, name="Granted")
    other = new_channel(stack, http, name="Other")
    status, _, team = http("POST", f"{stack.base_url}/v1/teams", headers=auth(stack.token), body={"name": "Grant team"})
    assert status == 201, team
    inside_id, inside = make_user("agent", team_ids=[team["id"]])
    outside_id, outside = make_user("agent")

    status, _, out = http(
        "PUT",
        f"{stack.base_url}/v1/channels/{ch['id']}/teams",
        headers=auth(stack.token),
        body={"team_ids": [team["id"]]},
    )
    assert status == 200 and out["team_ids"] == [team["id"]], out
    status, _, out = http(
        "PUT", f"{stack.base_url}/v1/channels/{ch['id']}/teams", headers=auth(stack.token), body={"team_ids": ["nope"]}
    )
    assert status == 422 and out["error"]["field"] == "team_ids"

    url = f"{stack.base_url}/v1/channels/{ch['id']}"
    status, _, out = http("GET", url, headers=auth(outside))
    assert status == 403 and out["error"]["code"] == "forbidden" and out["error"]["field"] == "channel_id"
    status, _, out = http("GET", url, headers=auth(inside))
    assert status == 200 and out["id"] == ch["id"]
    assert http("GET", f"{stack.base_url}/v1/channels/{other['id']}", headers=auth(inside))[0] == 403

    _, _, listed = http("GET", f"{stack.base_url}/v1/channels", headers=auth(inside))
    assert [c["id"] for c in listed["items"]] == [ch["id"]]
    _, _, listed = http("GET", f"{stack.base_url}/v1/channels", headers=auth(outside))
    assert listed["items"] == []
    _, _, listed = http("GET", f"{stack.base_url}/v1/channels?limit=100", headers=auth(stack.token))
    assert {ch["id"], other["id"]} <= {c["id"] for c in listed["items"]}

    assert access.usable_channel_ids(Caller(inside_id, "agent", "")) == {ch["id"]}
    assert access.usable_channel_ids(Caller(outside_id, "agent", "")) == set()
    assert access.usable_channel_ids(Caller(outside_id, "admin", "")) is None

    # agents cannot write; removing the member removes the access
    assert http("PATCH", url, headers=auth(inside), body={"enabled": False})[0] == 403
    assert http("POST", f"{stack.base_url}/v1/channels", headers=auth(inside), body={})[0] in (403, 422)
    status, _, _ = http(
        "PUT", f"{stack.base_url}/v1/teams/{team['id']}/members", headers=auth(stack.token), body={"user_ids": []}
    )
    assert status == 200
    assert http("GET", url, headers=auth(inside))[0] == 403
