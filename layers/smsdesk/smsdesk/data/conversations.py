"""Conversations and the per-(channel, number) pointer (see docs/data-model.md).

Keys:
* conversation ``PK=CONV#{id} SK=META``, with ``version`` (every write is conditioned on it, so
  concurrent inbounds, replies and agent actions never overwrite each other's changes):
  GSI1 ``VIEW#{channel_id}#{unassigned|assigned|closed}`` / ``{last_activity}#{id}`` (inbox views,
  most recent first); GSI2 ``ASSIGNEE#{user_id}`` / ``{last_activity}#{id}`` (open and assigned: Mine);
  GSI3 ``QUEUE#{channel_id}`` / ``{enqueued_at}#{id}`` (open, enqueued and not answered yet: issue 6);
  an unassigned conversation waiting outside a full queue uses GSI2 as ``OVERFLOW#{channel_id}`` /
  ``{overflow_at}#{id}`` (arrival order; GSI2 is free while nobody holds it); GSI4
  ``CONVNUM#{number}`` / ``{last_activity}#{id}`` (a customer number's conversations on every channel,
  most recent first: a contact's page).
  Every key is derived from the stored model (:func:`index_keys`), so a status change rewrites them
  on the one item.
* pointer ``PK=OPEN#{channel_id}#{e164} SK=CONV``: ``conversation_id`` of the latest conversation
  for that pair, ``open`` and ``closed_at``. Opening a conversation puts it conditioned on the state
  that was read (absent, or closed and pointing at the same conversation), so there is never more than
  one open conversation per (channel, number), and the reopen window is decided from this one item.
  Deleting a conversation removes the pointer (when it points at it): a later inbound starts fresh.
* a conversation being deleted is a tombstone (``deleting = true``, no index keys) until all its
  messages are gone; it is invisible to every read and a repeated DELETE resumes the clean-up.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from smsdesk import aws, config
from smsdesk.data import queueing, table
from smsdesk.data.credits import TransactionCanceled, TransactItem, transact
from smsdesk.models import Conversation, dump, iso

__all__ = ["TransactionCanceled", "transact"]

_KEYS = ("PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "GSI3PK", "GSI3SK", "GSI4PK", "GSI4SK")
_EXTRA = ("version", "deleting")


@dataclass(frozen=True)
class Pointer:
    """The latest conversation of a (channel, number) pair and whether it is open."""

    conversation_id: str
    open: bool
    closed_at: dt.datetime | None = None


def view_state(conv: Conversation) -> str:
    if conv.status == "closed":
        return "closed"
    return "assigned" if conv.assignee_id else "unassigned"


def number_partition(number: str) -> str:
    """The GSI4 partition of a customer number's conversations (every channel, every state)."""
    return f"CONVNUM#{number}"


def index_keys(conv: Conversation) -> dict[str, str]:
    """The GSI keys a conversation is stored with (absent keys keep it out of that index)."""
    sort = f"{iso(conv.last_activity_at)}#{conv.id}"
    keys = {"GSI1PK": f"VIEW#{conv.channel_id}#{view_state(conv)}", "GSI1SK": sort}
    keys |= {"GSI4PK": number_partition(conv.number), "GSI4SK": sort}
    if conv.status == "open" and conv.assignee_id:
        keys |= {"GSI2PK": f"ASSIGNEE#{conv.assignee_id}", "GSI2SK": sort}
    elif conv.queue_state() == "overflow" and conv.overflow_at:
        keys |= {"GSI2PK": f"OVERFLOW#{conv.channel_id}", "GSI2SK": f"{iso(conv.overflow_at)}#{conv.id}"}
    if conv.status == "open" and conv.enqueued_at and not conv.answered_at and not conv.bot_run_id:
        keys |= {"GSI3PK": f"QUEUE#{conv.channel_id}", "GSI3SK": f"{iso(conv.enqueued_at)}#{conv.id}"}
    return keys


def _split(item: dict[str, Any]) -> tuple[Conversation, int]:
    data = {k: v for k, v in item.items() if k not in _KEYS and k not in _EXTRA}
    return Conversation.model_validate(data), int(item.get("version", 0))


def get(conversation_id: str, *, consistent: bool = True) -> tuple[Conversation, int] | None:
    """(conversation, version), or None if it does not exist or is being deleted."""
    item = table.get(f"CONV#{conversation_id}", "META", consistent=consistent)
    if item is None or item.get("deleting"):
        return None
    return _split(item)


