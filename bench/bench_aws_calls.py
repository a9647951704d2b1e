"""AWS API calls per operation, counted (not timed) on the local stack.

Every botocore call made *inside a handler invocation* is attributed to that function (a
thread-local label set around ``FunctionRegistry.invoke``); the local stack's own machinery
(pollers receiving/deleting, the schedule driver) runs outside invocations and is not counted,
because in AWS those calls are made by the event source mapping and Scheduler, not by our code.
"""

from __future__ import annotations

import collections
import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import botocore.client

_local = threading.local()
_lock = threading.Lock()
_calls: collections.Counter[tuple[str, str]] = collections.Counter()


def _install() -> None:
    if getattr(botocore.client.BaseClient, "_smsdesk_counting", False):
        return
    original = botocore.client.BaseClient._make_api_call

    def counting(self: Any, operation_name: str, api_params: Any) -> Any:
        label = getattr(_local, "label", None)
        if label:
            with _lock:
                _calls[(label, f"{self.meta.service_model.service_name}:{operation_name}")] += 1
        return original(self, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = counting
    botocore.client.BaseClient._smsdesk_counting = True

    from smsdesk.local import functions

    invoke = functions.FunctionRegistry.invoke

    def labelled(self: Any, fn: Any, event: Any, *, trigger: str, source: str) -> Any:
        previous = getattr(_local, "label", None)
        # HTTP calls are labelled with their method, so a row can count the POST it measures and not
        # the GETs a scenario makes while it waits.
        method = (event.get("requestContext") or {}).get("http", {}).get("method") if trigger == "http" else None
        _local.label = f"{fn.name}:{method}" if method else fn.name
        try:
            return invoke(self, fn, event, trigger=trigger, source=source)
        finally:
            _local.label = previous

    functions.FunctionRegistry.invoke = labelled


@contextmanager
def counting() -> Iterator[collections.Counter[tuple[str, str]]]:
    """Yield a counter that holds, after the block, the calls made during it."""
    with _lock:
        _calls.clear()
    result: collections.Counter[tuple[str, str]] = collections.Counter()
    yield result
    with _lock:
        result.update(_calls)
        _calls.clear()


def http(stack: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        stack.base_url + path,
        data=data,
        method=method,
        headers={"authorization": f"Bearer {stack.token}", "content-type": "application/json"},
    )
    try:
        with urllib.request.urlopen(req, timeout=15) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def wait_until(pred: Callable[[], bool], timeout: float = 20.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.1)
    return False


Row = tuple[str, int, dict[str, int]]


def _row(name: str, counter: collections.Counter[tuple[str, str]], only: set[str] | None = None) -> Row:
    by_api: dict[str, int] = collections.Counter()
    for (label, api), n in counter.items():
        if only is None or label in only or label.split(":")[0] in only:
            by_api[f"{label.split(':')[0]} {api}"] += n
    return name, sum(by_api.values()), dict(by_api)


def scenarios(stack: Any) -> list[Row]:
    rows: list[Row] = []
    with counting() as c:
        assert http(stack, "GET", "/v1/me")[0] == 200
    rows.append(_row("GET /v1/me", c))
    with counting() as c:
        assert http(stack, "POST", "/v1/messages/preview", {"text": "hello", "to": "+31612345678"})[0] == 200
    rows.append(_row("POST /v1/messages/preview (no channel)", c))
    rows.extend(_send_scenarios(stack))
    rows.extend(_aws_sms_scenarios(stack))
    rows.extend(_inbound_scenarios(stack))
    rows.extend(_dispatch_scenarios(stack))
    rows.extend(_overflow_scenarios(stack))
    return rows


def _send_scenarios(stack: Any) -> list[Row]:
    """Accepted send and its receipts (needs the outbound pipeline of issue 4)."""
    status, _ = http(stack, "GET", "/v1/credits")
    if status != 200:
        return []
    status, channel = http(
        stack,
        "POST",
        "/v1/channels",
        {"name": "bench", "type": "two_way", "sender": "+31612345600", "provider": "sandbox", "throughput_mps": 50},
    )
    assert status in (200, 201), channel
    assert http(stack, "POST", "/v1/credits/top-ups", {"credits": 100, "reference": "bench"})[0] in (200, 201)
    # Warm the path once so one-off work (secret cache, first client) is not counted as per-send cost.
    _send_and_wait(stack, channel["id"])
    with counting() as c:
        msg = _send_and_wait(stack, channel["id"])
    assert msg["status"] == "delivered", msg
    return [
        _row("POST /v1/messages (accept: api)", c, {"api:POST"}),
        _row("send one queued message (sender)", c, {"sender"}),
        _row(
            "delivery receipts for it (webhooks + receipts, sandbox sends delivered only)", c, {"webhooks", "receipts"}
        ),
        _row("bus events it caused (notifier)", c, {"notifier"}),
        _row("its events and job through the outbox (stream → outbox, one record per invocation)", c, {"outbox"}),
    ]


def _aws_sms_scenarios(stack: Any) -> list[Row]:
    """The same send through AWS End User Messaging SMS (the local stand-in answers SendTextMessage and
    publishes TEXT_DELIVERED to the events topic → SNS → the receipts queue): a real provider's path,
    without the sandbox carrier's own bookkeeping (its outbox and attempt counter) in the sender's count."""
    status, channel = http(
        stack,
        "POST",
        "/v1/channels",
        {
            "name": "bench-aws",
            "type": "two_way",
            "sender": "+3197010000096",
            "provider": "aws_sms",
            "throughput_mps": 50,
        },
    )
    if status not in (200, 201):
        return []
    _send_and_wait(stack, channel["id"], to="+31612345679")  # warm-up
    with counting() as c:
        msg = _send_and_wait(stack, channel["id"], to="+31612345679")
    assert msg["status"] == "delivered", msg
    return [
        _row("aws_sms: POST /v1/messages (accept: api)", c, {"api:POST"}),
        _row("aws_sms: send one queued message (sender, incl. SendTextMessage)", c, {"sender"}),
        _row("aws_sms: delivery receipt (receipts, TEXT_DELIVERED via SNS)", c, {"webhooks", "receipts"}),
        _row("aws_sms: bus events it caused (notifier)", c, {"notifier"}),
        _row("aws_sms: its events and job through the outbox (one record per invocation)", c, {"outbox"}),
    ]


def _send_and_wait(stack: Any, channel_id: str, to: str = "+31612345678") -> dict[str, Any]:
    status, msg = http(stack, "POST", "/v1/messages", {"channel_id": channel_id, "to": to, "text": "hi"})
    assert status == 202, msg
    final: dict[str, Any] = {}

    def delivered() -> bool:
        _, m = http(stack, "GET", f"/v1/messages/{msg['id']}")
        final.update(m)
        return m.get("status") in ("delivered", "failed", "undelivered")

    wait_until(delivered)
    time.sleep(1.0)  # let trailing receipts and bus events finish inside the counting window
    if hasattr(stack, "wait_streams"):
        stack.wait_streams()  # and the outbox's last record (message.delivered)
    return final


def _inbound_scenarios(stack: Any) -> list[Row]:
    """An inbound SMS as the provider delivers it (a signed sandbox webhook): the webhook's and the
    inbound function's calls, for a number without a conversation and for one with an open one.
    Routing: enabled channel, not blocked, no keyword, no business hours (the common case)."""
    status, channel = http(
        stack,
        "POST",
        "/v1/channels",
        {"name": "bench-inbound", "type": "two_way", "sender": "+3197010000099", "provider": "sandbox"},
    )
    if status not in (200, 201):
        return []
    _inbound_and_wait(stack, channel, "+31612349900", "warm-up")  # secret cache, first clients
    with counting() as new:
        _inbound_and_wait(stack, channel, "+31612349901", "Hello, is my order on its way?")
    with counting() as existing:
        _inbound_and_wait(stack, channel, "+31612349901", "It was order 1234")
    return [
        _row("inbound SMS, new conversation (webhooks + inbound)", new, {"webhooks", "inbound"}),
        _row("inbound SMS, existing conversation (webhooks + inbound)", existing, {"webhooks", "inbound"}),
    ]


def _inbound_and_wait(stack: Any, channel: dict[str, Any], frm: str, text: str) -> None:
    import uuid

    from smsdesk import channels
    from smsdesk.connectors import sandbox

    key = channels.get_provider_secret(channels.get_channel(channel["id"]))["signing_key"]
    event = {"id": f"SBIN{uuid.uuid4().hex}", "from": frm, "to": channel["sender"], "text": text}
    body = json.dumps(event).encode()
    since = stack.invocations.last_seq
    req = urllib.request.Request(
        channel["webhook_urls"]["inbound"],
        data=body,
        method="POST",
        headers={"content-type": "application/json", "x-sandbox-signature": sandbox.sign(body, key)},
    )
    with urllib.request.urlopen(req, timeout=15) as resp:
        assert resp.status == 200
    stack.invocations.wait_for(lambda e: e.get("function") == "inbound" and e["records"] > e["failures"], since=since)
    time.sleep(0.3)  # trailing bus events inside the counting window


def _dispatch_scenarios(stack: Any) -> list[Row]:
    """Queue assignment (issue 6): ``queueing.dispatch`` of a round-robin channel with one waiting
    conversation and one available agent (the owner, in the channel's team). Counted around the call
    itself (it runs inside the inbound/API functions in the stack), including the final look that
    finds the queue empty."""
    import datetime as dt
    import uuid

    from smsdesk import channels
    from smsdesk.data import users as users_repo
    from smsdesk.inbox import conversations, queueing
    from smsdesk.models import InboundSms

    _, me = http(stack, "GET", "/v1/me")
    status, team = http(stack, "POST", "/v1/teams", {"name": f"bench-queue-{uuid.uuid4().hex[:6]}"})
    if status != 201:
        return []
    assert http(stack, "PUT", f"/v1/teams/{team['id']}/members", {"user_ids": [me["user_id"]]})[0] == 200
    status, channel = http(
        stack,
        "POST",
        "/v1/channels",
        {
            "name": "bench-queue",
            "type": "two_way",
            "sender": "+3197010000098",
            "provider": "sandbox",
            "queue": {"strategy": "round_robin"},
        },
    )
    assert status in (200, 201), channel
    assert http(stack, "PUT", f"/v1/channels/{channel['id']}/teams", {"team_ids": [team["id"]]})[0] == 200
    users_repo.set_available(me["user_id"], False)
    ch = channels.get_channel(channel["id"])
    sms = InboundSms(
        provider="sandbox",
        provider_id=f"SBXIN{uuid.uuid4().hex}",
        **{"from": "+31612349950"},
        to=ch.sender,
        text="waiting",
        received_at=dt.datetime.now(dt.UTC),
    )
    conv = conversations.record_inbound(ch, sms).conversation
    users_repo.set_available(me["user_id"], True)  # no dispatch: the scenario below does it
    with counting() as c:
        _local.label = "dispatch"
        try:
            assigned = queueing.dispatch(ch.id, now=dt.datetime.now(dt.UTC))
        finally:
            _local.label = None
    assert assigned == {conv.id: me["user_id"]}
    return [_row("assignment (dispatch one waiting conversation, round robin, 1 agent)", c, {"dispatch"})]


def _overflow_scenarios(stack: Any) -> list[Row]:
    """Max interactions in queue (issue 6): a manual channel with ``max_in_queue`` 1 and one conversation
    waiting. Counted: an inbound that waits outside the full queue (webhooks + inbound), and closing the
    waiting one, which admits the one outside into the queue (api)."""
    status, channel = http(
        stack,
        "POST",
        "/v1/channels",
        {
            "name": "bench-overflow",
            "type": "two_way",
            "sender": "+3197010000097",
            "provider": "sandbox",
            "queue": {"strategy": "manual", "max_in_queue": 1},
        },
    )
    if status not in (200, 201):
        return []
    _inbound_and_wait(stack, channel, "+31612349960", "first: waits in the queue")
    with counting() as outside:
        _inbound_and_wait(stack, channel, "+31612349961", "second: waits outside")
    _, page = http(stack, "GET", f"/v1/conversations?view=unassigned&channel_id={channel['id']}")
    by_number = {c["number"]: c for c in page["items"]}
    first, second = by_number["+31612349960"], by_number["+31612349961"]
    assert first["enqueued_at"] and second["overflow_at"] and not second["enqueued_at"], page
    with counting() as admit:
        assert http(stack, "POST", f"/v1/conversations/{first['id']}/close")[0] == 200
    _, after = http(stack, "GET", f"/v1/conversations/{second['id']}")
    assert after["enqueued_at"], after
    return [
        _row("inbound SMS into a full queue: waits outside (webhooks + inbound)", outside, {"webhooks", "inbound"}),
        _row("close a waiting conversation, admitting the oldest from outside (api)", admit, {"api:POST"}),
    ]


#: Filled by :func:`run`: (timer path, timers, median ms, max ms) — end-to-end lateness of the action.
TIMER_LATENESS: list[tuple[str, int, float, float]] = []


def timer_lateness(stack: Any, n: int = 8) -> list[tuple[str, int, float, float]]:
    """Lateness (action run − due) of ``n`` SQS-delay timers and ``n`` Scheduler timers (a ``now`` 20
    minutes back makes them "long" without waiting), due 1–4 s ahead, through the real timers queue and
    function; plus the schedule driver's own lateness (due → message sent) from the invocation log."""
    import datetime as dt
    import statistics
    import uuid

    from smsdesk.inbox import timers
    from smsdesk.models import utcnow

    fired: dict[str, float] = {}
    timers.ACTIONS["bench_probe"] = lambda t: fired.setdefault(t.target_id, time.time())
    due: dict[str, tuple[str, float]] = {}
    since = stack.invocations.last_seq
    now = utcnow()
    for i in range(n):
        for path, shift in (("sqs", 0), ("scheduler", 20)):
            target = f"{path}-{uuid.uuid4().hex}"
            at = now + dt.timedelta(seconds=1 + 3 * i / n)
            timers.schedule("bench_probe", target, at, now=now - dt.timedelta(minutes=shift))
            due[target] = (path, at.timestamp())
    wait_until(lambda: len(fired) >= len(due), timeout=15)
    rows = []
    for path in ("sqs", "scheduler"):
        late = [(fired[t] - d) * 1000 for t, (p, d) in due.items() if p == path and t in fired]
        if late:
            rows.append((f"{path} timer → action", len(late), statistics.median(late), max(late)))
    driver = [e["lateness_ms"] for e in stack.invocations.entries(kind="schedule", since=since)]
    if driver:
        rows.append(("schedule driver (due → SQS)", len(driver), statistics.median(driver), max(driver)))
    timers.ACTIONS.pop("bench_probe", None)
    return rows


def run() -> list[Row]:
    import tempfile

    _install()
    from smsdesk.local.stack import LocalStack

    with tempfile.TemporaryDirectory() as tmp, LocalStack(port=0, local_json=f"{tmp}/local.json") as stack:
        rows = scenarios(stack)
        TIMER_LATENESS[:] = timer_lateness(stack)
        return rows


if __name__ == "__main__":
    for name, total, by_api in run():
        print(f"{name}: {total} {by_api}")
