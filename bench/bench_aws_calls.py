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
    rows.extend(_inbound_scenarios(stack))
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
            "delivery receipts for it (webhooks + receipts, sandbox sends sent+delivered)", c, {"webhooks", "receipts"}
        ),
        _row("bus events it caused (notifier)", c, {"notifier"}),
    ]


def _send_and_wait(stack: Any, channel_id: str) -> dict[str, Any]:
    status, msg = http(stack, "POST", "/v1/messages", {"channel_id": channel_id, "to": "+31612345678", "text": "hi"})
    assert status == 202, msg
    final: dict[str, Any] = {}

    def delivered() -> bool:
        _, m = http(stack, "GET", f"/v1/messages/{msg['id']}")
        final.update(m)
        return m.get("status") in ("delivered", "failed", "undelivered")

    wait_until(delivered)
    time.sleep(1.0)  # let trailing receipts and bus events finish inside the counting window
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


def run() -> list[Row]:
    import tempfile

    _install()
    from smsdesk.local.stack import LocalStack

    with tempfile.TemporaryDirectory() as tmp, LocalStack(port=0, local_json=f"{tmp}/local.json") as stack:
        return scenarios(stack)


if __name__ == "__main__":
    for name, total, by_api in run():
        print(f"{name}: {total} {by_api}")
