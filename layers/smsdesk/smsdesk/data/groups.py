"""Groups of contacts (see docs/data-model.md).

Keys:
* group ``PK=GROUP#{id} SK=META``; GSI1 ``GROUPS`` / ``{name folded}#{id}`` (list by name). A dynamic
  group stores its ``rule``; its members are computed when used.
* static member ``PK=GROUP#{id} SK=MEMBER#{contact_id}``; GSI1 ``CGROUPS#{contact_id}`` / ``{group_id}``
  (a contact's groups; what deleting a contact removes). Members are written with BatchWriteItem
  (idempotent puts and deletes, 25 per call); a group's members are one partition, paged in id order.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from smsdesk import aws, config
from smsdesk.data import table

_KEYS = ("PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "entity")
LIST_PK = "GROUPS"


def _clean(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in _KEYS}


def put(group: dict[str, Any], *, sort_name: str, new: bool) -> None:
    item = {
        "PK": f"GROUP#{group['id']}",
        "SK": "META",
        "GSI1PK": LIST_PK,
        "GSI1SK": f"{sort_name}#{group['id']}",
        "entity": "group",
        **group,
    }
    table.put(item, condition="attribute_not_exists(PK)" if new else "attribute_exists(PK)")


def get(group_id: str) -> dict[str, Any] | None:
    item = table.get(f"GROUP#{group_id}", "META", consistent=True)
    return _clean(item) if item else None


def list_groups(*, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    items, nxt = table.query(LIST_PK, index="GSI1", limit=limit, cursor=cursor)
    return [_clean(i) for i in items], nxt


def _batch_write(requests: list[dict[str, Any]]) -> None:
    """BatchWriteItem in chunks of 25, retrying unprocessed items with a short backoff."""
    name = config.table_name()
    for start in range(0, len(requests), 25):
        pending: dict[str, Any] = {name: requests[start : start + 25]}
        for attempt in range(10):
            resp = aws.dynamodb().batch_write_item(RequestItems=pending)
            pending = resp.get("UnprocessedItems") or {}
            if not pending:
                break
            time.sleep(min(0.05 * 2**attempt, 1.0))
        else:
            raise RuntimeError("BatchWriteItem left unprocessed items")


def _member_item(group_id: str, contact_id: str, at: str) -> dict[str, Any]:
    return {
        "PK": f"GROUP#{group_id}",
        "SK": f"MEMBER#{contact_id}",
        "GSI1PK": f"CGROUPS#{contact_id}",
        "GSI1SK": group_id,
        "entity": "member",
        "group_id": group_id,
        "contact_id": contact_id,
        "added_at": at,
    }


def add_members(group_id: str, contact_ids: list[str], *, at: str) -> None:
    _batch_write([{"PutRequest": {"Item": table.serialize(_member_item(group_id, c, at))}} for c in contact_ids])


def remove_members(group_id: str, contact_ids: list[str]) -> None:
    keys = [table.key(f"GROUP#{group_id}", f"MEMBER#{c}") for c in dict.fromkeys(contact_ids)]
    _batch_write([{"DeleteRequest": {"Key": k}} for k in keys])


def is_member(group_id: str, contact_id: str) -> bool:
    return table.get(f"GROUP#{group_id}", f"MEMBER#{contact_id}", consistent=True) is not None


def member_pages(
    group_id: str, *, start: dict[str, Any] | None = None, page_size: int = 100
) -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """The group's member contact ids in id order from after ``start`` (a raw table key), one Query
    page at a time, each with its raw key."""
    pk = f"GROUP#{group_id}"
    kwargs: dict[str, Any] = {
        "TableName": config.table_name(),
        "KeyConditionExpression": "PK = :pk AND begins_with(SK, :m)",
        "ExpressionAttributeValues": {":pk": {"S": pk}, ":m": {"S": "MEMBER#"}},
        "ConsistentRead": True,
        "Limit": page_size,
    }
    if start:
        kwargs["ExclusiveStartKey"] = table.check_start(start, index=None, partition=pk, sk_prefix="MEMBER#")
    for resp in table.query_pages(**kwargs):
        items = resp.get("Items", [])
        if items:
            yield [(i["contact_id"]["S"], {"PK": i["PK"], "SK": i["SK"]}) for i in items]


def count_members(group_id: str) -> int:
    kwargs = {
        "TableName": config.table_name(),
        "KeyConditionExpression": "PK = :pk AND begins_with(SK, :m)",
        "ExpressionAttributeValues": {":pk": {"S": f"GROUP#{group_id}"}, ":m": {"S": "MEMBER#"}},
        "Select": "COUNT",
        "ConsistentRead": True,
    }
    return sum(int(page.get("Count", 0)) for page in table.query_pages(**kwargs))


def groups_of(contact_id: str) -> list[str]:
    """The static groups the contact is in (GSI1, eventually consistent)."""
    kwargs = {
        "TableName": config.table_name(),
        "IndexName": "GSI1",
        "KeyConditionExpression": "GSI1PK = :pk",
        "ExpressionAttributeValues": {":pk": {"S": f"CGROUPS#{contact_id}"}},
    }
    return [i["GSI1SK"]["S"] for page in table.query_pages(**kwargs) for i in page.get("Items", [])]


def remove_contact_everywhere(contact_id: str) -> None:
    requests = [
        {"DeleteRequest": {"Key": table.key(f"GROUP#{gid}", f"MEMBER#{contact_id}")}} for gid in groups_of(contact_id)
    ]
    if requests:
        _batch_write(requests)


def delete(group_id: str) -> None:
    """The group's members, then the group itself (a retried DELETE finishes the job)."""
    for page in member_pages(group_id, page_size=500):
        _batch_write([{"DeleteRequest": {"Key": table.key(f"GROUP#{group_id}", f"MEMBER#{c}")}} for c, _ in page])
    aws.dynamodb().delete_item(TableName=config.table_name(), Key=table.key(f"GROUP#{group_id}", "META"))
