"""Cost per delivered message: AWS calls, DynamoDB capacity units and $ per million, on the local stack.

Measured (a handful of one-segment sends through the local stack, after one warm-up send):

* every AWS call a handler makes (``botocore`` intercepted; calls outside an invocation, i.e. the local
  runtime's own polling and this script's reads, are not ours and not counted), per function;
* DynamoDB write/read units of each call, from the sizes of the items it touched (moto's
  ``ReturnConsumedCapacity`` answers a constant, so the units are computed here, ``cost_model``): for a
  write the item is read (outside the count) before and after it, so the larger of the two, the GSIs
  it enters, leaves or changes, and the ×2 of transactions are all priced; for a read the full items it
  read (a projection or filter does not reduce what DynamoDB bills);
* SQS payload chunks, EventBridge entries (per 64 KB), Scheduler schedules, Secrets Manager calls;
* each function's invocations and handler duration (the invocation log), × its manifest memory = GB-s.

Modelled (stated in the report): API Gateway requests (one per HTTP invocation), the SQS event source
mapping's ReceiveMessage + DeleteMessageBatch (two requests per batch; empty polls left out) and
batch sizes (1 for sporadic single sends, 10 for a backlog).

The campaign recipient is measured too (:func:`measure_campaign`): a real campaign of ``recipients``
contacts from a group, launched through the API, every call and invocation of its run as it happened.

The sandbox carrier's own bookkeeping (``SANDBOX#`` items the sandbox connector writes inside the
sender, standing in for the provider's systems) is excluded from the cost and shown apart.
"""

from __future__ import annotations

import collections
import json
import math
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import botocore.client
from botocore.exceptions import ClientError

try:  # imported as ``bench.cost_model`` by tests, as ``cost_model`` by bench/run.py
    from bench import cost_model as cm
    from bench.bench_aws_calls import http
except ImportError:  # pragma: no cover
    import cost_model as cm  # type: ignore[no-redef]
    from bench_aws_calls import http  # type: ignore[no-redef]

#: Records per SQS batch for a backlog (the manifest's batch_size for outbound and receipts).
FULL_BATCH = 10
#: Per-call latency assumed for the "AWS-latency" GB-s estimate (same-region DynamoDB/SQS/EventBridge).
AWS_CALL_MS = 10.0

#: The measured message's text: a short one-segment code. ``--chars 160`` measures a full segment (an item
#: past 1 KB costs 2 write units per write, so the text's length shows in the WRU).
TEXT = "Your code is 1234"

#: Recipients of the measured campaign (``--campaign-recipients``); the warm-up campaign's before it.
CAMPAIGN_RECIPIENTS = 150
WARMUP_RECIPIENTS = 5
#: The measured campaign's channel limit: high, so one wave (``mps × CAMPAIGN_WAVE_S`` rows) holds the
#: whole audience and the local stack's own speed, not the limiter, sets the pace.
CAMPAIGN_MPS = 1000.0
CAMPAIGN_TEXT = "Hi {{first_name|there}}, training moves to 18:00"

#: Targets (issue 11), USD per million messages on on-demand DynamoDB, provider fees excluded.
TARGET_SINGLE = 10.0
TARGET_CAMPAIGN = 4.0

#: $ per million by service at the start of issue 11 (main at 3231af9: 27 calls, 25 WRU, 12 RRU per
#: single send; ``python bench/bench_cost.py -n 5 --baseline``), shown next to what this run measures.
BASELINE: dict[str, dict[str, float]] = {
    "single_1": {
        "Lambda requests": 2.00,
        "Lambda GB-s": 2.19,
        "DynamoDB writes": 15.63,
        "DynamoDB reads": 1.50,
        "SQS": 3.60,
        "EventBridge": 4.00,
        "API Gateway": 3.00,
    },
    "campaign": {
        "Lambda requests": 1.26,
        "Lambda GB-s": 2.18,
        "DynamoDB writes": 15.63,
        "DynamoDB reads": 1.44,
        "SQS": 1.09,
        "EventBridge": 4.00,
        "API Gateway": 2.00,
    },
}

# --------------------------------------------------------------------------------------------------
# Interception
# --------------------------------------------------------------------------------------------------


@dataclass
class Call:
    function: str
    api: str  # service:Operation
    calls: int = 1
    wru_table: float = 0.0
    wru_index: float = 0.0
    rru: float = 0.0
    sqs_requests: float = 0.0
    events: float = 0.0
    scheduler: float = 0.0
    secrets: float = 0.0
    #: A read whose key names the recipient's number (stays per recipient when a campaign batches reads).
    per_recipient: bool = False
    #: The sandbox carrier's bookkeeping: excluded from the cost.
    carrier: bool = False
    #: Done once per SQS batch (the sender's rate-limit reservation, ``ratelimit.reserve_many``) or
    #: per stream batch (the outbox's PutEvents / SendMessageBatch): spread over the batch's messages.
    per_batch: bool = False
    #: Entries of a PutEvents / SendMessageBatch call (≤ 10 per call when batches are full).
    entries: int = 0
    ms: float = 0.0
    cpu_ms: float = 0.0  # the calling thread's CPU time in the call (botocore's side)
    #: How the invocation making the call was triggered ("http", "sqs", "stream", "bus"; "" unknown).
    trigger: str = ""
    #: The invocation's route, queue, stream or rule (a function fed by two queues: which one).
    source: str = ""


@dataclass
class Invocation:
    """One handler invocation seen while the meter was active."""

    function: str
    trigger: str  # "http", "sqs", "stream", "bus"
    source: str  # the route, queue, stream or rule
    records: int
    ms: float  # handler wall time net of this script's own reads


