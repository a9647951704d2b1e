"""Bots (issue 15) on the local stack: AWS calls per bot step and the lateness of an ``ask`` timeout.

Calls are counted per function as in ``bench_aws_calls`` (only calls made inside handler invocations;
the inbound is filed in-process, so it is not counted). A step's own calls are the ``bots`` (or, for a
timeout, ``timers``) function's; the messages it sends then cost what any message costs in the send
pipeline (the ``outbox`` and ``sender`` rows of the AWS-calls table).
"""

from __future__ import annotations

import collections
import datetime as dt
import statistics
import tempfile
import uuid
from typing import Any

try:
    import bench_aws_calls as calls
except ImportError:  # pragma: no cover - run as bench.bench_bots
    from bench import bench_aws_calls as calls  # type: ignore[no-redef]

ORDER = [
    {"id": "hi", "type": "send", "text": "Thanks for your message.", "next": "order"},
    {
        "id": "order",
        "type": "ask",
        "text": "Your order number?",
        "save_to": "order_no",
        "next": "humans",
        "timeout_s": 600,
    },
    {"id": "humans", "type": "handoff"},
]
LATE = [
    {"id": "q", "type": "ask", "text": "Yes?", "choices": [{"keywords": ["yes"], "next": "h"}], "timeout_s": 1},
    {"id": "h", "type": "handoff"},
]


def _channel(stack: Any, bot_id: str) -> str:
    status, ch = calls.http(
        stack,
        "POST",
        "/v1/channels",
        {
            "name": f"bench-bots-{uuid.uuid4().hex[:6]}",
            "type": "two_way",
            "sender": f"+3166{uuid.uuid4().int % 10**7:07d}",
            "provider": "sandbox",
            "bot_on_start": bot_id,
        },
    )
    assert status == 201, ch
    return ch["id"]


def _bot(stack: Any, steps: list[dict[str, Any]]) -> str:
    status, bot = calls.http(
        stack, "POST", "/v1/bots", {"name": f"bench-{uuid.uuid4().hex[:6]}", "flow": {"steps": steps}}
    )
    assert status == 201, bot
    return bot["id"]


def _inbound(channel_id: str, number: str, text: str) -> str:
    from smsdesk import channels
    from smsdesk.inbox import conversations
    from smsdesk.models import InboundSms, utcnow

    ch = channels.get_channel(channel_id)
    sms = InboundSms(
        provider="sandbox",
        provider_id=f"SBXIN{uuid.uuid4().hex}",
        **{"from": number},
        to=ch.sender,
        text=text,
        received_at=utcnow(),
    )
    return conversations.record_inbound(ch, sms).conversation.id


def _runs(stack: Any, conv_id: str) -> list[dict[str, Any]]:
    return calls.http(stack, "GET", f"/v1/conversations/{conv_id}/bot-runs")[1]["items"]


def _by_function(counter: collections.Counter[tuple[str, str]]) -> dict[str, int]:
    out: dict[str, int] = collections.Counter()
    for (label, api), n in counter.items():
        if label.split(":")[0] != "api":  # the bench's own polling GETs
            out[f"{label.split(':')[0]} {api}"] += n
    return dict(out)


def run(lateness_runs: int = 5) -> list[str]:
    calls._install()
    from smsdesk.local.stack import LocalStack

    lines = ["## Bots on the local stack (`bench/bench_bots.py`)\n"]
    with tempfile.TemporaryDirectory() as tmp, LocalStack(port=0, local_json=f"{tmp}/local.json") as stack:
        calls.http(stack, "POST", "/v1/credits/top-ups", {"credits": 1000, "reference": "bench-bots"})
        calls.http(stack, "POST", "/v1/contact-fields", {"key": "order_no", "label": "Order", "type": "text"})
        channel_id = _channel(stack, _bot(stack, ORDER))
        number = f"+3162{uuid.uuid4().int % 10**7:07d}"
        rows = []
        with calls.counting() as c:
            conv_id = _inbound(channel_id, number, "hello")
            calls.wait_until(lambda: len(_runs(stack, conv_id)) == 1 and _runs(stack, conv_id)[0]["sent"] == 2)
            stack.wait_streams()
        rows.append(("start: send + ask (2 messages, ask timer armed)", c))
        with calls.counting() as c:
            _inbound(channel_id, number, "A-1")
            calls.wait_until(lambda: _runs(stack, conv_id)[0]["status"] == "done")
            stack.wait_streams()
        rows.append(("answer: field saved, handoff into the queue", c))
        lines.append(
            "| bot step | bots fn calls | all functions (but the API) | by function and API |\n|---|---:|---:|---|"
        )
        for name, counter in rows:
            by = _by_function(counter)
            bots = sum(n for k, n in by.items() if k.startswith("bots "))
            detail = ", ".join(f"{k} ×{v}" for k, v in sorted(by.items()))
            lines.append(f"| {name} | {bots} | {sum(by.values())} | {detail} |")
        lines.append("")
        # ask timeouts: question → timeout step, minus the 1 s asked for
        late_bot = _bot(stack, LATE)
        late_channel = _channel(stack, late_bot)
        convs = [_inbound(late_channel, f"+3162{uuid.uuid4().int % 10**7:07d}", "hi") for _ in range(lateness_runs)]
        calls.wait_until(
            lambda: all(_runs(stack, cid) and _runs(stack, cid)[0]["status"] == "done" for cid in convs), 30
        )
        late_ms = []
        for cid in convs:
            t = _runs(stack, cid)[0]["transcript"]
            asked, timed = (dt.datetime.fromisoformat(t[i]["at"]) for i in (1, 2))
            late_ms.append(((timed - asked).total_seconds() - 1) * 1000)
        lines.append("| ask timeout (1 s) | runs | median lateness ms | max ms |\n|---|---:|---:|---:|")
        lines.append(
            f"| SQS delay → timers → bot step | {len(late_ms)} | {statistics.median(late_ms):.0f} | {max(late_ms):.0f} |"
        )
        lines.append("")
    return lines


if __name__ == "__main__":
    print("\n".join(run()))
