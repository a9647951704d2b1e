"""Inbound routing on the local stack, rule by rule: disabled channel, inbound blocklist, STOP/START/HELP
(localised, case- and whitespace-insensitive, whole message only) with their confirmations, and the
out-of-hours reply (once per conversation per channel-local day; the message still reaches the inbox)."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest

from smsdesk import channels, events
from smsdesk.connectors import sandbox
from smsdesk.inbound import consumer, routing
from smsdesk.local.stack import LocalStack
from smsdesk.models import InboundSms
from smsdesk.sending import messages

pytestmark = pytest.mark.local

Http = Callable[..., tuple[int, dict[str, str], Any]]
NUMBER = "+3197010000021"


def auth(stack: LocalStack) -> dict[str, str]:
    return {"authorization": f"Bearer {stack.token}"}


def create_channel(stack: LocalStack, http: Http, **settings: Any) -> dict[str, Any]:
    body = {
        "name": f"rt-{uuid.uuid4().hex[:8]}",
        "type": "two_way",
        "provider": "sandbox",
        "throughput_mps": 50,
        **settings,
    }
    status, _, ch = http("POST", f"{stack.base_url}/v1/channels", headers=auth(stack), body=body)
    assert status == 201, ch
    return ch


@pytest.fixture(scope="module")
def ch(stack: LocalStack, http: Http) -> dict[str, Any]:
    status, _, body = http(
        "POST", f"{stack.base_url}/v1/credits/top-ups", headers=auth(stack), body={"credits": 200, "reference": "t"}
    )
    assert status == 201, body
    return create_channel(stack, http, sender=NUMBER)


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Bus events published while the test runs (the handlers run in this process)."""
    seen: list[tuple[str, dict[str, Any]]] = []
    real = events.publish

    def spy(detail_type: str, detail: dict[str, Any]) -> None:
        seen.append((detail_type, detail))
        real(detail_type, detail)

    monkeypatch.setattr(events, "publish", spy)
    yield seen


def inbound(
    stack: LocalStack,
    channel: dict[str, Any],
    frm: str,
    text: str,
    *,
    at: str | None = None,
    id_: str | None = None,
    wait: bool = True,
) -> str:
    """Post a signed sandbox inbound webhook; with ``wait``, until the inbound function processed it."""
    ev: dict[str, Any] = {"id": id_ or f"SBIN{uuid.uuid4().hex}", "from": frm, "to": channel["sender"], "text": text}
    if at:
        ev["at"] = at
    body = json.dumps(ev).encode()
    key = channels.get_provider_secret(channels.get_channel(channel["id"]))["signing_key"]
    req = urllib.request.Request(
        channel["webhook_urls"]["inbound"],
        data=body,
        method="POST",
        headers={"content-type": "application/json", "x-sandbox-signature": sandbox.sign(body, key)},
    )
    since = stack.invocations.last_seq
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
    if wait:
        wait_processed(stack, since, 1)
    return str(ev["id"])


