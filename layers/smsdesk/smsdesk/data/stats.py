"""Service-level outcomes (issue 6), stored when they happen so the stats endpoint is a few queries.

``PK=STATS#{channel_id}#{day of arrived_at} SK={arrived_at}#{conversation_id}#{kind}`` with
``kind`` answered / abandoned / timed_out and ``wait_s``. The key depends only on the interaction,
so recording an outcome twice (retries, racing closes) writes the same item.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from smsdesk import config
from smsdesk.data import table
from smsdesk.models import iso


def put_outcome(channel_id: str, conversation_id: str, arrived_at: dt.datetime, kind: str, wait_s: float) -> None:
    item = {
        "PK": f"STATS#{channel_id}#{arrived_at.astimezone(dt.UTC).date().isoformat()}",
        "SK": f"{iso(arrived_at)}#{conversation_id}#{kind}",
        "kind": kind,
        "wait_s": round(wait_s, 3),
        "conversation_id": conversation_id,
    }
    table.put(item)


def outcomes(channel_id: str, start: dt.datetime, end: dt.datetime) -> list[dict[str, Any]]:
    """Outcomes of interactions that arrived in [start, end): one query per day."""
    out: list[dict[str, Any]] = []
    day = start.astimezone(dt.UTC).date()
    while day <= end.astimezone(dt.UTC).date():
        for resp in table.query_pages(
            TableName=config.table_name(),
            KeyConditionExpression="PK = :pk AND SK BETWEEN :a AND :b",
            ExpressionAttributeValues={
                ":pk": {"S": f"STATS#{channel_id}#{day.isoformat()}"},
                ":a": {"S": iso(start)},
                ":b": {"S": iso(end)},
            },
        ):
            out.extend(table.deserialize(i) for i in resp.get("Items", []))
        day += dt.timedelta(days=1)
    return [o for o in out if o["SK"] < iso(end)]


def waiting_counts(channel_id: str) -> tuple[int, int]:
    """(waiting for a first answer, of which unassigned) now, from the queue index."""
    total = unassigned = 0
    for resp in table.query_pages(
        TableName=config.table_name(),
        IndexName="GSI3",
        KeyConditionExpression="GSI3PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"QUEUE#{channel_id}"}},
        ProjectionExpression="assignee_id",
    ):
        for raw in resp.get("Items", []):
            total += 1
            unassigned += "assignee_id" not in raw
    return total, unassigned


def overflow_count(channel_id: str) -> int:
    """Conversations waiting outside the channel's full queue now (the overflow index)."""
    return sum(
        int(resp.get("Count", 0))
        for resp in table.query_pages(
            TableName=config.table_name(),
            IndexName="GSI2",
            KeyConditionExpression="GSI2PK = :pk",
            ExpressionAttributeValues={":pk": {"S": f"OVERFLOW#{channel_id}"}},
            Select="COUNT",
        )
    )
