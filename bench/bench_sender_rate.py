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
import tempfile
import time
import urllib.request
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


if __name__ == "__main__":
    for mps, n, achieved, ratio in run():
        print(f"limit {mps}/s, backlog {n}: achieved {achieved:.3f}/s, ratio {ratio:.2f}")