def get_tombstone(conversation_id: str) -> Conversation | None:
    """A conversation whose deletion started but did not finish (None otherwise)."""
    item = table.get(f"CONV#{conversation_id}", "META", consistent=True)
    return _split(item)[0] if item and item.get("deleting") else None


def put(conv: Conversation, *, version: int | None) -> TransactItem:
    """Write the whole conversation: new (``version`` None: must not exist) or replacing the one read
    at ``version`` (fails if anyone wrote it since)."""
    item = {"PK": f"CONV#{conv.id}", "SK": "META", **index_keys(conv), **dump(conv), "version": (version or 0) + 1}
    body: dict[str, Any] = {"TableName": config.table_name(), "Item": table.serialize(item)}
    if version is None:
        body["ConditionExpression"] = "attribute_not_exists(PK)"
    else:
        body["ConditionExpression"] = "#v = :v AND attribute_not_exists(deleting)"
        body["ExpressionAttributeNames"] = {"#v": "version"}
        body["ExpressionAttributeValues"] = {":v": {"N": str(version)}}
    return {"Put": body}


def write(before: Conversation | None, after: Conversation, *, version: int | None) -> None:
    """Write ``after`` over ``before`` (read at ``version``) with the counters it moves (agents' load,
    the queue's size: :func:`smsdesk.data.queueing.with_counters`)."""
    transact(queueing.with_counters([put(after, version=version)], before, after))


# -- pointer ----------------------------------------------------------------------------------------


def _pointer_pk(channel_id: str, number: str) -> str:
    return f"OPEN#{channel_id}#{number}"


def get_pointer(channel_id: str, number: str) -> Pointer | None:
    item = table.get(_pointer_pk(channel_id, number), "CONV", consistent=True)
    if item is None:
        return None
    closed = item.get("closed_at")
    return Pointer(
        conversation_id=item["conversation_id"],
        open=bool(item.get("open")),
        closed_at=dt.datetime.fromisoformat(closed.replace("Z", "+00:00")) if closed else None,
    )


def _expect(expected: Pointer | None) -> tuple[str, dict[str, Any]]:
    if expected is None:
        return "attribute_not_exists(PK)", {}
    return "#open = :f AND conversation_id = :old", {":f": {"BOOL": False}, ":old": {"S": expected.conversation_id}}


def pointer_open(channel_id: str, number: str, conversation_id: str, *, expected: Pointer | None) -> TransactItem:
    """Make ``conversation_id`` the open conversation of the pair, if the pointer is still as read."""
    cond, values = _expect(expected)
    item = {"PK": _pointer_pk(channel_id, number), "SK": "CONV", "conversation_id": conversation_id, "open": True}
    body: dict[str, Any] = {
        "TableName": config.table_name(),
        "Item": table.serialize(item),
        "ConditionExpression": cond,
    }
    if values:
        body["ExpressionAttributeNames"] = {"#open": "open"}
        body["ExpressionAttributeValues"] = values
    return {"Put": body}


def pointer_close(channel_id: str, number: str, conversation_id: str, closed_at: dt.datetime) -> TransactItem:
    """Mark the pair's conversation closed (it must be the one the pointer names)."""
    item = {
        "PK": _pointer_pk(channel_id, number),
        "SK": "CONV",
        "conversation_id": conversation_id,
        "open": False,
        "closed_at": iso(closed_at),
    }
    return {
        "Put": {
            "TableName": config.table_name(),
            "Item": table.serialize(item),
            "ConditionExpression": "attribute_not_exists(PK) OR conversation_id = :id",
            "ExpressionAttributeValues": {":id": {"S": conversation_id}},
        }
    }


def pointer_delete(channel_id: str, number: str, conversation_id: str) -> TransactItem:
    return {
        "Delete": {
            "TableName": config.table_name(),
            "Key": table.key(_pointer_pk(channel_id, number), "CONV"),
            "ConditionExpression": "conversation_id = :id",
            "ExpressionAttributeValues": {":id": {"S": conversation_id}},
        }
    }


# -- out-of-hours marker ------------------------------------------------------------------------------


