"""/v1/credits: balance, top-ups (admin/owner only), the ledger and its pagination."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import boto3
import pytest
from joserfc import jwk, jwt
from moto.utilities.utils import load_resource

from smsdesk.local.stack import LocalStack

pytestmark = pytest.mark.local


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def token_for(stack: LocalStack, user_id: str, role: str) -> str:
    now = int(time.time())
    claims = {
        "iss": stack.resources.issuer,
        "sub": user_id,
        "aud": stack.resources.user_pool_client_id,
        "token_use": "id",
        "iat": now,
        "exp": now + 3600,
        "cognito:groups": [role],
    }
    key = jwk.RSAKey.import_key(load_resource("cognitoidp/resources/jwks-private.json"))
    return jwt.encode({"kid": "dummy", "alg": "RS256"}, claims, key)


def test_balance_starts_at_zero_with_an_empty_ledger(stack: LocalStack, http: Any) -> None:
    status, _, body = http("GET", f"{stack.base_url}/v1/credits", headers=auth(stack.token))
    assert (status, body) == (200, {"balance": 0})
    status, _, body = http("GET", f"{stack.base_url}/v1/credits/ledger", headers=auth(stack.token))
    assert status == 200 and body == {"items": [], "cursor": None, "balance": 0}


def test_top_ups_and_ledger_pages(stack: LocalStack, http: Any) -> None:
    _, _, before = http("GET", f"{stack.base_url}/v1/credits", headers=auth(stack.token))
    made = []
    for n in (5, 7, 11):
        status, _, entry = http(
            "POST",
            f"{stack.base_url}/v1/credits/top-ups",
            headers=auth(stack.token),
            body={"credits": n, "reference": f"INV-{n}"},
        )
        assert status == 201, entry
        assert entry["kind"] == "top_up" and entry["amount"] == n and entry["reference"] == f"INV-{n}"
        assert entry["by"] == stack.tokens.user_id
        made.append(entry["id"])
    _, _, bal = http("GET", f"{stack.base_url}/v1/credits", headers=auth(stack.token))
    assert bal["balance"] == before["balance"] + 23

    ids: list[str] = []
    total = 0
    cursor = None
    for _ in range(10):
        url = f"{stack.base_url}/v1/credits/ledger?limit=2" + (f"&cursor={cursor}" if cursor else "")
        status, _, page = http("GET", url, headers=auth(stack.token))
        assert status == 200 and len(page["items"]) <= 2
        ids += [e["id"] for e in page["items"]]
        total += sum(e["amount"] for e in page["items"])
        cursor = page["cursor"]
        if not cursor:
            break
    assert ids[:3] == list(reversed(made))  # newest first
    assert total == bal["balance"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"credits": 0, "reference": "x"}, "credits"),
        ({"credits": -5, "reference": "x"}, "credits"),
        ({"credits": 5}, "reference"),
        ({"credits": 5, "reference": ""}, "reference"),
        ({"credits": "many", "reference": "x"}, "credits"),
        ({"credits": "5", "reference": "x"}, "credits"),
        ({"credits": True, "reference": "x"}, "credits"),
        ({"credits": 5.0, "reference": "x"}, "credits"),
        ({"credits": 2.5, "reference": "x"}, "credits"),
        ({"credits": None, "reference": "x"}, "credits"),
        ({"credits": 5, "reference": "x", "extra": 1}, "extra"),
    ],
)
def test_top_up_validation(stack: LocalStack, http: Any, body: dict[str, Any], field: str) -> None:
    status, _, resp = http("POST", f"{stack.base_url}/v1/credits/top-ups", headers=auth(stack.token), body=body)
    assert status == 422, resp
    assert resp["error"]["field"] == field


def test_agents_cannot_top_up_or_read_the_ledger(stack: LocalStack, http: Any) -> None:
    tok = token_for(stack, "agent-user-1", "agent")
    status, _, body = http(
        "POST", f"{stack.base_url}/v1/credits/top-ups", headers=auth(tok), body={"credits": 5, "reference": "x"}
    )
    assert status == 403 and body["error"]["code"] == "forbidden"
    status, _, _ = http("GET", f"{stack.base_url}/v1/credits/ledger", headers=auth(tok))
    assert status == 403
    status, _, body = http("GET", f"{stack.base_url}/v1/credits", headers=auth(tok))
    assert status == 200 and "balance" in body


def test_admin_may_top_up(stack: LocalStack, http: Any) -> None:
    tok = token_for(stack, "admin-user-1", "admin")
    status, _, body = http(
        "POST", f"{stack.base_url}/v1/credits/top-ups", headers=auth(tok), body={"credits": 3, "reference": "adm"}
    )
    assert status == 201 and body["by"] == "admin-user-1"


def capture_events(stack: LocalStack, prefix: str) -> Any:
    """A rule on the smsdesk bus → a fresh SQS queue; returns a function that drains it."""
    name = f"capture-{uuid.uuid4().hex[:8]}"
    sqs = boto3.client("sqs", endpoint_url=stack.endpoint, region_name=stack.region)
    ev = boto3.client("events", endpoint_url=stack.endpoint, region_name=stack.region)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    bus = stack.env["EVENT_BUS_NAME"]
    pattern = {"source": ["smsdesk"], "detail-type": [{"prefix": prefix}]}
    ev.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps(pattern))
    ev.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])

    def drain(expected: int, timeout: float = 15.0) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while len(got) < expected and time.monotonic() < deadline:
            resp = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            got += [json.loads(m["Body"]) for m in resp.get("Messages", [])]
            if len(got) < expected:
                time.sleep(0.1)
        return got

    return drain


def test_top_up_publishes_credits_topped_up(stack: LocalStack, http: Any) -> None:
    stack.wait_streams()  # earlier tests' events published before the capture's rule exists
    drain = capture_events(stack, "credits.")
    status, _, entry = http(
        "POST",
        f"{stack.base_url}/v1/credits/top-ups",
        headers=auth(stack.token),
        body={"credits": 4, "reference": "ev"},
    )
    assert status == 201
    events = drain(1)
    assert [e["detail-type"] for e in events] == ["credits.topped_up"]
    detail = events[0]["detail"]
    assert (detail["id"], detail["credits"], detail["amount"], detail["reference"]) == (entry["id"], 4, 4, "ev")


def test_bad_cursor_is_422(stack: LocalStack, http: Any) -> None:
    status, _, body = http("GET", f"{stack.base_url}/v1/credits/ledger?cursor=%%%", headers=auth(stack.token))
    assert status == 422 and body["error"]["field"] == "cursor"
