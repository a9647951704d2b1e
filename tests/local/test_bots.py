"""Bots on the local stack (issue 15): the bots function on the bus, bot messages through the send
pipeline, ask timeouts through the timers, and the inbox rules around a running bot.

Inbounds go through the inbound consumer's ``process`` (what the inbound function runs: keywords,
business hours, the conversation); agents act through the public API."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from queue_helpers import Http, auth, avail, setup

from smsdesk import channels
from smsdesk.bots import runtime
from smsdesk.data import conversations as conv_repo
from smsdesk.data import timers as timers_repo
from smsdesk.envelopes import TimerFired
from smsdesk.inbound import consumer
from smsdesk.inbox import conversations, timers
from smsdesk.local.stack import LocalStack
from smsdesk.models import InboundSms, iso, utcnow

pytestmark = pytest.mark.local

_seq = iter(range(5000, 100_000))


def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def text_in(channel_id: str, number: str, text: str) -> str:
    """An inbound SMS through the inbound consumer; returns the conversation id."""
    ch = channels.get_channel(channel_id)
    sms = InboundSms(
        provider="sandbox",
        provider_id=f"SBXIN{uuid.uuid4().hex}",
        **{"from": number},
        to=ch.sender,
        text=text,
        received_at=utcnow(),
    )
    consumer.process(ch, sms)
    pointer = conv_repo.get_pointer(ch.id, number)
    assert pointer is not None
    return pointer.conversation_id


def new_number() -> str:
    return f"+3162{next(_seq):07d}"


def make_bot(stack: LocalStack, http: Http, steps: list[dict[str, Any]]) -> str:
    status, _, bot = http(
        "POST",
        f"{stack.base_url}/v1/bots",
        headers=auth(stack.token),
        body={"name": f"b-{uuid.uuid4().hex[:6]}", "flow": {"steps": steps}},
    )
    assert status == 201, bot
    return bot["id"]


def patch_channel(stack: LocalStack, http: Http, channel_id: str, body: dict[str, Any]) -> dict[str, Any]:
    status, _, ch = http("PATCH", f"{stack.base_url}/v1/channels/{channel_id}", headers=auth(stack.token), body=body)
    assert status == 200, ch
    return ch


def conversation(stack: LocalStack, http: Http, conv_id: str) -> dict[str, Any]:
    status, _, body = http("GET", f"{stack.base_url}/v1/conversations/{conv_id}", headers=auth(stack.token))
    assert status == 200, body
    return body


def bot_messages(stack: LocalStack, http: Http, conv_id: str) -> list[str]:
    msgs = conversation(stack, http, conv_id)["messages"]
    return [m["text"] for m in msgs if (m.get("created_by") or "").startswith("bot:")]


def runs(stack: LocalStack, http: Http, conv_id: str) -> list[dict[str, Any]]:
    status, _, body = http("GET", f"{stack.base_url}/v1/conversations/{conv_id}/bot-runs", headers=auth(stack.token))
    assert status == 200, body
    return body["items"]


def asked(stack: LocalStack, http: Http, conv_id: str, n: int) -> bool:
    """The bot sent ``n`` messages and its run waits for the answer (written after its messages)."""
    found = runs(stack, http, conv_id)
    return len(bot_messages(stack, http, conv_id)) == n and bool(found) and found[0]["state"]["status"] == "waiting"


ORDER_BOT = [
    {"id": "hi", "type": "send", "text": "Hi {{first_name|there}}, thanks for your message.", "next": "order"},
    {
        "id": "order",
        "type": "ask",
        "text": "What is your order number?",
        "save_to": "order_no",
        "next": "humans",
        "timeout_s": 600,
    },
    {"id": "humans", "type": "handoff"},
]


@pytest.fixture(scope="module", autouse=True)
def credits(stack: LocalStack, http: Http) -> None:
    status, _, body = http(
        "POST",
        f"{stack.base_url}/v1/credits/top-ups",
        headers=auth(stack.token),
        body={"credits": 500, "reference": "bots"},
    )
    assert status == 201, body


@pytest.fixture(scope="module")
def order_field(stack: LocalStack, http: Http) -> str:
    status, _, body = http(
        "POST",
        f"{stack.base_url}/v1/contact-fields",
        headers=auth(stack.token),
        body={"key": "order_no", "label": "Order number", "type": "text"},
    )
    assert status in (201, 409), body
    return "order_no"


def test_flow_refused_on_save_names_the_step_and_channel_refuses_unknown_bot(stack: LocalStack, http: Http) -> None:
    steps = [
        {"id": "a", "type": "send", "text": "a", "next": "b"},
        {"id": "b", "type": "send", "text": "b", "next": "a"},
    ]
    status, _, body = http(
        "POST", f"{stack.base_url}/v1/bots", headers=auth(stack.token), body={"name": "loop", "flow": {"steps": steps}}
    )
    assert status == 422 and body["error"]["field"] == "flow.steps.1.next", body
    steps[1]["next"] = "zz"
    status, _, body = http(
        "POST",
        f"{stack.base_url}/v1/bots/validate",
        headers=auth(stack.token),
        body={"name": "x", "flow": {"steps": steps}},
    )
    assert status == 422 and body["error"]["field"] == "flow.steps.1.next", body
    channel_id, _ = setup(stack, http, lambda *a, **k: None, "manual", 0)
    status, _, body = http(
        "PATCH", f"{stack.base_url}/v1/channels/{channel_id}", headers=auth(stack.token), body={"bot_on_start": "nope"}
    )
    assert status == 422 and body["error"]["field"] == "bot_on_start", body
    bot_id = make_bot(stack, http, [{"id": "a", "type": "end"}])
    patch_channel(stack, http, channel_id, {"bot_on_finish": bot_id})
    status, _, body = http("DELETE", f"{stack.base_url}/v1/bots/{bot_id}", headers=auth(stack.token))
    assert status == 409 and body["error"]["code"] == "bot_in_use", body
    patch_channel(stack, http, channel_id, {"bot_on_finish": None})
    status, _, body = http("DELETE", f"{stack.base_url}/v1/bots/{bot_id}", headers=auth(stack.token))
    assert status == 200, body


def test_on_start_bot_asks_saves_hands_off_then_round_robin_assigns(
    stack: LocalStack, http: Http, make_user: Any, order_field: str
) -> None:
    channel_id, agents = setup(stack, http, make_user, "round_robin", 1)
    ((agent, agent_token),) = agents
    avail(stack, http, agent_token, True)
    bot_id = make_bot(stack, http, ORDER_BOT)
    patch_channel(stack, http, channel_id, {"bot_on_start": bot_id})
    number = new_number()
    conv_id = text_in(channel_id, number, "hello, where is my parcel?")
    # with the bot: not offered to the available agent
    wait_for(lambda: asked(stack, http, conv_id, 2), what="the bot's question")
    conv = conversation(stack, http, conv_id)
    assert conv["bot_run_id"] and conv["bot_id"] == bot_id and conv["assignee_id"] is None, conv
    assert bot_messages(stack, http, conv_id) == ["Hi there, thanks for your message.", "What is your order number?"]
    arrived = conv["enqueued_at"]
    assert timers_repo.get(timers.timer_id(timers.BOT_WAIT, conv["bot_run_id"])) is not None  # the ask's timeout
    # the answer: stored in the contact, handed off, then the queue assigns it (round robin)
    text_in(channel_id, number, " A-1234 ")
    wait_for(lambda: conversation(stack, http, conv_id)["assignee_id"] == agent, what="the assignment")
    conv = conversation(stack, http, conv_id)
    assert conv["bot_run_id"] is None and conv["enqueued_at"] == arrived  # its original arrival
    status, _, contact = http("GET", f"{stack.base_url}/v1/contacts/{conv['contact_id']}", headers=auth(stack.token))
    assert status == 200 and contact["custom_fields"]["order_no"] == "A-1234", contact
    (run,) = runs(stack, http, conv_id)
    assert run["status"] == "done" and run["outcome"] == "handoff" and run["trigger"] == "on_start"
    assert [line["direction"] for line in run["transcript"]] == ["in", "out", "out", "in", "note"]
    # the bot's messages went through the pipeline: charged and sent by the sandbox
    msgs = [m for m in conversation(stack, http, conv_id)["messages"] if (m.get("created_by") or "").startswith("bot:")]
    assert all(m["credits"] >= 1 for m in msgs)
    wait_for(
        lambda: all(
            m["status"] in ("sent", "delivered")
            for m in conversation(stack, http, conv_id)["messages"]
            if (m.get("created_by") or "").startswith("bot:")
        ),
        what="bot messages sent",
    )


def test_agent_takeover_stops_the_bot(stack: LocalStack, http: Http, make_user: Any, order_field: str) -> None:
    channel_id, agents = setup(stack, http, make_user, "manual", 1)
    ((agent, agent_token),) = agents
    avail(stack, http, agent_token, True)
    patch_channel(stack, http, channel_id, {"bot_on_start": make_bot(stack, http, ORDER_BOT)})
    number = new_number()
    conv_id = text_in(channel_id, number, "hi")
    wait_for(lambda: asked(stack, http, conv_id, 2), what="the bot's question")
    status, _, body = http(
        "POST",
        f"{stack.base_url}/v1/conversations/{conv_id}/assign",
        headers=auth(agent_token),
        body={"user_id": agent},
    )
    assert status == 200 and body["bot_run_id"] is None, body
    wait_for(lambda: runs(stack, http, conv_id)[0]["status"] == "stopped", what="the run stopped")
    assert runs(stack, http, conv_id)[0]["outcome"] == "taken_over"
    text_in(channel_id, number, "B-77")
    time.sleep(1.0)
    assert len(bot_messages(stack, http, conv_id)) == 2  # the bot said nothing more
    status, _, contact = http(
        "GET",
        f"{stack.base_url}/v1/contacts/{conversation(stack, http, conv_id)['contact_id']}",
        headers=auth(stack.token),
    )
    assert "order_no" not in contact["custom_fields"]


def test_stop_mid_flow_opts_out_and_ends_the_run_without_ooh_reply(
    stack: LocalStack, http: Http, make_user: Any, order_field: str
) -> None:
    channel_id, _ = setup(stack, http, make_user, "manual", 0)
    closed_always = {"enabled": True, "timezone": "UTC", "weekly": {}, "out_of_hours_message": "We are closed."}
    patch_channel(
        stack, http, channel_id, {"bot_on_start": make_bot(stack, http, ORDER_BOT), "business_hours": closed_always}
    )
    number = new_number()
    conv_id = text_in(channel_id, number, "hi")
    wait_for(lambda: asked(stack, http, conv_id, 2), what="the bot's question")
    texts = [m["text"] for m in conversation(stack, http, conv_id)["messages"]]
    assert "We are closed." not in texts  # no out-of-hours reply while the bot talks
    text_in(channel_id, number, "STOP")
    wait_for(lambda: runs(stack, http, conv_id)[0]["status"] == "stopped", what="the run stopped")
    assert runs(stack, http, conv_id)[0]["outcome"] == "opted_out"
    conv = conversation(stack, http, conv_id)
    assert conv["bot_run_id"] is None and conv["status"] == "open"  # back with the humans, in the queue
    _status, _, queue = http("GET", f"{stack.base_url}/v1/channels/{channel_id}/queue", headers=auth(stack.token))
    assert [e["conversation_id"] for e in queue["waiting"]] == [conv_id], queue
    assert len(bot_messages(stack, http, conv_id)) == 2
    _status, _, contact = http("GET", f"{stack.base_url}/v1/contacts/{conv['contact_id']}", headers=auth(stack.token))
    assert "order_no" not in contact["custom_fields"]  # STOP was not taken as the order number


def test_finish_bot_csat_in_stats_without_reopening(stack: LocalStack, http: Http, make_user: Any) -> None:
    channel_id, agents = setup(stack, http, make_user, "manual", 1)
    ((agent, agent_token),) = agents
    avail(stack, http, agent_token, True)
    survey = make_bot(
        stack,
        http,
        [
            {"id": "rate", "type": "csat", "text": "Rate us 1-5", "next": "thanks"},
            {"id": "thanks", "type": "send", "text": "Thank you!"},
        ],
    )
    patch_channel(stack, http, channel_id, {"bot_on_finish": survey})
    number = new_number()
    conv_id = text_in(channel_id, number, "my order is late")
    for path, body in (("assign", {"user_id": agent}), ("messages", {"text": "On its way!"}), ("close", None)):
        status, _, got = http(
            "POST", f"{stack.base_url}/v1/conversations/{conv_id}/{path}", headers=auth(agent_token), body=body
        )
        assert status in (200, 201, 202), got
    wait_for(lambda: bot_messages(stack, http, conv_id) == ["Rate us 1-5"], what="the survey")
    wait_for(lambda: runs(stack, http, conv_id)[0]["state"]["status"] == "waiting", what="the survey waits")
    text_in(channel_id, number, "5")
    wait_for(lambda: bot_messages(stack, http, conv_id) == ["Rate us 1-5", "Thank you!"], what="the thanks")
    wait_for(lambda: runs(stack, http, conv_id)[0]["status"] == "done", what="the survey's end")  # after its last send
    conv = conversation(stack, http, conv_id)
    assert conv["status"] == "closed" and conv["reopened_count"] == 0 and conv["bot_run_id"] is None, conv
    assert conv["messages"][-2]["text"] == "5"  # the answer is filed in the closed conversation
    status, _, stats = http("GET", f"{stack.base_url}/v1/channels/{channel_id}/stats", headers=auth(stack.token))
    assert status == 200, stats
    assert stats["csat"]["average"] == 5.0 and stats["csat"]["response_rate_pct"] == 100.0, stats
    assert [(a["user_id"], a["average"]) for a in stats["csat_by_agent"]] == [(agent, 5.0)]
    # after the survey, an inbound reopens as usual
    text_in(channel_id, number, "one more thing")
    assert conversation(stack, http, conv_id)["status"] == "open"


def test_max_queue_time_runs_the_timeout_bot(stack: LocalStack, http: Http, make_user: Any) -> None:
    """The 15-s queue timer is armed; its fire is delivered here (the timer path itself is test_timers')."""
    channel_id, _ = setup(stack, http, make_user, "manual", 0, max_queue_time_s=15)
    sorry = make_bot(stack, http, [{"id": "s", "type": "send", "text": "Sorry for the wait, we will answer soon."}])
    patch_channel(stack, http, channel_id, {"bot_after_timeout": sorry})
    conv_id = text_in(channel_id, new_number(), "anyone?")
    conv = conversations.get(conv_id)
    assert conv is not None and conv.enqueued_at is not None
    tid = timers.timer_id(timers.QUEUE_TIMEOUT, conv_id)
    pending = timers_repo.get(tid)
    due = conv.enqueued_at + dt.timedelta(seconds=15)
    assert pending is not None and pending["due_at"] == iso(due)
    fired = timers.fire(
        TimerFired(
            timer_id=tid,
            kind=timers.QUEUE_TIMEOUT,
            target_id=conv_id,
            due_at=due,
            data={"arrived_at": iso(conv.enqueued_at)},
        ),
        now=due,
    )
    assert fired
    wait_for(
        lambda: bot_messages(stack, http, conv_id) == ["Sorry for the wait, we will answer soon."], what="the apology"
    )
    wait_for(lambda: runs(stack, http, conv_id)[0]["status"] == "done", what="the run's end")
    run = runs(stack, http, conv_id)[0]
    assert run["trigger"] == "after_timeout" and run["outcome"] == "end"
    conv_now = conversation(stack, http, conv_id)
    assert conv_now["bot_run_id"] is None  # waits again, at its place
    assert dt.datetime.fromisoformat(conv_now["enqueued_at"]) == conv.enqueued_at
    assert conv_now["timed_out_at"] is not None


def test_duplicated_event_changes_nothing(stack: LocalStack, http: Http, make_user: Any, order_field: str) -> None:
    channel_id, _ = setup(stack, http, make_user, "manual", 0)
    patch_channel(stack, http, channel_id, {"bot_on_start": make_bot(stack, http, ORDER_BOT)})
    number = new_number()
    conv_id = text_in(channel_id, number, "hi")
    wait_for(lambda: asked(stack, http, conv_id, 2), what="the bot's question")
    first = conversation(stack, http, conv_id)["messages"][0]
    before = runs(stack, http, conv_id)[0]
    event = {
        "id": str(uuid.uuid4()),  # a new envelope: the key is the message
        "detail-type": "message.received",
        "source": "smsdesk",
        "detail": {"conversation_id": conv_id, "message_id": first["id"], "channel_id": channel_id},
    }
    assert runtime.handle_event(event) == "duplicate"
    assert runtime.handle_event(event) == "duplicate"
    after = runs(stack, http, conv_id)[0]
    assert after == before
    assert len(bot_messages(stack, http, conv_id)) == 2


def test_ask_timeout_runs_through_the_timers(stack: LocalStack, http: Http, make_user: Any) -> None:
    """A 2-s ask timeout: SQS delay → timers function → the bot's timeout step (and its lateness)."""
    channel_id, _ = setup(stack, http, make_user, "manual", 0)
    bot_id = make_bot(
        stack,
        http,
        [
            {
                "id": "q",
                "type": "ask",
                "text": "Yes or no?",
                "choices": [{"keywords": ["yes"], "next": "h"}],
                "timeout_s": 2,
                "timeout_next": "late",
            },
            {"id": "late", "type": "send", "text": "No answer: an agent will take over.", "next": "h"},
            {"id": "h", "type": "handoff"},
        ],
    )
    patch_channel(stack, http, channel_id, {"bot_on_start": bot_id})
    conv_id = text_in(channel_id, new_number(), "hi")
    wait_for(lambda: bot_messages(stack, http, conv_id) == ["Yes or no?"], what="the question")
    wait_for(lambda: runs(stack, http, conv_id)[0]["status"] == "done", timeout=8, what="the timeout")
    run = runs(stack, http, conv_id)[0]
    asked_at = dt.datetime.fromisoformat(run["transcript"][1]["at"])
    timed_out_at = dt.datetime.fromisoformat(run["transcript"][2]["at"])
    lateness = (timed_out_at - asked_at).total_seconds() - 2
    assert -0.05 <= lateness <= 2.0, lateness
    assert run["outcome"] == "handoff" and run["transcript"][2]["text"] == "no answer in time"
    assert bot_messages(stack, http, conv_id) == ["Yes or no?", "No answer: an agent will take over."]
    assert conversation(stack, http, conv_id)["bot_run_id"] is None


class _Endpoint:
    """A webhook bot's endpoint on loopback: checks the signature, answers ``answers`` in turn."""

    def __init__(self, secret: str, answers: list[Any], status: int = 200) -> None:
        import http.server
        import threading

        self.secret, self.answers, self.status = secret, answers, status
        self.calls: list[dict[str, Any]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                import hashlib
                import hmac
                import json

                body = self.rfile.read(int(self.headers["content-length"]))
                ts = self.headers["x-smsdesk-timestamp"]
                want = (
                    "sha256=" + hmac.new(outer.secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
                )
                valid = (
                    hmac.compare_digest(want, self.headers["x-smsdesk-signature"]) and abs(time.time() - int(ts)) < 300
                )
                outer.calls.append({"valid": valid, "body": json.loads(body)})
                answer = outer.answers.pop(0) if outer.answers and valid else {"actions": []}
                data = json.dumps(answer).encode()
                self.send_response(outer.status if valid else 401)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def webhook_bot(stack: LocalStack, http: Http, url: str, secret: str) -> str:
    body = {"name": f"w-{uuid.uuid4().hex[:6]}", "kind": "webhook", "webhook_url": url, "webhook_secret": secret}
    status, _, bot = http("POST", f"{stack.base_url}/v1/bots", headers=auth(stack.token), body=body)
    assert status == 201, bot
    assert bot["has_secret"] and "webhook_secret" not in bot
    return bot["id"]


def test_webhook_bot_gets_a_valid_signature_and_its_actions_are_applied(
    stack: LocalStack, http: Http, make_user: Any, order_field: str
) -> None:
    secret = "s3cret-" + uuid.uuid4().hex
    endpoint = _Endpoint(
        secret,
        [
            {"actions": [{"type": "send", "text": "Hello from the hook. Order number?"}]},
            {
                "actions": [
                    {"type": "set_field", "field": "order_no", "value": "W-9"},
                    {"type": "send", "text": "Thanks"},
                    {"type": "handoff"},
                ]
            },
        ],
    )
    try:
        channel_id, _ = setup(stack, http, make_user, "manual", 0)
        patch_channel(stack, http, channel_id, {"bot_on_start": webhook_bot(stack, http, endpoint.url, secret)})
        number = new_number()
        conv_id = text_in(channel_id, number, "hi")
        wait_for(
            lambda: bot_messages(stack, http, conv_id) == ["Hello from the hook. Order number?"], what="hook's text"
        )
        text_in(channel_id, number, "W-9")
        wait_for(lambda: runs(stack, http, conv_id)[0]["status"] == "done", what="the handoff")
        assert [c["valid"] for c in endpoint.calls] == [True, True]
        assert [c["body"]["event"] for c in endpoint.calls] == ["start", "message"]
        assert endpoint.calls[1]["body"]["message"]["text"] == "W-9"
        conv = conversation(stack, http, conv_id)
        assert conv["bot_run_id"] is None and bot_messages(stack, http, conv_id)[-1] == "Thanks"
        _s, _, contact = http("GET", f"{stack.base_url}/v1/contacts/{conv['contact_id']}", headers=auth(stack.token))
        assert contact["custom_fields"]["order_no"] == "W-9"
    finally:
        endpoint.close()


def test_dead_webhook_hands_off(stack: LocalStack, http: Http, make_user: Any) -> None:
    secret = "s3cret-" + uuid.uuid4().hex
    endpoint = _Endpoint(secret, [], status=500)
    try:
        channel_id, agents = setup(stack, http, make_user, "round_robin", 1)
        ((agent, agent_token),) = agents
        avail(stack, http, agent_token, True)
        patch_channel(stack, http, channel_id, {"bot_on_start": webhook_bot(stack, http, endpoint.url, secret)})
        conv_id = text_in(channel_id, new_number(), "hi")
        wait_for(lambda: conversation(stack, http, conv_id)["assignee_id"] == agent, what="the handoff and assignment")
        assert len(endpoint.calls) == 3  # retried, then handed to humans
        run = runs(stack, http, conv_id)[0]
        assert run["kind"] == "webhook" and run["outcome"] == "handoff"
    finally:
        endpoint.close()


def test_help_mid_flow_is_no_answer_and_a_duplicate_close_runs_no_second_survey(
    stack: LocalStack, http: Http, make_user: Any, order_field: str
) -> None:
    channel_id, agents = setup(stack, http, make_user, "manual", 1)
    ((agent, agent_token),) = agents
    avail(stack, http, agent_token, True)
    survey = make_bot(stack, http, [{"id": "rate", "type": "csat", "text": "Rate us 1-5"}])
    patch_channel(stack, http, channel_id, {"bot_on_start": make_bot(stack, http, ORDER_BOT), "bot_on_finish": survey})
    number = new_number()
    conv_id = text_in(channel_id, number, "hi")
    wait_for(lambda: asked(stack, http, conv_id, 2), what="the bot's question")
    text_in(channel_id, number, "HELP")  # answered by the inbound function: not the order number
    wait_for(lambda: len(runs(stack, http, conv_id)[0]["seen"]) == 3, what="HELP seen")
    run = runs(stack, http, conv_id)[0]
    assert run["status"] == "active" and run["state"]["step_id"] == "order"
    status, _, body = http(
        "POST",
        f"{stack.base_url}/v1/conversations/{conv_id}/assign",
        headers=auth(agent_token),
        body={"user_id": agent},
    )
    assert status == 200, body
    status, _, closed = http("POST", f"{stack.base_url}/v1/conversations/{conv_id}/close", headers=auth(agent_token))
    assert status == 200, closed
    wait_for(lambda: "Rate us 1-5" in bot_messages(stack, http, conv_id), what="the survey")
    event = {
        "id": str(uuid.uuid4()),
        "detail-type": "conversation.closed",
        "source": "smsdesk",
        "detail": {"conversation_id": conv_id, "channel_id": channel_id, "by": agent},
    }
    assert runtime.handle_event(event) in ("duplicate", "finish_bot_running")
    assert bot_messages(stack, http, conv_id).count("Rate us 1-5") == 1
    assert [r["trigger"] for r in runs(stack, http, conv_id)] == ["on_start", "on_finish"]


def test_a_message_sent_before_the_bot_asked_is_no_answer(
    stack: LocalStack, http: Http, make_user: Any, order_field: str
) -> None:
    """Two quick texts: the second's event may reach the bot first; the first is then no answer."""
    channel_id, _ = setup(stack, http, make_user, "manual", 0)
    patch_channel(stack, http, channel_id, {"bot_on_start": make_bot(stack, http, ORDER_BOT)})
    number = new_number()
    conv_id = text_in(channel_id, number, "hi")
    wait_for(lambda: asked(stack, http, conv_id, 2), what="the bot's question")
    ch = channels.get_channel(channel_id)
    early = InboundSms(
        provider="sandbox",
        provider_id=f"SBXIN{uuid.uuid4().hex}",
        **{"from": number},
        to=ch.sender,
        text="also my address changed",
        received_at=utcnow() - dt.timedelta(minutes=1),
    )
    consumer.process(ch, early)
    wait_for(lambda: len(runs(stack, http, conv_id)[0]["seen"]) == 3, what="the early text seen")
    run = runs(stack, http, conv_id)[0]
    assert run["status"] == "active" and run["state"]["step_id"] == "order"
    _s, _, contact = http(
        "GET",
        f"{stack.base_url}/v1/contacts/{conversation(stack, http, conv_id)['contact_id']}",
        headers=auth(stack.token),
    )
    assert "order_no" not in contact["custom_fields"]


def test_handoff_into_a_full_queue_waits_outside_then_is_admitted(
    stack: LocalStack, http: Http, make_user: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bot's handoff goes through the queue's admission like an inbound: with ``max_in_queue``
    reached it waits outside (``interaction.overflowed``) and enters, from its arrival, as space frees."""
    from smsdesk import events
    from smsdesk.data import queueing as queue_repo

    channel_id, _ = setup(stack, http, make_user, "manual", 0, max_in_queue=1)
    first = text_in(channel_id, new_number(), "first")  # no bot yet: it takes the queue's one place
    assert (conversations.get(first) or _none()).queue_state() == "waiting"
    published: list[tuple[str, dict[str, Any]]] = []
    real = events.publish_many

    def spy(batch: list[tuple[str, dict[str, Any]]]) -> None:
        published.extend(batch)
        real(batch)

    monkeypatch.setattr(events, "publish_many", spy)
    bot_id = make_bot(
        stack,
        http,
        [
            {"id": "hi", "type": "send", "text": "One moment, an agent will be with you.", "next": "h"},
            {"id": "h", "type": "handoff"},
        ],
    )
    patch_channel(stack, http, channel_id, {"bot_on_start": bot_id})
    second = text_in(channel_id, new_number(), "second")
    arrived = (conversations.get(second) or _none()).enqueued_at
    wait_for(lambda: runs(stack, http, second) and runs(stack, http, second)[0]["status"] == "done", what="handoff")
    conv = conversations.get(second) or _none()
    assert conv.bot_run_id is None and conv.queue_state() == "overflow", conv
    assert conv.arrived_at == arrived  # it waits from its arrival, not from the handoff
    _s, _, queue = http("GET", f"{stack.base_url}/v1/channels/{channel_id}/queue", headers=auth(stack.token))
    assert [e["conversation_id"] for e in queue["waiting"]] == [first], queue
    assert [e["conversation_id"] for e in queue["overflow"]] == [second], queue
    assert queue_repo.size(channel_id) == (1, 1)
    assert [t for t, d in published if d.get("conversation_id") == second and t.startswith("interaction.")] == [
        "interaction.overflowed"
    ]
    # closing the first frees the place: the handed-off one enters (its arrival time kept)
    status, _, body = http("POST", f"{stack.base_url}/v1/conversations/{first}/close", headers=auth(stack.token))
    assert status == 200, body
    conv = conversations.get(second) or _none()
    assert conv.queue_state() == "waiting" and conv.arrived_at == arrived and conv.enqueued_at != arrived, conv
    assert queue_repo.size(channel_id) == (1, 0)
    assert "interaction.admitted" in [t for t, d in published if d.get("conversation_id") == second]


def _none() -> Any:
    raise AssertionError("conversation not found")


def test_csat_over_a_period(stack: LocalStack, http: Http, make_user: Any) -> None:
    """CSAT counts per day: a period (``days`` or ``since``/``until``, default the last 30 days) sums
    the surveys started in it; the stats' CSAT is the last 30 days, no longer all time."""
    from smsdesk.data import bots as bots_repo

    channel_id, agents = setup(stack, http, make_user, "manual", 1)
    ((agent, agent_token),) = agents
    avail(stack, http, agent_token, True)
    survey = make_bot(stack, http, [{"id": "rate", "type": "csat", "text": "Rate us 1-5"}])
    patch_channel(stack, http, channel_id, {"bot_on_finish": survey})
    number = new_number()
    conv_id = text_in(channel_id, number, "hello")
    for path, body in (("assign", {"user_id": agent}), ("close", None)):
        status, _, got = http(
            "POST", f"{stack.base_url}/v1/conversations/{conv_id}/{path}", headers=auth(agent_token), body=body
        )
        assert status in (200, 201, 202), got
    wait_for(lambda: [r["state"]["status"] for r in runs(stack, http, conv_id)] == ["waiting"], what="the survey")
    text_in(channel_id, number, "4")
    wait_for(lambda: [r["status"] for r in runs(stack, http, conv_id)] == ["done"], what="the rating")
    # an older survey, 45 days ago (as the bots function would have counted it then): 1 of 5, by the same agent
    today = utcnow().date()
    bots_repo.csat_add(channel_id, agent, today - dt.timedelta(days=45), asked=2, answered=1, rating=1)

    def csat(query: str) -> tuple[int, Any]:
        status, _, body = http(
            "GET", f"{stack.base_url}/v1/channels/{channel_id}/csat{query}", headers=auth(stack.token)
        )
        return status, body

    status, body = csat("")  # default: the last 30 days
    assert status == 200, body
    assert (body["since"], body["until"], body["days"]) == (str(today - dt.timedelta(days=29)), str(today), 30)
    assert body["csat"] == {"user_id": None, "asked": 1, "answered": 1, "average": 4.0, "response_rate_pct": 100.0}, (
        body
    )
    assert [(a["user_id"], a["average"]) for a in body["by_agent"]] == [(agent, 4.0)]
    status, body = csat("?days=60")
    assert status == 200 and body["days"] == 60, body
    assert (body["csat"]["asked"], body["csat"]["answered"], body["csat"]["average"]) == (3, 2, 2.5), body
    assert body["csat"]["response_rate_pct"] == round(200 / 3, 2)
    old = today - dt.timedelta(days=45)
    status, body = csat(f"?since={old - dt.timedelta(days=1)}&until={old}")
    assert status == 200 and (body["csat"]["asked"], body["csat"]["average"]) == (2, 1.0), body
    status, body = csat(f"?since={today - dt.timedelta(days=10)}&until={today - dt.timedelta(days=1)}")
    assert status == 200 and body["csat"]["asked"] == 0 and body["csat"]["average"] is None, body
    assert body["by_agent"] == []
    # the stats' CSAT: the last 30 days, not all time
    status, _, stats = http("GET", f"{stack.base_url}/v1/channels/{channel_id}/stats", headers=auth(stack.token))
    assert status == 200 and stats["csat"]["asked"] == 1 and stats["csat"]["average"] == 4.0, stats
    # invalid periods: 422 naming the field
    for query, field in (
        ("?days=0", "days"),
        ("?days=367", "days"),
        ("?days=abc", "days"),
        (f"?days=7&since={today}", "days"),
        ("?since=2026-13-01", "since"),
        ("?until=yesterday", "until"),
        (f"?since={today}&until={today - dt.timedelta(days=1)}", "since"),
        (f"?since={today - dt.timedelta(days=400)}&until={today}", "until"),
    ):
        status, body = csat(query)
        assert status == 422 and body["error"]["field"] == field, (query, body)


def test_a_handoff_that_read_not_full_cannot_exceed_the_cap(
    stack: LocalStack, http: Http, make_user: Any, order_field: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cap is a condition of the handoff's write: a stale "not full" read is refused, read again,
    and the conversation waits outside; its queue timer counts from its arrival."""
    from smsdesk.data import queueing as queue_repo
    from smsdesk.inbox import queueing

    channel_id, _ = setup(stack, http, make_user, "manual", 0, max_in_queue=1, max_queue_time_s=600)
    first = text_in(channel_id, new_number(), "first")
    patch_channel(stack, http, channel_id, {"bot_on_start": make_bot(stack, http, ORDER_BOT)})
    number = new_number()
    second = text_in(channel_id, number, "second")
    wait_for(lambda: asked(stack, http, second, 2), what="the bot's question")
    arrived = (conversations.get(second) or _none()).enqueued_at
    assert arrived is not None
    real, reads = queueing.is_full, []

    def stale_once(channel: Any) -> bool:
        reads.append(channel.id)
        return False if len(reads) == 1 else real(channel)

    monkeypatch.setattr(queueing, "is_full", stale_once)
    text_in(channel_id, number, "A-1")  # the answer: the bot hands off
    wait_for(lambda: runs(stack, http, second)[0]["status"] == "done", what="the handoff")
    assert reads == [channel_id, channel_id]  # the stale read's write was refused; the second read saw it full
    conv = conversations.get(second) or _none()
    assert (conv.queue_state(), conv.overflow_at) == ("overflow", arrived), conv
    assert (conversations.get(first) or _none()).queue_state() == "waiting"
    assert queue_repo.size(channel_id) == (1, 1)
    pending = timers_repo.get(timers.timer_id(timers.QUEUE_TIMEOUT, second))
    assert pending is not None and pending["due_at"] == iso(arrived + dt.timedelta(seconds=600))
