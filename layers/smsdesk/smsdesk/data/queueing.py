"""Queue storage (issue 6): the waiting conversations of a channel, agents' load, the round-robin mark.

* waiting = the conversation index GSI3 ``QUEUE#{channel}`` / ``{enqueued_at}#{id}`` (open, enqueued,
  not answered), filtered to unassigned ones, oldest first;
* an agent's load is ``open_count`` on the profile (``USER#{id} / PROFILE``): changed by +1/-1 in the
  same transaction as every conversation write that moves an open assignment (:func:`load_delta`),
  so ``open_count < capacity`` can be a condition of the assigning transaction;
* the round-robin mark ``PK=QUEUE#{channel} SK=RR`` holds the last user dispatched to;
* the queue's size ``PK=QUEUE#{channel} SK=SIZE``: ``waiting`` (in the queue, unassigned) and
  ``overflow`` (waiting outside it, GSI2 ``OVERFLOW#{channel}`` / ``{overflow_at}#{id}``), changed in
  the same transaction as every conversation write that moves one in or out (:func:`size_delta`, from
  :meth:`Conversation.queue_state`). Admitting an interaction is conditioned on ``waiting < cap`` (and,
  for a new arrival, on an empty overflow, so nobody overtakes it), so concurrent inbounds never
  exceed ``max_in_queue``.

:func:`with_counters` adds both deltas to a transaction; every conversation write goes through it.
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


def overflow(channel_id: str, *, limit: int = 1) -> list[dict[str, Any]]:
    """The oldest ``limit`` conversations waiting outside the channel's queue (raw items)."""
    items, _ = table.index_page(
        index="GSI2",
        key_condition="GSI2PK = :pk",
        names={},
        values={":pk": {"S": f"OVERFLOW#{channel_id}"}},
        filters=[],
        limit=limit,
        start=None,
        newest_first=False,
    )
    return items


def size(channel_id: str) -> tuple[int, int]:
    """(waiting in the queue, waiting outside it) of a channel, from its counters."""
    item = table.get(f"QUEUE#{channel_id}", "SIZE", consistent=True) or {}
    return max(0, int(item.get("waiting") or 0)), max(0, int(item.get("overflow") or 0))


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


def _state(conv: Conversation | None) -> str | None:
    return conv.queue_state() if conv is not None else None


def size_delta(before: Conversation | None, after: Conversation | None, *, cap: int = 0) -> list[TransactItem]:
    """The update of the channel's queue size when a write moves a conversation into or out of the queue
    or its overflow ([] if it does not). An *admission* (a new interaction entering the queue, or one
    entering from the overflow) under a ``cap`` > 0 holds only while ``waiting < cap``; a new arrival
    also only while the overflow is empty; so does a bot's handoff (the conversation leaves the bot).
    Returns to the queue (unassign) are never refused."""
    old, new = _state(before), _state(after)
    if old == new:
        return []
    conv = after or before
    assert conv is not None
    d_wait = (new == "waiting") - (old == "waiting")
    d_over = (new == "overflow") - (old == "overflow")
    parts, values = [], {}
    for name, d in (("waiting", d_wait), ("overflow", d_over)):
        if d:
            parts.append(f"{name} :d{name[0]}")
            values[f":d{name[0]}"] = {"N": str(d)}
    update: dict[str, Any] = {
        "TableName": config.table_name(),
        "Key": table.key(f"QUEUE#{conv.channel_id}", "SIZE"),
        "UpdateExpression": "ADD " + ", ".join(parts),
        "ExpressionAttributeValues": values,
    }
    admitted = new == "waiting" and (
        old == "overflow"
        or before is None
        or before.enqueued_at != after.enqueued_at
        or (before.bot_run_id is not None and after.bot_run_id is None)  # a bot's handoff (issue 15)
    )
    if admitted and cap > 0:
        cond = "(attribute_not_exists(waiting) OR waiting < :cap)"
        values[":cap"] = {"N": str(cap)}
        if old != "overflow":
            cond += " AND (attribute_not_exists(overflow) OR overflow <= :zero)"
            values[":zero"] = {"N": "0"}
        update["ConditionExpression"] = cond
    return [{"Update": update}]


def with_counters(
    items: list[TransactItem], before: Conversation | None, after: Conversation | None, *, cap: int = 0
) -> list[TransactItem]:
    """``items`` (a conversation write from ``before`` to ``after``) plus the agents' load
    (:func:`with_load`) and the queue size (:func:`size_delta`, admissions held to ``cap``)."""
    return with_load(items, before, after) + size_delta(before, after, cap=cap)


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
