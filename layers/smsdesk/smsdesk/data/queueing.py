"""Queue storage (issue 6): the waiting conversations of a channel, agents' load, the round-robin mark.

* waiting = the conversation index GSI3 ``QUEUE#{channel}`` / ``{enqueued_at}#{id}`` (open, enqueued,
  not answered), filtered to unassigned ones, oldest first;
* an agent's load is ``open_count`` on the profile (``USER#{id} / PROFILE``): changed by +1/-1 in the
  same transaction as every conversation write that moves an open assignment (:func:`load_delta`),
  so ``open_count < capacity`` can be a condition of the assigning transaction;
* the round-robin mark ``PK=QUEUE#{channel} SK=RR`` holds the last user dispatched to.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from smsdesk import config
from smsdesk.data import table
from smsdesk.data.credits import TransactItem
from smsdesk.models import Conversation, iso


def waiting(channel_id: str, *, limit: int = 10) -> list[dict[str, Any]]:
    """The oldest ``limit`` unassigned waiting conversations of the channel (raw items)."""
    items, _ = table.index_page(
        index="GSI3",
        key_condition="GSI3PK = :pk",
        names={},
        values={":pk": {"S": f"QUEUE#{channel_id}"}},
        filters=["attribute_not_exists(assignee_id)"],
        limit=limit,
        start=None,
        newest_first=False,
    )
    return items


def rr_last(channel_id: str) -> str | None:
    item = table.get(f"QUEUE#{channel_id}", "RR", consistent=True)
    return (item or {}).get("user_id")


def rr_put(channel_id: str, user_id: str) -> TransactItem:
    item = {"PK": f"QUEUE#{channel_id}", "SK": "RR", "user_id": user_id}
    return {"Put": {"TableName": config.table_name(), "Item": table.serialize(item)}}


def take(user_id: str, now: dt.datetime) -> TransactItem:
    """+1 load for an assignment by the queue; holds only while the user is available and below
    capacity (0/absent = no limit), so concurrent dispatchers never exceed it."""
    return {
        "Update": {
            "TableName": config.table_name(),
            "Key": table.key(f"USER#{user_id}", "PROFILE"),
            "UpdateExpression": "SET open_count = if_not_exists(open_count, :z) + :one, last_assigned_at = :now",
            "ConditionExpression": "available = :t AND (attribute_not_exists(#cap) OR #cap = :z "
            "OR attribute_not_exists(open_count) OR open_count < #cap)",
            "ExpressionAttributeNames": {"#cap": "capacity"},
            "ExpressionAttributeValues": {
                ":t": {"BOOL": True},
                ":z": {"N": "0"},
                ":one": {"N": "1"},
                ":now": {"S": iso(now)},
            },
        }
    }


def _add(user_id: str, delta: int) -> TransactItem:
    return {
        "Update": {
            "TableName": config.table_name(),
            "Key": table.key(f"USER#{user_id}", "PROFILE"),
            "UpdateExpression": "SET open_count = if_not_exists(open_count, :z) + :d",
            "ExpressionAttributeValues": {":z": {"N": "0"}, ":d": {"N": str(delta)}},
        }
    }


def _holder(conv: Conversation | None) -> str | None:
    return conv.assignee_id if conv is not None and conv.status == "open" else None


def load_delta(before: Conversation | None, after: Conversation | None) -> list[TransactItem]:
    """Items keeping ``open_count`` right when a conversation write moves an open assignment
    (assign, unassign, close, reopen, delete): -1 for the old holder, +1 for the new."""
    old, new = _holder(before), _holder(after)
    if old == new:
        return []
    out = []
    if old:
        out.append(_add(old, -1))
    if new:
        out.append(_add(new, 1))
    return out


def with_load(items: list[TransactItem], before: Conversation | None, after: Conversation | None) -> list[TransactItem]:
    """``items`` plus :func:`load_delta`. A transaction may touch an item once, so a delta on a
    profile that ``items`` already condition-checks (e.g. "assignee available") replaces that check
    in place (same position, so callers' error mapping by index holds), carrying its condition."""
    out = list(items)
    for delta in load_delta(before, after):
        update = delta["Update"]
        for i, existing in enumerate(out):
            check = existing.get("ConditionCheck")
            if check is None or check.get("Key") != update["Key"]:
                continue
            merged = dict(update)
            merged["ConditionExpression"] = check["ConditionExpression"]
            merged["ExpressionAttributeValues"] = {
                **update["ExpressionAttributeValues"],
                **check.get("ExpressionAttributeValues", {}),
            }
            if check.get("ExpressionAttributeNames"):
                merged["ExpressionAttributeNames"] = check["ExpressionAttributeNames"]
            out[i] = {"Update": merged}
            break
        else:
            out.append(delta)
    return out
