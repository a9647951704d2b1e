"""Custom contact field definitions (see docs/data-model.md): ``PK=CONTACTFIELDS SK={key}``.

All definitions sit in one small partition (at most ``crm.fields.MAX_FIELDS``), read with one Query.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from smsdesk import aws, config
from smsdesk.data import table

PK = "CONTACTFIELDS"
_KEYS = ("PK", "SK")


def _clean(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in _KEYS}


def list_all() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    kwargs = {
        "TableName": config.table_name(),
        "KeyConditionExpression": "PK = :pk",
        "ExpressionAttributeValues": {":pk": {"S": PK}},
        "ConsistentRead": True,
    }
    for page in table.query_pages(**kwargs):
        out += [_clean(table.deserialize(i)) for i in page.get("Items", [])]
    return out


def get(key: str) -> dict[str, Any] | None:
    item = table.get(PK, key, consistent=True)
    return _clean(item) if item else None


def put_new(definition: dict[str, Any]) -> bool:
    """False if a field with this key exists."""
    try:
        table.put({"PK": PK, "SK": definition["key"], **definition}, condition="attribute_not_exists(PK)")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def put(definition: dict[str, Any]) -> None:
    table.put({"PK": PK, "SK": definition["key"], **definition}, condition="attribute_exists(PK)")


def delete(key: str) -> bool:
    try:
        aws.dynamodb().delete_item(
            TableName=config.table_name(), Key=table.key(PK, key), ConditionExpression="attribute_exists(PK)"
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True
