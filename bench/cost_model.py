"""The cost model's pure parts: list prices, DynamoDB capacity units from item sizes, and $ per million.

No AWS, no local stack: ``bench/bench_cost.py`` measures (calls, items, durations) and calls these;
``tests/unit/test_cost_model.py`` checks them against the examples in AWS's documentation.

Prices: us-east-1, on-demand / pay-per-request, list prices without free tiers (checked 2025):

| service | unit | USD | source |
|---|---|---:|---|
| Lambda (arm64) | request | 0.20 per million | aws.amazon.com/lambda/pricing |
| Lambda (arm64) | GB-second | 0.0000133334 | aws.amazon.com/lambda/pricing (first 7.5 bn GB-s/month tier) |
| DynamoDB on-demand | write request unit | 0.625 per million | aws.amazon.com/dynamodb/pricing/on-demand (cut from 1.25 on 1 Nov 2024) |
| DynamoDB on-demand | read request unit | 0.125 per million | same page (cut from 0.25 on 1 Nov 2024) |
| DynamoDB provisioned | WCU-hour | 0.00065 | aws.amazon.com/dynamodb/pricing/provisioned |
| DynamoDB provisioned | RCU-hour | 0.00013 | same page |
| SQS standard | request (each 64 KB chunk) | 0.40 per million | aws.amazon.com/sqs/pricing |
| EventBridge | custom event (each 64 KB chunk) | 1.00 per million | aws.amazon.com/eventbridge/pricing |
| EventBridge Scheduler | invocation | 1.00 per million | same page (schedule creation is free) |
| API Gateway HTTP API | request (each 512 KB) | 1.00 per million | aws.amazon.com/api-gateway/pricing (first 300 M/month) |
| Secrets Manager | API call | 0.05 per 10,000 | aws.amazon.com/secrets-manager/pricing |

Excluded: provider fees (the SMS itself), CloudWatch Logs/metrics, data transfer, storage, free tiers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: USD per unit (see the table above).
PRICES: dict[str, float] = {
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_s": 0.0000133334,
    "dynamodb_wru": 0.625 / 1e6,
    "dynamodb_rru": 0.125 / 1e6,
    "dynamodb_wcu_hour": 0.00065,
    "dynamodb_rcu_hour": 0.00013,
    "sqs_request": 0.40 / 1e6,
    "eventbridge_event": 1.00 / 1e6,
    "scheduler_invocation": 1.00 / 1e6,
    "apigw_http_request": 1.00 / 1e6,
    "secretsmanager_call": 0.05 / 1e4,
}

WRITE_UNIT_BYTES = 1024
READ_UNIT_BYTES = 4096
SQS_CHUNK_BYTES = 64 * 1024
EVENT_CHUNK_BYTES = 64 * 1024

# --------------------------------------------------------------------------------------------------
# DynamoDB item sizes and capacity units
# --------------------------------------------------------------------------------------------------


def _number_size(text: str) -> int:
    """A number's stored size: ~1 byte per two significant digits, plus one (AWS's item-size rules)."""
    digits = text.strip().lstrip("+-").lower().split("e")[0].replace(".", "")
    digits = digits.strip("0") or "0"
    return math.ceil(len(digits) / 2) + 1


def value_size(value: Mapping[str, Any]) -> int:
    """Size in bytes of one AttributeValue in DynamoDB's wire format (``{"S": "x"}``, ``{"N": "1"}``...)."""
    (kind, v), *_ = value.items()
    if kind == "S":
        return len(v.encode("utf-8"))
    if kind == "N":
        return _number_size(str(v))
    if kind == "B":
        return len(v if isinstance(v, bytes | bytearray) else str(v).encode())
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode("utf-8")) for s in v)
    if kind == "NS":
        return sum(_number_size(str(n)) for n in v)
    if kind == "BS":
        return sum(len(b) for b in v)
    if kind == "L":
        return 3 + sum(1 + value_size(e) for e in v)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8")) + value_size(e) for k, e in v.items())
    raise ValueError(f"unknown AttributeValue type {kind!r}")


def item_size(item: Mapping[str, Mapping[str, Any]] | None) -> int:
    """An item's size as DynamoDB bills it: attribute names (UTF-8) + values. None (no item): 0."""
    if not item:
        return 0
    return sum(len(name.encode("utf-8")) + value_size(v) for name, v in item.items())


def units(size: int, unit_bytes: int) -> int:
    """Capacity units for ``size`` bytes: rounded up to the next unit, and at least one."""
    return max(1, math.ceil(size / unit_bytes))


def read_units(size: int, *, consistent: bool, transactional: bool = False) -> float:
    """RRU of one read of ``size`` bytes (GetItem: the item's size; Query: the sum of the items it read):
    one per 4 KB strongly consistent, half that eventually consistent, twice that in a transaction. A
    read that finds nothing still costs the minimum."""
    n = units(size, READ_UNIT_BYTES)
    if transactional:
        return 2.0 * n
    return float(n) if consistent else n / 2


