"""The sandbox carrier reports only the final receipt per part by default: one status webhook request
(one webhooks invocation) per delivered one-part message instead of two. A channel set to
``provider_settings.receipts = "all"`` gets ``sent`` first, as a carrier that reports every step would
(issue 11: the ``sent`` callback changes nothing and costs an API Gateway request and an invocation)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from smsdesk import channels
from smsdesk.local.stack import LocalStack

pytestmark = [pytest.mark.local, pytest.mark.usefixtures("fast_pipeline")]

STATUS_ROUTE = "POST /webhooks/{proxy+}"


def create_channel(api: Any, **settings: Any) -> dict[str, Any]:
    body = {
        "name": f"rcpt-{uuid.uuid4().hex[:8]}",
        "type": "one_way",
        "sender": "Shop",
        "provider": "sandbox",
        "throughput_mps": 50,
        **settings,
    }
    return api("POST", "/v1/channels", body, expect=201)


@pytest.fixture(scope="module", autouse=True)
def credits(api: Any) -> None:
    api("POST", "/v1/credits/top-ups", {"credits": 100, "reference": "receipts"}, expect=201)


def deliver(stack: LocalStack, api: Any, channel_id: str, to: str, text: str) -> tuple[dict[str, Any], list[dict]]:
    """Send one message, wait until it is delivered and the carrier has said everything it will say;
    return the message and the status webhook invocations it caused."""
    assert stack.wait_streams()
    since = stack.invocations.last_seq
    msg = api("POST", "/v1/messages", {"channel_id": channel_id, "to": to, "text": text}, expect=202)
    deadline = time.monotonic() + 25
    while (got := api("GET", f"/v1/messages/{msg['id']}", expect=200))["status"] != "delivered":
        assert time.monotonic() < deadline, got
        time.sleep(0.1)
    time.sleep(0.6)  # receipts come 0.1 s after the send, one after another: a late one would be here by now
    webhooks = [e for e in stack.invocations.entries(function="webhooks", since=since) if e["source"] == STATUS_ROUTE]
    return got, webhooks


@pytest.mark.parametrize(
    ("settings", "text", "requests"),
    [
        ({}, "Your order is ready", 1),  # the default: `delivered` only
        ({"receipts": "final"}, "Your order is ready", 1),
        ({"receipts": "all"}, "Your order is ready", 2),  # `sent`, then `delivered`
        ({}, "x" * 300, 2),  # one `delivered` per part
        ({"receipts": "all"}, "x" * 300, 3),
    ],
)
def test_a_delivered_send_costs_one_status_webhook_per_part_unless_the_channel_wants_all_receipts(
    stack: LocalStack, api: Any, settings: dict[str, str], text: str, requests: int
) -> None:
    channel = create_channel(api, provider_settings=settings)
    assert channel["provider_settings"] == settings
    done, webhooks = deliver(stack, api, channel["id"], "+31612347000", text)
    assert len(webhooks) == requests, webhooks
    assert all(e["ok"] and e["status"] == 200 for e in webhooks), webhooks
    # the final status arrives either way; `sent` is the sender's own write, not the carrier's
    assert [h["status"] for h in done["history"]] == ["queued", "sending", "sent", "delivered"]
    assert done["parts_delivered"] == done["parts_total"] == done["segments"]


def test_a_rejected_number_still_gets_no_receipt_and_a_retried_one_its_final_receipt_only(
    stack: LocalStack, api: Any
) -> None:
    channel = create_channel(api)
    since = stack.invocations.last_seq
    rejected = api("POST", "/v1/messages", {"channel_id": channel["id"], "to": "+31612340000", "text": "x"}, expect=202)
    deadline = time.monotonic() + 15
    while api("GET", f"/v1/messages/{rejected['id']}", expect=200)["status"] != "failed":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    time.sleep(0.6)
    assert [e for e in stack.invocations.entries(function="webhooks", since=since) if e["source"] == STATUS_ROUTE] == []
    done, webhooks = deliver(stack, api, channel["id"], "+31612340001", "Your order is ready")
    assert len(webhooks) == 1, webhooks
    assert [h["status"] for h in done["history"]][-2:] == ["sent", "delivered"]


def test_the_receipts_setting_is_validated_and_can_be_changed(stack: LocalStack, api: Any) -> None:
    for bad in ("some", "ALL", ""):
        status, out = api("POST", "/v1/channels", {**_body(), "provider_settings": {"receipts": bad}})
        assert status == 422 and out["error"]["field"] == "provider_settings.receipts", out
    status, out = api(
        "POST", "/v1/channels", {**_body(), "provider": "aws_sms", "provider_settings": {"receipts": "all"}}
    )
    assert status == 422 and out["error"]["field"] == "provider_settings.receipts", out  # the sandbox's only
    channel = create_channel(api)
    assert channel["provider_settings"] == {}
    path = f"/v1/channels/{channel['id']}"
    assert api("PATCH", path, {"provider_settings": {"receipts": "all"}}, expect=200)["provider_settings"] == {
        "receipts": "all"
    }
    assert api("GET", path, expect=200)["provider_settings"] == {"receipts": "all"}
    status, out = api("PATCH", path, {"provider_settings": {"receipts": 1}})
    assert status == 422 and out["error"]["field"].startswith("provider_settings"), out
    time.sleep(channels.CHANNEL_CACHE_S + 0.5)  # a warm sender sees a channel change within its cache time
    _, webhooks = deliver(stack, api, channel["id"], "+31612347001", "Your order is ready")
    assert len(webhooks) == 2, webhooks


def _body() -> dict[str, Any]:
    return {"name": f"rcpt-{uuid.uuid4().hex[:8]}", "type": "one_way", "sender": "Shop", "provider": "sandbox"}
