"""CRM items (issue 16): pipelines, leads, deals, conversation links and transcript notes.

Keys (docs/data-model.md):

* pipeline ``PK=PIPELINE#{id} SK=META``; GSI1 ``PIPELINES`` / ``{id}``.
* lead ``PK=LEAD#{id} SK=META``; GSI1 ``LEADS`` / ``{id}`` (ids are time-ordered: newest first by id).
* deal ``PK=DEAL#{id} SK=META``; GSI1 ``DEALS`` / ``{id}``.
* link ``PK=CRMLINK#{id} SK=META``; GSI2 ``ITEMLINKS#{kind}#{item_id}`` / ``{id}`` (an item's links).
  The link also holds the transcript state: ``msgs`` (message id → its time) and ``note_ids``.
  Deleting a contact, lead or deal deletes its links through this index (``delete_item_links``).
* link guard ``PK=CONVLINKS#{conversation_id} SK=TARGET#{provider}#{kind}#{item_id}`` (``link_id``): one
  link per (conversation, item), put with ``attribute_not_exists`` in the link's transaction; a
  consistent Query of the partition lists a conversation's links (so a message filed just after a
  link commits always finds it: an index could still miss it).
* note ``PK=CRMNOTES#{kind}#{item_id} SK=NOTE#{id}`` (ids time-ordered).
* CRM settings ``PK=CRM SK=SETTINGS``.

Every item carries ``version``; every replacement is conditioned on the version it read.
"""

from __future__ import annotations

import time
from typing import Any

from smsdesk import config
from smsdesk.data import table
from smsdesk.data.credits import TransactionCanceled, TransactItem, transact

__all__ = ["TransactionCanceled", "transact"]

