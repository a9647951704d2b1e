"""moto's ``TransactWriteItems`` with a per-item undo log instead of a copy of every table it touches.

moto 5.2 deep-copies each table named in a transaction before applying it, so that a cancelled
transaction can be rolled back: a one-item transaction on a 1,000-item table costs ~40 ms, and the
cost grows with the table (the local stack's send rate fell as its table grew). DynamoDB's own
semantics need far less: remember, for each item the transaction names, its state before the
transaction (and each touched table's stream length), and put exactly those back on cancellation.

:func:`install` wraps ``DynamoDBBackend.transact_write_items``: the original still validates, checks
the conditions and applies the items (its behaviour and errors are moto's), but its table copies are
no-ops; on any error the undo log restores the touched items and trims the stream records the
cancelled transaction appended. The local stack serialises DynamoDB requests
(``moto_server.serialise_dynamodb``), so nothing else sees the half-applied state.
"""

from __future__ import annotations

import copy
import types
from typing import Any

_real_deepcopy = copy.deepcopy


def install() -> None:
    from moto.dynamodb import models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    backend = models.DynamoDBBackend
    if getattr(backend.transact_write_items, "_smsdesk_undo", False):
        return

    def deepcopy(obj: Any, memo: Any = None) -> Any:
        # Only transact_write_items deep-copies whole tables in this module; the undo log replaces it.
        return obj if isinstance(obj, Table) else _real_deepcopy(obj, memo)

    models.copy = types.SimpleNamespace(deepcopy=deepcopy)  # type: ignore[attr-defined]
    original = backend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        undo: list[tuple[Any, Any, Any, Any]] = []
        streams: dict[int, tuple[Any, int]] = {}
        seen: set[tuple[str, str]] = set()
        for item in transact_items[:100]:
            if len(item) != 1:
                continue
            op_type, op = next(iter(item.items()))
            table = self.tables.get(op.get("TableName"))
            if table is None:
                continue
            key = op.get("Item") if op_type == "Put" else op.get("Key")
            if not isinstance(key, dict) or table.hash_key_attr not in key:
                continue
            hash_key = DynamoType(key[table.hash_key_attr])
            range_key = None
            if table.range_key_attr is not None:
                if table.range_key_attr not in key:
                    continue
                range_key = DynamoType(key[table.range_key_attr])
            ident = (table.name, repr((hash_key, range_key)))
            if ident in seen:
                continue
            seen.add(ident)
            before = table.get_item(hash_key, range_key)
            undo.append((table, hash_key, range_key, _real_deepcopy(before)))
            if table.stream_shard is not None:
                streams.setdefault(id(table), (table.stream_shard, len(table.stream_shard.items)))
        try:
            original(self, transact_items)
        except BaseException:
            for table, hash_key, range_key, before in reversed(undo):
                _restore(table, hash_key, range_key, before)
            for shard, length in streams.values():
                del shard.items[length:]
            raise

    transact_write_items._smsdesk_undo = True  # type: ignore[attr-defined]
    backend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _restore(table: Any, hash_key: Any, range_key: Any, before: Any) -> None:
    if range_key is None:
        if before is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = before
        return
    bucket = table.items[hash_key]
    if before is None:
        bucket.pop(range_key, None)
        if not bucket:
            table.items.pop(hash_key, None)
    else:
        bucket[range_key] = before
