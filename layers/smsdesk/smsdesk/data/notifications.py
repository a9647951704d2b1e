"""Per-user notification preferences and feed.

Keys: preferences ``PK=NOTIF#{user_id} SK=PREFS``; feed items ``PK=NOTIF#{user_id} SK=N#{id}`` (ids
are time-ordered, so a reverse query is newest first). A feed item's id is derived from the bus event
and the user, and put with ``attribute_not_exists``: a redelivered event adds nothing.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from smsdesk import aws, config
from smsdesk.data import table


def _pk(user_id: str) -> str:
    return f"NOTIF#{user_id}"


def get_preferences(user_id: str) -> dict[str, Any] | None:
    item = table.get(_pk(user_id), "PREFS")
    return None if item is None else {k: v for k, v in item.items() if k not in ("PK", "SK")}


def put_preferences(user_id: str, prefs: dict[str, Any]) -> None:
    table.put({"PK": _pk(user_id), "SK": "PREFS", **prefs})


def add(user_id: str, notification: dict[str, Any]) -> bool:
    """Store a feed item; False if it is already there (a redelivered event)."""
    try:
        table.put(
            {"PK": _pk(user_id), "SK": f"N#{notification['id']}", **notification}, condition="attribute_not_exists(PK)"
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True


def page(user_id: str, *, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    items, nxt = table.query(_pk(user_id), sk_prefix="N#", limit=limit, newest_first=True, cursor=cursor)
    return [{k: v for k, v in i.items() if k not in ("PK", "SK")} for i in items], nxt


def mark_read(user_id: str, notification_id: str, read_at: str) -> bool:
    """Set ``read_at`` once (the first read wins); False if there is no such notification."""
    try:
        aws.dynamodb().update_item(
            TableName=config.table_name(),
            Key=table.key(_pk(user_id), f"N#{notification_id}"),
            UpdateExpression="SET read_at = if_not_exists(read_at, :r)",
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeValues={":r": {"S": read_at}},
        )
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            return False
        raise
    return True