@dataclass(frozen=True)
class Index:
    """A global secondary index with ``ALL`` projection: its entry is the whole item."""

    pk: str
    sk: str | None = None

    def holds(self, item: Mapping[str, Any] | None) -> bool:
        """Whether ``item`` appears in the (sparse) index: it has the index's key attributes."""
        return bool(item) and self.pk in item and (self.sk is None or self.sk in item)  # type: ignore[operator]

    def key(self, item: Mapping[str, Any]) -> tuple[Any, ...]:
        return (_plain(item.get(self.pk)), _plain(item.get(self.sk)) if self.sk else None)


def _plain(value: Any) -> Any:
    return repr(value)


@dataclass(frozen=True)
class WriteUnits:
    table: int
    indexes: int

    @property
    def total(self) -> int:
        return self.table + self.indexes


def write_units(
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    *,
    indexes: Iterable[Index] = (),
    transactional: bool = False,
    applied: bool = True,
) -> WriteUnits:
    """WRU of one item write (PutItem / UpdateItem / DeleteItem, a BatchWriteItem or transaction item).

    Table: one unit per KB of the larger of the item before and after the write (at least one). A write
    whose condition failed (``applied`` False) still costs the item's size and writes no index. Each
    GSI (ALL projection) costs: nothing if the item is in it neither before nor after or did not
    change; the new entry if it enters; the old if it leaves; the larger if it stays under the same
    index key; old + new (a delete and a put) if its index key changed. A transactional write costs
    twice on the table; the index updates it causes are propagated outside the transaction and cost
    the standard rate (an assumption: AWS documents the ×2 for the items of the transaction only).
    """
    factor = 2 if transactional else 1
    old_size, new_size = item_size(old), item_size(new)
    if not applied:
        return WriteUnits(factor * units(old_size, WRITE_UNIT_BYTES), 0)
    table = units(max(old_size, new_size), WRITE_UNIT_BYTES)
    index = 0
    for ix in indexes:
        before, after = ix.holds(old), ix.holds(new)
        if before and after:
            if ix.key(old) != ix.key(new):  # type: ignore[arg-type]
                index += units(old_size, WRITE_UNIT_BYTES) + units(new_size, WRITE_UNIT_BYTES)
            elif dict(old) != dict(new):  # type: ignore[arg-type]
                index += units(max(old_size, new_size), WRITE_UNIT_BYTES)
        elif after:
            index += units(new_size, WRITE_UNIT_BYTES)
        elif before:
            index += units(old_size, WRITE_UNIT_BYTES)
    return WriteUnits(factor * table, index)


def chunks(size: int, chunk_bytes: int) -> int:
    """Billing chunks of a payload (SQS requests, EventBridge events): one per started chunk, at least one."""
    return max(1, math.ceil(size / chunk_bytes))


# --------------------------------------------------------------------------------------------------
# Usage per message and its price
# --------------------------------------------------------------------------------------------------


@dataclass
class Usage:
    """Billable units per delivered message (fractions where batching spreads a request over messages)."""

    lambda_requests: float = 0.0
    lambda_gb_s: float = 0.0
    wru: float = 0.0
    rru: float = 0.0
    sqs_requests: float = 0.0
    events: float = 0.0
    scheduler: float = 0.0
    apigw_requests: float = 0.0
    secrets_calls: float = 0.0
    #: Our code's AWS API calls (not billed as such; the issue's "calls per message").
    calls: float = 0.0
    notes: list[str] = field(default_factory=list)

    def __add__(self, other: Usage) -> Usage:
        out = Usage()
        for name in _NUMERIC:
            setattr(out, name, getattr(self, name) + getattr(other, name))
        out.notes = [*self.notes, *other.notes]
        return out

    def scaled(self, factor: float) -> Usage:
        out = Usage(notes=list(self.notes))
        for name in _NUMERIC:
            setattr(out, name, getattr(self, name) * factor)
        return out


_NUMERIC = (
    "lambda_requests",
    "lambda_gb_s",
    "wru",
    "rru",
    "sqs_requests",
    "events",
    "scheduler",
    "apigw_requests",
    "secrets_calls",
    "calls",
)

#: Service -> (Usage attribute, price key), in the order the report lists them.
SERVICES: tuple[tuple[str, str, str], ...] = (
    ("Lambda requests", "lambda_requests", "lambda_request"),
    ("Lambda GB-s", "lambda_gb_s", "lambda_gb_s"),
    ("DynamoDB writes", "wru", "dynamodb_wru"),
    ("DynamoDB reads", "rru", "dynamodb_rru"),
    ("SQS", "sqs_requests", "sqs_request"),
    ("EventBridge", "events", "eventbridge_event"),
    ("Scheduler", "scheduler", "scheduler_invocation"),
    ("API Gateway", "apigw_requests", "apigw_http_request"),
    ("Secrets Manager", "secrets_calls", "secretsmanager_call"),
)