@dataclass
class Meter:
    """Counts what handlers call while :attr:`active`; extra reads it makes itself are not counted."""

    raw: Any  # a DynamoDB client without the local stack's hooks, for before/after reads
    tables: dict[str, tuple[tuple[str, ...], tuple[cm.Index, ...]]]  # physical -> (key attrs, GSIs)
    recipient: str = ""
    active: bool = False
    calls: list[Call] = field(default_factory=list)
    overhead_ms: collections.Counter[str] = field(default_factory=collections.Counter)
    overhead_cpu_ms: collections.Counter[str] = field(default_factory=collections.Counter)
    #: function -> the invoking threads' CPU ms while its handler ran
    cpu_ms: collections.Counter[str] = field(default_factory=collections.Counter)
    #: every invocation while active, net of this script's own work in it (not bounded like the stack's log)
    invocations: list[Invocation] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _tl: threading.local = field(default_factory=threading.local)

    # -- installation ------------------------------------------------------------------------------

    def install(self) -> Callable[[], None]:
        from smsdesk.local.isolation import current_function

        original = botocore.client.BaseClient._make_api_call
        meter = self

        def metered(client: Any, operation: str, params: Any) -> Any:
            fn = current_function()
            if not meter.active or fn is None or getattr(meter._tl, "inner", False):
                return original(client, operation, params)
            return meter._call(fn, client, operation, params, lambda: original(client, operation, params))

        botocore.client.BaseClient._make_api_call = metered

        from smsdesk.local.functions import FunctionRegistry

        invoke = FunctionRegistry.invoke

        def timed(registry: Any, fn: Any, event: Any, *, trigger: str, source: str) -> Any:
            c0, t0 = time.thread_time(), time.perf_counter()
            outer = getattr(meter._tl, "trigger", None), getattr(meter._tl, "overhead_ms", 0.0)
            outer_source = getattr(meter._tl, "source", None)
            meter._tl.trigger, meter._tl.overhead_ms, meter._tl.source = trigger, 0.0, source
            try:
                return invoke(registry, fn, event, trigger=trigger, source=source)
            finally:
                if meter.active:
                    records = len(event.get("Records", [])) if trigger in ("sqs", "stream") else 1
                    ms = max(0.0, (time.perf_counter() - t0) * 1000 - meter._tl.overhead_ms)
                    with meter._lock:
                        meter.cpu_ms[fn.name] += (time.thread_time() - c0) * 1000
                        meter.invocations.append(Invocation(fn.name, trigger, source, records, ms))
                meter._tl.trigger, meter._tl.overhead_ms = outer
                meter._tl.source = outer_source

        FunctionRegistry.invoke = timed  # type: ignore[method-assign]

        def uninstall() -> None:
            botocore.client.BaseClient._make_api_call = original
            FunctionRegistry.invoke = invoke  # type: ignore[method-assign]

        return uninstall

    # -- one call ----------------------------------------------------------------------------------

    def _call(self, fn: str, client: Any, operation: str, params: dict[str, Any], run: Callable[[], Any]) -> Any:
        wall0, cpu0 = time.perf_counter(), time.thread_time()
        service = client.meta.service_model.service_name
        call = Call(
            fn,
            f"{service}:{operation}",
            trigger=getattr(self._tl, "trigger", None) or "",
            source=getattr(self._tl, "source", None) or "",
        )
        text = json.dumps(params, default=str)
        call.carrier = service == "dynamodb" and "SANDBOX#" in text
        call.per_batch = (service == "dynamodb" and "RATE#" in text) or (
            fn == "outbox" and operation in ("PutEvents", "SendMessageBatch", "BatchWriteItem")
        )
        call.entries = len(params.get("Entries") or []) or sum(
            len(v) for v in (params.get("RequestItems") or {}).values()
        )
        call.per_recipient = bool(self.recipient) and self.recipient in text
        try:
            if service == "dynamodb":
                return self._dynamodb(fn, call, operation, params, run)
            return self._other(call, service, operation, params, run)
        finally:
            wall, cpu = (time.perf_counter() - wall0) * 1000, (time.thread_time() - cpu0) * 1000
            with self._lock:
                self.calls.append(call)
                # what this script added around the call (item reads, sizes) is not the handler's time
                self.overhead_ms[fn] += max(0.0, wall - call.ms)
                self.overhead_cpu_ms[fn] += max(0.0, cpu - call.cpu_ms)
            self._tl.overhead_ms = getattr(self._tl, "overhead_ms", 0.0) + max(0.0, wall - call.ms)

    def _other(self, call: Call, service: str, operation: str, params: dict[str, Any], run: Callable[[], Any]) -> Any:
        t0, c0 = time.perf_counter(), time.thread_time()
        try:
            result = run()
        finally:
            call.ms, call.cpu_ms = (time.perf_counter() - t0) * 1000, (time.thread_time() - c0) * 1000
        if service == "sqs" and operation == "SendMessage":
            call.sqs_requests = cm.chunks(_sqs_size(params), cm.SQS_CHUNK_BYTES)
        elif service == "sqs" and operation == "SendMessageBatch":
            size = sum(_sqs_size(e) for e in params.get("Entries", []))
            call.sqs_requests = cm.chunks(size, cm.SQS_CHUNK_BYTES)
        elif service == "events" and operation == "PutEvents":
            call.events = sum(
                cm.chunks(len(json.dumps(e, default=str).encode()), cm.EVENT_CHUNK_BYTES)
                for e in params.get("Entries", [])
            )
        elif service == "scheduler" and operation == "CreateSchedule":
            call.scheduler = 1  # a one-time schedule fires (is billed) at most once
        elif service == "secretsmanager":
            call.secrets = 1
        return result

    def _dynamodb(self, fn: str, call: Call, operation: str, params: dict[str, Any], run: Callable[[], Any]) -> Any:
        writes = self._write_targets(operation, params)
        before = self._snapshot(fn, writes)
        t0, c0 = time.perf_counter(), time.thread_time()
        failed = False
        try:
            result = run()
        except ClientError as exc:
            failed = exc.response.get("Error", {}).get("Code") in (
                "ConditionalCheckFailedException",
                "TransactionCanceledException",
            )
            result = None
            if not failed:
                raise
            error: ClientError | None = exc
        else:
            error = None
        finally:
            call.ms, call.cpu_ms = (time.perf_counter() - t0) * 1000, (time.thread_time() - c0) * 1000
        if writes:
            after = self._snapshot(fn, writes) if not failed else before
            transactional = operation == "TransactWriteItems"
            for (table, _key, kind), old, new in zip(writes, before, after, strict=True):
                if kind == "ConditionCheck":  # priced as a transactional write of the item checked
                    u = cm.WriteUnits(2 * cm.units(cm.item_size(old), cm.WRITE_UNIT_BYTES), 0)
                else:
                    u = cm.write_units(
                        old, new, indexes=self.tables[table][1], transactional=transactional, applied=not failed
                    )
                call.wru_table += u.table
                call.wru_index += u.indexes
        elif result is not None or operation in ("GetItem", "BatchGetItem", "TransactGetItems"):
            call.rru = self._read_units(fn, operation, params, result or {})
        if error is not None:
            raise error
        return result

    def _write_targets(self, operation: str, params: dict[str, Any]) -> list[tuple[str, dict[str, Any], str]]:
        """(table, key, kind) of every item a write touches; [] for reads."""
        out: list[tuple[str, dict[str, Any], str]] = []
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            table = params["TableName"]
            out.append((table, self._key(table, params.get("Key") or params.get("Item") or {}), operation))
        elif operation == "BatchWriteItem":
            for table, requests in params.get("RequestItems", {}).items():
                for r in requests:
                    body = r.get("PutRequest", {}).get("Item") or r.get("DeleteRequest", {}).get("Key") or {}
                    out.append((table, self._key(table, body), "Put" if "PutRequest" in r else "Delete"))
        elif operation == "TransactWriteItems":
            for item in params.get("TransactItems", []):
                for kind, body in item.items():
                    table = body["TableName"]
                    out.append((table, self._key(table, body.get("Key") or body.get("Item") or {}), kind))
        return out

    def _key(self, table: str, item: dict[str, Any]) -> dict[str, Any]:
        return {k: item[k] for k in self.tables[table][0] if k in item}

    def _get(self, fn: str, table: str, key: dict[str, Any]) -> dict[str, Any] | None:
        self._tl.inner = True
        try:
            return self.raw.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
        finally:
            self._tl.inner = False

    def _snapshot(self, fn: str, writes: list[tuple[str, dict[str, Any], str]]) -> list[dict[str, Any] | None]:
        return [self._get(fn, table, key) for table, key, _ in writes]

    def _read_units(self, fn: str, operation: str, params: dict[str, Any], result: dict[str, Any]) -> float:
        if operation == "GetItem":
            item = result.get("Item")
            if "ProjectionExpression" in params:
                item = self._get(fn, params["TableName"], params["Key"])
            return cm.read_units(cm.item_size(item), consistent=bool(params.get("ConsistentRead")))
        if operation == "BatchGetItem":
            total = 0.0
            for table, spec in params.get("RequestItems", {}).items():
                for key in spec.get("Keys", []):
                    size = cm.item_size(self._get(fn, table, key))
                    total += cm.read_units(size, consistent=bool(spec.get("ConsistentRead")))
            return total
        if operation == "TransactGetItems":
            return sum(
                cm.read_units(
                    cm.item_size(self._get(fn, i["Get"]["TableName"], i["Get"]["Key"])),
                    consistent=True,
                    transactional=True,
                )
                for i in params.get("TransactItems", [])
            )
        if operation in ("Query", "Scan"):
            items = result.get("Items", [])
            if {"ProjectionExpression", "FilterExpression", "Select"} & params.keys():
                items = self._unfiltered(fn, operation, params)
            return cm.read_units(sum(cm.item_size(i) for i in items), consistent=bool(params.get("ConsistentRead")))
        return 0.0

    def _unfiltered(self, fn: str, operation: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        """The items a Query/Scan read before its filter and projection (what DynamoDB bills)."""
        keep = {k: v for k, v in params.items() if k not in ("ProjectionExpression", "FilterExpression", "Select")}
        used = " ".join(str(keep.get(k, "")) for k in ("KeyConditionExpression",))
        if "ExpressionAttributeNames" in keep:
            keep["ExpressionAttributeNames"] = {k: v for k, v in keep["ExpressionAttributeNames"].items() if k in used}
        if "ExpressionAttributeValues" in keep:
            keep["ExpressionAttributeValues"] = {
                k: v for k, v in keep["ExpressionAttributeValues"].items() if k in used
            }
        keep = {k: v for k, v in keep.items() if v != {}}
        self._tl.inner = True
        try:
            return getattr(self.raw, "query" if operation == "Query" else "scan")(**keep).get("Items", [])
        finally:
            self._tl.inner = False


def _sqs_size(params: dict[str, Any]) -> int:
    size = len(str(params.get("MessageBody", "")).encode())
    for name, attr in (params.get("MessageAttributes") or {}).items():
        size += len(name.encode()) + len(str(attr.get("DataType", ""))) + len(str(attr.get("StringValue", "")).encode())
    return size


# --------------------------------------------------------------------------------------------------
# The scenario
# --------------------------------------------------------------------------------------------------


@dataclass
class Measured:
    """Totals over ``messages`` delivered sends."""

    messages: int
    calls: list[Call]
    #: function -> (invocations, records, handler ms net of this script's own reads)
    invocations: dict[str, tuple[int, int, float]]
    #: function -> handler CPU ms (the invoking thread's, net of this script's work)
    cpu_ms: dict[str, float]
    #: HTTP invocations per function (API Gateway requests)
    http: collections.Counter[str]
    memory_mb: dict[str, int]


def _quiet(stack: Any, quiet_s: float = 0.8, timeout: float = 20.0) -> None:
    """Wait until no invocation has started or ended for ``quiet_s`` (trailing receipts, bus events)."""
    end = time.monotonic() + timeout
    last = stack.invocations.last_seq
    still = time.monotonic()
    while time.monotonic() < end:
        time.sleep(0.1)
        seq = stack.invocations.last_seq
        if seq != last:
            last, still = seq, time.monotonic()
        elif time.monotonic() - still >= quiet_s:
            return


def _send(stack: Any, channel_id: str, to: str) -> str:
    from smsdesk.sending import messages

    status, msg = http(stack, "POST", "/v1/messages", {"channel_id": channel_id, "to": to, "text": TEXT})
    assert status == 202, msg
    end = time.monotonic() + 20
    while time.monotonic() < end:  # read outside any invocation: not counted
        m = messages.get(msg["id"])
        if m is not None and m.status in ("delivered", "failed", "undelivered"):
            break
        time.sleep(0.1)
    _quiet(stack)
    final = messages.get(msg["id"])
    assert final is not None and final.status == "delivered", final
    return msg["id"]


def measure(stack: Any, n: int = 5, sender: str = "+31612345601") -> Measured:
    import boto3

    from smsdesk import manifest

    tables: dict[str, tuple[tuple[str, ...], tuple[cm.Index, ...]]] = {}
    for name, physical in stack.resources.tables.items():
        t = next(t for t in manifest.TABLES if t.name == name)
        tables[physical] = (
            tuple(k for k in (t.pk, t.sk) if k),
            tuple(cm.Index(g.pk, g.sk) for g in t.gsis),
        )
    raw = boto3.session.Session().client("dynamodb", endpoint_url=stack.endpoint, region_name=stack.region)
    recipient = "+31612345678"
    meter = Meter(raw=raw, tables=tables, recipient=recipient)
    uninstall = meter.install()
    try:
        status, channel = http(
            stack,
            "POST",
            "/v1/channels",
            {"name": "cost", "type": "two_way", "sender": sender, "provider": "sandbox", "throughput_mps": 50},
        )
        assert status in (200, 201), channel
        assert http(stack, "POST", "/v1/credits/top-ups", {"credits": 100, "reference": "cost"})[0] in (200, 201)
        _send(stack, channel["id"], recipient)  # warm-up: first clients, secret cache
        since = stack.invocations.last_seq
        meter.active = True
        for _ in range(n):
            _send(stack, channel["id"], recipient)
        meter.active = False
        entries = stack.invocations.entries(kind="invocation", since=since)
    finally:
        meter.active = False
        uninstall()
    inv: dict[str, list[float]] = collections.defaultdict(lambda: [0, 0, 0.0])
    http_calls: collections.Counter[str] = collections.Counter()
    for e in entries:
        row = inv[e["function"]]
        row[0] += 1
        row[1] += e["records"]
        row[2] += e["duration_ms"]
        if e["trigger"] == "http":
            http_calls[e["function"]] += 1
    invocations = {
        fn: (int(c), int(r), max(0.0, ms - meter.overhead_ms.get(fn, 0.0))) for fn, (c, r, ms) in inv.items()
    }
    return Measured(
        messages=n,
        calls=list(meter.calls),
        invocations=invocations,
        cpu_ms={fn: max(0.0, ms - meter.overhead_cpu_ms.get(fn, 0.0)) for fn, ms in meter.cpu_ms.items()},
        http=http_calls,
        memory_mb={f.name: f.memory_mb for f in manifest.FUNCTIONS},
    )


# --------------------------------------------------------------------------------------------------
# From measurements to usage per message
# --------------------------------------------------------------------------------------------------

#: Stage -> the functions whose work it is (single send).
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("accept (POST /v1/messages → api)", ("api",)),
    ("send (outbound queue → sender)", ("sender",)),
    ("receipts (webhook: a final one is one write; others → receipts queue → receipts)", ("webhooks", "receipts")),
    ("bus events (notifier)", ("notifier",)),
    ("outbox (table stream → PutEvents, SendMessageBatch)", ("outbox",)),
)
#: Functions fed by an SQS event source mapping in the send path (batched).
BATCHED = ("sender", "receipts")
#: Functions fed by the table's stream (batched; Lambda's reads of the stream are not billed).
STREAM_BATCHED = ("outbox",)


