"""The send pipeline end to end on the local stack: API → outbound queue → sender (rate limit, retries)
→ provider → signed status webhook → receipts queue → receipts → the sent overview and the ledger."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from twilio.request_validator import RequestValidator

from smsdesk import channels, config
from smsdesk import outbox as outbox_mod
from smsdesk.connectors import sandbox
from smsdesk.envelopes import OutboundJob
from smsdesk.local.stack import LocalStack
from smsdesk.sending import sender

pytestmark = [pytest.mark.local, pytest.mark.usefixtures("fast_pipeline")]

Http = Callable[..., tuple[int, dict[str, str], Any]]


def auth(stack: LocalStack) -> dict[str, str]:
    return {"authorization": f"Bearer {stack.token}"}


def create_channel(stack: LocalStack, http: Http, **settings: Any) -> dict[str, Any]:
    body = {
        "name": f"pipe-{uuid.uuid4().hex[:8]}",
        "type": "one_way",
        "sender": "Shop",
        "provider": "sandbox",
        "throughput_mps": 50,
        **settings,
    }
    status, _, ch = http("POST", f"{stack.base_url}/v1/channels", headers=auth(stack), body=body)
    assert status == 201, ch
    return ch


def top_up(stack: LocalStack, http: Http, n: int) -> None:
    status, _, body = http(
        "POST", f"{stack.base_url}/v1/credits/top-ups", headers=auth(stack), body={"credits": n, "reference": "e2e"}
    )
    assert status == 201, body


def balance(stack: LocalStack, http: Http) -> int:
    return http("GET", f"{stack.base_url}/v1/credits", headers=auth(stack))[2]["balance"]


def send(stack: LocalStack, http: Http, channel_id: str, to: str, text: str = "Your order is ready") -> dict[str, Any]:
    status, _, msg = http(
        "POST",
        f"{stack.base_url}/v1/messages",
        headers=auth(stack),
        body={"channel_id": channel_id, "to": to, "text": text},
    )
    assert status == 202, msg
    assert msg["status"] == "queued"
    return msg


def get_message(stack: LocalStack, http: Http, message_id: str) -> dict[str, Any]:
    status, _, msg = http("GET", f"{stack.base_url}/v1/messages/{message_id}", headers=auth(stack))
    assert status == 200, msg
    return msg


def wait_status(
    stack: LocalStack, http: Http, message_id: str, want: str, timeout: float = 25.0, **fields: Any
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        msg = get_message(stack, http, message_id)
        if msg["status"] == want and all(msg.get(k) == v for k, v in fields.items()):
            return msg
        if time.monotonic() > deadline:
            raise AssertionError(f"message {message_id} is {msg['status']}, wanted {want} {fields}: {msg}")
        time.sleep(0.1)


def outbox(stack: LocalStack, http: Http, message_id: str) -> list[dict[str, Any]]:
    status, _, body = http("GET", f"{stack.base_url}/sandbox/outbox?limit=200")
    assert status == 200, body
    return sorted((m for m in body["messages"] if m["message_id"] == message_id), key=lambda m: m["attempt"])


def ledger_for(stack: LocalStack, http: Http, message_id: str) -> list[dict[str, Any]]:
    status, _, body = http("GET", f"{stack.base_url}/v1/credits/ledger?limit=100", headers=auth(stack))
    assert status == 200, body
    return [e for e in body["items"] if e.get("message_id") == message_id]


def signed_post(stack: LocalStack, channel_id: str, event: dict[str, Any], key: str, http: Http) -> int:
    url = f"{stack.base_url}/webhooks/sandbox/{channel_id}/status"
    body = json.dumps(event).encode()
    import urllib.error
    import urllib.request

    req = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"content-type": "application/json", "x-sandbox-signature": sandbox.sign(body, key)},
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def signing_key(channel_id: str) -> str:
    return channels.get_provider_secret(channels.get_channel(channel_id))["signing_key"]


@pytest.fixture(scope="module")
def channel(stack: LocalStack, http: Http) -> dict[str, Any]:
    top_up(stack, http, 100)
    return create_channel(stack, http)


# -- the newcomer's path ------------------------------------------------------------------------------------


def test_send_is_delivered_within_seconds_and_charged(stack: LocalStack, http: Http, channel: dict[str, Any]) -> None:
    before = balance(stack, http)
    msg = send(stack, http, channel["id"], "0612345678")
    assert balance(stack, http) == before - msg["credits"]
    done = wait_status(stack, http, msg["id"], "delivered", timeout=25)
    assert [h["status"] for h in done["history"]] == ["queued", "sending", "sent", "delivered"]
    assert done["provider_id"].startswith("SB") and done["refunded"] is False
    (entry,) = outbox(stack, http, msg["id"])
    assert (entry["outcome"], entry["to"], entry["from"], entry["provider_id"]) == (
        "accepted",
        "+31612345678",
        "Shop",
        done["provider_id"],
    )
    status, _, page = http("GET", f"{stack.base_url}/v1/messages?channel_id={channel['id']}", headers=auth(stack))
    assert status == 200 and page["items"][0]["id"] == msg["id"] and page["items"][0]["status"] == "delivered"
    assert balance(stack, http) == before - msg["credits"]  # delivery costs nothing more


def test_multi_part_message_is_delivered_when_every_part_is(
    stack: LocalStack, http: Http, channel: dict[str, Any]
) -> None:
    msg = send(stack, http, channel["id"], "+31612345679", text="x" * 300)
    assert msg["segments"] == 2
    done = wait_status(stack, http, msg["id"], "delivered", timeout=25)
    assert done["parts_total"] == 2 and done["parts_delivered"] == 2


def test_transient_failures_are_retried_until_delivered(stack: LocalStack, http: Http, channel: dict[str, Any]) -> None:
    before = balance(stack, http)
    msg = send(stack, http, channel["id"], "+31612340001")
    wait_status(stack, http, msg["id"], "delivered", timeout=10)
    assert [e["outcome"] for e in outbox(stack, http, msg["id"])] == ["transient", "transient", "accepted"]
    assert balance(stack, http) == before - msg["credits"]
    assert [e["kind"] for e in ledger_for(stack, http, msg["id"])] == ["charge"]


def test_permanent_failure_fails_and_refunds_once(stack: LocalStack, http: Http, channel: dict[str, Any]) -> None:
    before = balance(stack, http)
    msg = send(stack, http, channel["id"], "+31612340000")
    failed = wait_status(stack, http, msg["id"], "failed", timeout=8, refunded=True)
    assert failed["error"]["code"] == "sandbox_rejected"
    assert [e["outcome"] for e in outbox(stack, http, msg["id"])] == ["permanent"]
    assert balance(stack, http) == before
    entries = ledger_for(stack, http, msg["id"])
    assert sorted(e["kind"] for e in entries) == ["charge", "refund"]
    assert sum(e["amount"] for e in entries) == 0
    # The job again (an SQS redelivery): the message is final, nothing is sent or refunded twice.
    assert sender.process(OutboundJob(message_id=msg["id"])) == "skipped"
    assert len(ledger_for(stack, http, msg["id"])) == 2 and balance(stack, http) == before


# -- webhooks -----------------------------------------------------------------------------------------------


def test_forged_or_misrouted_webhooks_are_rejected_and_leave_nothing(
    stack: LocalStack, http: Http, channel: dict[str, Any]
) -> None:
    url = f"{stack.base_url}/webhooks/sandbox/{channel['id']}/status"
    event = {"id": "EVFORGED", "message_id": "SBFORGED", "status": "delivered", "at": "2026-01-01T00:00:00.000Z"}
    since = stack.invocations.last_seq
    status, _, body = http("POST", url, body=event)  # no signature
    assert status == 403 and body["error"]["code"] == "invalid_signature"
    assert body["error"]["field"] == "X-Sandbox-Signature"
    assert signed_post(stack, channel["id"], event, "00" * 32, http) == 403  # signed with another key
    bad = {"x-sandbox-signature": sandbox.sign(b"{}", signing_key(channel["id"]))}  # signature of another body
    assert http("POST", url, headers=bad, body=event)[0] == 403
    assert http("POST", url.replace("/sandbox/", "/twilio/"), body=event)[0] == 404  # not this channel's provider
    assert http("POST", url.replace("/sandbox/", "/nosuch/"), body=event)[0] == 404
    status, _, body = http("POST", f"{stack.base_url}/webhooks/sandbox/NOSUCHCHANNEL/status", body=event)
    assert status == 404 and body["error"]["field"] == "channel_id"
    time.sleep(0.5)
    assert not [e for e in stack.invocations.entries(function="receipts") if e["seq"] > since]  # nothing enqueued
    ddb = boto3.client("dynamodb", endpoint_url=stack.endpoint, region_name=stack.region)
    stored = ddb.query(
        TableName=stack.env["TABLE_NAME"],
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": "PROVIDER#sandbox#SBFORGED"}},
    )
    assert stored["Items"] == []


def test_duplicate_and_late_receipts_change_nothing(stack: LocalStack, http: Http, channel: dict[str, Any]) -> None:
    msg = send(stack, http, channel["id"], "+31612345670")
    done = wait_status(stack, http, msg["id"], "delivered", timeout=25)
    key = signing_key(channel["id"])
    delivered_at = done["history"][-1]["at"]
    replay = [
        # the very receipt again (a provider retry): same event id
        {"id": "DUP", "message_id": done["provider_id"], "status": "delivered", "at": delivered_at},
        {"id": "DUP", "message_id": done["provider_id"], "status": "delivered", "at": delivered_at},
        # a late "sent" and a contradicting "failed" after the final status
        {"id": "LATE1", "message_id": done["provider_id"], "status": "sent", "at": delivered_at},
        {"id": "LATE2", "message_id": done["provider_id"], "status": "failed", "at": delivered_at},
    ]
    since = stack.invocations.last_seq
    for event in replay:
        assert signed_post(stack, channel["id"], event, key, http) == 200
    applied = 0
    deadline = time.monotonic() + 8
    while applied < len(replay) and time.monotonic() < deadline:
        runs = [e for e in stack.invocations.entries(function="receipts") if e["seq"] > since]
        applied = sum(e["records"] - e["failures"] for e in runs)
        time.sleep(0.1)
    assert applied == len(replay)
    after = get_message(stack, http, msg["id"])
    assert after["status"] == "delivered" and after["history"] == done["history"] and after["error"] is None


def test_a_receipt_before_the_sent_write_is_applied_and_the_sms_charged_and_sent_once(
    stack: LocalStack, http: Http, channel: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The carrier's DLR overtakes our own bookkeeping: it names the message, so the webhook applies it
    at once (with the provider's id), before answering; the sender's own ``sent`` write then changes
    nothing. The channel reports every receipt (``receipts: all``), so a ``sent`` callback comes first."""
    real_deliver = sandbox._deliver_later
    seen: dict[str, Any] = {}

    def deliver_now(url: str, events: list[dict[str, Any]], key: str, delay_s: float) -> None:
        since = stack.invocations.last_seq
        seen["posted"] = [e["status"] for e in events]
        try:
            for event in events:  # before send() even returns, so before mark_sent
                assert sandbox.post_signed(url, event, key, timeout_s=60) == 200
            # the "sent" callback names its message: answered without a write; "delivered" is applied by
            # the webhook before its 200, with no queue message and no receipts invocation
            seen["status"] = get_message(stack, http, events[0]["client_ref"])["status"]
            seen["receipts_runs"] = stack.invocations.entries(function="receipts", since=since)
        except BaseException as exc:  # raised here it would only look like a provider error to the sender
            seen["error"] = repr(exc)

    every_receipt = create_channel(stack, http, provider_settings={"receipts": "all"})
    monkeypatch.setattr(sandbox, "_deliver_later", deliver_now)
    try:
        msg = send(stack, http, every_receipt["id"], "+31612345671")
        done = wait_status(stack, http, msg["id"], "delivered", timeout=10)
    finally:
        monkeypatch.setattr(sandbox, "_deliver_later", real_deliver)
    assert seen == {"posted": ["sent", "delivered"], "status": "delivered", "receipts_runs": []}
    assert stack.wait_streams()
    assert [h["status"] for h in get_message(stack, http, msg["id"])["history"]] == ["queued", "sending", "delivered"]
    (attempt,) = outbox(stack, http, msg["id"])
    assert done["provider_id"] == attempt["provider_id"] and not done["refunded"]
    assert [e["kind"] for e in ledger_for(stack, http, msg["id"])] == ["charge"]


