"""Channels and their team grants (see docs/data-model.md).

Keys:
* channel ``PK=CHANNEL#{id} SK=META``; ``GSI1 CHANNELS/{name}#{id}`` (list);
  ``GSI2 SENDER#{provider}#{sender}/CHANNEL`` (inbound number → channel).
* grant ``PK=CHANNEL#{id} SK=GRANT#{team_id}``; ``GSI1 GRANTS#{team_id}/{channel_id}`` (a team's channels).
* two-way sender guard ``PK=SENDER#{provider}#{sender} SK=LOCK``: one channel per inbound number, so
  an inbound SMS can always be routed to exactly one channel.

The META item also carries ``team_ids`` (denormalised from the grants, written in the same
transaction) so that loading a channel for an access check is one GetItem.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from smsdesk import aws, config
from smsdesk.data import table

_KEYS = frozenset({"PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "entity"})


class ConditionFailed(Exception):
    """A transaction's condition did not hold (``reasons``: one code per operation, '' = ok)."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__(", ".join(reasons))
        self.reasons = reasons


def transact(ops: list[dict[str, Any]]) -> None:
    """TransactWriteItems on the main table; ops are ``{"Put"|"Update"|"Delete"|"ConditionCheck": {...}}``
    whose Item/Key/values are plain Python (serialised here). Raises :class:`ConditionFailed`."""
    name = config.table_name()
    items = []
    for op in ops:
        ((kind, body),) = op.items()
        body = dict(body)
        body["TableName"] = name
        if "Item" in body:
            body["Item"] = table.serialize(body["Item"])
        if "Key" in body:
            body["Key"] = table.key(*body["Key"])
        if "ExpressionAttributeValues" in body:
            body["ExpressionAttributeValues"] = table.serialize(body["ExpressionAttributeValues"])
        items.append({kind: body})
    try:
        aws.dynamodb().transact_write_items(TransactItems=items)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
            raise
        reasons = [r.get("Code", "") or "" for r in exc.response.get("CancellationReasons", [])]
        reasons = ["" if r == "None" else r for r in reasons]
        raise ConditionFailed(reasons) from exc


def strip(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in _KEYS}


def sender_lock_key(provider: str, sender: str) -> tuple[str, str]:
    return f"SENDER#{provider}#{sender}", "LOCK"


def _item(channel: dict[str, Any]) -> dict[str, Any]:
    return {
        "PK": f"CHANNEL#{channel['id']}",
        "SK": "META",
        "GSI1PK": "CHANNELS",
        "GSI1SK": f"{channel['name'].lower()}#{channel['id']}",
        "GSI2PK": f"SENDER#{channel['provider']}#{channel['sender']}",
        "GSI2SK": "CHANNEL",
        "entity": "channel",
        **channel,
        "team_ids": sorted(channel.get("team_ids") or []),
    }


def get_channel(channel_id: str, *, consistent: bool = False) -> dict[str, Any] | None:
    """The stored channel (no keys), or None."""
    item = table.get(f"CHANNEL#{channel_id}", "META", consistent=consistent)
    return strip(item) if item else None


def get_channels(channel_ids: list[str]) -> list[dict[str, Any]]:
    return [strip(i) for i in table.batch_get([(f"CHANNEL#{c}", "META") for c in channel_ids])]


def create_channel(channel: dict[str, Any]) -> None:
    """Write a new channel; a two-way sender also takes its sender lock (409 material if taken)."""
    ops: list[dict[str, Any]] = [
        {"Put": {"Item": _item(channel), "ConditionExpression": "attribute_not_exists(PK)"}},
    ]
    if channel["type"] == "two_way":
        pk, sk = sender_lock_key(channel["provider"], channel["sender"])
        ops.append(
            {
                "Put": {
                    "Item": {"PK": pk, "SK": sk, "entity": "sender_lock", "channel_id": channel["id"]},
                    "ConditionExpression": "attribute_not_exists(PK)",
                }
            }
        )
    transact(ops)


