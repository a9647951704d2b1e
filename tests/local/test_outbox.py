"""The outbox (issue 11 item 2): events and outbound jobs leave with the write that causes them, through
the main table's stream, so a crash after a commit loses nothing and a cancelled write announces nothing."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from local_api import Bus

from smsdesk import manifest
from smsdesk.local.stack import LocalStack

pytestmark = [pytest.mark.local, pytest.mark.usefixtures("fast_pipeline")]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The outbox's mechanics on every event of a message: MESSAGE_EVENTS=all (the default, ``final``,
    publishes only a message's final status: tests/local/test_message_events.py)."""
    local_json = tmp_path_factory.mktemp("local") / "local.json"
    with LocalStack(port=0, local_json=local_json, message_events="all") as s:
        yield s


Http = Callable[..., tuple[int, dict[str, str], Any]]


class _Died(Exception):
    """The API invocation dying right after the charge-and-record transaction committed."""


def auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def balance(stack: LocalStack, http: Http) -> int:
    return http("GET", f"{stack.base_url}/v1/credits", headers=auth(stack.token))[2]["balance"]


def get_message(stack: LocalStack, http: Http, message_id: str) -> dict[str, Any]:
    status, _, msg = http("GET", f"{stack.base_url}/v1/messages/{message_id}", headers=auth(stack.token))
    assert status == 200, msg
    return msg