def _calls_usage(calls: list[Call], n: int, batch: int = 1) -> cm.Usage:
    """Per message. With ``batch`` > 1, a per-batch call counts 1/``batch`` per message (the
    rate-limit reservation of a whole SQS batch of one channel), and the outbox's PutEvents and
    SendMessageBatch carry up to 10 entries per call, its BatchWriteItem up to 25 (their entries over
    ⌈entries / 10⌉ or ⌈entries / 25⌉ calls, ``batch`` records per stream batch; the entries' write
    units are not shared)."""
    u = cm.Usage()
    # per API of the per-batch calls with entries: entries per call as measured (one record each)
    per_api: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for c in calls:
        if c.per_batch and c.entries and not c.carrier:
            per_api[c.api][0] += c.entries
            per_api[c.api][1] += c.calls
    for c in calls:
        if c.carrier:
            continue
        share = wru_share = 1.0
        if batch > 1 and c.per_batch:
            if c.entries:
                entries, calls_ = per_api[c.api]
                in_batch = batch * entries / calls_  # entries that `batch` records carry
                per_call = 25 if c.api == "dynamodb:BatchWriteItem" else 10
                share = c.entries * math.ceil(in_batch / per_call) / in_batch
                # a call's entries are written whatever the batching: only the requests are shared
            else:
                share = wru_share = 1 / batch
        u.calls += c.calls * share
        u.wru += (c.wru_table + c.wru_index) * wru_share
        u.rru += c.rru
        u.sqs_requests += c.sqs_requests * share  # a SendMessageBatch of the batch is one request
        u.events += c.events
        u.scheduler += c.scheduler
        u.secrets_calls += c.secrets
    return u.scaled(1 / n)