def wait_processed(stack: LocalStack, since: int, n: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while sum(e["records"] - e["failures"] for e in stack.invocations.entries(function="inbound", since=since)) < n:
        assert time.monotonic() < deadline, "the inbound SMS were not processed"
        time.sleep(0.05)


def conversation(stack: LocalStack, http: Http, channel_id: str, number: str) -> dict[str, Any] | None:
    """The channel's open conversation with ``number`` and its messages, or None."""
    status, _, page = http(
        "GET", f"{stack.base_url}/v1/conversations?view=unassigned&channel_id={channel_id}", headers=auth(stack)
    )
    assert status == 200, page
    convs = [c for c in page["items"] if c["number"] == number]
    if not convs:
        return None
    status, _, detail = http("GET", f"{stack.base_url}/v1/conversations/{convs[0]['id']}", headers=auth(stack))
    assert status == 200, detail
    return detail


def outbox(stack: LocalStack, http: Http, to: str, *, want: int = 0, timeout: float = 20.0) -> list[str]:
    """Texts the sandbox carrier accepted for ``to``, oldest first (waits until at least ``want``)."""
    deadline = time.monotonic() + timeout
    while True:
        status, _, body = http("GET", f"{stack.base_url}/sandbox/outbox?limit=200")
        assert status == 200, body
        texts = [m["text"] for m in reversed(body["messages"]) if m["to"] == to and m["outcome"] == "accepted"]
        if len(texts) >= want or time.monotonic() > deadline:
            return texts
        time.sleep(0.1)


def opt_outs(stack: LocalStack, http: Http, channel_id: str) -> dict[str, dict[str, Any]]:
    status, _, page = http("GET", f"{stack.base_url}/v1/opt-outs?channel_id={channel_id}", headers=auth(stack))
    assert status == 200, page
    return {o["number"]: o for o in page["items"]}


def history(stack: LocalStack, http: Http, number: str) -> list[tuple[str, str | None, str, str]]:
    status, _, page = http("GET", f"{stack.base_url}/v1/opt-outs/{quote(number)}/history", headers=auth(stack))
    assert status == 200, page
    return [(r["event"], r["channel_id"], r["reason"], r["source"]) for r in page["items"]]


# -- admission ---------------------------------------------------------------------------------------------


def test_disabled_channel_admits_nothing(
    stack: LocalStack, http: Http, published: list[tuple[str, dict[str, Any]]]
) -> None:
    off = create_channel(stack, http, sender="+3197010000022")
    assert (
        http("PATCH", f"{stack.base_url}/v1/channels/{off['id']}", headers=auth(stack), body={"enabled": False})[0]
        == 200
    )
    pid = inbound(stack, off, "+31612350001", "STOP")
    assert conversation(stack, http, off["id"], "+31612350001") is None
    assert opt_outs(stack, http, off["id"]) == {}
    rejected = [d for t, d in published if t == "message.inbound_rejected"]
    assert [(d["reason"], d["provider_id"], d["from"], d["channel_id"]) for d in rejected] == [
        ("channel_disabled", pid, "+31612350001", off["id"])
    ]


def test_inbound_blocklist_rejects_and_keeps_it_out_of_the_inbox(
    stack: LocalStack, http: Http, ch: dict[str, Any], published: list[tuple[str, dict[str, Any]]]
) -> None:
    status, _, _ = http(
        "POST",
        f"{stack.base_url}/v1/blocklist",
        headers=auth(stack),
        body={"number": "06 1235 0002", "channel_id": ch["id"], "direction": "inbound", "reason": "abuse"},
    )
    assert status == 201
    inbound(stack, ch, "+31612350002", "you will hear from me")
    inbound(stack, ch, "+31612350002", "STOP")  # the blocklist comes first, keywords included
    assert conversation(stack, http, ch["id"], "+31612350002") is None
    assert "+31612350002" not in opt_outs(stack, http, ch["id"])
    assert [d["reason"] for t, d in published if t == "message.inbound_rejected"] == ["blocked", "blocked"]
    inbound(stack, ch, "+31612350003", "hello")  # another number on the same channel is admitted
    conv = conversation(stack, http, ch["id"], "+31612350003")
    assert conv is not None and [m["text"] for m in conv["messages"]] == ["hello"]


# -- keywords -----------------------------------------------------------------------------------------------


OPT_OUTS = [
    ("+31612350010", "STOP", "STOP", "en"),
    ("+31612350011", "  stop \n", "STOP", "en"),
    ("+31612350012", "Unsubscribe", "UNSUBSCRIBE", "en"),
    ("+31612350013", "afmelden", "AFMELDEN", "nl"),
    ("+31612350014", "Arrêt", "ARRET", "fr"),
    ("+31612350015", "BAJA", "BAJA", "es"),
    ("+31612350016", "kündigen", "KUNDIGEN", "de"),
]


def test_opt_out_keywords(stack: LocalStack, http: Http, ch: dict[str, Any]) -> None:
    since = stack.invocations.last_seq
    for number, text, _, _ in OPT_OUTS:
        inbound(stack, ch, number, text, wait=False)
    wait_processed(stack, since, len(OPT_OUTS))
    listed = opt_outs(stack, http, ch["id"])
    for number, text, keyword, lang in OPT_OUTS:
        entry = listed[number]
        assert (entry["reason"], entry["source"], entry["created_by"]) == (f"keyword {keyword}", "keyword", None)
        assert history(stack, http, number) == [("opt_out", ch["id"], f"keyword {keyword}", "keyword")]
        # The confirmation is sent although the number has just opted out, in the keyword's language.
        assert outbox(stack, http, number, want=1) == [routing.OPT_OUT_REPLY[lang]], number
        conv = conversation(stack, http, ch["id"], number)
        assert conv is not None
        assert [(m["direction"], m["text"]) for m in conv["messages"]] == [
            ("inbound", text),
            ("outbound", routing.OPT_OUT_REPLY[lang]),
        ]
        reply = conv["messages"][1]
        assert reply["created_by"] is None and reply["history"][0]["detail"] == "auto-reply: opt_out_confirmation"
        assert conv["last_message_preview"] == routing.OPT_OUT_REPLY[lang]  # the inbox shows the reply
        assert conv["answered_at"] is None  # an auto-reply is not an agent's answer
    # From now on nobody may text the number on this channel.
    status, _, err = http(
        "POST",
        f"{stack.base_url}/v1/messages",
        headers=auth(stack),
        body={"channel_id": ch["id"], "to": OPT_OUTS[0][0], "text": "hi"},
    )
    assert status == 422 and err["error"]["code"] == "recipient_opted_out"


def test_a_message_that_merely_contains_stop_is_not_an_opt_out(
    stack: LocalStack, http: Http, ch: dict[str, Any]
) -> None:
    inbound(stack, ch, "+31612350020", "Please stop by the shop tomorrow")
    inbound(stack, ch, "+31612350020", "stop?")
    assert "+31612350020" not in opt_outs(stack, http, ch["id"])
    conv = conversation(stack, http, ch["id"], "+31612350020")
    assert conv is not None and [m["text"] for m in conv["messages"]] == ["Please stop by the shop tomorrow", "stop?"]
    assert outbox(stack, http, "+31612350020", timeout=0.3) == []


def test_start_and_unstop_opt_back_in_with_a_confirmation(stack: LocalStack, http: Http, ch: dict[str, Any]) -> None:
    number = "+31612350030"
    inbound(stack, ch, number, "STOP")
    inbound(stack, ch, number, "start")
    assert number not in opt_outs(stack, http, ch["id"])
    inbound(stack, ch, number, "Stop")
    inbound(stack, ch, number, " UNSTOP ")
    assert number not in opt_outs(stack, http, ch["id"])
    assert [e[:3] for e in history(stack, http, number)] == [
        ("opt_out", ch["id"], "keyword STOP"),
        ("opt_in", ch["id"], "keyword START"),
        ("opt_out", ch["id"], "keyword STOP"),
        ("opt_in", ch["id"], "keyword UNSTOP"),
    ]
    en_out, en_in = routing.OPT_OUT_REPLY["en"], routing.OPT_IN_REPLY["en"]
    assert outbox(stack, http, number, want=4) == [en_out, en_in, en_out, en_in]


def test_help_sends_the_channel_help_text_or_a_default(stack: LocalStack, http: Http, ch: dict[str, Any]) -> None:
    inbound(stack, ch, "+31612350040", "HELP")
    inbound(stack, ch, "+31612350041", "hulp")
    assert outbox(stack, http, "+31612350040", want=1) == [routing.HELP_REPLY["en"]]
    assert outbox(stack, http, "+31612350041", want=1) == [routing.HELP_REPLY["nl"]]
    custom = create_channel(stack, http, sender="+3197010000023", help_text="Support: 020 123 4567, mon-fri 9-17")
    inbound(stack, custom, "+31612350042", "Info")
    assert outbox(stack, http, "+31612350042", want=1) == ["Support: 020 123 4567, mon-fri 9-17"]
    assert opt_outs(stack, http, custom["id"]) == {}


def test_a_stop_delivered_three_times_opts_out_and_confirms_once(
    stack: LocalStack, http: Http, ch: dict[str, Any]
) -> None:
    number = "+31612350050"
    pid = f"SBIN{uuid.uuid4().hex}"
    for _ in range(3):
        inbound(stack, ch, number, "STOP", id_=pid)
    assert history(stack, http, number) == [("opt_out", ch["id"], "keyword STOP", "keyword")]
    assert outbox(stack, http, number, want=1) == [routing.OPT_OUT_REPLY["en"]]
    time.sleep(0.5)
    assert len(outbox(stack, http, number)) == 1
    conv = conversation(stack, http, ch["id"], number)
    assert conv is not None and [m["direction"] for m in conv["messages"]] == ["inbound", "outbound"]


def test_a_late_retry_of_a_stop_cannot_undo_a_later_start(stack: LocalStack, http: Http, ch: dict[str, Any]) -> None:
    number = "+31612350051"
    stop_id = inbound(stack, ch, number, "STOP")
    inbound(stack, ch, number, "START")
    inbound(stack, ch, number, "STOP", id_=stop_id)  # the provider retries the old STOP
    assert number not in opt_outs(stack, http, ch["id"])
    assert [e[0] for e in history(stack, http, number)] == ["opt_out", "opt_in"]


def test_without_credits_the_opt_out_still_happens_and_the_reply_is_skipped(
    stack: LocalStack, http: Http, ch: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(messages, "credits_for", lambda *a, **k: 10**9)  # more than any balance
    number = "+31612350060"
    inbound(stack, ch, number, "STOP")
    assert number in opt_outs(stack, http, ch["id"])
    conv = conversation(stack, http, ch["id"], number)
    assert conv is not None and [m["direction"] for m in conv["messages"]] == ["inbound"]
    assert outbox(stack, http, number, timeout=0.3) == []


# -- business hours ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def closed(stack: LocalStack, http: Http, ch: dict[str, Any]) -> dict[str, Any]:
    """A channel that is never open (hours enabled, no ranges) with an out-of-hours message (``ch``
    tops up the credits its replies cost)."""
    hours = {"enabled": True, "timezone": "Europe/Amsterdam", "out_of_hours_message": "We are closed, back at 9."}
    return create_channel(stack, http, sender="+3197010000024", business_hours=hours)


def test_out_of_hours_reply_once_per_conversation_per_day(
    stack: LocalStack, http: Http, closed: dict[str, Any]
) -> None:
    number, ooh = "+31612350070", "We are closed, back at 9."
    inbound(stack, closed, number, "Hello?", at="2026-03-02T20:00:00.000Z")
    inbound(stack, closed, number, "Anyone there?", at="2026-03-02T21:00:00.000Z")
    assert outbox(stack, http, number, want=1) == [ooh]
    # 23:30 UTC is already the next day in Amsterdam: another reply.
    inbound(stack, closed, number, "Still waiting", at="2026-03-02T23:30:00.000Z")
    assert outbox(stack, http, number, want=2) == [ooh, ooh]
    conv = conversation(stack, http, closed["id"], number)
    assert conv is not None and conv["ooh_replied_on"] == "2026-03-03"
    texts = [m["text"] for m in conv["messages"] if m["direction"] == "inbound"]
    assert texts == ["Hello?", "Anyone there?", "Still waiting"]  # every message reaches the inbox
    time.sleep(0.3)
    assert len(outbox(stack, http, number)) == 2


def test_keywords_out_of_hours_get_their_own_reply_only(stack: LocalStack, http: Http, closed: dict[str, Any]) -> None:
    inbound(stack, closed, "+31612350071", "HELP", at="2026-03-04T20:00:00.000Z")
    assert outbox(stack, http, "+31612350071", want=1) == [routing.HELP_REPLY["en"]]
    time.sleep(0.3)
    assert len(outbox(stack, http, "+31612350071")) == 1


def test_concurrent_inbounds_out_of_hours_get_one_reply(stack: LocalStack, http: Http, closed: dict[str, Any]) -> None:
    number = "+31612350072"
    inbound(stack, closed, number, "first", at="2026-03-05T08:00:00.000Z")  # the conversation exists
    assert outbox(stack, http, number, want=1) == ["We are closed, back at 9."]
    channel = channels.get_channel(closed["id"])
    at = dt.datetime(2026, 3, 6, 8, 0, tzinfo=dt.UTC)
    smses = [
        InboundSms(
            provider="sandbox",
            provider_id=f"SBIN{uuid.uuid4().hex}",
            **{"from": number},
            to=closed["sender"],
            text=t,
            received_at=at,
        )
        for t in ("one", "two")
    ]
    go = threading.Barrier(2)
    outcomes: list[str] = []

    def route(sms: InboundSms) -> None:
        go.wait()
        outcomes.append(consumer.process(channel, sms))

    threads = [threading.Thread(target=route, args=(s,)) for s in smses]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes == ["out_of_hours", "out_of_hours"]
    assert outbox(stack, http, number, want=2) == ["We are closed, back at 9."] * 2
    time.sleep(0.3)
    assert len(outbox(stack, http, number)) == 2


class _Died(Exception):
    """The invocation dying half-way (a timeout, a crash): SQS will deliver the record again."""


@pytest.mark.parametrize("dies_in", ["send_system", "_charge_and_record"])
def test_a_retry_finishes_an_out_of_hours_reply_a_crash_interrupted(
    stack: LocalStack, http: Http, closed: dict[str, Any], monkeypatch: pytest.MonkeyPatch, dies_in: str
) -> None:
    """The inbound is filed, then the invocation dies before its reply was sent (before the reply was
    recorded, or right after it was recorded and charged: the outbox queues it with its record). The
    redelivered record finishes it: one reply, charged once; a later redelivery sends nothing more."""
    number = "+31612350073" if dies_in == "send_system" else "+31612350074"
    channel = channels.get_channel(closed["id"])
    sms = InboundSms(
        provider="sandbox",
        provider_id=f"SBIN{uuid.uuid4().hex}",
        **{"from": number},
        to=closed["sender"],
        text="hello?",
        received_at=dt.datetime(2026, 3, 9, 20, 0, tzinfo=dt.UTC),
    )
    before = http("GET", f"{stack.base_url}/v1/credits", headers=auth(stack))[2]["balance"]
    real = getattr(messages, dies_in)

    def dies(*args: Any, **kwargs: Any) -> Any:
        if dies_in == "_charge_and_record":
            real(*args, **kwargs)  # recorded and charged, then the crash
        raise _Died

    with monkeypatch.context() as m:
        m.setattr(messages, dies_in, dies)
        with pytest.raises(_Died):
            consumer.process(channel, sms)
    assert getattr(messages, dies_in) is real
    if dies_in == "send_system":
        assert outbox(stack, http, number, want=0, timeout=0.5) == []
    assert consumer.process(channel, sms) == "duplicate"  # the retry: filed already, the reply is finished
    assert outbox(stack, http, number, want=1) == ["We are closed, back at 9."]
    assert consumer.process(channel, sms) == "duplicate"  # a plain redelivery: nothing more
    time.sleep(0.5)
    assert len(outbox(stack, http, number)) == 1
    after = http("GET", f"{stack.base_url}/v1/credits", headers=auth(stack))[2]["balance"]
    assert before - after == 1
