"""Per-channel send slots: one item ``PK=RATE#{channel_id} SK=GCRA`` holding ``tat``, the theoretical
arrival time (epoch microseconds) of the next free slot. See ``smsdesk.sending.ratelimit`` for the algorithm.

Both writes are single conditional UpdateItems, so any number of concurrent sender invocations share
one channel's rate without read-modify-write races:

* :func:`take_idle` — the channel is idle (``tat <= now``): the slot is *now*, ``tat = now + interval``;
* :func:`take_next` — the channel is busy (``tat > now``): ``tat += interval`` atomically and the slot
  is the old ``tat``. Concurrent callers each get a distinct slot; none needs a retry.
"""

from __future__ import annotations

import time

from botocore.exceptions import ClientError

from smsdesk import aws, config
from smsdesk.data import table

SK = "GCRA"
#: The item outlives any reservation horizon (messages expire after at most 72 h).
TTL_S = 7 * 24 * 3600


def _pk(channel_id: str) -> str:
    return f"RATE#{channel_id}"


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def take_idle(channel_id: str, *, now_us: int, interval_us: int) -> bool:
    """Claim the slot at ``now_us`` if the channel is idle; False if it is busy (or someone was faster)."""
    return take_idle_or_tat(channel_id, now_us=now_us, interval_us=interval_us)[0]


def take_idle_or_tat(channel_id: str, *, now_us: int, interval_us: int) -> tuple[bool, int | None]:
    """:func:`take_idle`, and when the channel is busy its ``tat`` too (DynamoDB returns the item with
    the failed condition: no extra read). ``(True, None)``: claimed; ``(False, tat)``: busy until ``tat``."""
    try:
        aws.dynamodb().update_item(
            TableName=config.table_name(),
            Key=table.key(_pk(channel_id), SK),
            UpdateExpression="SET tat = :next, expires_at = :exp",
            ConditionExpression="attribute_not_exists(tat) OR tat <= :now",
            ExpressionAttributeValues={
                ":now": {"N": str(now_us)},
                ":next": {"N": str(now_us + interval_us)},
                ":exp": {"N": str(int(time.time()) + TTL_S)},
            },
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if _conditional_failed(exc):
            old = exc.response.get("Item") or {}
            return False, (int(old["tat"]["N"]) if "tat" in old else None)
        raise
    return True, None


def take_next(channel_id: str, *, now_us: int, interval_us: int) -> int | None:
    """Reserve the next slot of a busy channel: its start (epoch µs), or None if the channel is idle."""
    try:
        resp = aws.dynamodb().update_item(
            TableName=config.table_name(),
            Key=table.key(_pk(channel_id), SK),
            UpdateExpression="SET tat = tat + :interval, expires_at = :exp",
            ConditionExpression="tat > :now",
            ExpressionAttributeValues={
                ":now": {"N": str(now_us)},
                ":interval": {"N": str(interval_us)},
                ":exp": {"N": str(int(time.time()) + TTL_S)},
            },
            ReturnValues="UPDATED_NEW",
        )
    except ClientError as exc:
        if _conditional_failed(exc):
            return None
        raise
    return int(resp["Attributes"]["tat"]["N"]) - interval_us


def take_next_before(
    channel_id: str, *, now_us: int, interval_us: int, latest_us: int
) -> tuple[int | None, int | None]:
    """Reserve the next slot of a busy channel only if it starts by ``latest_us`` (a bulk send: it never
    books ahead of replies). ``(slot, None)``: reserved; ``(None, tat)``: busy until ``tat``;
    ``(None, None)``: the channel is idle (take the idle slot instead)."""
    try:
        resp = aws.dynamodb().update_item(
            TableName=config.table_name(),
            Key=table.key(_pk(channel_id), SK),
            UpdateExpression="SET tat = tat + :interval, expires_at = :exp",
            ConditionExpression="tat > :now AND tat <= :latest",
            ExpressionAttributeValues={
                ":now": {"N": str(now_us)},
                ":latest": {"N": str(latest_us)},
                ":interval": {"N": str(interval_us)},
                ":exp": {"N": str(int(time.time()) + TTL_S)},
            },
            ReturnValues="UPDATED_NEW",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    except ClientError as exc:
        if _conditional_failed(exc):
            old = exc.response.get("Item") or {}
            tat = int(old["tat"]["N"]) if "tat" in old else None
            return None, (tat if tat is not None and tat > now_us else None)
        raise
    return int(resp["Attributes"]["tat"]["N"]) - interval_us, None