def wait_status(stack: LocalStack, http: Http, message_id: str, want: str, timeout: float = 25.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        msg = get_message(stack, http, message_id)
        if msg["status"] == want:
            return msg
        if time.monotonic() > deadline:
            raise AssertionError(f"message {message_id} is {msg['status']}, wanted {want}: {msg}")
        time.sleep(0.1)


def sms_sent(stack: LocalStack, http: Http, message_id: str) -> list[dict[str, Any]]:
    status, _, body = http("GET", f"{stack.base_url}/sandbox/outbox?limit=200")
    assert status == 200, body
    return [m for m in body["messages"] if m["message_id"] == message_id]


def ledger_for(stack: LocalStack, http: Http, message_id: str) -> list[dict[str, Any]]:
    status, _, body = http("GET", f"{stack.base_url}/v1/credits/ledger?limit=100", headers=auth(stack.token))
    assert status == 200, body
    return [e for e in body["items"] if e.get("message_id") == message_id]


@pytest.fixture(scope="module")
def channel(stack: LocalStack, http: Http) -> dict[str, Any]:
    h = auth(stack.token)
    assert http("POST", f"{stack.base_url}/v1/credits/top-ups", headers=h, body={"credits": 50, "reference": "ob"})[0]
    body = {"name": f"ob-{uuid.uuid4().hex[:6]}", "type": "one_way", "sender": "Shop", "provider": "sandbox"}
    status, _, ch = http("POST", f"{stack.base_url}/v1/channels", headers=h, body={**body, "throughput_mps": 50})
    assert status == 201, ch
    return ch


@pytest.fixture(scope="module")
def bus(stack: LocalStack) -> Bus:
    return Bus(stack)


def test_an_unkeyed_send_that_dies_after_the_charge_is_still_queued_and_delivered_once(
    stack: LocalStack, http: Http, channel: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """POST /v1/messages without Idempotency-Key: the charge-and-record transaction commits, then the
    invocation dies before anything else. The message row carries its outbound job, so it is queued,
    sent and delivered anyway: charged once, one SMS."""
    from smsdesk.sending import messages

    real = messages.record

    def dies(message: Any) -> Any:
        real(message)
        raise _Died

    bal, text = balance(stack, http), f"crash {uuid.uuid4().hex[:6]}"
    with monkeypatch.context() as m:
        m.setattr(messages, "record", dies)
        status, _, body = http(
            "POST",
            f"{stack.base_url}/v1/messages",
            headers=auth(stack.token),
            body={"channel_id": channel["id"], "to": "+31612345678", "text": text},
        )
    assert status == 500, body
    assert stack.wait_streams()  # listed through its charge, which the outbox writes
    page = http("GET", f"{stack.base_url}/v1/messages?channel_id={channel['id']}&limit=50", headers=auth(stack.token))
    [msg] = [m for m in page[2]["items"] if m["text"] == text]
    done = wait_status(stack, http, msg["id"], "delivered")
    assert [h["status"] for h in done["history"]] == ["queued", "sending", "sent", "delivered"]
    assert len(sms_sent(stack, http, msg["id"])) == 1
    assert [e["kind"] for e in ledger_for(stack, http, msg["id"])] == ["charge"] and balance(stack, http) == bal - 1


def test_a_cancelled_transaction_announces_nothing(
    stack: LocalStack, http: Http, channel: dict[str, Any], bus: Bus
) -> None:
    """The same charge-and-record transaction, cancelled (the balance does not cover it): no stream record,
    so no event and no job; the one that commits right after is announced."""
    from smsdesk import access
    from smsdesk.auth import Caller
    from smsdesk.data import credits as credits_repo
    from smsdesk.data import messages as repo
    from smsdesk.models import SendRequest
    from smsdesk.sending import messages

    owner = Caller(user_id=stack.tokens.user_id, role="owner", username="o")
    ch = access.require_channel(owner, channel["id"])
    cancelled = messages.build(owner, ch, SendRequest(channel_id=ch.id, to="+31612345670", text="never"))
    with pytest.raises(credits_repo.TransactionCanceled):
        ob = messages.outbox.change([messages.outbox.status_event("queued")], [messages.outbound_job(cancelled)])
        credits_repo.transact([credits_repo.debit(10**9), repo.put_new(cancelled, ob=ob)])
    committed = messages.build(owner, ch, SendRequest(channel_id=ch.id, to="+31612345671", text="recorded"))
    assert messages.record(committed) == "recorded"
    deadline = time.monotonic() + 15
    while not bus.events(message_id=committed.id, status="queued") and time.monotonic() < deadline:
        time.sleep(0.1)
    assert bus.events(message_id=committed.id, status="queued")
    wait_status(stack, http, committed.id, "delivered")
    assert stack.wait_streams()
    assert bus.events(message_id=cancelled.id) == [] and sms_sent(stack, http, cancelled.id) == []
    assert messages.get(cancelled.id) is None


def test_a_duplicated_stream_record_repeats_its_event_id_and_sends_once(
    stack: LocalStack, http: Http, channel: dict[str, Any], bus: Bus, stream_records: list[dict[str, Any]]
) -> None:
    """Stream records are delivered at least once: the outbox handling the message's INSERT twice more
    queues its job twice more and publishes message.queued twice more, with the same event_id; the
    sender's claim sends the SMS once."""
    h = auth(stack.token)
    body = {"channel_id": channel["id"], "to": "+31612345672", "text": f"dup {uuid.uuid4().hex[:6]}"}
    status, _, msg = http("POST", f"{stack.base_url}/v1/messages", headers=h, body=body)
    assert status == 202, msg
    wait_status(stack, http, msg["id"], "delivered")
    [insert] = [
        r
        for r in stream_records
        if r["eventName"] == "INSERT" and r["dynamodb"]["Keys"]["PK"]["S"] == f"MSG#{msg['id']}"
    ]
    seq = stack.invocations.last_seq
    for _ in range(2):
        result = stack.functions.invoke(manifest.OUTBOX, {"Records": [insert]}, trigger="stream", source="test")
        assert result == {"batchItemFailures": []}
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        jobs = [e for e in stack.invocations.entries(function="sender", since=seq) if e["ok"]]
        if len(jobs) >= 2 and len(bus.events(message_id=msg["id"], status="queued")) >= 3:
            break
        time.sleep(0.1)
    queued = bus.events(message_id=msg["id"], status="queued")
    assert len(queued) == 3 and len({e["detail"]["event_id"] for e in queued}) == 1
    assert len({e["id"] for e in queued}) == 3  # EventBridge's own ids differ: dedupe on event_id
    assert len(sms_sent(stack, http, msg["id"])) == 1
    assert get_message(stack, http, msg["id"])["status"] == "delivered"
    assert [e["kind"] for e in ledger_for(stack, http, msg["id"])] == ["charge"]


def test_the_events_of_one_message_are_published_in_order_each_once(
    stack: LocalStack, http: Http, channel: dict[str, Any], bus: Bus, stream_records: list[dict[str, Any]]
) -> None:
    """queued, sent, delivered: the sender's claim (``queued → sending``, its at-most-once bookkeeping)
    announces nothing, so its write does not even invoke the outbox (the stream filter drops it)."""
    h = auth(stack.token)
    body = {"channel_id": channel["id"], "to": "+31612345673", "text": f"order {uuid.uuid4().hex[:6]}"}
    status, _, msg = http("POST", f"{stack.base_url}/v1/messages", headers=h, body=body)
    assert status == 202, msg
    done = wait_status(stack, http, msg["id"], "delivered")
    assert [h["status"] for h in done["history"]] == ["queued", "sending", "sent", "delivered"]
    assert stack.wait_streams()
    events = bus.events(message_id=msg["id"])
    assert [e["detail-type"] for e in events] == ["message.queued", "message.sent", "message.delivered"]
    assert [e["detail"]["previous_status"] for e in events] == [None, "sending", "sent"]
    assert len({e["detail"]["event_id"] for e in events}) == 3
    mine = [r for r in stream_records if r["dynamodb"]["Keys"]["PK"]["S"] == f"MSG#{msg['id']}"]
    assert [r["dynamodb"]["NewImage"]["status"]["S"] for r in mine] == ["queued", "sent", "delivered"]


def test_a_refund_is_announced_once_by_its_ledger_entry(
    stack: LocalStack, http: Http, channel: dict[str, Any], bus: Bus, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smsdesk import access, outbox
    from smsdesk.auth import Caller
    from smsdesk.models import SendRequest
    from smsdesk.sending import messages

    owner = Caller(user_id=stack.tokens.user_id, role="owner", username="o")
    ch = access.require_channel(owner, channel["id"])
    msg = messages.build(owner, ch, SendRequest(channel_id=ch.id, to="+31612345674", text="refunded"))
    real = outbox.change
    with monkeypatch.context() as m:  # recorded without its job: it stays queued until the test fails it
        m.setattr(outbox, "change", lambda events=(), jobs=(): real(events))
        messages.record(msg)
    assert messages.fail(msg.id, code="test", message="failed by the test")
    assert not messages.fail(msg.id, code="test", message="again")  # final: no second refund, no event
    assert stack.wait_streams()
    time.sleep(0.3)
    kinds = [e["detail-type"] for e in bus.events(message_id=msg.id)]
    assert kinds == ["message.queued", "credits.refunded", "message.failed"] or kinds == [
        "message.queued",
        "message.failed",
        "credits.refunded",
    ], kinds
    [refund] = bus.events(message_id=msg.id, kind="refund")
    assert refund["detail"]["credits"] == msg.credits and refund["detail"]["event_id"]


def test_the_notifier_dedupes_an_event_delivered_twice(stack: LocalStack, http: Http, make_user: Any) -> None:
    """Two deliveries of one event (same ``event_id``, different EventBridge ids) notify once."""
    user_id, token = make_user("agent")
    detail = {
        "conversation_id": f"c-{uuid.uuid4().hex[:8]}",
        "channel_id": "ch-x",
        "assignee_id": user_id,
        "by": None,
        "at": "2026-11-29T10:00:00.000Z",
        "event_id": uuid.uuid4().hex + ":0",
    }
    ev = boto3.client("events", endpoint_url=stack.endpoint, region_name=stack.region)
    seq = stack.invocations.last_seq
    for _ in range(2):
        entry = {"Source": "smsdesk", "DetailType": "conversation.assigned", "Detail": json.dumps(detail)}
        assert ev.put_events(Entries=[{**entry, "EventBusName": stack.resources.bus_name}])["FailedEntryCount"] == 0
    deadline = time.monotonic() + 15
    while len([e for e in stack.invocations.entries(function="notifier", since=seq) if e["ok"]]) < 2:
        assert time.monotonic() < deadline, "the notifier did not run twice"
        time.sleep(0.1)
    status, _, feed = http("GET", f"{stack.base_url}/v1/notifications", headers=auth(token))
    assert status == 200, feed
    assert [n["conversation_id"] for n in feed["items"]] == [detail["conversation_id"]]


# -- the message's index/ledger entry: derived by the outbox from the row's INSERT (issue 11) -------------


def _listed(stack: LocalStack, http: Http, query: str) -> list[str]:
    status, _, page = http("GET", f"{stack.base_url}/v1/messages?{query}&limit=100", headers=auth(stack.token))
    assert status == 200, page
    return [m["id"] for m in page["items"]]


def test_a_sends_charge_is_written_by_the_outbox_after_a_two_item_transaction(
    stack: LocalStack, http: Http, channel: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Accepting a send is one transaction of two items: the balance debit and the message row (charged
    once in the transaction that records the message). The charge's ledger entry, which also indexes the
    message by channel and by recipient, is derived from the row's INSERT by the outbox: while the outbox
    fails (a crash, a throttle) it is not there and the message is neither listed nor queued; once the
    stream's retry gets through it is, once, and the message is delivered."""
    from smsdesk import aws, ids
    from smsdesk.data import messages as repo

    transactions: list[list[dict[str, Any]]] = []
    client = aws.dynamodb()
    spy = lambda params, **_: transactions.append(params["TransactItems"])  # noqa: E731
    client.meta.events.register("provide-client-params.dynamodb.TransactWriteItems", spy)
    failing = True
    failures: list[int] = []
    real = repo.put_entries

    def relay_fails(items: list[dict[str, Any]]) -> Any:
        if failing:
            failures.append(len(items))
            raise RuntimeError("the outbox died before writing the entry")
        return real(items)

    to = "+31612345675"
    bal = balance(stack, http)
    monkeypatch.setattr(repo, "put_entries", relay_fails)
    try:
        body = {"channel_id": channel["id"], "to": to, "text": f"entry {uuid.uuid4().hex[:6]}"}
        status, _, msg = http("POST", f"{stack.base_url}/v1/messages", headers=auth(stack.token), body=body)
        assert status == 202, msg
    finally:
        client.meta.events.unregister("provide-client-params.dynamodb.TransactWriteItems", spy)
    [items] = transactions
    assert [next(iter(i)) for i in items] == ["Update", "Put"]
    assert items[1]["Put"]["Item"]["PK"]["S"] == f"MSG#{msg['id']}"
    deadline = time.monotonic() + 10
    while not failures and time.monotonic() < deadline:
        time.sleep(0.05)
    assert failures, "the outbox was not invoked"
    assert balance(stack, http) == bal - msg["credits"]  # charged with the record ...
    assert ledger_for(stack, http, msg["id"]) == []  # ... its entry not written yet
    assert msg["id"] not in _listed(stack, http, f"channel_id={channel['id']}")
    assert get_message(stack, http, msg["id"])["status"] == "queued"  # its job waits with it
    failing = False
    assert stack.wait_streams(timeout=20)
    [entry] = ledger_for(stack, http, msg["id"])
    assert entry["id"] == ids.stable_id("charge", msg["id"]) and entry["at"][:23] == msg["created_at"][:23]
    assert (entry["kind"], entry["amount"], entry["by"]) == ("charge", -msg["credits"], stack.tokens.user_id)
    assert msg["id"] in _listed(stack, http, f"channel_id={channel['id']}")
    assert _listed(stack, http, f"to={to.replace('+', '%2B')}")[0] == msg["id"]
    wait_status(stack, http, msg["id"], "delivered")
    assert len(sms_sent(stack, http, msg["id"])) == 1 and balance(stack, http) == bal - msg["credits"]


def test_a_duplicated_insert_record_writes_the_same_entry(
    stack: LocalStack, http: Http, channel: dict[str, Any], stream_records: list[dict[str, Any]]
) -> None:
    """The outbox handling the row's INSERT again rewrites the same ledger entry (deterministic key and
    content): one charge, listed once."""
    from smsdesk import ids

    body = {"channel_id": channel["id"], "to": "+31612345676", "text": f"twice {uuid.uuid4().hex[:6]}"}
    status, _, msg = http("POST", f"{stack.base_url}/v1/messages", headers=auth(stack.token), body=body)
    assert status == 202, msg
    assert stack.wait_streams()
    [insert] = [
        r
        for r in stream_records
        if r["eventName"] == "INSERT" and r["dynamodb"]["Keys"]["PK"]["S"] == f"MSG#{msg['id']}"
    ]
    [first] = ledger_for(stack, http, msg["id"])
    for _ in range(2):
        result = stack.functions.invoke(manifest.OUTBOX, {"Records": [insert]}, trigger="stream", source="test")
        assert result == {"batchItemFailures": []}
    assert ledger_for(stack, http, msg["id"]) == [first] and first["id"] == ids.stable_id("charge", msg["id"])
    assert _listed(stack, http, f"channel_id={channel['id']}").count(msg["id"]) == 1