def per_million(usage: Usage, prices: Mapping[str, float] = PRICES) -> dict[str, float]:
    """USD per million messages, by service (the keys of :data:`SERVICES`)."""
    return {name: getattr(usage, attr) * prices[price] * 1e6 for name, attr, price in SERVICES}


def total_per_million(usage: Usage, prices: Mapping[str, float] = PRICES) -> float:
    return sum(per_million(usage, prices).values())


def gb_seconds(memory_mb: int, duration_ms: float) -> float:
    """Lambda's billed GB-s of one invocation: memory (GB = 1024 MB) × duration rounded up to 1 ms."""
    return memory_mb / 1024 * math.ceil(duration_ms) / 1000


def provisioned_per_million(
    wru: float, rru: float, *, utilisation: float, prices: Mapping[str, float] = PRICES
) -> float:
    """USD per million messages of DynamoDB on provisioned capacity at an average ``utilisation`` (0-1]:
    a message's WRU/RRU need that many unit-seconds, bought by the hour as WCU/RCU and paid for idle."""
    if not 0 < utilisation <= 1:
        raise ValueError("utilisation is a fraction in (0, 1]")
    per_message = (wru * prices["dynamodb_wcu_hour"] + rru * prices["dynamodb_rcu_hour"]) / 3600 / utilisation
    return per_message * 1e6


# --------------------------------------------------------------------------------------------------
# The floor: what the send path's guarantees cost at list price, whatever the code does
# --------------------------------------------------------------------------------------------------


#: Items a delivered message must write with smsdesk's guarantees and features, at most 1 KB each (the
#: rows are ~0.6–0.9 KB): (component, Usage per message at SQS/stream batches of ``b``). ``b`` divides
#: what one request does for a whole batch. Lambda GB-s are left out (a floor counts what is billed
#: per request and per unit; durations depend on the provider's latency).
def floor_components(kind: str, *, batch: int = 10, events: int = 1) -> list[tuple[str, Usage]]:
    """The minimum per delivered message for ``kind`` ``"single"`` (an API send) or ``"campaign"`` (a
    campaign recipient), ``events`` bus events per message (1: the final status; 0: none), at batches
    of ``batch``. Each line is a guarantee or a feature the issue keeps:

    * charged once in the transaction that records it (a transaction bills 2 WRU per item);
    * listed by channel and by recipient (an immutable entry in two GSIs: 1 + 2 WRU, once);
    * sent at most once per attempt (the claim before the provider call) and ``sent`` recorded after
      it, a final status recorded from the receipt (one conditional write each);
    * the channel's rate limit (one GCRA update per batch; a campaign's bulk lane one per message);
    * a receipt reaches us (an HTTP callback: API Gateway + Lambda per receipt);
    * campaign: a recipient row (the recipients list, resumable waves), its move to ``queued`` in the
      wave's transaction, and its outcome counted exactly once (a marker per message in a transaction,
      one counts update per batch).
    """
    b = float(batch)
    single = kind == "single"
    lines: list[tuple[str, Usage]] = []
    if single:
        lines.append(
            (
                "accept: POST (API Gateway + Lambda), opt-out/blocklist and caller read consistently (5 items),"
                " balance debit + message row in one transaction",
                Usage(apigw_requests=1, lambda_requests=1, rru=5, wru=2 * 2),
            )
        )
    else:
        lines.append(("expand: the recipient row (BatchWriteItem)", Usage(wru=1, lambda_requests=1 / 1000)))
        lines.append(
            (
                "wave: row → queued + message row in the wave's transaction (the reservation update shared)",
                Usage(wru=2 * 2, lambda_requests=1 / 100),
            )
        )
    lines.append(("index entry in two GSIs (listing by channel and by recipient)", Usage(wru=1 + 2)))
    lines.append(
        (
            "outbox: the job (SendMessageBatch) and the final event from the stream",
            Usage(lambda_requests=2 / b, sqs_requests=1 / b, events=events),
        )
    )
    lines.append(
        (
            "send: SQS receive + delete, claim, `sent`, rate-limit slot",
            Usage(lambda_requests=1 / b, sqs_requests=2 / b, wru=2 + (1.0 if not single else 1 / b)),
        )
    )
    lines.append(
        (
            "final receipt: the provider's callback, one conditional write",
            Usage(apigw_requests=1, lambda_requests=1, wru=1),
        )
    )
    if not single:
        lines.append(
            (
                "outcome counted exactly once: marker (transactional) + counts per batch, via SQS",
                Usage(wru=2 + 2 / b, lambda_requests=1 / b, sqs_requests=3 / b),
            )
        )
    return lines
