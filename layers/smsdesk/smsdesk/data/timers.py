"""Pending timers: ``PK=TIMER#{timer_id} SK=TIMER`` with ``kind``, ``target_id``, ``due_at`` and ``data``.

The item is what makes a timer cancellable: an SQS-delayed message cannot be withdrawn, so a fire
only acts while its item still exists with the same ``due_at`` (a re-armed timer replaces the item,
a cancel deletes it). The fire removes the item after its action, conditioned on that ``due_at``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from botocore.exceptions import ClientError

from smsdesk import aws, config
from smsdesk.data import table
from smsdesk.models import iso


def _pk(timer_id: str) -> str:
    return f"TIMER#{timer_id}"


def put(
    timer_id: str, kind: str, target_id: str, due_at: dt.datetime, data: dict[str, Any], via: str
) -> dict[str, Any] | None:
    """Arm (or re-arm) a timer; the newest ``due_at`` wins. Returns the timer it replaced, if any."""
    item = {
        "PK": _pk(timer_id),
        "SK": "TIMER",
        "kind": kind,
        "target_id": target_id,
        "due_at": iso(due_at),
        "data": data,
        "via": via,
    }
    resp = aws.dynamodb().put_item(TableName=config.table_name(), Item=table.serialize(item), ReturnValues="ALL_OLD")
    old = resp.get("Attributes")
    return table.deserialize(old) if old else None


def get(timer_id: str) -> dict[str, Any] | None:
    return table.get(_pk(timer_id), "TIMER", consistent=True)


def delete(timer_id: str, *, due_at: dt.datetime | None = None) -> dict[str, Any] | None:
    """Remove the timer (only if it is still the one due at ``due_at`` when given); returns the removed
    timer, or None if it was already gone or re-armed."""
    kwargs: dict[str, Any] = {
        "TableName": config.table_name(),
        "Key": table.key(_pk(timer_id), "TIMER"),
        "ReturnValues": "ALL_OLD",
    }
    if due_at is None:
        kwargs["ConditionExpression"] = "attribute_exists(PK)"
    else:
        kwargs["ConditionExpression"] = "due_at = :d"
        kwargs["ExpressionAttributeValues"] = {":d": {"S": iso(due_at)}}
    try:
        resp = aws.dynamodb().delete_item(**kwargs)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return None
        raise
    return table.deserialize(resp["Attributes"])
