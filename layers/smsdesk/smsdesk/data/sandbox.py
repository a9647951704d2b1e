"""The sandbox provider's state (local stack only): its outbox and its per-message attempt counters.

Keys (docs/data-model.md): outbox entry ``PK=SANDBOX#OUTBOX SK={at}#{entry_id}`` (time-ordered, newest
first by querying backwards); attempt counter ``PK=SANDBOX#MSG#{message_id} SK=ATTEMPTS``. Both expire
after a day: the sandbox is a test double, not an archive.
"""

from __future__ import annotations

import time
from typing import Any

from smsdesk import aws, config
from smsdesk.data import table

OUTBOX_PK = "SANDBOX#OUTBOX"
TTL_S = 24 * 3600


def next_attempt(message_id: str) -> int:
    """Count one more send attempt for ``message_id`` (atomic, so concurrent retries count right)."""
    resp = aws.dynamodb().update_item(
        TableName=config.table_name(),
        Key=table.key(f"SANDBOX#MSG#{message_id}", "ATTEMPTS"),
        UpdateExpression="ADD attempts :one SET expires_at = :exp",
        ExpressionAttributeValues={":one": {"N": "1"}, ":exp": {"N": str(int(time.time()) + TTL_S)}},
        ReturnValues="UPDATED_NEW",
    )
    return int(resp["Attributes"]["attempts"]["N"])


def record(entry: dict[str, Any], *, at: str, entry_id: str) -> None:
    table.put({"PK": OUTBOX_PK, "SK": f"{at}#{entry_id}", "expires_at": int(time.time()) + TTL_S, **entry})


def list_outbox(*, limit: int = 50, cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    items, next_cursor = table.query(OUTBOX_PK, limit=limit, newest_first=True, cursor=cursor)
    return [{k: v for k, v in i.items() if k not in ("PK", "SK", "expires_at")} for i in items], next_cursor