def replace_channel(old: dict[str, Any], new: dict[str, Any]) -> None:
    """Overwrite a channel if nobody changed it since ``old`` was read (optimistic concurrency on
    ``updated_at``), moving the two-way sender lock when the sender changes."""
    ops: list[dict[str, Any]] = [
        {
            "Put": {
                "Item": _item(new),
                "ConditionExpression": "updated_at = :prev",
                "ExpressionAttributeValues": {":prev": old["updated_at"]},
            }
        }
    ]
    old_lock = sender_lock_key(old["provider"], old["sender"]) if old["type"] == "two_way" else None
    new_lock = sender_lock_key(new["provider"], new["sender"]) if new["type"] == "two_way" else None
    if old_lock != new_lock:
        if old_lock:
            ops.append({"Delete": {"Key": old_lock}})
        if new_lock:
            ops.append(
                {
                    "Put": {
                        "Item": {
                            "PK": new_lock[0],
                            "SK": new_lock[1],
                            "entity": "sender_lock",
                            "channel_id": new["id"],
                        },
                        "ConditionExpression": "attribute_not_exists(PK)",
                    }
                }
            )
    transact(ops)


def set_has_secret(channel_id: str, value: bool) -> None:
    aws.dynamodb().update_item(
        TableName=config.table_name(),
        Key=table.key(f"CHANNEL#{channel_id}", "META"),
        UpdateExpression="SET has_secret = :v",
        ConditionExpression="attribute_exists(PK)",
        ExpressionAttributeValues={":v": {"BOOL": value}},
    )


def list_channels(*, limit: int = 50, cursor: str | None = None) -> tuple[list[dict[str, Any]], str | None]:
    items, nxt = table.query("CHANNELS", index="GSI1", limit=limit, cursor=cursor)
    return [strip(i) for i in items], nxt


def find_by_sender(provider: str, sender: str) -> dict[str, Any] | None:
    """The channel whose sender is ``sender`` (inbound routing, issue 5)."""
    items, _ = table.query(f"SENDER#{provider}#{sender}", index="GSI2", limit=1)
    return strip(items[0]) if items else None


def set_grants(channel: dict[str, Any], team_ids: list[str], *, now: str) -> None:
    """Grant the channel to exactly ``team_ids``: META ``team_ids`` and the grant items change in one
    transaction, conditioned on the META item being unchanged since read."""
    old, new = set(channel.get("team_ids") or []), set(team_ids)
    cid = channel["id"]
    ops: list[dict[str, Any]] = [
        {
            "Update": {
                "Key": (f"CHANNEL#{cid}", "META"),
                "UpdateExpression": "SET team_ids = :t, updated_at = :now",
                "ConditionExpression": "updated_at = :prev",
                "ExpressionAttributeValues": {
                    ":t": sorted(new),
                    ":prev": channel["updated_at"],
                    ":now": now,
                },
            }
        }
    ]
    for t in sorted(new - old):
        ops.append(
            {
                "Put": {
                    "Item": {
                        "PK": f"CHANNEL#{cid}",
                        "SK": f"GRANT#{t}",
                        "GSI1PK": f"GRANTS#{t}",
                        "GSI1SK": cid,
                        "entity": "grant",
                        "channel_id": cid,
                        "team_id": t,
                    }
                }
            }
        )
    for t in sorted(old - new):
        ops.append({"Delete": {"Key": (f"CHANNEL#{cid}", f"GRANT#{t}")}})
    transact(ops)


def channel_ids_for_team(team_id: str) -> list[str]:
    out: list[str] = []
    cursor: str | None = None
    while True:
        items, cursor = table.query(f"GRANTS#{team_id}", index="GSI1", limit=200, cursor=cursor)
        out.extend(i["channel_id"] for i in items)
        if not cursor:
            return out