def receipts_runs(stack: LocalStack, since: int) -> list[dict[str, Any]]:
    return stack.invocations.entries(function="receipts", since=since)


def test_a_duplicated_receipt_is_applied_once_and_a_sent_callback_costs_nothing(
    stack: LocalStack, http: Http, channel: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A final receipt naming its message is applied by the webhook itself (one conditional write); the
    provider's retry of it finds it applied and changes nothing: no queue message, no receipts run."""
    monkeypatch.setattr(sandbox, "_deliver_later", lambda *a, **k: None)  # the carrier stays silent
    msg = send(stack, http, channel["id"], "+31612345675")
    sent = wait_status(stack, http, msg["id"], "sent", timeout=20)
    key = signing_key(channel["id"])
    pid, at = sent["provider_id"], sent["history"][-1]["at"]
    since = stack.invocations.last_seq
    # a "sent" callback for a message already sent changes nothing: no queue message, no invocation
    event = {"id": "S1", "message_id": pid, "status": "sent", "at": at, "client_ref": msg["id"]}
    assert signed_post(stack, channel["id"], event, key, http) == 200
    # the provider retries its DLR: the same event twice
    dlr = {"id": "D1", "message_id": pid, "status": "delivered", "at": at, "client_ref": msg["id"]}
    assert signed_post(stack, channel["id"], dlr, key, http) == 200
    assert get_message(stack, http, msg["id"])["status"] == "delivered"  # applied before the 200
    assert signed_post(stack, channel["id"], dlr, key, http) == 200
    time.sleep(0.5)
    assert receipts_runs(stack, since) == []
    done = get_message(stack, http, msg["id"])
    assert [h["status"] for h in done["history"]] == ["queued", "sending", "sent", "delivered"]
    assert done["parts_delivered"] == 1 and [e["kind"] for e in ledger_for(stack, http, msg["id"])] == ["charge"]


@pytest.mark.parametrize("final", ["delivered", "failed"])
def test_a_receipt_the_webhook_could_not_write_is_queued_and_its_retry_applies_nothing_twice(
    stack: LocalStack, http: Http, channel: dict[str, Any], monkeypatch: pytest.MonkeyPatch, final: str
) -> None:
    """Receipts applied in two places: the webhook's write is throttled, so the callback goes to the
    receipts queue and the receipts function applies it; the provider's retry of the same callback
    reaches the webhook, whose write now finds it applied. One status change, one event, no refund (the
    provider took the message: a carrier's ``failed`` is not refunded), the charge alone in the ledger."""
    from botocore.exceptions import ClientError

    from smsdesk.data import messages as repo

    monkeypatch.setattr(sandbox, "_deliver_later", lambda *a, **k: None)
    msg = send(stack, http, channel["id"], f"+3161234{5680 + (final == 'failed')}")
    sent = wait_status(stack, http, msg["id"], "sent", timeout=20)
    assert stack.wait_streams()
    real = repo.apply_whole_receipt
    throttled: list[str] = []

    def throttle_once(message_id: str, *args: Any, **kwargs: Any) -> Any:
        if not throttled:
            throttled.append(message_id)
            error = {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}}
            raise ClientError(error, "UpdateItem")  # type: ignore[arg-type]
        return real(message_id, *args, **kwargs)

    monkeypatch.setattr(repo, "apply_whole_receipt", throttle_once)
    key, pid, at = signing_key(channel["id"]), sent["provider_id"], sent["history"][-1]["at"]
    dlr = {"id": f"F{uuid.uuid4().hex[:8]}", "message_id": pid, "status": final, "at": at, "client_ref": msg["id"]}
    if final == "failed":
        dlr |= {"error_code": "carrier_30003", "error_message": "Unreachable handset"}
    since = stack.invocations.last_seq
    assert signed_post(stack, channel["id"], dlr, key, http) == 200
    run = stack.invocations.wait_for(lambda e: e.get("function") == "receipts", since=since, timeout=20)
    assert throttled == [msg["id"]] and run["records"] == 1 and run["failures"] == 0
    wait_status(stack, http, msg["id"], final, timeout=10)
    seq = stack.invocations.last_seq
    assert signed_post(stack, channel["id"], dlr, key, http) == 200  # the provider's retry
    time.sleep(0.5)
    assert receipts_runs(stack, seq) == []  # applied already: nothing queued
    assert stack.wait_streams()
    done = get_message(stack, http, msg["id"])
    assert [h["status"] for h in done["history"]] == ["queued", "sending", "sent", final]
    assert done["refunded"] is False
    assert [e["kind"] for e in ledger_for(stack, http, msg["id"])] == ["charge"]
    if final == "failed":
        assert done["error"] == {"code": "carrier_30003", "message": "Unreachable handset"}


