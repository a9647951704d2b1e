"""Inbound webhooks on the local stack: signatures (sandbox, Twilio as Twilio signs), the sandbox
simulator and CLI, aws_sms through SNS, and idempotent ingestion (retries and concurrent duplicates)."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from twilio.request_validator import RequestValidator

from smsdesk import channels, cli
from smsdesk.connectors import sandbox
from smsdesk.inbound import consumer
from smsdesk.local.stack import LocalStack
from smsdesk.models import InboundSms, utcnow

pytestmark = pytest.mark.local

Http = Callable[..., tuple[int, dict[str, str], Any]]
TWILIO_TOKEN = "e" * 32
SANDBOX_NUMBER = "+3197010000011"
TWILIO_NUMBER = "+3197010000012"
AWS_NUMBER = "+3197010000013"


def auth(stack: LocalStack) -> dict[str, str]:
    return {"authorization": f"Bearer {stack.token}"}


def create_channel(stack: LocalStack, http: Http, **settings: Any) -> dict[str, Any]:
    body = {"name": f"in-{uuid.uuid4().hex[:8]}", "type": "two_way", "provider": "sandbox", **settings}
    status, _, ch = http("POST", f"{stack.base_url}/v1/channels", headers=auth(stack), body=body)
    assert status == 201, ch
    return ch


@pytest.fixture(scope="module")
def sbx(stack: LocalStack, http: Http) -> dict[str, Any]:
    status, _, body = http(
        "POST", f"{stack.base_url}/v1/credits/top-ups", headers=auth(stack), body={"credits": 50, "reference": "t"}
    )
    assert status == 201, body
    return create_channel(stack, http, sender=SANDBOX_NUMBER)


@pytest.fixture(scope="module")
def twl(stack: LocalStack, http: Http) -> dict[str, Any]:
    return create_channel(
        stack,
        http,
        sender=TWILIO_NUMBER,
        provider="twilio",
        provider_settings={"account_sid": "AC" + "1" * 32},
        provider_secret={"auth_token": TWILIO_TOKEN},
    )


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read()


def sandbox_post(channel: dict[str, Any], event: dict[str, Any], key: str | None = None) -> tuple[int, Any]:
    body = json.dumps(event).encode()
    key = key or channels.get_provider_secret(channels.get_channel(channel["id"]))["signing_key"]
    status, _, raw = post(
        channel["webhook_urls"]["inbound"],
        body,
        {"content-type": "application/json", "x-sandbox-signature": sandbox.sign(body, key)},
    )
    return status, json.loads(raw or b"null")


def processed_since(stack: LocalStack, since: int) -> int:
    return sum(e["records"] - e["failures"] for e in stack.invocations.entries(function="inbound", since=since))


def wait_processed(stack: LocalStack, since: int, n: int = 1, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while processed_since(stack, since) < n:
        assert time.monotonic() < deadline, f"{processed_since(stack, since)} of {n} inbound records processed"
        time.sleep(0.05)


def thread_of(stack: LocalStack, http: Http, channel_id: str, number: str) -> list[dict[str, Any]]:
    """The messages of the channel's open conversation with ``number`` (none: [])."""
    status, _, page = http(
        "GET", f"{stack.base_url}/v1/conversations?view=unassigned&channel_id={channel_id}", headers=auth(stack)
    )
    assert status == 200, page
    convs = [c for c in page["items"] if c["number"] == number]
    if not convs:
        return []
    (conv,) = convs
    status, _, detail = http("GET", f"{stack.base_url}/v1/conversations/{conv['id']}", headers=auth(stack))
    assert status == 200, detail
    return detail["messages"]


def event(frm: str, text: str, *, to: str = SANDBOX_NUMBER, id_: str | None = None) -> dict[str, Any]:
    return {"id": id_ or f"SBIN{uuid.uuid4().hex}", "from": frm, "to": to, "text": text}


# -- the sandbox simulator and the CLI ----------------------------------------------------------------------


def test_simulated_inbound_goes_through_the_real_webhook_to_the_inbox(
    stack: LocalStack, http: Http, sbx: dict[str, Any]
) -> None:
    assert sbx["webhook_urls"]["inbound"] == f"{stack.base_url}/webhooks/sandbox/{sbx['id']}/inbound"
    since = stack.invocations.last_seq
    status, _, out = http(
        "POST", f"{stack.base_url}/sandbox/inbound", body={"from": "06 1234 0001", "to": "097010000011", "text": "Hi!"}
    )
    assert status == 202, out
    assert (out["channel_id"], out["to"], out["webhook_url"]) == (
        sbx["id"],
        SANDBOX_NUMBER,
        sbx["webhook_urls"]["inbound"],
    )
    hook = stack.invocations.wait_for(
        lambda e: e.get("function") == "webhooks" and e.get("source") == "POST /webhooks/{proxy+}", since=since
    )
    assert hook["status"] == 200
    wait_processed(stack, since)
    (msg,) = thread_of(stack, http, sbx["id"], "+31612340001")
    assert (msg["direction"], msg["status"], msg["text"], msg["to"], msg["provider"]) == (
        "inbound",
        "received",
        "Hi!",
        SANDBOX_NUMBER,
        "sandbox",
    )