def _lambda_usage(m: Measured, fn: str, batch: int) -> cm.Usage:
    """Invocations and GB-s per message of ``fn``; a batched function's records are regrouped into
    batches of ``batch`` (the handler's per-record time kept), plus the event source mapping's
    ReceiveMessage + DeleteMessageBatch per batch."""
    count, records, ms = m.invocations.get(fn, (0, 0, 0.0))
    u = cm.Usage()
    if not count:
        return u
    per_invocation_ms = ms / count
    if fn in BATCHED or fn in STREAM_BATCHED:
        batches = records / batch
        u.lambda_requests = batches / m.messages
        if fn in BATCHED:
            u.sqs_requests = 2 * batches / m.messages
        u.lambda_gb_s = cm.gb_seconds(m.memory_mb[fn], ms / records * batch) * batches / m.messages
    else:
        u.lambda_requests = count / m.messages
        u.lambda_gb_s = cm.gb_seconds(m.memory_mb[fn], per_invocation_ms) * count / m.messages
    u.apigw_requests = m.http.get(fn, 0) / m.messages
    return u


def stage_usage(m: Measured, functions: tuple[str, ...], batch: int) -> cm.Usage:
    u = _calls_usage([c for c in m.calls if c.function in functions], m.messages, batch)
    for fn in functions:
        u = u + _lambda_usage(m, fn, batch)
    return u


def _others(m: Measured, batch: int) -> list[tuple[str, cm.Usage]]:
    """Functions outside :data:`STAGES` that ran for the sends (e.g. the change-stream outbox): their
    own stage, so whatever the code does is priced; the outbox regrouped into stream batches of
    ``batch`` records like the queue consumers."""
    known = {fn for _, fns in STAGES for fn in fns}
    others = tuple(sorted(({c.function for c in m.calls} | set(m.invocations)) - known))
    if not others:
        return []
    return [(f"other functions ({', '.join(others)})", stage_usage(m, others, batch))]


def single_send(m: Measured, batch: int) -> list[tuple[str, cm.Usage]]:
    return [(name, stage_usage(m, fns, batch)) for name, fns in STAGES] + _others(m, batch)


def total(stages: list[tuple[str, cm.Usage]]) -> cm.Usage:
    out = cm.Usage()
    for _, u in stages:
        out = out + u
    return out


def aws_latency_gb_s(m: Measured) -> float:
    """GB-s per message if each handler ran for its measured CPU time plus :data:`AWS_CALL_MS` per AWS
    call (instead of moto's local latency and this machine's load), batching aside."""
    gb_s = 0.0
    for fn, cpu in m.cpu_ms.items():
        calls = sum(c.calls for c in m.calls if c.function == fn)
        gb_s += m.memory_mb[fn] / 1024 * (cpu + calls * AWS_CALL_MS) / 1000
    return gb_s / m.messages


# --------------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------------


def _money(x: float) -> str:
    return f"{x:.2f}"


