"""MESSAGE_EVENTS (issue 11): which ``message.<status>`` events a deployment puts on the bus, and the
``crmnotes`` rule that only messages of a conversation invoke.

``final`` (the default): only the final status of every outbound message; its ``sent`` write carries no
outbox entry, so it does not even invoke the outbox. ``conversations``: only the final status of
messages in a conversation (API sends and campaign messages publish none). ``all``: queued, sent and
the final one (the other local modules that assert ``message.queued``/``message.sent`` run in it)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import local_api
import pytest
from local_api import wait
from queue_helpers import auth

from smsdesk import manifest
from smsdesk.local.stack import LocalStack

pytestmark = [pytest.mark.local, pytest.mark.usefixtures("fast_pipeline")]

Http = Callable[..., tuple[int, dict[str, str], Any]]


class Bus(local_api.Bus):
    """The bus capture, plus a message's event kinds."""

    def kinds(self, message_id: str) -> list[str]:
        """The message's ``message.*`` events, once everything that was written has been published."""
        time.sleep(0.3)
        return [e["detail-type"] for e in self.events(message_id=message_id) if e["detail-type"].startswith("message.")]


@pytest.fixture(scope="module")
def bus(stack: LocalStack) -> Bus:
    return Bus(stack)


@pytest.fixture(scope="module")
def channel(stack: LocalStack, http: Http) -> dict[str, Any]:
    h = auth(stack.token)
    assert http("POST", f"{stack.base_url}/v1/credits/top-ups", headers=h, body={"credits": 100, "reference": "ev"})[0]
    body = {
        "name": f"ev-{uuid.uuid4().hex[:6]}",
        "type": "two_way",
        "sender": f"+3165{uuid.uuid4().int % 10**7:07d}",
        "provider": "sandbox",
        "throughput_mps": 100,
    }
    status, _, ch = http("POST", f"{stack.base_url}/v1/channels", headers=h, body=body)
    assert status == 201, ch
    return ch