def test_a_receipt_that_names_no_message_or_one_part_is_queued(
    stack: LocalStack, http: Http, channel: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only a final receipt about a whole message that it names is applied in the webhook; the rest
    (no message id: looked up by the provider's id; one part of several: combined by the rules) go to
    the receipts function, as before."""
    monkeypatch.setattr(sandbox, "_deliver_later", lambda *a, **k: None)
    one = send(stack, http, channel["id"], "+31612345682")
    two = send(stack, http, channel["id"], "+31612345683", text="y" * 300)
    sent_one = wait_status(stack, http, one["id"], "sent", timeout=20)
    sent_two = wait_status(stack, http, two["id"], "sent", timeout=20)
    key = signing_key(channel["id"])
    since = stack.invocations.last_seq
    at = sent_one["history"][-1]["at"]
    nameless = {"id": "N1", "message_id": sent_one["provider_id"], "status": "delivered", "at": at}
    assert signed_post(stack, channel["id"], nameless, key, http) == 200
    for part in (1, 2):
        event = {
            "id": f"P{part}",
            "message_id": sent_two["provider_id"],
            "status": "delivered",
            "at": at,
            "part": part,
            "parts": 2,
            "client_ref": two["id"],
        }
        assert signed_post(stack, channel["id"], event, key, http) == 200
    done = wait_status(stack, http, two["id"], "delivered", timeout=10)
    assert done["parts_delivered"] == 2
    deadline = time.monotonic() + 10
    while sum(e["records"] for e in receipts_runs(stack, since)) < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert sum(e["records"] for e in receipts_runs(stack, since)) == 3
    # (a receipt without the message's id is the receipts function's to resolve: not the webhook's)
    assert get_message(stack, http, one["id"])["status"] == "sent"


def test_one_delivered_send_costs_two_calls_to_accept_three_to_send_one_for_its_receipt_three_in_the_outbox(
    stack: LocalStack, http: Http, channel: dict[str, Any]
) -> None:
    """AWS calls per stage of one delivered single send (sandbox, jobs and stream records one at a time):
    accept = the read and the charge-and-record transaction; send = the rate-limit slot, the claim and
    ``sent`` (plus the sandbox carrier's own bookkeeping, which a real provider keeps on its side); the
    ``delivered`` receipt = one conditional write by the webhook (no queue message, no receipts run); the
    outbox = the charge's ledger entry (BatchWriteItem: up to 25 records' entries a call), the job and
    one event (``MESSAGE_EVENTS=final``, the default: only ``message.delivered``; the claim and ``sent``
    announce nothing; ``all`` adds queued and sent: three PutEvents)."""
    from bench import bench_aws_calls as calls

    calls._install()

    def one(to: str) -> None:
        msg = send(stack, http, channel["id"], to)
        wait_status(stack, http, msg["id"], "delivered", timeout=20)
        time.sleep(0.3)
        assert stack.wait_streams()

    with stack.configure("sender", SANDBOX_RECEIPT_DELAY_S="1.5"):  # the DLR well after our own `sent` write
        one("+31612345690")  # warm: clients, the channel and secret caches
        with calls.counting() as counted:
            one("+31612345691")
    by_stage: dict[str, dict[str, int]] = {}
    channel_reads: dict[str, int] = {}
    for (label, api), n in counted.items():
        if label in ("api:GET", "webhooks:GET"):
            continue  # the test's own polling
        if api == "dynamodb:GetItem":  # the channel, read at most once per few seconds per container
            channel_reads[label] = n
            continue
        by_stage.setdefault(label.split(":")[0], {})[api] = n
    assert all(n <= 1 for n in channel_reads.values()), channel_reads
    assert by_stage == {
        "api": {"dynamodb:BatchGetItem": 1, "dynamodb:TransactWriteItems": 1},
        # slot + claim + sent = 3 UpdateItem; the sandbox's attempt counter (UpdateItem) and its outbox (PutItem)
        "sender": {"dynamodb:UpdateItem": 4, "dynamodb:PutItem": 1},
        "webhooks": {"dynamodb:UpdateItem": 1},
        "outbox": {"dynamodb:BatchWriteItem": 1, "events:PutEvents": 1, "sqs:SendMessageBatch": 1},
    }


def test_a_status_callback_reads_its_channel_once_a_minute_and_again_when_it_no_longer_verifies(
    stack: LocalStack, http: Http, channel: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The status webhook verifies with the channel as this container read it up to a minute ago (as long
    as its secret is cached), not the send path's few seconds: sporadic receipts cost no channel read.
    A channel read that long ago which no longer verifies the callback (its provider or secret changed)
    is read again before the callback is refused."""
    from bench import bench_aws_calls as calls

    calls._install()
    monkeypatch.setattr(sandbox, "_deliver_later", lambda *a, **k: None)
    msg = send(stack, http, channel["id"], "+31612345692")
    sent = wait_status(stack, http, msg["id"], "sent", timeout=20)
    key, pid, at = signing_key(channel["id"]), sent["provider_id"], sent["history"][-1]["at"]
    channels.get_channel_cached(channel["id"])  # as the webhook last read it
    time.sleep(channels.CHANNEL_CACHE_S + 0.5)  # older than the send path's cache
    dlr = {"id": "C1", "message_id": pid, "status": "delivered", "at": at, "client_ref": msg["id"]}
    with calls.counting() as counted:
        assert signed_post(stack, channel["id"], dlr, key, http) == 200
    webhooks = {api: n for (label, api), n in counted.items() if label.startswith("webhooks")}
    assert webhooks == {"dynamodb:UpdateItem": 1}
    assert get_message(stack, http, msg["id"])["status"] == "delivered"
    # the channel as read a while ago said another provider: read again, then verified
    stale = channels.get_channel(channel["id"]).model_copy(update={"provider": "twilio"})
    monkeypatch.setitem(channels._channel_cache, channel["id"], (time.monotonic() - 30, stale))
    again = {**dlr, "id": "C2", "status": "failed"}  # (final already: changes nothing)
    assert signed_post(stack, channel["id"], again, key, http) == 200


class Killed(BaseException):
    """The sender's process dies (a timeout, an out-of-memory kill): nothing after this line runs."""


def test_a_sender_killed_between_claim_and_send_sends_once_on_the_next_delivery(
    stack: LocalStack, http: Http, channel: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from smsdesk import access
    from smsdesk.auth import Caller
    from smsdesk.models import SendRequest
    from smsdesk.sending import messages

    owner = Caller(user_id=stack.tokens.user_id, role="owner", username="o")
    ch = access.require_channel(owner, channel["id"])
    msg = messages.build(owner, ch, SendRequest(channel_id=ch.id, to="+31612345676", text="once"))
    real_change = outbox_mod.change
    with monkeypatch.context() as m:  # recorded and charged without its job: the test delivers it by hand
        m.setattr(outbox_mod, "change", lambda events=(), jobs=(): real_change(events))
        messages.record(msg)
    job = OutboundJob(message_id=msg.id, channel_id=msg.channel_id, created_at=msg.created_at)
    monkeypatch.setenv("SENDER_LEASE_S", "1")
    real_send = sandbox.SandboxConnector.send

    def killed(self: Any, *args: Any) -> Any:
        raise Killed

    monkeypatch.setattr(sandbox.SandboxConnector, "send", killed)
    with pytest.raises(Killed):
        sender.process(job)
    assert get_message(stack, http, msg.id)["status"] == "sending" and outbox(stack, http, msg.id) == []
    monkeypatch.setattr(sandbox.SandboxConnector, "send", real_send)
    # SQS delivers the job again while the dead invocation's claim still holds: retried later, not sent
    record = SQSRecord(
        {"messageId": "r", "body": job.model_dump_json(), "attributes": {"ApproximateReceiveCount": "8"}}
    )
    with pytest.raises(messages.ClaimInProgress):
        sender.handle_outbound(job, record)  # not dead-lettered nor refunded: the claim decides
    assert outbox(stack, http, msg.id) == [] and get_message(stack, http, msg.id)["status"] == "sending"
    time.sleep(2.1)  # the claim's lease expires
    assert sender.process(job) == "sent"
    assert sender.process(job) == "skipped"  # and once more: at most once
    done = wait_status(stack, http, msg.id, "delivered", timeout=20)
    assert len(outbox(stack, http, msg.id)) == 1 and not done["refunded"]
    assert [h["status"] for h in done["history"]] == ["queued", "sending", "sent", "delivered"]
    assert [e["kind"] for e in ledger_for(stack, http, msg.id)] == ["charge"]


# -- sender edge cases --------------------------------------------------------------------------------------


@pytest.fixture
def parked(
    stack: LocalStack, http: Http, channel: dict[str, Any]
) -> Callable[[], tuple[dict[str, Any], dict[str, Any]]]:
    """A message that stays ``queued``: its channel allows one SMS per 60 s and another went first, so
    the sender parks its job on the queue (delayed, with its reserved slot) instead of sending it.
    (``channel`` tops up the credits.)"""

    def make() -> tuple[dict[str, Any], dict[str, Any]]:
        ch = create_channel(stack, http, throughput_mps=1 / 60)
        first = send(stack, http, ch["id"], "+31612345672")
        wait_status(stack, http, first["id"], "delivered", timeout=25)
        since = stack.invocations.last_seq
        msg = send(stack, http, ch["id"], "+31612345673")
        stack.invocations.wait_for(lambda e: e.get("function") == "sender", since=since, timeout=20)
        assert get_message(stack, http, msg["id"])["status"] == "queued"
        return ch, msg

    return make


def test_rate_limited_job_waits_then_expired_or_disabled_messages_are_refunded(
    stack: LocalStack, http: Http, parked: Callable[[], tuple[dict[str, Any], dict[str, Any]]]
) -> None:
    ch, msg = parked()
    before = balance(stack, http)
    # Older than the channel's validity period when its slot comes: expired, refunded, never sent.
    ddb = boto3.client("dynamodb", endpoint_url=stack.endpoint, region_name=stack.region)
    old = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=5)).isoformat()
    ddb.update_item(
        TableName=stack.env["TABLE_NAME"],
        Key={"PK": {"S": f"MSG#{msg['id']}"}, "SK": {"S": "META"}},
        UpdateExpression="SET created_at = :old",
        ExpressionAttributeValues={":old": {"S": old}},
    )
    assert sender.process(OutboundJob(message_id=msg["id"])) == "failed"
    failed = get_message(stack, http, msg["id"])
    assert failed["status"] == "failed" and failed["error"]["code"] == "expired" and failed["refunded"]
    assert balance(stack, http) == before + msg["credits"] and outbox(stack, http, msg["id"]) == []

    # A channel disabled while its messages wait: they fail (channel_disabled) and are refunded.
    since = stack.invocations.last_seq
    msg2 = send(stack, http, ch["id"], "+31612345674")
    # its job reaches the sender (through the outbox), which parks it: then it waits like the first
    stack.invocations.wait_for(lambda e: e.get("function") == "sender", since=since, timeout=20)
    assert get_message(stack, http, msg2["id"])["status"] == "queued"
    status, _, _ = http(
        "PATCH", f"{stack.base_url}/v1/channels/{ch['id']}", headers=auth(stack), body={"enabled": False}
    )
    assert status == 200
    assert sender.process(OutboundJob(message_id=msg2["id"])) == "failed"
    assert get_message(stack, http, msg2["id"])["error"]["code"] == "channel_disabled"
    assert [e["kind"] for e in ledger_for(stack, http, msg2["id"])] == ["refund", "charge"]


def test_poison_job_is_refunded_once_on_its_last_receive(
    stack: LocalStack,
    http: Http,
    parked: Callable[[], tuple[dict[str, Any], dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, msg = parked()
    before = balance(stack, http)

    def crash(job: OutboundJob) -> str:
        raise RuntimeError("bug")

    monkeypatch.setattr(sender, "process", crash)
    body = OutboundJob(message_id=msg["id"]).model_dump_json()

    def record(count: int) -> SQSRecord:
        return SQSRecord(
            {"messageId": str(uuid.uuid4()), "body": body, "attributes": {"ApproximateReceiveCount": str(count)}}
        )

    job = OutboundJob(message_id=msg["id"])
    with pytest.raises(RuntimeError):
        sender.handle_outbound(job, record(1))  # early receives: just retried by SQS
    assert get_message(stack, http, msg["id"])["status"] == "queued"
    for _ in range(2):  # the last receive (twice, as at-least-once delivery may do)
        with pytest.raises(RuntimeError):
            sender.handle_outbound(job, record(8))
    failed = get_message(stack, http, msg["id"])
    assert failed["status"] == "failed" and failed["error"]["code"] == "dead_lettered"
    assert balance(stack, http) == before + msg["credits"]
    assert sorted(e["kind"] for e in ledger_for(stack, http, msg["id"])) == ["charge", "refund"]


# -- twilio, end to end against a local fake of its API ----------------------------------------------------

TWILIO_TOKEN = "f" * 32
ACCOUNT_SID = "AC" + "1" * 32


class FakeTwilio:
    """Accepts messages like Twilio's Messages API, then calls the StatusCallback, signed like Twilio."""

    def __init__(self) -> None:
        self.created: list[dict[str, str]] = []
        self.callbacks: list[int] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                form = {
                    k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers["content-length"])).decode()).items()
                }
                sid = "SM" + uuid.uuid4().hex
                fake.created.append({**form, "sid": sid})
                raw = json.dumps({"sid": sid, "status": "queued", "num_segments": "1"}).encode()
                self.send_response(201)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
                threading.Timer(0.2, fake.callback, args=(form["StatusCallback"], sid, form)).start()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def callback(self, url: str, sid: str, form: dict[str, str]) -> None:
        import urllib.request

        for status in ("sent", "delivered"):
            params = {
                "MessageSid": sid,
                "SmsSid": sid,
                "MessageStatus": status,
                "SmsStatus": status,
                "AccountSid": ACCOUNT_SID,
                "From": form["From"],
                "To": form["To"],
                "ApiVersion": "2010-04-01",
            }
            signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, params)
            req = urllib.request.Request(
                url,
                data=urlencode(params).encode(),
                method="POST",
                headers={"content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature},
            )
            with urllib.request.urlopen(req, timeout=5) as resp:
                self.callbacks.append(resp.status)


def test_twilio_channel_end_to_end(stack: LocalStack, http: Http, channel: dict[str, Any]) -> None:
    """(``channel`` tops up the credits.)"""
    fake = FakeTwilio()
    with stack.configure("sender", TWILIO_API_BASE=fake.base):
        try:
            ch = create_channel(
                stack,
                http,
                type="two_way",
                sender="+31612345600",
                provider="twilio",
                provider_settings={"account_sid": ACCOUNT_SID},
                provider_secret={"auth_token": TWILIO_TOKEN},
            )
            assert ch["webhook_urls"]["status"].startswith(f"http://127.0.0.1:{stack.gateway.port}/webhooks/twilio/")
            since = stack.invocations.last_seq
            msg = send(stack, http, ch["id"], "+31687654321", text="Hi from Twilio")
            done = wait_status(stack, http, msg["id"], "delivered", timeout=25)
            (created,) = fake.created
            assert (created["To"], created["From"], created["Body"]) == (
                "+31687654321",
                "+31612345600",
                "Hi from Twilio",
            )
            # The callback URL names the message (Twilio signs it), so its receipts need no id lookup.
            assert created["StatusCallback"] == f"{ch['webhook_urls']['status']}?smsdesk_message_id={msg['id']}"
            assert done["provider_id"] == created["sid"]
            assert fake.callbacks == [200, 200]
            # ... so "delivered" was applied by the webhook itself: nothing reached the receipts queue
            assert receipts_runs(stack, since) == []
        finally:
            fake.server.shutdown()
            fake.server.server_close()
    assert config.is_local()