def report(m: Measured, campaign: CampaignMeasured | None = None, quiet: Measured | None = None) -> list[str]:
    lines: list[str] = []

    def out(text: str = "") -> None:
        lines.append(text)

    single_1 = single_send(m, 1)
    single_10 = single_send(m, FULL_BATCH)
    t1, t10 = total(single_1), total(single_10)

    out(
        f"Measured over {m.messages} one-segment sends of a {len(TEXT)}-character text (sandbox provider, its"
        " default receipts: `delivered` only, through"
    )
    out("the webhook), after a warm-up send; per delivered message. WRU/RRU from the sizes of the items each call")
    out("touched (GSI writes and transactions' double table writes included). Prices: us-east-1 list prices written in")
    out("`bench/cost_model.py` (on-demand DynamoDB, arm64 Lambda, no free tier); provider fees, CloudWatch")
    out("Logs/metrics and data transfer excluded.\n")

    out("### Per stage, single send (sporadic: SQS batches of 1)\n")
    out("| stage | AWS calls | WRU | RRU | Lambda invocations | GB-s | $ per million |")
    out("|---|---:|---:|---:|---:|---:|---:|")
    for name, u in [*single_1, ("**total**", t1)]:
        out(
            f"| {name} | {u.calls:.1f} | {u.wru:.1f} | {u.rru:.1f} | {u.lambda_requests:.2f} |"
            f" {u.lambda_gb_s:.3f} | {_money(cm.total_per_million(u))} |"
        )
    out()
    carrier = [c for c in m.calls if c.carrier]
    if carrier:
        n_carrier = sum(c.calls for c in carrier) / m.messages
        out(
            f"Not counted: the sandbox carrier's own bookkeeping inside the sender ({n_carrier:.1f} DynamoDB calls"
            " per message on `SANDBOX#` items, which a real provider keeps on its side).\n"
        )
    detail = collections.Counter()
    for c in m.calls:
        if not c.carrier:
            detail[f"{c.function} {c.api}"] += c.calls
    out(
        "Calls per message by function and API: "
        + ", ".join(f"{k} ×{v / m.messages:g}" for k, v in sorted(detail.items()))
        + ".\n"
    )

    if campaign:
        for line in campaign_report(campaign):
            out(line)

    out("### $ per million delivered messages, by service\n")
    # (heading, usage, GB-s from CPU + per-call latency or None, target or None)
    cols: list[tuple[str, cm.Usage, float | None, float | None]] = [
        ("single send, batches of 1", t1, aws_latency_gb_s(m), TARGET_SINGLE),
        ("single send, batches of 10", t10, aws_latency_gb_s(m), TARGET_SINGLE),
    ]
    if quiet is not None:
        q10 = total(single_send(quiet, FULL_BATCH))
        cols.append(
            ("single send, batches of 10, `MESSAGE_EVENTS=conversations`", q10, aws_latency_gb_s(quiet), TARGET_SINGLE)
        )
    if campaign:
        tc = total(campaign_stages(campaign))
        gc = campaign_aws_latency_gb_s(campaign)
        cols.append(("campaign recipient (measured)", tc, gc, TARGET_CAMPAIGN))
        # the only change that mode makes to a campaign message: its final status is not published
        cols.append(
            (
                "campaign recipient, `conversations` (its bus events removed)",
                tc + cm.Usage(events=-tc.events),
                gc,
                TARGET_CAMPAIGN,
            )
        )
    base = BASELINE.get("single_1"), BASELINE.get("campaign")
    if all(base):
        cols.append(("single, issue-11 start", cm.Usage(), None, None))
        cols.append(("campaign, issue-11 start (modelled)", cm.Usage(), None, None))
    out("| service | " + " | ".join(c[0] for c in cols) + " |")
    out("|---|" + "---:|" * len(cols))
    by: list[dict[str, float]] = [cm.per_million(u) for _, u, _, _ in cols]
    if all(base):
        by[-2:] = [dict(base[0]), dict(base[1])]  # type: ignore[arg-type]
    for name, _attr, _price in cm.SERVICES:
        out(f"| {name} | " + " | ".join(_money(b.get(name, 0.0)) for b in by) + " |")
    out("| **total** | " + " | ".join(f"**{_money(sum(b.values()))}**" for b in by) + " |")
    steady = [
        "" if gb is None else _money(cm.total_per_million(u) + (gb - u.lambda_gb_s) * cm.PRICES["lambda_gb_s"] * 1e6)
        for _, u, gb, _ in cols
    ]
    out(f"| total, GB-s from CPU + {AWS_CALL_MS:g} ms per call | " + " | ".join(steady) + " |")
    out("| target | " + " | ".join("" if t is None else f"≤ {t:g}" for _, _, _, t in cols) + " |")
    out(
        "| AWS calls / WRU / RRU per message | "
        + " | ".join("" if t is None else f"{u.calls:.1f} / {u.wru:.1f} / {u.rru:.1f}" for _, u, _, t in cols)
        + " |"
    )
    out()

    gb_local = t1.lambda_gb_s
    gb_aws = aws_latency_gb_s(m)
    out("How the figures are made")
    out(
        "- Measured: our handlers' AWS calls and the item sizes behind each DynamoDB unit; SQS payload chunks"
        " and EventBridge entries; invocations and handler durations per function (minus this script's own"
        " reads)."
    )
    out(
        f"- Lambda GB-s = manifest memory × handler duration on the local stack, an **estimate**: local durations"
        f" depend on moto's latency and on the load of this shared machine (±50 % between runs)."
        f" Counting each handler's CPU time plus {AWS_CALL_MS:g} ms per AWS call instead,"
        f" the send path would use {gb_aws:.3f} GB-s per message instead of"
        f" {gb_local:.3f} (${gb_aws * cm.PRICES['lambda_gb_s'] * 1e6:.2f} instead of"
        f" ${gb_local * cm.PRICES['lambda_gb_s'] * 1e6:.2f} per million)."
    )
    out(
        "- Modelled: one API Gateway request per HTTP invocation (the send and each provider callback); the"
        " SQS event source mapping's ReceiveMessage + DeleteMessageBatch, two requests per batch (its empty"
        " long polls, a fixed ~$0.2–1 per queue per month, are left out); batch sizes: 1 (sporadic single"
        f" sends: every message its own sender and receipts invocation) or {FULL_BATCH} (a backlog fills the"
        " manifest's batch_size); per-record handler time is kept when records are regrouped into batches."
        f" At {FULL_BATCH}, assumed: the outbox's stream batches hold {FULL_BATCH} records (each write"
        " announcing an event or a job: by default the INSERT its job, the final status its event), so a"
        " PutEvents carries 10 entries and a SendMessageBatch 10 jobs (Lambda's own reads of the stream are not billed); the sender's batch of"
        f" {FULL_BATCH} jobs is of one channel, so it reserves its rate-limit slots with one update"
        " (`ratelimit.reserve_many`). At 1 (sporadic sends) every stream record is its own invocation."
    )
    if campaign:
        out(
            "- Campaign recipient: measured on one real campaign (above), not modelled: every call and"
            " invocation from the create and launch (api) through the fan-out's expand and waves, the"
            " sender, the receipts, the outbox, the fan-out's `campaign-results` queue and the bus rules, divided by"
            " the recipients; batch sizes as the local stack's pollers formed them (listed above; AWS's event"
            " source mapping may batch differently), two SQS requests per queue-fed invocation, one API"
            " Gateway request per HTTP invocation (the launch and each provider callback)."
            " The issue-11-start campaign column was modelled from that day's single send."
        )
    out(
        "- DynamoDB units: WRU = ⌈size / 1 KB⌉ of the larger of the item before and after, per GSI the item"
        " enters, leaves or changes in (ALL projection; a key change is a delete + a put); a transaction"
        " doubles the table writes (assumed: not the index updates it propagates; a ConditionCheck priced"
        " as a transactional write of the item checked); RRU = ⌈size /"
        " 4 KB⌉ per item (GetItem, BatchGetItem) or of the bytes a Query read, half when eventually"
        " consistent, at least one unit even when nothing is found."
    )
    out()
    for line in floor_report():
        out(line)
    wru, rru = t10.wru, t10.rru
    on_demand = (wru * cm.PRICES["dynamodb_wru"] + rru * cm.PRICES["dynamodb_rru"]) * 1e6
    prov = {u: cm.provisioned_per_million(wru, rru, utilisation=u) for u in (0.2, 0.5, 0.7)}
    out()
    out("Provisioned capacity")
    w_ratio = cm.PRICES["dynamodb_wru"] * 3600 / cm.PRICES["dynamodb_wcu_hour"]
    r_ratio = cm.PRICES["dynamodb_rru"] * 3600 / cm.PRICES["dynamodb_rcu_hour"]
    out(
        f"At ${cm.PRICES['dynamodb_wcu_hour']} per WCU-hour and ${cm.PRICES['dynamodb_rcu_hour']} per RCU-hour"
        f" (us-east-1), a unit kept busy every second costs 1/{w_ratio:.1f} (writes) and 1/{r_ratio:.1f} (reads)"
        " of the same work on demand, but provisioned units are paid whether used or not: the price per"
        " message is the on-demand one × that ratio ÷ the average utilisation. For this run's"
        f" {wru:.1f} WRU + {rru:.1f} RRU per message (on demand ${on_demand:.2f} per million): at 70 %"
        f" average utilisation ${prov[0.7]:.2f}, at 50 % ${prov[0.5]:.2f}, at 20 % ${prov[0.2]:.2f} per"
        " million. So provisioned capacity pays off for a steady base load kept above ~30 % utilisation;"
        " auto scaling (target ~70 %) lags bursts, so a campaign's start throttles unless the minimum is"
        " raised ahead of it. The targets are"
        " stated on demand, where nothing is paid for idle capacity."
    )
    return lines