@pytest.fixture
def crmnotes_events(stack: LocalStack, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """Every bus event the crmnotes function is invoked with while the test runs."""
    seen: list[dict[str, Any]] = []
    mod = stack.functions.load(manifest.CRMNOTES)
    real = mod.handle

    def spy(event: dict[str, Any]) -> Any:
        seen.append(json.loads(json.dumps(event)))
        return real(event)

    monkeypatch.setattr(mod, "handle", spy)
    yield seen


def number() -> str:
    return f"+3161{uuid.uuid4().int % 10**7:07d}"


def get_message(stack: LocalStack, http: Http, message_id: str) -> dict[str, Any]:
    status, _, msg = http("GET", f"{stack.base_url}/v1/messages/{message_id}", headers=auth(stack.token))
    assert status == 200, msg
    return msg


def delivered(stack: LocalStack, http: Http, message_id: str) -> dict[str, Any]:
    msg = wait(
        lambda: (m := get_message(stack, http, message_id))["status"] == "delivered" and m, timeout=25, every=0.1
    )
    assert stack.wait_streams()
    return msg


def api_send(stack: LocalStack, http: Http, channel: dict[str, Any], text: str) -> str:
    body = {"channel_id": channel["id"], "to": number(), "text": text}
    status, _, msg = http("POST", f"{stack.base_url}/v1/messages", headers=auth(stack.token), body=body)
    assert status == 202, msg
    return str(msg["id"])


def conversation(stack: LocalStack, channel: dict[str, Any], text: str = "hello") -> tuple[str, str]:
    """A customer texts the channel: (conversation id, its contact id)."""
    from smsdesk import channels
    from smsdesk.inbox import conversations
    from smsdesk.models import InboundSms, utcnow

    ch = channels.get_channel(channel["id"])
    sms = InboundSms(
        provider="sandbox",
        provider_id=f"SBXIN{uuid.uuid4().hex}",
        **{"from": number()},
        to=ch.sender,
        text=text,
        received_at=utcnow(),
    )
    r = conversations.record_inbound(ch, sms)
    return r.conversation.id, r.conversation.contact_id


def reply(stack: LocalStack, http: Http, conv_id: str, text: str) -> str:
    h = auth(stack.token)
    status, _, msg = http(
        "POST", f"{stack.base_url}/v1/conversations/{conv_id}/messages", headers=h, body={"text": text}
    )
    assert status == 202, msg
    return str(msg["id"])


def test_by_default_a_delivered_send_publishes_only_message_delivered_and_its_sent_write_no_outbox(
    stack: LocalStack, http: Http, channel: dict[str, Any], bus: Bus, stream_records: list[dict[str, Any]]
) -> None:
    mid = api_send(stack, http, channel, f"final {uuid.uuid4().hex[:6]}")
    done = delivered(stack, http, mid)
    assert [h["status"] for h in done["history"]] == ["queued", "sending", "sent", "delivered"]
    assert bus.kinds(mid) == ["message.delivered"]
    [event] = bus.events(message_id=mid)
    assert event["detail"]["previous_status"] == "sent" and event["detail"]["event_id"]
    # the outbox sees the message's INSERT (it carries the sender's job) and its delivered write only
    mine = [r for r in stream_records if r["dynamodb"]["Keys"]["PK"]["S"] == f"MSG#{mid}"]
    assert [r["dynamodb"]["NewImage"]["status"]["S"] for r in mine] == ["queued", "delivered"]
    assert "events" not in mine[0]["dynamodb"]["NewImage"]["ob"]["M"]


def test_conversations_mode_publishes_only_a_conversation_s_messages(
    stack: LocalStack, http: Http, channel: dict[str, Any], bus: Bus, stream_records: list[dict[str, Any]]
) -> None:
    with stack.configure_all(MESSAGE_EVENTS="conversations"):
        sent = api_send(stack, http, channel, f"api {uuid.uuid4().hex[:6]}")
        conv_id, _ = conversation(stack, channel)
        answer = reply(stack, http, conv_id, f"reply {uuid.uuid4().hex[:6]}")
        delivered(stack, http, sent)
        delivered(stack, http, answer)
    assert bus.kinds(sent) == []
    assert sorted(bus.kinds(answer)) == ["message.delivered", "message.queued"]
    assert all(e["detail"]["conversation_id"] == conv_id for e in bus.events(message_id=answer))
    # the API send's writes after its INSERT (which carries its job) announce nothing: no outbox
    mine = [r for r in stream_records if r["dynamodb"]["Keys"]["PK"]["S"] == f"MSG#{sent}"]
    assert [r["dynamodb"]["NewImage"]["status"]["S"] for r in mine] == ["queued"]


def test_all_mode_publishes_queued_sent_and_delivered(
    stack: LocalStack, http: Http, channel: dict[str, Any], bus: Bus
) -> None:
    with stack.configure_all(MESSAGE_EVENTS="all"):
        mid = api_send(stack, http, channel, f"all {uuid.uuid4().hex[:6]}")
        delivered(stack, http, mid)
    assert bus.kinds(mid) == ["message.queued", "message.sent", "message.delivered"]


def _link_contact(stack: LocalStack, http: Http, conv_id: str, contact_id: str) -> str:
    h = auth(stack.token)
    body = {"kind": "contact", "item_id": contact_id}
    status, _, out = http("POST", f"{stack.base_url}/v1/conversations/{conv_id}/links", headers=h, body=body)
    assert status == 201, out
    return f"contacts/{contact_id}"


def _transcript(stack: LocalStack, http: Http, path: str) -> list[str]:
    status, _, page = http("GET", f"{stack.base_url}/v1/{path}/notes", headers=auth(stack.token))
    assert status == 200, page
    return [line.rsplit(": ", 1)[1] for n in page["items"] for line in n["content"].splitlines()[3:]]


@pytest.mark.parametrize("mode", ["final", "all"])
def test_a_reply_lands_in_the_linked_person_s_transcript_once(
    stack: LocalStack, http: Http, channel: dict[str, Any], crmnotes_events: list[dict[str, Any]], mode: str
) -> None:
    """The reply's first published event places it (its ``message.queued``, in every mode), the final
    one changes nothing."""
    with stack.configure_all(MESSAGE_EVENTS=mode):
        conv_id, contact_id = conversation(stack, channel, "where is my order?")
        path = _link_contact(stack, http, conv_id, contact_id)
        wait(lambda: _transcript(stack, http, path) == ["where is my order?"], timeout=15, every=0.1)
        text = f"on its way {uuid.uuid4().hex[:6]}"
        answer = reply(stack, http, conv_id, text)
        delivered(stack, http, answer)
        wait(lambda: _transcript(stack, http, path) == ["where is my order?", text], timeout=15, every=0.1)
        expected = ["message.delivered", "message.queued"]

        def kinds() -> list[str]:  # the bus does not keep order between deliveries
            return sorted(e["detail-type"] for e in crmnotes_events if e["detail"].get("message_id") == answer)

        wait(lambda: kinds() == expected, timeout=10, every=0.1)
    time.sleep(0.3)
    assert _transcript(stack, http, path) == ["where is my order?", text]


def test_a_reply_whose_receipt_never_comes_is_in_the_transcript(
    stack: LocalStack, http: Http, channel: dict[str, Any], crmnotes_events: list[dict[str, Any]]
) -> None:
    """By default (``final``) a reply is placed when it is sent (its ``message.queued``), not when a
    receipt arrives: some routes never send one."""
    conv_id, contact_id = conversation(stack, channel, "are you open today?")
    path = _link_contact(stack, http, conv_id, contact_id)
    wait(lambda: _transcript(stack, http, path) == ["are you open today?"], timeout=15, every=0.1)
    text = f"until six {uuid.uuid4().hex[:6]}"
    with stack.configure("sender", SANDBOX_RECEIPT_DELAY_S="3600"):  # the carrier stays silent
        answer = reply(stack, http, conv_id, text)
        wait(lambda: get_message(stack, http, answer)["status"] == "sent", timeout=25, every=0.1)
        wait(lambda: _transcript(stack, http, path) == ["are you open today?", text], timeout=15, every=0.1)
    assert [e["detail-type"] for e in crmnotes_events if e["detail"].get("message_id") == answer] == ["message.queued"]


def test_api_and_campaign_sends_do_not_invoke_crmnotes(
    stack: LocalStack, http: Http, api: Any, channel: dict[str, Any], crmnotes_events: list[dict[str, Any]]
) -> None:
    with stack.configure_all(MESSAGE_EVENTS="all"):  # every event of theirs is on the bus, none matches
        sent = api_send(stack, http, channel, f"no crm {uuid.uuid4().hex[:6]}")
        body = {"title": "no crm", "channel_id": channel["id"], "text": "promo", "audience": {"numbers": [number()]}}
        campaign = api("POST", "/v1/campaigns", body, 201)
        api("POST", f"/v1/campaigns/{campaign['id']}/launch", {}, 200)

        def campaign_done() -> bool:
            c = api("GET", f"/v1/campaigns/{campaign['id']}", expect=200)
            return c["status"] == "completed" and c["counts"]["delivered"] == 1

        wait(campaign_done, timeout=40, every=0.2)
        delivered(stack, http, sent)
        time.sleep(0.5)
    assert stack.wait_streams()
    assert crmnotes_events == []
