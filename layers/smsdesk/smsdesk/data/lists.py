"""Blocklists, opt-outs and the consent history (see docs/data-model.md).

Keys (``scope`` = a channel id, or ``ALL`` for account-wide):
* blocklist entry ``PK=BLOCK#{scope} SK={e164}``; ``GSI1 BLOCKLIST/{scope}#{e164}`` (list everything).
* opt-out ``PK=OPTOUT#{scope} SK={e164}``; ``GSI1 OPTOUTS/{scope}#{e164}``.
* consent record ``PK=CONSENT#{e164} SK={at}#{event_id}``: append-only (conditional put), never
  overwritten; written in the same transaction as the opt-out change it proves.

A send checks all four entries that can apply (both scopes, both lists) with one BatchGetItem.
"""

from __future__ import annotations

from typing import Any, Literal

from smsdesk.data import table
from smsdesk.data.channels import ConditionFailed, strip, transact

ALL = "ALL"
Kind = Literal["block", "optout"]
_PK = {"block": "BLOCK", "optout": "OPTOUT"}
_LIST = {"block": "BLOCKLIST", "optout": "OPTOUTS"}


def scope(channel_id: str | None) -> str:
    return channel_id or ALL


def keys_for(e164: str, channel_id: str | None, kinds: tuple[Kind, ...]) -> list[tuple[str, str]]:
    """The keys of every entry of ``kinds`` the number may have, account-wide and for the channel."""
    scopes = [ALL] + ([channel_id] if channel_id else [])
    return [(f"{_PK[k]}#{s}", e164) for k in kinds for s in scopes]


def entries_for(e164: str, channel_id: str | None, kinds: tuple[Kind, ...]) -> list[dict[str, Any]]:
    """Every entry of ``kinds`` for the number, account-wide and (if given) for the channel."""
    return table.batch_get(keys_for(e164, channel_id, kinds))


def _entry_item(kind: Kind, entry: dict[str, Any]) -> dict[str, Any]:
    s = scope(entry.get("channel_id"))
    return {
        "PK": f"{_PK[kind]}#{s}",
        "SK": entry["number"],
        "GSI1PK": _LIST[kind],
        "GSI1SK": f"{s}#{entry['number']}",
        "entity": kind,
        **entry,
    }


def put_block(entry: dict[str, Any]) -> None:
    table.put(_entry_item("block", entry))


def get_entry(kind: Kind, channel_id: str | None, e164: str) -> dict[str, Any] | None:
    item = table.get(f"{_PK[kind]}#{scope(channel_id)}", e164, consistent=True)
    return _clean(item) if item else None


def delete_block(channel_id: str | None, e164: str) -> bool:
    """Delete; False if there was no such entry."""
    try:
        transact(
            [
                {
                    "Delete": {
                        "Key": (f"BLOCK#{scope(channel_id)}", e164),
                        "ConditionExpression": "attribute_exists(PK)",
                    }
                }
            ]
        )
    except ConditionFailed:
        return False
    return True


def list_entries(
    kind: Kind, *, channel_id: str | None, only_scope: bool, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """A page of entries: everything (``only_scope`` False) or one scope (account-wide if
    ``channel_id`` is None), ordered by scope then number."""
    prefix = f"{scope(channel_id)}#" if only_scope else None
    items, nxt = table.query(_LIST[kind], index="GSI1", sk_prefix=prefix, limit=limit, cursor=cursor)
    return [_clean(i) for i in items], nxt


def _consent_item(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "PK": f"CONSENT#{record['number']}",
        "SK": f"{record['at']}#{record['id']}",
        "entity": "consent",
        **record,
    }


def opt_out(entry: dict[str, Any], record: dict[str, Any]) -> None:
    """Put (or refresh) the opt-out and append its consent record, atomically."""
    transact(
        [
            {"Put": {"Item": _entry_item("optout", entry)}},
            {"Put": {"Item": _consent_item(record), "ConditionExpression": "attribute_not_exists(PK)"}},
        ]
    )


def opt_in(channel_id: str | None, e164: str, record: dict[str, Any], *, require_existing: bool) -> bool:
    """Remove the opt-out and append the consent record, atomically. Returns whether an opt-out
    existed; with ``require_existing`` nothing is written when it did not."""
    consent = {"Put": {"Item": _consent_item(record), "ConditionExpression": "attribute_not_exists(PK)"}}
    try:
        transact(
            [
                {
                    "Delete": {
                        "Key": (f"OPTOUT#{scope(channel_id)}", e164),
                        "ConditionExpression": "attribute_exists(PK)",
                    }
                },
                consent,
            ]
        )
        return True
    except ConditionFailed as exc:
        if exc.reasons and exc.reasons[0] != "ConditionalCheckFailed":
            raise
    if not require_existing:
        transact([consent])
    return False


def consent_history(e164: str, *, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    items, nxt = table.query(f"CONSENT#{e164}", limit=limit, cursor=cursor)
    return [_clean(i) for i in items], nxt


def _clean(item: dict[str, Any]) -> dict[str, Any]:
    return strip(item)


def entries_for_numbers(
    numbers: list[str], channel_id: str | None, kinds: tuple[Kind, ...]
) -> dict[str, list[dict[str, Any]]]:
    """:func:`entries_for` of many numbers at once (BatchGetItem, 100 keys per call), by number."""
    scopes = [ALL] + ([channel_id] if channel_id else [])
    keys = [(f"{_PK[k]}#{s}", n) for n in dict.fromkeys(numbers) for k in kinds for s in scopes]
    out: dict[str, list[dict[str, Any]]] = {}
    for item in table.batch_get(keys):
        out.setdefault(item["SK"], []).append(item)
    return out


def entries_in_scopes(e164: str, channel_ids: list[str], kinds: tuple[Kind, ...]) -> dict[Kind, list[dict[str, Any]]]:
    """Every entry of ``kinds`` for the number, account-wide and in each of ``channel_ids``, by kind."""
    keys = [(f"{_PK[k]}#{s}", e164) for k in kinds for s in [ALL, *channel_ids]]
    out: dict[Kind, list[dict[str, Any]]] = {k: [] for k in kinds}
    for item in table.batch_get(keys):
        kind: Kind = "block" if item["PK"].startswith("BLOCK#") else "optout"
        out[kind].append(_clean(item))
    for entries in out.values():
        entries.sort(key=lambda e: (e.get("channel_id") or "", e.get("created_at") or ""))
    return out