def floor_report() -> list[str]:
    """The modelled minimum per message (``cost_model.floor_components``): what the guarantees and
    features cost at list price whatever the code does, next to the targets."""
    lines = ["The floor: what the guarantees cost, whatever the code does (modelled, batches of 10)", ""]
    lines.append(
        "Each line is something issue 11 (and the campaigns of issue 14) require: charged in the transaction"
        " that records the message, listed by channel and recipient, sent at most once per attempt, statuses"
        " from receipts, the rate limit, and for a campaign its recipients list and exact counts. Items"
        " ≤ 1 KB, no retries, Lambda GB-s left out: a lower bound."
    )
    lines.append("")
    lines.append("| kind | component | WRU | $ per million |")
    lines.append("|---|---|---:|---:|")
    for kind, label, target in (
        ("single", "single send", TARGET_SINGLE),
        ("campaign", "campaign recipient", TARGET_CAMPAIGN),
    ):
        total_ = cm.Usage()
        for name, u in cm.floor_components(kind, batch=FULL_BATCH, events=1):
            lines.append(f"| {label} | {name} | {u.wru:g} | {_money(cm.total_per_million(u))} |")
            total_ = total_ + u
        no_events = total_ + cm.Usage(events=-1)
        lines.append(
            f"| {label} | **floor** (one bus event per message / none) | {total_.wru:g} |"
            f" **{_money(cm.total_per_million(total_))}** / **{_money(cm.total_per_million(no_events))}**"
            f" (target ≤ {target:g}) |"
        )
    lines.append("")
    return lines


def summary(m: Measured, campaign: CampaignMeasured | None = None) -> dict[str, dict[str, float]]:
    """The by-service $ per million of the single send (batches of 1) and the campaign, for BASELINE."""
    out = {"single_1": cm.per_million(total(single_send(m, 1)))}
    if campaign:
        out["campaign"] = cm.per_million(total(campaign_stages(campaign)))
    return out


HEADING = "## Cost per delivered message (AWS calls, DynamoDB units, $ per million)"


def run(n: int = 5, campaign_recipients: int = CAMPAIGN_RECIPIENTS) -> list[str]:
    """The section's Markdown lines (heading included), from a fresh local stack: ``n`` single sends, then
    a campaign of ``campaign_recipients`` (0: none)."""
    import tempfile

    from smsdesk.local.stack import LocalStack

    with tempfile.TemporaryDirectory() as tmp, LocalStack(port=0, local_json=f"{tmp}/local.json") as stack:
        m = measure(stack, n)
        with stack.configure_all(MESSAGE_EVENTS="conversations"):
            quiet = measure(stack, n, sender="+31612345603")
        c = measure_campaign(stack, campaign_recipients) if campaign_recipients else None
    return [HEADING, "", *report(m, c, quiet)]


def replace_section(doc: str, section: list[str]) -> str:
    """``doc`` with the cost section replaced (or added before the first section after the AWS calls)."""
    lines = doc.split("\n")
    body = [*section, ""]
    if HEADING in lines:
        start = lines.index(HEADING)
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        return "\n".join(lines[:start] + body + lines[end:])
    anchor = next((i for i, line in enumerate(lines) if line.startswith("## Timer lateness")), len(lines))
    return "\n".join(lines[:anchor] + body + lines[anchor:])


# --------------------------------------------------------------------------------------------------
# A real campaign, measured end to end (issues 11 and 14)
# --------------------------------------------------------------------------------------------------

#: Stage -> (function, trigger) pairs whose calls and invocations it holds ("" trigger: any;
#: "trigger:source" for one queue of a function fed by two).
CAMPAIGN_STAGES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("launch (POST /v1/campaigns + /launch → api)", (("api", ""),)),
    ("fan-out (bulk queue → fanout: expand, waves)", (("fanout", "sqs:bulk"),)),
    ("send (outbound queue → sender)", (("sender", ""),)),
    ("receipts (webhook → receipts queue → receipts)", (("webhooks", ""), ("receipts", ""))),
    ("outbox (table stream → PutEvents, SendMessageBatch)", (("outbox", ""),)),
    ("campaign results (campaign-results queue → fanout)", (("fanout", "sqs:campaign-results"),)),
    ("bus events (notifier)", (("notifier", ""),)),
)


@dataclass
class CampaignMeasured:
    """One campaign of ``recipients`` numbers, from the launch until every message is delivered."""

    recipients: int
    calls: list[Call]
    invocations: list[Invocation]
    memory_mb: dict[str, int]
    seconds: float = 0.0  # launch → last delivered (wall, local stack)
    load: float = 0.0  # the machine's 1-minute load average when the measured campaign started
    wave: int = 0  # recipients per wave (the channel's mps × CAMPAIGN_WAVE_S)
    #: function -> handler CPU ms (the invoking thread's, net of this script's work)
    cpu_ms: dict[str, float] = field(default_factory=dict)