def set_ooh_replied(conversation_id: str, day: dt.date, message_id: str) -> bool:
    """Set ``ooh_replied_on = day`` (claimed for the inbound ``message_id``) unless another message
    claimed that day already; True for the claiming message, again if it asks again (a retry).
    Bumps ``version`` so a concurrent whole-item write re-reads instead of undoing it."""
    try:
        aws.dynamodb().update_item(
            TableName=config.table_name(),
            Key=table.key(f"CONV#{conversation_id}", "META"),
            UpdateExpression="SET ooh_replied_on = :d, ooh_replied_for = :m, #v = #v + :one",
            ConditionExpression="attribute_exists(PK) AND attribute_not_exists(deleting) "
            "AND (attribute_not_exists(ooh_replied_on) OR ooh_replied_on <> :d OR ooh_replied_for = :m)",
            ExpressionAttributeNames={"#v": "version"},
            ExpressionAttributeValues={":d": {"S": day.isoformat()}, ":m": {"S": message_id}, ":one": {"N": "1"}},
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


# -- deletion -------------------------------------------------------------------------------------------


def tombstone(conv: Conversation, *, version: int) -> TransactItem:
    """Replace the conversation with a tombstone: out of every index, invisible to reads."""
    item = {"PK": f"CONV#{conv.id}", "SK": "META", **dump(conv), "deleting": True, "version": version + 1}
    return {
        "Put": {
            "TableName": config.table_name(),
            "Item": table.serialize(item),
            "ConditionExpression": "#v = :v",
            "ExpressionAttributeNames": {"#v": "version"},
            "ExpressionAttributeValues": {":v": {"N": str(version)}},
        }
    }


def message_keys(conversation_id: str, limit: int = 100) -> list[tuple[str, str, str | None, str | None]]:
    """Up to ``limit`` of the conversation's messages: (PK, SK, provider, provider_id)."""
    resp = aws.dynamodb().query(
        TableName=config.table_name(),
        IndexName="GSI3",
        KeyConditionExpression="GSI3PK = :pk",
        ExpressionAttributeValues={":pk": {"S": f"CONV#{conversation_id}"}},
        ProjectionExpression="PK, SK, provider, provider_id",
        Limit=limit,
    )
    out = []
    for raw in resp.get("Items", []):
        i = table.deserialize(raw)
        out.append((i["PK"], i["SK"], i.get("provider"), i.get("provider_id")))
    return out


def batch_delete(keys: list[tuple[str, str]]) -> None:
    """BatchWriteItem deletes, 25 per call, unprocessed items retried."""
    name = config.table_name()
    for start in range(0, len(keys), 25):
        request: dict[str, Any] = {
            name: [{"DeleteRequest": {"Key": table.key(pk, sk)}} for pk, sk in keys[start : start + 25]]
        }
        while request:
            resp = aws.dynamodb().batch_write_item(RequestItems=request)
            request = resp.get("UnprocessedItems") or {}


def delete_tombstone(conversation_id: str) -> None:
    aws.dynamodb().delete_item(
        TableName=config.table_name(),
        Key=table.key(f"CONV#{conversation_id}", "META"),
        ConditionExpression="deleting = :t",
        ExpressionAttributeValues={":t": {"BOOL": True}},
    )


# -- inbox pages -------------------------------------------------------------------------------------


def page(
    *,
    index: str,
    pk: str,
    limit: int,
    start: dict[str, Any] | None,
    not_assignee: str | None = None,
    channel_ids: set[str] | None = None,
    newest_first: bool = True,
    cursor_field: str = "cursor",
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Up to ``limit`` raw items of one index partition after ``start`` (a raw key), most recent
    first. Filters (``assignee_id <> not_assignee``, allowed channels) can make a query come back
    short; it is repeated until the page is full or the partition is exhausted. Returns the items and
    the raw key to resume after (None: exhausted)."""
    names = {"#pk": f"{index}PK"}
    values: dict[str, Any] = {":pk": {"S": pk}}
    filters = []
    if not_assignee is not None:
        filters.append("assignee_id <> :me")
        values[":me"] = {"S": not_assignee}
    if channel_ids is not None:
        filters.append(table.in_filter("channel_id", channel_ids, values))
    return table.index_page(
        index=index,
        key_condition="#pk = :pk",
        names=names,
        values=values,
        filters=filters,
        limit=limit,
        start=start,
        newest_first=newest_first,
        cursor_field=cursor_field,
    )


raw_key = table.raw_key


def from_item(item: dict[str, Any]) -> Conversation:
    return _split(item)[0]