def test_simulate_cli(stack: LocalStack, http: Http, sbx: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    since = stack.invocations.last_seq
    argv = ["simulate", "inbound", "--from", "+31612340002", "--to", SANDBOX_NUMBER, "--base-url", stack.base_url]
    assert cli.main([*argv, "Hello from the CLI"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["channel_id"] == sbx["id"] and printed["id"].startswith("SBIN")
    wait_processed(stack, since)
    assert [m["text"] for m in thread_of(stack, http, sbx["id"], "+31612340002")] == ["Hello from the CLI"]
    # No channel has that number: a clear error, nothing sent.
    assert (
        cli.main(
            [
                "simulate",
                "inbound",
                "--from",
                "+31612340002",
                "--to",
                "+3197010009999",
                "--base-url",
                stack.base_url,
                "x",
            ]
        )
        == 1
    )
    assert "no sandbox channel has the number +3197010009999" in capsys.readouterr().err
    status, _, err = http(
        "POST", f"{stack.base_url}/sandbox/inbound", body={"from": "+31612340002", "to": SANDBOX_NUMBER}
    )
    assert status == 422 and err["error"]["field"] == "text"


# -- signatures ----------------------------------------------------------------------------------------------


def test_forged_unsigned_or_misrouted_webhooks_get_403_or_404_and_leave_nothing(
    stack: LocalStack, http: Http, sbx: dict[str, Any], twl: dict[str, Any]
) -> None:
    since = stack.invocations.last_seq
    ev = event("+31612340003", "forged")
    body = json.dumps(ev).encode()
    url = sbx["webhook_urls"]["inbound"]
    status, _, raw = post(url, body, {"content-type": "application/json"})  # unsigned
    assert status == 403 and json.loads(raw)["error"] == {
        "code": "invalid_signature",
        "message": "missing X-Sandbox-Signature",
        "field": "X-Sandbox-Signature",
    }
    assert sandbox_post(sbx, ev, key="00" * 32)[0] == 403  # signed with another key
    signed_other = sandbox.sign(json.dumps({**ev, "text": "other"}).encode(), "00" * 32)
    assert post(url, body, {"content-type": "application/json", "x-sandbox-signature": signed_other})[0] == 403
    # Twilio: tampered after signing, and signed for another URL.
    params = {"MessageSid": "SM" + uuid.uuid4().hex, "From": "+31612340003", "To": TWILIO_NUMBER, "Body": "hi"}
    turl = twl["webhook_urls"]["inbound"]
    sig = RequestValidator(TWILIO_TOKEN).compute_signature(turl, params)
    form = {"content-type": "application/x-www-form-urlencoded", "x-twilio-signature": sig}
    assert post(turl, urlencode({**params, "Body": "STOP"}).encode(), form)[0] == 403
    wrong_url = RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
    status, _, raw = post(turl, urlencode(params).encode(), {**form, "x-twilio-signature": wrong_url})
    assert status == 403 and json.loads(raw)["error"]["field"] == "X-Twilio-Signature"
    # Not this channel's provider, an unknown provider, an unknown channel.
    assert post(url.replace("/sandbox/", "/twilio/"), body, {"content-type": "application/json"})[0] == 404
    assert post(url.replace("/sandbox/", "/nosuch/"), body, {"content-type": "application/json"})[0] == 404
    assert (
        post(f"{stack.base_url}/webhooks/sandbox/NOSUCH/inbound", body, {"content-type": "application/json"})[0] == 404
    )
    time.sleep(0.3)
    assert [e for e in stack.invocations.entries(function="inbound", since=since)] == []  # nothing enqueued
    assert thread_of(stack, http, sbx["id"], "+31612340003") == []
    assert thread_of(stack, http, twl["id"], "+31612340003") == []


def test_twilio_inbound_signed_as_twilio_signs_is_stored_and_answered_with_empty_twiml(
    stack: LocalStack, http: Http, twl: dict[str, Any]
) -> None:
    url = twl["webhook_urls"]["inbound"]
    sid = "SM" + uuid.uuid4().hex
    params = {
        "ToCountry": "NL",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "SmsSid": sid,
        "SmsStatus": "received",
        "Body": "Waar blijft mijn pakket? €",
        "FromCountry": "NL",
        "To": TWILIO_NUMBER,
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": "AC" + "1" * 32,
        "From": "+31612340004",
        "ApiVersion": "2010-04-01",
    }
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
    headers = {"content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature}
    since = stack.invocations.last_seq
    for _ in range(2):  # Twilio retries on a timeout: the same SMS again
        status, rh, body = post(url, urlencode(params).encode(), headers)
        assert status == 200 and rh["content-type"].startswith("text/xml")
        assert body.decode() == '<?xml version="1.0" encoding="UTF-8"?><Response/>'
    wait_processed(stack, since, 2)
    (msg,) = thread_of(stack, http, twl["id"], "+31612340004")
    assert (msg["provider"], msg["text"], msg["to"]) == ("twilio", "Waar blijft mijn pakket? €", TWILIO_NUMBER)


def test_signed_but_unparsable_inbound_is_refused_with_422(stack: LocalStack, sbx: dict[str, Any]) -> None:
    since = stack.invocations.last_seq
    status, body = sandbox_post(sbx, {"from": "+31612340005", "to": SANDBOX_NUMBER})  # no text
    assert status == 422 and body["error"]["code"] == "invalid_payload"
    time.sleep(0.2)
    assert stack.invocations.entries(function="inbound", since=since) == []


# -- idempotent ingestion ----------------------------------------------------------------------------------


def test_the_same_webhook_three_times_is_one_message(stack: LocalStack, http: Http, sbx: dict[str, Any]) -> None:
    ev = event("+31612340006", "Is my order shipped?")
    since = stack.invocations.last_seq
    for _ in range(3):
        assert sandbox_post(sbx, ev)[0] == 200
    wait_processed(stack, since, 3)
    assert [m["text"] for m in thread_of(stack, http, sbx["id"], "+31612340006")] == ["Is my order shipped?"]


def test_concurrent_duplicates_are_one_message(stack: LocalStack, http: Http, sbx: dict[str, Any]) -> None:
    # Through the webhook, twice at once.
    ev = event("+31612340007", "twice at once")
    since = stack.invocations.last_seq
    barrier = threading.Barrier(2)
    results: list[int] = []

    def deliver() -> None:
        barrier.wait()
        results.append(sandbox_post(sbx, ev)[0])

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200, 200]
    wait_processed(stack, since, 2)
    assert [m["text"] for m in thread_of(stack, http, sbx["id"], "+31612340007")] == ["twice at once"]

    # Two consumers routing the same SMS at the same moment (two Lambda invocations).
    channel = channels.get_channel(sbx["id"])
    sms = InboundSms(
        provider="sandbox",
        provider_id=f"SBIN{uuid.uuid4().hex}",
        **{"from": "+31612340008"},
        to=SANDBOX_NUMBER,
        text="racing",
        received_at=utcnow(),
    )
    go = threading.Barrier(2)
    outcomes: list[str] = []

    def route() -> None:
        go.wait()
        outcomes.append(consumer.process(channel, sms))

    threads = [threading.Thread(target=route) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["duplicate", "inbox"]
    assert [m["text"] for m in thread_of(stack, http, sbx["id"], "+31612340008")] == ["racing"]


# -- aws_sms: SNS -> SQS -----------------------------------------------------------------------------------


def test_aws_sms_inbound_arrives_through_sns(stack: LocalStack, http: Http) -> None:
    ch = create_channel(stack, http, sender=AWS_NUMBER, provider="aws_sms")
    sns = boto3.client("sns", endpoint_url=stack.endpoint, region_name=stack.region)
    topic = stack.env["AWS_SMS_INBOUND_TOPIC_ARN"]
    sms = {
        "originationNumber": "+31612340009",
        "destinationNumber": AWS_NUMBER,
        "messageKeyword": "KEYWORD_123456789012",
        "messageBody": "Via SNS",
        "inboundMessageId": str(uuid.uuid4()),
        "previousPublishedMessageId": "wJalrXUtnFEMI",
    }
    since = stack.invocations.last_seq
    sns.publish(TopicArn=topic, Message=json.dumps(sms))
    sns.publish(TopicArn=topic, Message=json.dumps(sms))  # at-least-once: the same event again
    sns.publish(
        TopicArn=topic, Message=json.dumps({**sms, "destinationNumber": "+3197010009999", "inboundMessageId": "x"})
    )
    wait_processed(stack, since, 3)  # the one for no channel is dropped (logged), not retried
    (msg,) = thread_of(stack, http, ch["id"], "+31612340009")
    assert (msg["provider"], msg["text"], msg["direction"]) == ("aws_sms", "Via SNS", "inbound")
    assert sum(e["failures"] for e in stack.invocations.entries(function="inbound", since=since)) == 0