def _matches(function: str, trigger: str, keys: tuple[tuple[str, str], ...], source: str = "") -> bool:
    return any(function == fn and (not tr or tr in (trigger, f"{trigger}:{source}")) for fn, tr in keys)


def measured_usage(m: CampaignMeasured, keys: tuple[tuple[str, str], ...]) -> cm.Usage:
    """Per recipient, what the invocations of ``keys`` used, all as measured (nothing regrouped): our AWS
    calls (the carrier's bookkeeping left out) with their units, one Lambda request and the GB-s of each
    invocation at its function's memory, two SQS requests per queue-fed invocation (the event source
    mapping's ReceiveMessage + DeleteMessageBatch) and one API Gateway request per HTTP invocation."""
    u = cm.Usage()
    for c in m.calls:
        if c.carrier or not _matches(c.function, c.trigger, keys, c.source):
            continue
        u.calls += c.calls
        u.wru += c.wru_table + c.wru_index
        u.rru += c.rru
        u.sqs_requests += c.sqs_requests
        u.events += c.events
        u.scheduler += c.scheduler
        u.secrets_calls += c.secrets
    for i in m.invocations:
        if not _matches(i.function, i.trigger, keys, i.source):
            continue
        u.lambda_requests += 1
        u.lambda_gb_s += cm.gb_seconds(m.memory_mb[i.function], i.ms)
        if i.trigger == "sqs":
            u.sqs_requests += 2
        elif i.trigger == "http":
            u.apigw_requests += 1
    return u.scaled(1 / m.recipients)


def campaign_stages(m: CampaignMeasured) -> list[tuple[str, cm.Usage]]:
    """The measured campaign per recipient by stage; functions outside :data:`CAMPAIGN_STAGES` in one
    more stage, so every call and invocation is priced exactly once."""
    stages = [(name, measured_usage(m, keys)) for name, keys in CAMPAIGN_STAGES]
    seen = {(c.function, c.trigger, c.source) for c in m.calls} | {
        (i.function, i.trigger, i.source) for i in m.invocations
    }
    known = tuple(keys for _, group in CAMPAIGN_STAGES for keys in group)
    others = tuple(
        sorted({(fn, f"{tr}:{src}" if src else tr) for fn, tr, src in seen if not _matches(fn, tr, known, src)})
    )
    if others:
        names = sorted({fn for fn, _ in others})
        stages.append((f"other functions ({', '.join(names)})", measured_usage(m, others)))
    return stages


def batch_sizes(m: CampaignMeasured) -> dict[str, tuple[int, float, int]]:
    """``function (trigger source)`` -> (invocations, mean records, max records) of the batched ones."""
    seen: dict[str, list[int]] = collections.defaultdict(list)
    for i in m.invocations:
        if i.trigger in ("sqs", "stream"):
            seen[f"{i.function} ({i.source})"].append(i.records)
    return {k: (len(v), sum(v) / len(v), max(v)) for k, v in sorted(seen.items())}


def _delivered(campaign_id: str) -> int:
    """Recipients whose message is delivered (read in process, outside any invocation: not counted)."""
    from smsdesk.data import campaigns as repo
    from smsdesk.data import table

    ids = [r["message_id"] for r in repo.rows(campaign_id, 1, statuses=("queued",))]
    got = table.batch_get([(f"MSG#{i}", "META") for i in ids]) if ids else []
    return sum(1 for item in got if item.get("status") == "delivered")


def _campaign(stack: Any, channel_id: str, group_id: str, title: str, n: int, timeout_s: float) -> tuple[str, float]:
    body = {"title": title, "channel_id": channel_id, "text": CAMPAIGN_TEXT, "audience": {"group_ids": [group_id]}}
    t0 = time.monotonic()
    status, campaign = http(stack, "POST", "/v1/campaigns", body)
    assert status == 201, campaign
    status, launched = http(stack, "POST", f"/v1/campaigns/{campaign['id']}/launch", {})
    assert status == 200 and launched["status"] == "running", launched
    end = time.monotonic() + timeout_s
    while _delivered(campaign["id"]) < n:
        if time.monotonic() > end:
            raise RuntimeError(f"campaign {title}: {_delivered(campaign['id'])} of {n} delivered in {timeout_s:g} s")
        time.sleep(0.5)
    seconds = time.monotonic() - t0
    from smsdesk.data import campaigns as repo

    # every outcome counted by the campaign-results rule, then nothing else trailing (the notifier, crmnotes)
    while repo.stats([campaign["id"]]).get(campaign["id"], {}).get("delivered", 0) < n:
        if time.monotonic() > end:
            raise RuntimeError(f"campaign {title}: not every delivery counted in {timeout_s:g} s")
        time.sleep(0.5)
    stack.wait_streams(30)
    _quiet(stack, quiet_s=2.0, timeout=60)
    return campaign["id"], seconds


def _group(stack: Any, name: str, prefix: str, n: int) -> str:
    from smsdesk.crm import contacts

    ids = [
        contacts.create(contacts.ContactIn(first_name=f"Member{i}", mobile=f"+3162{prefix}{i + 2:06d}")).id
        for i in range(n)
    ]
    status, group = http(stack, "POST", "/v1/groups", {"name": name})
    assert status == 201, group
    for start in range(0, n, 100):
        status, out = http(
            stack, "POST", f"/v1/groups/{group['id']}/members", {"contact_ids": ids[start : start + 100]}
        )
        assert status == 200, out
    return group["id"]


def measure_campaign(stack: Any, recipients: int = CAMPAIGN_RECIPIENTS, timeout_s: float = 900) -> CampaignMeasured:
    """A warm-up campaign, then one of ``recipients`` contacts from a static group through the API, on a
    sandbox channel limited to :data:`CAMPAIGN_MPS`, metered from the create until every message is
    delivered and the trailing events are handled."""
    import boto3

    from smsdesk import manifest
    from smsdesk.campaigns import fanout

    tables: dict[str, tuple[tuple[str, ...], tuple[cm.Index, ...]]] = {}
    for name, physical in stack.resources.tables.items():
        t = next(t for t in manifest.TABLES if t.name == name)
        tables[physical] = (tuple(k for k in (t.pk, t.sk) if k), tuple(cm.Index(g.pk, g.sk) for g in t.gsis))
    raw = boto3.session.Session().client("dynamodb", endpoint_url=stack.endpoint, region_name=stack.region)
    meter = Meter(raw=raw, tables=tables)
    body = {"name": "campaign cost", "type": "two_way", "sender": "+31612345602", "provider": "sandbox"}
    status, channel = http(stack, "POST", "/v1/channels", {**body, "throughput_mps": CAMPAIGN_MPS})
    assert status in (200, 201), channel
    top_up = {"credits": 2 * (recipients + WARMUP_RECIPIENTS), "reference": "campaign cost"}
    assert http(stack, "POST", "/v1/credits/top-ups", top_up)[0] in (200, 201)
    warm = _group(stack, "warm-up", "0", WARMUP_RECIPIENTS)
    group = _group(stack, "measured", "1", recipients)
    stack.wait_streams(30)
    _quiet(stack, quiet_s=1.0)
    uninstall = meter.install()
    try:
        with stack.configure("sender", SANDBOX_RECEIPT_DELAY_S="0"):
            _campaign(stack, channel["id"], warm, "warm-up", WARMUP_RECIPIENTS, timeout_s)
            meter.active = True
            load = os.getloadavg()[0]
            _, seconds = _campaign(stack, channel["id"], group, "measured", recipients, timeout_s)
            meter.active = False
    finally:
        meter.active = False
        uninstall()
    return CampaignMeasured(
        recipients=recipients,
        calls=list(meter.calls),
        invocations=list(meter.invocations),
        memory_mb={f.name: f.memory_mb for f in manifest.FUNCTIONS},
        seconds=seconds,
        load=load,
        wave=max(1, math.ceil(CAMPAIGN_MPS * fanout.wave_s())),
        cpu_ms={fn: max(0.0, ms - meter.overhead_cpu_ms.get(fn, 0.0)) for fn, ms in meter.cpu_ms.items()},
    )


