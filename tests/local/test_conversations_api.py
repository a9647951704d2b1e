"""Conversations on the local stack: record_inbound (new, existing, reopen window, after delete,
duplicates, concurrent first inbounds), replies and new conversations through the send pipeline,
one-way channels, deletion (owner only) and availability."""

from __future__ import annotations

import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from smsdesk import channels, lists
from smsdesk.inbox import conversations
from smsdesk.local.stack import LocalStack
from smsdesk.models import InboundSms

pytestmark = [pytest.mark.local, pytest.mark.usefixtures("fast_pipeline")]

Http = Callable[..., tuple[int, dict[str, str], Any]]
_seq = iter(range(100, 10_000))


def auth(token: str, **extra: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", **extra}


def customer() -> str:
    return f"+3161{next(_seq):07d}"


def make_channel(stack: LocalStack, http: Http, **settings: Any) -> dict[str, Any]:
    body = {
        "name": f"conv-{uuid.uuid4().hex[:8]}",
        "type": "two_way",
        "sender": f"+3165{uuid.uuid4().int % 10**7:07d}",
        "provider": "sandbox",
        "throughput_mps": 50,
        **settings,
    }
    status, _, ch = http("POST", f"{stack.base_url}/v1/channels", headers=auth(stack.token), body=body)
    assert status == 201, ch
    return ch


def inbound(channel_id: str, number: str, text: str = "Hi", *, pid: str | None = None, **kw: Any) -> Any:
    ch = channels.get_channel(channel_id)
    sms = InboundSms(
        provider="sandbox",
        provider_id=pid or f"SBXIN{uuid.uuid4().hex}",
        **{"from": number},
        to=ch.sender,
        text=text,
        received_at=dt.datetime.now(dt.UTC),
    )
    return conversations.record_inbound(ch, sms, **kw)


def get_conv(stack: LocalStack, http: Http, conv_id: str, token: str | None = None) -> tuple[int, Any]:
    status, _, body = http("GET", f"{stack.base_url}/v1/conversations/{conv_id}", headers=auth(token or stack.token))
    return status, body


def act(stack: LocalStack, http: Http, conv_id: str, action: str, body: Any = None, token: str | None = None) -> Any:
    return http(
        "POST", f"{stack.base_url}/v1/conversations/{conv_id}/{action}", headers=auth(token or stack.token), body=body
    )


@pytest.fixture(scope="module")
def channel(stack: LocalStack, http: Http) -> dict[str, Any]:
    status, _, body = http(
        "POST",
        f"{stack.base_url}/v1/credits/top-ups",
        headers=auth(stack.token),
        body={"credits": 100, "reference": "c"},
    )
    assert status == 201, body
    return make_channel(stack, http)


def test_new_then_existing_conversation_and_duplicates(stack: LocalStack, http: Http, channel: dict) -> None:
    number = customer()
    first = inbound(channel["id"], number, "Hello, is my order shipped?")
    assert first.created and not first.reopened and not first.duplicate
    conv = first.conversation
    assert conv.status == "open" and conv.number == number and conv.assignee_id is None
    assert first.message.direction == "inbound" and first.message.status == "received"
    assert first.message.conversation_id == conv.id and first.message.sender == number

    second = inbound(channel["id"], number, "Order 42", pid="SBXIN-fixed-1")
    assert not second.created and second.conversation.id == conv.id
    assert second.conversation.last_message_preview == "Order 42"
    again = inbound(channel["id"], number, "Order 42", pid="SBXIN-fixed-1")
    assert again.duplicate and again.message.id == second.message.id and again.conversation.id == conv.id

    status, body = get_conv(stack, http, conv.id)
    assert status == 200, body
    assert [m["text"] for m in body["messages"]] == ["Hello, is my order shipped?", "Order 42"]
    assert body["contact"]["mobile"] == number and body["contact"]["id"] == conv.contact_id


def test_concurrent_first_inbounds_and_concurrent_duplicates(stack: LocalStack, http: Http, channel: dict) -> None:
    number = customer()
    results: list[Any] = []
    barrier = threading.Barrier(6)

    def run(pid: str) -> None:
        barrier.wait()
        results.append(inbound(channel["id"], number, f"msg {pid}", pid=pid))

    pids = ["A", "B", "C", "D", "D", "D"]  # three distinct messages; D delivered three times at once
    pids = [f"SBXIN-{uuid.uuid4().hex[:6]}-{p}" if p != "D" else f"SBXIN-dup-{number}" for p in pids]
    threads = [threading.Thread(target=run, args=(p,)) for p in pids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert len(results) == 6
    assert len({r.conversation.id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert sum(r.duplicate for r in results) == 2
    assert len({r.conversation.contact_id for r in results}) == 1
    status, body = get_conv(stack, http, results[0].conversation.id)
    assert status == 200 and len(body["messages"]) == 4


def test_concurrent_inbounds_after_a_closed_conversation(stack: LocalStack, http: Http) -> None:
    """A known contact (no contact write to collide on): only the pointer keeps one open conversation."""
    ch = make_channel(stack, http, queue={"reopen_window_h": 0})
    number = customer()
    old = inbound(ch["id"], number).conversation
    assert act(stack, http, old.id, "close")[0] == 200
    results: list[Any] = []
    barrier = threading.Barrier(5)

    def run() -> None:
        barrier.wait()
        results.append(inbound(ch["id"], number, "again"))

    threads = [threading.Thread(target=run) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=20)
    assert len(results) == 5 and sum(r.created for r in results) == 1
    assert len({r.conversation.id for r in results}) == 1 and results[0].conversation.id != old.id


def test_reopen_window_and_new_after_it(stack: LocalStack, http: Http) -> None:
    ch = make_channel(stack, http, queue={"reopen_window_h": 2})
    number = customer()
    conv = inbound(ch["id"], number).conversation
    status, _, closed = act(stack, http, conv.id, "close")
    assert status == 200 and closed["status"] == "closed" and closed["closed_at"]

    again = inbound(ch["id"], number, "one more thing")
    assert again.reopened and again.conversation.id == conv.id and again.conversation.reopened_count == 1
    assert again.conversation.status == "open"

    assert act(stack, http, conv.id, "close")[0] == 200
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2, minutes=1)
    fresh = inbound(ch["id"], number, "new question", now=later)
    assert fresh.created and fresh.conversation.id != conv.id
    assert fresh.conversation.contact_id == conv.contact_id  # same contact, matched by number


def test_delete_is_for_good(stack: LocalStack, http: Http, make_user: Any, channel: dict) -> None:
    number = customer()
    first = inbound(channel["id"], number, "delete me")
    conv_id, msg_id = first.conversation.id, first.message.id
    _, admin = make_user("admin")
    _, agent = make_user("agent")
    url = f"{stack.base_url}/v1/conversations/{conv_id}"
    for token in (admin, agent):
        status, _, body = http("DELETE", url, headers=auth(token))
        assert status == 403 and body["error"]["code"] == "forbidden"
    status, _, body = http("DELETE", url, headers=auth(stack.token))
    assert status == 200 and body == {"conversation_id": conv_id, "messages_deleted": 1}
    assert get_conv(stack, http, conv_id)[0] == 404
    assert http("GET", f"{stack.base_url}/v1/messages/{msg_id}", headers=auth(stack.token))[0] == 404
    assert http("DELETE", url, headers=auth(stack.token))[0] == 404
    # the same provider message redelivered, or a new one: a fresh conversation
    after = inbound(channel["id"], number, "I'm back")
    assert after.created and after.conversation.id != conv_id


def wait_delivered(stack: LocalStack, http: Http, conv_id: str, msg_id: str, timeout: float = 25) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status, body = get_conv(stack, http, conv_id)
        assert status == 200, body
        msg = next((m for m in body["messages"] if m["id"] == msg_id), None)
        if msg and msg["status"] == "delivered":
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"reply not delivered: {msg}")
        time.sleep(0.1)


def balance(stack: LocalStack, http: Http) -> int:
    return http("GET", f"{stack.base_url}/v1/credits", headers=auth(stack.token))[2]["balance"]


def test_reply_through_the_pipeline(stack: LocalStack, http: Http, channel: dict) -> None:
    conv = inbound(channel["id"], customer(), "Where is my parcel?").conversation
    before = balance(stack, http)
    status, _, msg = act(stack, http, conv.id, "messages", {"text": "It ships today!"})
    assert status == 202, msg
    assert msg["conversation_id"] == conv.id and msg["to"] == conv.number and msg["direction"] == "outbound"
    assert balance(stack, http) == before - msg["credits"]
    body = wait_delivered(stack, http, conv.id, msg["id"])
    assert [(m["direction"], m["status"]) for m in body["messages"]] == [
        ("inbound", "received"),
        ("outbound", "delivered"),
    ]
    assert body["answered_by"] == stack.tokens.user_id and body["answered_at"]
    assert body["last_message_preview"] == "It ships today!"
    status, _, out = http("GET", f"{stack.base_url}/sandbox/outbox?limit=200")
    assert any(m["message_id"] == msg["id"] for m in out["messages"])

    # the send checks apply: an opted-out number is refused, a closed conversation too
    status, _, err = act(stack, http, conv.id, "messages", {"text": ""})
    assert status == 422 and err["error"]["field"] == "text"
    lists.opt_out(channel["id"], conv.number, reason="test", source="api", by=None)
    status, _, err = act(stack, http, conv.id, "messages", {"text": "still there?"})
    assert status == 422 and err["error"]["code"] == "recipient_opted_out", err
    lists.opt_in(channel["id"], conv.number, reason="test", source="api", by=None)
    assert act(stack, http, conv.id, "close")[0] == 200
    status, _, err = act(stack, http, conv.id, "messages", {"text": "hello?"})
    assert status == 409 and err["error"]["code"] == "conversation_closed"


def test_reply_refused_on_one_way_channel(stack: LocalStack, http: Http) -> None:
    one_way = make_channel(stack, http, type="one_way", sender="Shop")
    conv = inbound(one_way["id"], customer()).conversation
    status, _, err = act(stack, http, conv.id, "messages", {"text": "hi"})
    assert status == 422 and err["error"]["code"] == "one_way_channel"
    status, _, err = http(
        "POST",
        f"{stack.base_url}/v1/conversations",
        headers=auth(stack.token),
        body={"channel_id": one_way["id"], "to": customer(), "text": "hi"},
    )
    assert status == 422 and err["error"]["code"] == "one_way_channel"


def test_start_conversation_then_continue_it(stack: LocalStack, http: Http, channel: dict) -> None:
    number = customer()
    url = f"{stack.base_url}/v1/conversations"
    body = {"channel_id": channel["id"], "to": number.replace("+31", "0"), "text": "Your appointment is tomorrow"}
    status, _, out = http("POST", url, headers=auth(stack.token, **{"idempotency-key": f"k-{number}"}), body=body)
    assert status == 202, out
    conv = out["conversation"]
    assert out["created"] and conv["number"] == number and conv["assignee_id"] == stack.tokens.user_id
    assert out["message"]["conversation_id"] == conv["id"]
    # a retry with the same key: same message, same conversation
    status, _, retry = http("POST", url, headers=auth(stack.token, **{"idempotency-key": f"k-{number}"}), body=body)
    assert status == 202 and retry["message"]["id"] == out["message"]["id"] and not retry["created"]
    # a customer reply lands in it, a second start continues it
    assert inbound(channel["id"], number, "Thanks").conversation.id == conv["id"]
    status, _, second = http("POST", url, headers=auth(stack.token), body={**body, "text": "See you"})
    assert status == 202 and second["conversation"]["id"] == conv["id"] and not second["created"]
    wait_delivered(stack, http, conv["id"], second["message"]["id"])
    # refused sends create nothing
    status, _, err = http("POST", url, headers=auth(stack.token), body={**body, "to": "12"})
    assert status == 422 and err["error"]["code"] == "invalid_phone_number"


def test_start_without_credits_leaves_no_conversation(stack: LocalStack, http: Http) -> None:
    ch = make_channel(stack, http, country_multipliers={"*": 100_000})
    number = customer()
    status, _, err = http(
        "POST",
        f"{stack.base_url}/v1/conversations",
        headers=auth(stack.token),
        body={"channel_id": ch["id"], "to": number, "text": "expensive"},
    )
    assert status == 402, err
    status, _, page = http(
        "GET", f"{stack.base_url}/v1/conversations?view=mine&channel_id={ch['id']}", headers=auth(stack.token)
    )
    assert status == 200 and page["items"] == []


def test_availability(stack: LocalStack, http: Http, make_user: Any) -> None:
    _, token = make_user("agent")
    me = http("GET", f"{stack.base_url}/v1/me", headers=auth(token))[2]
    assert me["available"] is False
    status, _, out = http("PUT", f"{stack.base_url}/v1/me/availability", headers=auth(token), body={"available": True})
    assert status == 200 and out["available"] is True and out["email"] == me["email"]
    assert http("GET", f"{stack.base_url}/v1/me", headers=auth(token))[2]["available"] is True
    status, _, err = http("PUT", f"{stack.base_url}/v1/me/availability", headers=auth(token), body={"available": "x"})
    assert status == 422 and err["error"]["field"] == "available"
