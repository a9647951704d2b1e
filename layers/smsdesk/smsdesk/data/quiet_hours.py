"""Stored quiet-hours rules for marketing (issue 14 item 6): the account's default and each channel's override.

Keys (docs/data-model.md): one partition, ``PK=QUIETHOURS``, ``SK=ACCOUNT`` and ``SK=CHANNEL#{channel_id}``;
the item holds the rule's fields (``start``/``end`` as ``HH:MM:SS``, ``holidays`` as ISO dates) and
``updated_at``/``updated_by``. The fan-out reads both of a campaign's items in one BatchGetItem per wave.
"""

from __future__ import annotations

from typing import Any

from smsdesk import aws, config
from smsdesk.data import table

PK = "QUIETHOURS"
ACCOUNT = "ACCOUNT"
_KEYS = ("PK", "SK")


def channel_sk(channel_id: str) -> str:
    return f"CHANNEL#{channel_id}"


def _strip(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in _KEYS}


def get_many(channel_id: str | None) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """(account rule, channel rule), each None when not set: one BatchGetItem."""
    keys = [(PK, ACCOUNT)] + ([(PK, channel_sk(channel_id))] if channel_id else [])
    got = {i["SK"]: _strip(i) for i in table.batch_get(keys, consistent=True)}
    return got.get(ACCOUNT), (got.get(channel_sk(channel_id)) if channel_id else None)


def put(sk: str, rule: dict[str, Any]) -> None:
    table.put({"PK": PK, "SK": sk, **rule})


def delete(sk: str) -> None:
    aws.dynamodb().delete_item(TableName=config.table_name(), Key=table.key(PK, sk))
