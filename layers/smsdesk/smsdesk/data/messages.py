"""Messages, provider-id mappings and early receipts. Keys (docs/data-model.md):

* message: ``PK=MSG#{id} SK=META``; GSI1 ``MSGS#{channel_id}`` / ``{created_at}#{id}`` (sent overview
  per channel, newest first); GSI2 ``MSGTO#{e164}`` / ``{created_at}#{id}`` (by recipient).
  Besides the :class:`~smsdesk.models.Message` fields the item holds ``version`` (optimistic lock:
  every status write is conditioned on it), ``receipt_ids`` and ``part_status`` (receipt bookkeeping).
* provider id → message: ``PK=PROVIDER#{provider}#{provider_id} SK=MSG``.
* early receipt: ``PK=PROVIDER#{provider}#{provider_id} SK=RECEIPT#{at}#{raw_id hash}``.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

from smsdesk import aws, config
from smsdesk.data import table
from smsdesk.data.credits import TransactItem
from smsdesk.models import Message, Receipt, dump, iso

_KEYS = ("PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "GSI3PK", "GSI3SK")
_EXTRA = ("version", "receipt_ids", "part_status")
#: An early receipt whose message never gets a provider id is dropped by TTL after a week.
EARLY_RECEIPT_TTL_S = 7 * 86_400


def _item(message: Message, *, version: int, receipt_ids: list[str], part_status: dict[str, str]) -> dict[str, Any]:
    sort = f"{iso(message.created_at)}#{message.id}"
    item: dict[str, Any] = {
        "PK": f"MSG#{message.id}",
        "SK": "META",
        "GSI1PK": f"MSGS#{message.channel_id}",
        "GSI1SK": sort,
        "GSI2PK": f"MSGTO#{message.to}",
        "GSI2SK": sort,
        **dump(message),
        "version": version,
        "receipt_ids": receipt_ids or None,
        "part_status": part_status or None,
    }
    if message.conversation_id:
        item["GSI3PK"], item["GSI3SK"] = f"CONV#{message.conversation_id}", sort
    return item


def split(item: dict[str, Any]) -> tuple[Message, dict[str, Any]]:
    """A stored item → (message, bookkeeping: version, receipt_ids, part_status)."""
    extra = {
        "version": int(item.get("version", 0)),
        "receipt_ids": list(item.get("receipt_ids") or []),
        "part_status": dict(item.get("part_status") or {}),
    }
    data = {k: v for k, v in item.items() if k not in _KEYS and k not in _EXTRA}
    return Message.model_validate(data), extra


def get(message_id: str, *, consistent: bool = True) -> dict[str, Any] | None:
    return table.get(f"MSG#{message_id}", "META", consistent=consistent)


def put_new(message: Message) -> TransactItem:
    """The first write of a message (fails if the id exists)."""
    return {
        "Put": {
            "TableName": config.table_name(),
            "Item": table.serialize(_item(message, version=1, receipt_ids=[], part_status={})),
            "ConditionExpression": "attribute_not_exists(PK)",
        }
    }


def replace(
    message: Message, *, version: int, receipt_ids: list[str], part_status: dict[str, str], refund: bool = False
) -> TransactItem:
    """Overwrite the message if nobody wrote it since ``version`` was read (optimistic lock).

    ``refund``: also require ``refunded = false`` as stored, so a refund can be written only once.
    """
    cond = "#v = :v"
    values = {":v": {"N": str(version)}}
    if refund:
        cond += " AND refunded = :f"
        values[":f"] = {"BOOL": False}
    return {
        "Put": {
            "TableName": config.table_name(),
            "Item": table.serialize(
                _item(message, version=version + 1, receipt_ids=receipt_ids, part_status=part_status)
            ),
            "ConditionExpression": cond,
            "ExpressionAttributeNames": {"#v": "version"},
            "ExpressionAttributeValues": values,
        }
    }


def put_provider_mapping(provider: str, provider_id: str, message_id: str) -> TransactItem:
    return {
        "Put": {
            "TableName": config.table_name(),
            "Item": table.serialize(
                {"PK": f"PROVIDER#{provider}#{provider_id}", "SK": "MSG", "message_id": message_id}
            ),
        }
    }


def message_id_for(provider: str, provider_id: str) -> str | None:
    item = table.get(f"PROVIDER#{provider}#{provider_id}", "MSG", consistent=True)
    return item["message_id"] if item else None


def _receipt_sk(receipt: Receipt) -> str:
    digest = hashlib.sha256(receipt.raw_id.encode()).hexdigest()[:24]
    return f"RECEIPT#{iso(receipt.at)}#{digest}"


def put_early_receipt(receipt: Receipt) -> None:
    """Keep a receipt whose provider id is not mapped yet (same receipt twice: one item)."""
    pk = f"PROVIDER#{receipt.provider}#{receipt.provider_id}"
    expires = int(time.time()) + EARLY_RECEIPT_TTL_S
    table.put({"PK": pk, "SK": _receipt_sk(receipt), "receipt": dump(receipt), "expires_at": expires})


def early_receipts(provider: str, provider_id: str) -> list[Receipt]:
    pk = f"PROVIDER#{provider}#{provider_id}"
    out: list[Receipt] = []
    cursor: str | None = None
    while True:
        items, cursor = _query_consistent(pk, "RECEIPT#", cursor)
        out.extend(Receipt.model_validate(i["receipt"]) for i in items)
        if not cursor:
            return out


def _query_consistent(pk: str, prefix: str, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    kwargs: dict[str, Any] = {
        "TableName": config.table_name(),
        "KeyConditionExpression": "PK = :pk AND begins_with(SK, :sk)",
        "ExpressionAttributeValues": {":pk": {"S": pk}, ":sk": {"S": prefix}},
        "ConsistentRead": True,
    }
    start = table.decode_cursor(cursor)
    if start:
        kwargs["ExclusiveStartKey"] = start
    resp = aws.dynamodb().query(**kwargs)
    return [table.deserialize(i) for i in resp.get("Items", [])], table.encode_cursor(resp.get("LastEvaluatedKey"))


def delete_early_receipt(receipt: Receipt) -> None:
    pk = f"PROVIDER#{receipt.provider}#{receipt.provider_id}"
    aws.dynamodb().delete_item(TableName=config.table_name(), Key=table.key(pk, _receipt_sk(receipt)))


# -- sent overview ----------------------------------------------------------------------------------


def page(
    *,
    index: str,
    pk: str,
    limit: int,
    start: dict[str, Any] | None,
    since: str | None,
    status: str | None,
    channel_ids: set[str] | None,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Up to ``limit`` items of one index partition, newest first, after ``start`` (a raw key).

    Filters (status, allowed channels) are filter expressions, so a query can come back short;
    it is repeated until the page is full or the partition is exhausted. Returns the items and
    the raw key of the last item returned (None when the partition is exhausted).
    """
    expr = "#pk = :pk"
    names = {"#pk": f"{index}PK"}
    values: dict[str, Any] = {":pk": {"S": pk}}
    if since:
        expr += " AND #sk >= :since"
        names["#sk"] = f"{index}SK"
        values[":since"] = {"S": since}
    filters = []
    if status:
        filters.append("#st = :st")
        names["#st"] = "status"
        values[":st"] = {"S": status}
    if channel_ids is not None:
        filters.append(table.in_filter("channel_id", channel_ids, values))
    return table.index_page(
        index=index, key_condition=expr, names=names, values=values, filters=filters, limit=limit, start=start
    )


raw_key = table.raw_key