_KEYS = ("PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "version", "ob")

KINDS = {"pipeline": "PIPELINE", "lead": "LEAD", "deal": "DEAL"}
_LINKABLE = {"contact": "CONTACT", "lead": "LEAD", "deal": "DEAL"}  # the items a smsdesk link may name
LISTS = {"pipeline": "PIPELINES", "lead": "LEADS", "deal": "DEALS"}


def strip(item: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k not in _KEYS}


def _put(item: dict[str, Any], version: int | None) -> TransactItem:
    """Put ``item`` new (``version`` None: must not exist) or over the one read at ``version``."""
    body: dict[str, Any] = {
        "TableName": config.table_name(),
        "Item": table.serialize({**item, "version": (version or 0) + 1}),
    }
    if version is None:
        body["ConditionExpression"] = "attribute_not_exists(PK)"
    else:
        body["ConditionExpression"] = "#v = :v"
        body["ExpressionAttributeNames"] = {"#v": "version"}
        body["ExpressionAttributeValues"] = {":v": {"N": str(version)}}
    return {"Put": body}


def _delete(pk: str, sk: str, version: int | None = None) -> TransactItem:
    body: dict[str, Any] = {"TableName": config.table_name(), "Key": table.key(pk, sk)}
    if version is not None:
        body["ConditionExpression"] = "#v = :v"
        body["ExpressionAttributeNames"] = {"#v": "version"}
        body["ExpressionAttributeValues"] = {":v": {"N": str(version)}}
    return {"Delete": body}


# -- pipelines, leads, deals ---------------------------------------------------------------------------


def item_put(kind: str, data: dict[str, Any], *, version: int | None) -> TransactItem:
    return _put(
        {"PK": f"{KINDS[kind]}#{data['id']}", "SK": "META", "GSI1PK": LISTS[kind], "GSI1SK": data["id"], **data},
        version,
    )


def item_get(kind: str, item_id: str) -> tuple[dict[str, Any], int] | None:
    item = table.get(f"{KINDS[kind]}#{item_id}", "META", consistent=True)
    return (strip(item), int(item.get("version", 0))) if item else None


def item_delete(kind: str, item_id: str) -> TransactItem:
    return _delete(f"{KINDS[kind]}#{item_id}", "META")


def item_page(kind: str, *, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    items, nxt = table.query(LISTS[kind], index="GSI1", limit=limit, cursor=cursor, newest_first=True)
    return [strip(i) for i in items], nxt


# -- links ---------------------------------------------------------------------------------------------


def _guard_key(conversation_id: str, target: str) -> tuple[str, str]:
    return f"CONVLINKS#{conversation_id}", f"TARGET#{target}"


def link_put(link: dict[str, Any], *, version: int | None) -> TransactItem:
    return _put(
        {
            "PK": f"CRMLINK#{link['id']}",
            "SK": "META",
            "GSI2PK": f"ITEMLINKS#{link['kind']}#{link['item_id']}",
            "GSI2SK": link["id"],
            **link,
        },
        version,
    )


def link_guard_put(conversation_id: str, target: str, link_id: str) -> TransactItem:
    pk, sk = _guard_key(conversation_id, target)
    return {
        "Put": {
            "TableName": config.table_name(),
            "Item": table.serialize({"PK": pk, "SK": sk, "link_id": link_id}),
            "ConditionExpression": "attribute_not_exists(PK)",
        }
    }


def link_guard_get(conversation_id: str, target: str) -> str | None:
    item = table.get(*_guard_key(conversation_id, target), consistent=True)
    return item["link_id"] if item else None


def link_guard_delete(conversation_id: str, target: str) -> TransactItem:
    return _delete(*_guard_key(conversation_id, target))


def link_get(link_id: str) -> tuple[dict[str, Any], int] | None:
    item = table.get(f"CRMLINK#{link_id}", "META", consistent=True)
    return (strip(item), int(item.get("version", 0))) if item else None


def link_delete(link_id: str) -> TransactItem:
    return _delete(f"CRMLINK#{link_id}", "META")


def link_target(link: dict[str, Any]) -> str:
    """The guard's target of a stored link: ``{provider}#{kind}#{item_id}``."""
    return f"{link.get('provider', 'smsdesk')}#{link['kind']}#{link['item_id']}"


def linked_item_exists(kind: str, item_id: str) -> TransactItem:
    """A check, in a link's transaction, that the smsdesk contact, lead or deal it names exists (so an
    item deleted after it was read is never linked: its deletion finds the links committed before)."""
    return {
        "ConditionCheck": {
            "TableName": config.table_name(),
            "Key": table.key(f"{_LINKABLE[kind]}#{item_id}", "META"),
            "ConditionExpression": "attribute_exists(PK)",
        }
    }


def delete_item_links(kind: str, item_id: str, *, provider: str = "smsdesk") -> int:
    """Delete the ``provider`` links to an item and their guards (one transaction per link), found
    through the item's index (``ITEMLINKS#{kind}#{item_id}`` on GSI2: no scan). The number deleted."""
    n = 0
    for link in item_links(kind, item_id):
        if link.get("provider", "smsdesk") != provider:
            continue
        items = [link_delete(link["id"]), link_guard_delete(link["conversation_id"], link_target(link))]
        for attempt in range(5):  # the deletes are unconditional: a conflict (crmnotes writing the
            try:  # link's notes state at the same moment) is safe to try again
                transact(items)
                break
            except TransactionCanceled:
                if attempt == 4:
                    raise
                time.sleep(0.02 * (attempt + 1))
        n += 1
    return n


def _all(pk: str, index: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        items, cursor = table.query(pk, index=index, limit=100, cursor=cursor)
        out.extend(items)
        if not cursor:
            return out


def conversation_link_ids(conversation_id: str) -> list[str]:
    """The ids of a conversation's links, oldest first (a consistent Query of its guards)."""
    out: list[tuple[str, str]] = []
    for page in table.query_pages(
        TableName=config.table_name(),
        KeyConditionExpression="PK = :pk AND begins_with(SK, :t)",
        ExpressionAttributeValues={":pk": {"S": f"CONVLINKS#{conversation_id}"}, ":t": {"S": "TARGET#"}},
        ConsistentRead=True,
    ):
        out.extend((i["link_id"], i["SK"]) for i in map(table.deserialize, page.get("Items", [])))
    return [link_id for link_id, _ in sorted(out)]


def item_links(kind: str, item_id: str) -> list[dict[str, Any]]:
    return [strip(i) for i in _all(f"ITEMLINKS#{kind}#{item_id}", "GSI2")]


# -- notes ---------------------------------------------------------------------------------------------


def _note_pk(kind: str, item_id: str) -> str:
    return f"CRMNOTES#{kind}#{item_id}"


def note_put(note: dict[str, Any], *, version: int | None) -> TransactItem:
    return _put({"PK": _note_pk(note["kind"], note["item_id"]), "SK": f"NOTE#{note['id']}", **note}, version)


def note_get(kind: str, item_id: str, note_id: str) -> tuple[dict[str, Any], int] | None:
    item = table.get(_note_pk(kind, item_id), f"NOTE#{note_id}", consistent=True)
    return (strip(item), int(item.get("version", 0))) if item else None


def notes_get(kind: str, item_id: str, note_ids: list[str]) -> dict[str, tuple[dict[str, Any], int]]:
    items = table.batch_get([(_note_pk(kind, item_id), f"NOTE#{n}") for n in note_ids], consistent=True)
    return {i["id"]: (strip(i), int(i.get("version", 0))) for i in items}


def note_delete(kind: str, item_id: str, note_id: str, *, version: int) -> TransactItem:
    return _delete(_note_pk(kind, item_id), f"NOTE#{note_id}", version)


def notes_page(kind: str, item_id: str, *, limit: int, cursor: str | None) -> tuple[list[dict[str, Any]], str | None]:
    items, nxt = table.query(_note_pk(kind, item_id), sk_prefix="NOTE#", limit=limit, cursor=cursor, newest_first=True)
    return [strip(i) for i in items], nxt


# -- settings ------------------------------------------------------------------------------------------


def settings_get() -> tuple[dict[str, Any], int | None]:
    item = table.get("CRM", "SETTINGS", consistent=True)
    return (strip(item), int(item.get("version", 0))) if item else ({}, None)


def settings_put(settings: dict[str, Any], *, version: int | None) -> TransactItem:
    return _put({"PK": "CRM", "SK": "SETTINGS", **settings}, version)
