"""The local stack's sustained send rate: messages accepted by the API and delivered (sandbox receipts
applied) per second, on a small table and again after the table has grown.

``n`` messages go to ``POST /v1/messages`` from ``clients`` threads at once (a channel with a high
limit, so the limiter is not what is measured); the rate is ``n`` / (time from the first accept to the
last ``delivered``). Then ``filler`` unrelated items are written straight into the table
(``BatchWriteItem``, not the API) and the same batch runs again: a rate that falls as the table grows means some path costs
more per item of table (moto's transaction copy did).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
import urllib.request
from typing import Any


def _http(stack: Any, method: str, path: str, body: Any = None) -> Any:
    req = urllib.request.Request(
        stack.base_url + path,
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"authorization": f"Bearer {stack.token}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=60) as resp:
        return json.loads(resp.read() or b"null")


def _statuses(ids: list[str]) -> dict[str, str]:
    from smsdesk import aws, config
    from smsdesk.data import table

    out: dict[str, str] = {}
    for i in range(0, len(ids), 100):
        keys = [table.key(f"MSG#{m}", "META") for m in ids[i : i + 100]]
        # only what is counted: reading whole messages every poll cost the stack measurable CPU
        request = {"Keys": keys, "ProjectionExpression": "id, #s", "ExpressionAttributeNames": {"#s": "status"}}
        resp = aws.dynamodb().batch_get_item(RequestItems={config.table_name(): request})
        for item in resp["Responses"].get(config.table_name(), []):
            out[item["id"]["S"]] = item["status"]["S"]
    return out


def _fill(n: int) -> None:
    from smsdesk import aws, config

    client = aws.dynamodb()
    for start in range(0, n, 25):
        batch = [
            {"PutRequest": {"Item": {"PK": {"S": f"FILL#{start + i}"}, "SK": {"S": "X"}, "pad": {"S": "x" * 200}}}}
            for i in range(min(25, n - start))
        ]
        client.batch_write_item(RequestItems={config.table_name(): batch})


def _table_items() -> int:
    from smsdesk import aws, config

    # moto counts the items on every DescribeTable (DynamoDB itself updates ItemCount every ~6 h)
    return int(aws.dynamodb().describe_table(TableName=config.table_name())["Table"]["ItemCount"])


def measure(stack: Any, channel_id: str, n: int, clients: int, timeout_s: float = 600, progress: bool = False) -> float:
    ids: list[str] = []
    lock = threading.Lock()
    numbers = iter(range(n))

    def client() -> None:
        for i in numbers:
            msg = _http(stack, "POST", "/v1/messages", {"channel_id": channel_id, "to": f"+3161{i:06d}5", "text": "x"})
            with lock:
                ids.append(msg["id"])

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    deadline = time.monotonic() + timeout_s
    if len(ids) != n:
        raise RuntimeError(f"only {len(ids)} of {n} sends were accepted")
    pending = list(ids)
    last_report = 0.0
    while time.monotonic() < deadline:
        # A delivered message stays delivered: ask only about the others, and only about the oldest 100
        # of them until those are done (reading every pending status 4 times a second cost the stack
        # a tenth of moto's CPU at 1,000 messages: the measurement slowed what it measured).
        statuses = _statuses(pending[:100])
        done = {m for m, s in statuses.items() if s == "delivered"}
        pending = [m for m in pending if m not in done]
        if not pending:
            return n / (time.perf_counter() - t0)
        if progress and time.perf_counter() - last_report >= 1.0:
            last_report = time.perf_counter()
            print(f"  {last_report - t0:6.1f}s {n - len(pending)} delivered", file=sys.stderr, flush=True)
        if len(done) < min(100, len(statuses)):
            time.sleep(0.25)
    raise RuntimeError("not all delivered in time")


def run(n: int = 300, filler: int = 20_000, clients: int = 8, progress: bool = False) -> list[tuple[int, int, float]]:
    """``[(table items before, messages, delivered per second), ...]`` for the small and the grown table."""
    from smsdesk.local.stack import LocalStack

    rows = []
    with tempfile.TemporaryDirectory() as tmp, LocalStack(port=0, local_json=f"{tmp}/local.json") as stack:
        body = {"name": "rate", "type": "one_way", "sender": "Rate", "provider": "sandbox", "throughput_mps": 1000}
        channel = _http(stack, "POST", "/v1/channels", body)
        _http(stack, "POST", "/v1/credits/top-ups", {"credits": 4 * n, "reference": "bench"})
        with stack.configure("sender", SANDBOX_RECEIPT_DELAY_S="0"):
            for fill in (0, filler):
                _fill(fill)
                size = _table_items()
                rows.append((size, n, measure(stack, channel["id"], n, clients, progress=progress)))
    return rows


if __name__ == "__main__":
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    filler = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
    for size, count, rate in run(n, filler, progress=True):
        print(f"table {size:>7} items: {count} messages delivered at {rate:.1f} msg/s")