def campaign_aws_latency_gb_s(m: CampaignMeasured) -> float:
    """GB-s per recipient if each handler ran for its measured CPU time plus :data:`AWS_CALL_MS` per AWS
    call (as :func:`aws_latency_gb_s` for the single send)."""
    gb_s = 0.0
    for fn, cpu in m.cpu_ms.items():
        calls = sum(c.calls for c in m.calls if c.function == fn)
        gb_s += m.memory_mb[fn] / 1024 * (cpu + calls * AWS_CALL_MS) / 1000
    return gb_s / m.recipients


def campaign_report(m: CampaignMeasured) -> list[str]:
    """The measured campaign's per-stage table, calls by function and API, and the batch sizes seen."""
    stages = campaign_stages(m)
    t = total(stages)
    lines = [
        f"### Per stage, campaign recipient (measured: one campaign of {m.recipients} recipients)\n",
        f"A campaign of {m.recipients} contacts from a static group, created and launched through the API on a sandbox"
        f" channel limited to {CAMPAIGN_MPS:g} msg/s (one wave of up to {m.wave} rows), metered from the create"
        f" until every message was `delivered` ({m.seconds:.0f} s on the local stack, load average"
        f" {m.load:.1f} on {os.cpu_count()} cores when it started) and the trailing events"
        " handled, after a warm-up campaign of"
        f" {WARMUP_RECIPIENTS}; per recipient. Every invocation as it ran (batches as the local stack's pollers"
        " formed them, nothing regrouped).\n",
        "| stage | AWS calls | WRU | RRU | Lambda invocations | GB-s | $ per million |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, u in [*stages, ("**total**", t)]:
        lines.append(
            f"| {name} | {u.calls:.2f} | {u.wru:.2f} | {u.rru:.2f} | {u.lambda_requests:.2f} |"
            f" {u.lambda_gb_s:.4f} | {_money(cm.total_per_million(u))} |"
        )
    lines.append("")
    lines.append(
        f"Billed requests per recipient: {t.lambda_requests:.2f} Lambda invocations, {t.sqs_requests:.2f} SQS"
        f" requests (sends in 64 KB chunks; receive + delete per queue-fed invocation), {t.events:.2f} EventBridge"
        f" events, {t.apigw_requests:.2f} API Gateway requests, {t.secrets_calls:.3f} Secrets Manager calls.\n"
    )
    detail: collections.Counter[str] = collections.Counter()
    wru: collections.Counter[str] = collections.Counter()
    gsi: collections.Counter[str] = collections.Counter()
    for c in m.calls:
        if not c.carrier:
            label = f"{c.function} ({c.source or c.trigger})" if c.function == "fanout" else c.function
            detail[f"{label} {c.api}"] += c.calls
            wru[f"{label} {c.api}"] += c.wru_table + c.wru_index
            gsi[f"{label} {c.api}"] += c.wru_index
    n = m.recipients
    lines.append(
        "Calls per recipient by function and API (and the WRU of those that write, of which GSI): "
        + ", ".join(
            f"{k} ×{v / n:.3g}" + (f" ({wru[k] / n:.3g} WRU incl. {gsi[k] / n:.3g} GSI)" if wru[k] else "")
            for k, v in sorted(detail.items())
        )
        + ".\n"
    )
    sizes = batch_sizes(m)
    if sizes:
        lines.append(
            "Batches seen (invocations, mean / max records): "
            + ", ".join(f"{k} {count} × {mean:.1f} / {most}" for k, (count, mean, most) in sizes.items())
            + ".\n"
        )
    if m.cpu_ms:
        local, aws = total(stages).lambda_gb_s, campaign_aws_latency_gb_s(m)
        lines.append(
            f"Lambda GB-s here are the local handler durations (moto's latency, this machine's load); counting each"
            f" handler's CPU time plus {AWS_CALL_MS:g} ms per AWS call instead, a recipient would use {aws:.3f} GB-s"
            f" instead of {local:.3f} (${aws * cm.PRICES['lambda_gb_s'] * 1e6:.2f} instead of"
            f" ${local * cm.PRICES['lambda_gb_s'] * 1e6:.2f} per million).\n"
        )
    return lines


if __name__ == "__main__":
    import argparse
    import logging
    import os
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root / "layers" / "smsdesk"))
    sys.path.insert(0, str(root))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=5, help="measured sends (after one warm-up)")
    ap.add_argument("--baseline", action="store_true", help="also print the by-service figures as a BASELINE dict")
    ap.add_argument("--update-doc", action="store_true", help="replace this section in docs/benchmarks.md")
    ap.add_argument("--chars", type=int, default=0, help="send a one-segment GSM text of this length (≤ 160)")
    ap.add_argument(
        "--campaign-recipients", type=int, default=CAMPAIGN_RECIPIENTS, help="measured campaign's size (0: none)"
    )
    args = ap.parse_args()
    if args.chars:
        TEXT = ("Your code is 1234. " * 10)[: min(160, args.chars)]
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    logging.getLogger("smsdesk_local").setLevel(logging.WARNING)
    import tempfile

    from smsdesk.local.stack import LocalStack

    with tempfile.TemporaryDirectory() as tmp, LocalStack(port=0, local_json=f"{tmp}/local.json") as st:
        measured = measure(st, args.n)
        camp = measure_campaign(st, args.campaign_recipients) if args.campaign_recipients else None
    section = [HEADING, "", *report(measured, camp)]
    print("\n".join(section))
    if args.update_doc:
        doc = root / "docs" / "benchmarks.md"
        doc.write_text(replace_section(doc.read_text(), section))
    if args.baseline:
        print(json.dumps(summary(measured, camp), indent=1))
