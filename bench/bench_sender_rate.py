"""The sender's achieved rate against a channel's limit under a backlog, on the local stack.

A channel limited to ``mps`` messages per second gets a backlog of ``n`` messages at once; the
achieved rate is (n - 1) / (last "sending" time - first "sending" time), read from the messages'
status histories, and reported as a ratio of the limit (1.00 = exactly the limit; > 1 would mean
the limiter lets bursts through). The local stack runs one poller per queue and every moto call
costs tens of milliseconds, so limits above ~1.5/s measure the laptop rather than the limiter; the
unit test ``test_sender_achieves_the_limit_under_a_backlog`` covers higher rates with a clock.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import statistics
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from typing import Any


def _http(stack: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    req = urllib.request.Request(
        stack.base_url + path,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"authorization": f"Bearer {stack.token}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=15) as resp:
        return resp.status, json.loads(resp.read() or b"null")


def measure(stack: Any, mps: float, n: int) -> tuple[float, float]:
    _, channel = _http(
        stack,
        "POST",
        "/v1/channels",
        {"name": f"rate {mps}", "type": "one_way", "sender": "RateBench", "provider": "sandbox", "throughput_mps": mps},
    )
    _http(stack, "POST", "/v1/credits/top-ups", {"credits": n, "reference": "bench"})
    ids = [
        _http(
            stack, "POST", "/v1/messages", {"channel_id": channel["id"], "to": f"+3161234{i + 1000:04d}", "text": "x"}
        )[1]["id"]
        for i in range(n)
    ]
    deadline = time.monotonic() + n / mps + 30
    while time.monotonic() < deadline:
        msgs = [_http(stack, "GET", f"/v1/messages/{i}")[1] for i in ids]
        if all(m["status"] in ("sent", "delivered") for m in msgs):
            break
        time.sleep(0.5)
    else:
        raise RuntimeError("backlog not drained in time")
    sending = sorted(
        dt.datetime.fromisoformat(h["at"]).timestamp() for m in msgs for h in m["history"] if h["status"] == "sending"
    )
    achieved = (len(sending) - 1) / (sending[-1] - sending[0])
    return achieved, achieved / mps


def run(cases: tuple[tuple[float, int], ...] = ((1.0, 12), (0.5, 7))) -> list[tuple[float, int, float, float]]:
    from smsdesk.local.stack import LocalStack

    rows = []
    with tempfile.TemporaryDirectory() as tmp, LocalStack(port=0, local_json=f"{tmp}/local.json") as stack:
        for mps, n in cases:
            achieved, ratio = measure(stack, mps, n)
            rows.append((mps, n, achieved, ratio))
    return rows


# -- bulk and replies mixed (issue 14) ------------------------------------------------------------------


@dataclass
class Mixed:
    """A campaign backlog on a channel limited to ``mps`` with single sends ("replies") in between."""

    mps: float
    recipients: int
    replies: int
    every_s: float
    achieved: float  # every message of the channel, (n - 1) / (last slot - first slot)
    reply_waits: list[float]  # accept → ``sent`` (the provider has it), seconds
    bulk_waits: list[float]  # queued by the fan-out → ``sent``, seconds
    overtaken: int  # campaign messages queued before a reply and sent after it (summed over the replies)
    load: float = 0.0  # the machine's 1-minute load average when it started
    unsent: int = 0  # messages that ended without being sent (failed, expired): not in the waits

    @property
    def ratio(self) -> float:
        return self.achieved / self.mps


#: The status a message ends in without ever having been ``sent`` (refused, expired, out of attempts).
FINAL_UNSENT = ("failed",)


def _sending_at(m: dict[str, Any], status: str = "sending") -> float | None:
    at = next((h["at"] for h in m["history"] if h["status"] == status), None)
    return dt.datetime.fromisoformat(at).timestamp() if at else None


def _sent_at(m: dict[str, Any]) -> float | None:
    """When the provider had it: ``sent``, or the receipt that got there first (a ``delivered`` receipt
    may be applied before the sender's ``sent`` write, which then changes nothing)."""
    at = next((h["at"] for h in m["history"] if h["status"] in ("sent", "delivered", "undelivered")), None)
    return dt.datetime.fromisoformat(at).timestamp() if at else None


def _channel_messages(stack: Any, channel_id: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = _http(
            stack, "GET", f"/v1/messages?channel_id={channel_id}&limit=100" + (f"&cursor={cursor}" if cursor else "")
        )[1]
        out.extend(page["items"])
        cursor = page.get("cursor")
        if not cursor:
            return out


def mixed_measure(
    stack: Any, mps: float = 2.0, recipients: int = 30, replies: int = 4, every_s: float = 3.0, tag: int = 0
) -> Mixed:
    """Launch a campaign of ``recipients`` numbers on a channel limited to ``mps`` (a backlog of
    ``recipients / mps`` seconds), then send ``replies`` single messages to other numbers every
    ``every_s`` seconds while it runs; wait until every message is ``sent``. ``tag`` (0-9) keeps the
    channel and numbers of several measurements on one stack apart."""
    load = os.getloadavg()[0]
    body = {"name": f"mixed {mps} {tag}", "type": "two_way", "sender": f"+319701000099{tag}", "provider": "sandbox"}
    _, channel = _http(stack, "POST", "/v1/channels", {**body, "throughput_mps": mps})
    _http(stack, "POST", "/v1/credits/top-ups", {"credits": recipients + replies, "reference": "mixed"})
    numbers = [f"+3163099{tag}{i + 2:03d}" for i in range(recipients)]
    spec = {"title": "Mixed", "channel_id": channel["id"], "text": "Bulk news", "audience": {"numbers": numbers}}
    _, campaign = _http(stack, "POST", "/v1/campaigns", spec)
    status, launched = _http(stack, "POST", f"/v1/campaigns/{campaign['id']}/launch", {})
    assert status == 200 and launched["status"] == "running", launched
    reply_ids = []
    for i in range(replies):
        time.sleep(every_s)
        single = {"channel_id": channel["id"], "to": f"+316409{tag}{i + 2:04d}", "text": "Your answer"}
        reply_ids.append(_http(stack, "POST", "/v1/messages", single)[1]["id"])
    deadline = time.monotonic() + (recipients + replies) / mps + 120
    while True:
        msgs = _channel_messages(stack, channel["id"])
        if len(msgs) == recipients + replies and all(_sent_at(m) or m["status"] in FINAL_UNSENT for m in msgs):
            break
        if time.monotonic() > deadline:
            stuck = [
                (m["id"], m["status"], [h["status"] for h in m["history"]])
                for m in msgs
                if not _sent_at(m) and m["status"] not in FINAL_UNSENT
            ]
            raise RuntimeError(f"mixed backlog not drained: {len(msgs)} messages, not sent: {stuck}")
        time.sleep(1.0)
    slots = sorted(t for m in msgs if (t := _sending_at(m)) is not None)
    created = {m["id"]: dt.datetime.fromisoformat(m["created_at"]).timestamp() for m in msgs}
    mine = [m for m in msgs if m["id"] in reply_ids]
    bulk = [m for m in msgs if m.get("campaign_id") == campaign["id"]]
    overtaken = sum(
        1
        for r in mine
        for b in bulk
        if created[b["id"]] < created[r["id"]] and (_sending_at(b) or 0) > (_sending_at(r) or 0)
    )
    return Mixed(
        mps=mps,
        recipients=recipients,
        replies=replies,
        every_s=every_s,
        achieved=(len(slots) - 1) / (slots[-1] - slots[0]),
        reply_waits=[t - created[m["id"]] for m in mine if (t := _sent_at(m))],
        bulk_waits=[t - created[m["id"]] for m in bulk if (t := _sent_at(m))],
        unsent=sum(1 for m in msgs if not _sent_at(m)),
        overtaken=overtaken,
        load=load,
    )


def run_mixed(mps: float = 2.0, recipients: int = 30, replies: int = 4, every_s: float = 3.0) -> list[Mixed]:
    """The campaign alone, then the same campaign with the replies mixed in (a fresh channel each)."""
    from smsdesk.local.stack import LocalStack

    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalStack(port=0, local_json=f"{tmp}/local.json") as stack,
        stack.configure("sender", SENDER_BACKOFF_BASE_S="0", SANDBOX_RECEIPT_DELAY_S="0.1"),
    ):
        return [mixed_measure(stack, mps, recipients, n, every_s, tag=tag) for tag, n in enumerate((0, replies))]


def _waits(waits: list[float]) -> str:
    return f"{statistics.median(waits):.2f} / {max(waits):.2f}" if waits else "–"


def mixed_lines(rows: list[Mixed]) -> list[str]:
    """The Markdown subsection for ``rows`` (the campaign alone, then with replies)."""
    m = rows[-1]
    lines = [
        "### Bulk and replies mixed (`bench_sender_rate.mixed_measure`)\n",
        f"A campaign of {m.recipients} numbers on a sandbox channel limited to {m.mps:g} msg/s (a"
        f" {m.recipients / m.mps:.0f} s backlog, fanned out in paced waves) alone, then again on a fresh channel"
        f' with {m.replies} single sends ("replies") to other numbers meanwhile, one every {m.every_s:g} s.'
        " Achieved: all of the channel's messages, (n − 1) ÷ (last − first send slot); waits: accept (a reply)"
        " or queued by the fan-out (a campaign message, including the spread the fan-out gives a wave on"
        " purpose) → `sent` (the provider has it). Load average when each started:"
        f" {', '.join(f'{r.load:.1f}' for r in rows)} on {os.cpu_count()} cores (the local stack's own latency"
        " grows with it and shows as a lower ratio).\n",
        "| limit msg/s | campaign + replies | achieved msg/s | achieved ÷ limit | reply wait median / max s"
        " | campaign wait median / max s | campaign messages overtaken by the replies |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    unsent = sum(r.unsent for r in rows)
    if unsent:
        lines[1] = (
            lines[1].rstrip("\n") + f" {unsent} message(s) ended `failed` without being sent: not in the waits.\n"
        )
    for r in rows:
        lines.append(
            f"| {r.mps:g} | {r.recipients} + {r.replies} | {r.achieved:.3f} | {r.ratio:.2f} |"
            f" {_waits(r.reply_waits)} | {_waits(r.bulk_waits)} | {r.overtaken if r.replies else '–'} |"
        )
    return [*lines, ""]


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["mixed"]:
        print("\n".join(mixed_lines(run_mixed(*(float(a) for a in sys.argv[2:3])))))
    else:
        for mps, n, achieved, ratio in run():
            print(f"limit {mps}/s, backlog {n}: achieved {achieved:.3f}/s, ratio {ratio:.2f}")
