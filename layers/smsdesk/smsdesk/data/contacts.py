"""Contacts (see docs/data-model.md).

Keys:
* contact ``PK=CONTACT#{id} SK=META``; GSI1 ``PHONE#{e164}`` / ``CONTACT#{id}`` (by number, when it has
  a mobile); GSI2 ``CONTACTS`` / ``{sort name}#{id}`` (all contacts by name, paged; what audiences and
  dynamic groups stream). ``version`` is bumped by every update, which is conditioned on it.
* number guard ``PK=CONTACTNUM#{e164} SK=LOCK`` (``contact_id``): one contact per number. A GSI cannot
  carry a condition and is eventually consistent, so matching an inbound number is a consistent
  GetItem of the guard, and creating a contact (or giving one a new mobile) puts the guard with
  ``attribute_not_exists`` in the same transaction: two first messages (or API creates) of a number at
  once create one contact.
* search index ``PK=CSEARCH#{first character of the token} SK={token}#{contact_id}`` (``contact_id``):
  one item per search token (``crm.search.contact_tokens``), written and removed in the contact's own
  transaction; a search is a ``begins_with`` Query in one partition, never a scan.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from smsdesk import config
from smsdesk.crm.search import contact_tokens, fold
from smsdesk.data import table
from smsdesk.data.credits import TransactItem
from smsdesk.models import Contact, dump

_KEYS = ("PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "version")
ALL_PK = "CONTACTS"


def _guard_pk(e164: str) -> str:
    return f"CONTACTNUM#{e164}"


def search_key(token: str, contact_id: str) -> tuple[str, str]:
    return f"CSEARCH#{token[0]}", f"{token}#{contact_id}"


def sort_name(contact: Contact) -> str:
    return fold(contact.name or contact.email or contact.mobile or "")[:100]


def tokens_of(contact: Contact) -> list[str]:
    return contact_tokens(
        first_name=contact.first_name,
        last_name=contact.last_name,
        email=contact.email,
        mobile=contact.mobile,
        other_phone=contact.other_phone,
    )


def contact_id_for(e164: str) -> str | None:
    """The id of the contact with this number, if any (consistent read of the number guard)."""
    item = table.get(_guard_pk(e164), "LOCK", consistent=True)
    return item["contact_id"] if item else None


def _load(item: dict[str, Any]) -> Contact:
    return Contact.model_validate({k: v for k, v in item.items() if k not in _KEYS})


def get(contact_id: str, *, consistent: bool = False) -> Contact | None:
    item = table.get(f"CONTACT#{contact_id}", "META", consistent=consistent)
    return _load(item) if item else None


def get_versioned(contact_id: str) -> tuple[Contact, int] | None:
    item = table.get(f"CONTACT#{contact_id}", "META", consistent=True)
    return (_load(item), int(item.get("version", 0))) if item else None


def get_many(contact_ids: list[str]) -> dict[str, Contact]:
    """The contacts that exist among ``contact_ids`` (BatchGetItem, 100 per call), by id."""
    ids = list(dict.fromkeys(contact_ids))
    items = table.batch_get([(f"CONTACT#{i}", "META") for i in ids])
    return {c.id: c for c in map(_load, items)}


def get_many_versioned(contact_ids: list[str]) -> dict[str, tuple[Contact, int]]:
    """Like :func:`get_many`, consistent, each with its ``version`` (for a conditioned replace)."""
    ids = list(dict.fromkeys(contact_ids))
    items = table.batch_get([(f"CONTACT#{i}", "META") for i in ids], consistent=True)
    out = {}
    for item in items:
        contact = _load(item)
        out[contact.id] = (contact, int(item.get("version", 0)))
    return out


def contact_ids_for(numbers: list[str]) -> dict[str, str]:
    """The contact id of each number that has one (consistent BatchGetItem of the number guards)."""
    wanted = list(dict.fromkeys(numbers))
    items = table.batch_get([(_guard_pk(n), "LOCK") for n in wanted], consistent=True)
    return {i["PK"].removeprefix("CONTACTNUM#"): i["contact_id"] for i in items}


def contact_ids_with_email(email: str) -> list[str]:
    """The contacts whose e-mail is ``email`` (ignoring case and accents): its whole-address search item
    (written in each contact's own transaction), read consistently."""
    token = fold(email)
    pk, prefix = search_key(token, "")
    kwargs: dict[str, Any] = {
        "TableName": config.table_name(),
        "KeyConditionExpression": "PK = :pk AND begins_with(SK, :t)",
        "ExpressionAttributeValues": {":pk": {"S": pk}, ":t": {"S": prefix}},
        "ConsistentRead": True,
    }
    out = []
    for resp in table.query_pages(**kwargs):
        out += [i["contact_id"]["S"] for i in resp.get("Items", []) if i.get("token", {}).get("S") == token]
    return out


def _item(contact: Contact, version: int) -> dict[str, Any]:
    item: dict[str, Any] = {
        "PK": f"CONTACT#{contact.id}",
        "SK": "META",
        "GSI2PK": ALL_PK,
        "GSI2SK": f"{sort_name(contact)}#{contact.id}",
        "entity": "contact",
        "version": version,
        **dump(contact),
    }
    if contact.mobile:
        item["GSI1PK"], item["GSI1SK"] = f"PHONE#{contact.mobile}", f"CONTACT#{contact.id}"
    return item


def _put(item: dict[str, Any], condition: str | None = None, values: dict[str, Any] | None = None) -> TransactItem:
    body: dict[str, Any] = {"TableName": config.table_name(), "Item": table.serialize(item)}
    if condition:
        body["ConditionExpression"] = condition
    if values:
        body["ExpressionAttributeValues"] = table.serialize(values)
    return {"Put": body}


def _delete(pk: str, sk: str, condition: str | None = None, values: dict[str, Any] | None = None) -> TransactItem:
    body: dict[str, Any] = {"TableName": config.table_name(), "Key": table.key(pk, sk)}
    if condition:
        body["ConditionExpression"] = condition
    if values:
        body["ExpressionAttributeValues"] = table.serialize(values)
    return {"Delete": body}


def _guard(e164: str, contact_id: str) -> TransactItem:
    return _put({"PK": _guard_pk(e164), "SK": "LOCK", "contact_id": contact_id}, "attribute_not_exists(PK)")


def _search_puts(contact_id: str, tokens: list[str]) -> list[TransactItem]:
    out = []
    for token in tokens:
        pk, sk = search_key(token, contact_id)
        out.append(_put({"PK": pk, "SK": sk, "contact_id": contact_id, "token": token}))
    return out


def put_new(contact: Contact) -> list[TransactItem]:
    """Transaction items creating ``contact``, its number guard (both fail if they exist) and its
    search index items. The guard is the first item after the contact: a cancellation's second reason
    says the number is taken."""
    items = [_put(_item(contact, 1), "attribute_not_exists(PK)")]
    if contact.mobile:
        items.append(_guard(contact.mobile, contact.id))
    return items + _search_puts(contact.id, tokens_of(contact))


def replace(old: Contact, new: Contact, *, version: int) -> list[TransactItem]:
    """Transaction items replacing ``old`` (read at ``version``) by ``new``: the contact conditioned on
    the version, the number guard moved when the mobile changes (the new one must be free), the search
    items that changed. The contact item comes first, the new guard (if any) second."""
    items = [
        _put(
            _item(new, version + 1),
            "attribute_exists(PK) AND (version = :v OR (attribute_not_exists(version) AND :v = :zero))",
            {":v": version, ":zero": 0},
        )
    ]
    if new.mobile != old.mobile:
        if new.mobile:
            items.append(_guard(new.mobile, new.id))
        if old.mobile:
            items.append(
                _delete(_guard_pk(old.mobile), "LOCK", "attribute_not_exists(PK) OR contact_id = :c", {":c": old.id})
            )
    old_tokens, new_tokens = set(tokens_of(old)), tokens_of(new)
    items += _search_puts(new.id, [t for t in new_tokens if t not in old_tokens])
    items += [_delete(*search_key(t, old.id)) for t in sorted(old_tokens - set(new_tokens))]
    return items


def delete(contact: Contact, *, version: int) -> list[TransactItem]:
    """Transaction items deleting the contact (conditioned on ``version``), its guard and search items."""
    items = [
        _delete(
            f"CONTACT#{contact.id}",
            "META",
            "attribute_exists(PK) AND (version = :v OR (attribute_not_exists(version) AND :v = :zero))",
            {":v": version, ":zero": 0},
        )
    ]
    if contact.mobile:
        items.append(
            _delete(
                _guard_pk(contact.mobile), "LOCK", "attribute_not_exists(PK) OR contact_id = :c", {":c": contact.id}
            )
        )
    return items + [_delete(*search_key(t, contact.id)) for t in tokens_of(contact)]


def list_contacts(*, limit: int = 50, cursor: str | None = None) -> tuple[list[Contact], str | None]:
    """A page of all contacts by name."""
    items, nxt = table.query(ALL_PK, index="GSI2", limit=limit, cursor=cursor)
    return [_load(i) for i in items], nxt


def contact_pages(*, start: dict[str, Any] | None = None, page_size: int = 200) -> Iterator[list[tuple[Contact, dict]]]:
    """Every contact by name from after ``start`` (a raw GSI2 key), one Query page at a time, each
    contact with its raw key (to resume after it). Memory: one page."""
    kwargs: dict[str, Any] = {
        "TableName": config.table_name(),
        "IndexName": "GSI2",
        "KeyConditionExpression": "GSI2PK = :pk",
        "ExpressionAttributeValues": {":pk": {"S": ALL_PK}},
        "Limit": page_size,
    }
    if start:
        kwargs["ExclusiveStartKey"] = table.check_start(start, index="GSI2", partition=ALL_PK)
    for resp in table.query_pages(**kwargs):
        items = [table.deserialize(i) for i in resp.get("Items", [])]
        if items:
            yield [(_load(i), table.raw_key(i, "GSI2")) for i in items]


def projected_pages(
    paths: set[tuple[str, ...]], *, start: dict[str, Any] | None = None, page_size: int = 500
) -> Iterator[list[tuple[dict[str, Any], dict]]]:
    """Every contact by name from after ``start`` (a raw GSI2 key), reading only ``paths`` (stored
    attributes, or ``("custom_fields", key)``) plus the keys: ``(item, raw key)`` a page at a time, the
    contact's id in ``item["id"]``. What a dynamic group scans: parsing a page costs in proportion to
    the attributes returned, so a rule over two fields reads two (members are then loaded with
    :func:`get_many`)."""
    names: dict[str, str] = {"#pk": "GSI2PK"}
    parts = ["PK", "SK", "GSI2PK", "GSI2SK"]
    for n, path in enumerate(sorted(paths)):
        refs = []
        for m, name in enumerate(path):
            names[f"#p{n}_{m}"] = name
            refs.append(f"#p{n}_{m}")
        parts.append(".".join(refs))
    kwargs: dict[str, Any] = {
        "TableName": config.table_name(),
        "IndexName": "GSI2",
        "KeyConditionExpression": "#pk = :pk",
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": {":pk": {"S": ALL_PK}},
        "ProjectionExpression": ", ".join(parts),
        "Limit": page_size,
    }
    if start:
        kwargs["ExclusiveStartKey"] = table.check_start(start, index="GSI2", partition=ALL_PK)
    for resp in table.query_pages(**kwargs):
        items = [table.deserialize(i) for i in resp.get("Items", [])]
        if items:
            yield [({**i, "id": i["PK"].removeprefix("CONTACT#")}, table.raw_key(i, "GSI2")) for i in items]


def load(item: dict[str, Any]) -> Contact:
    return _load(item)


def search_pages(word: str, *, start: dict[str, Any] | None = None, page_size: int = 50) -> Iterator[list[dict]]:
    """Search index items whose token starts with ``word`` (``token``, ``contact_id`` and the raw key
    ``key``), in token order, from after ``start``."""
    pk = f"CSEARCH#{word[0]}"
    kwargs: dict[str, Any] = {
        "TableName": config.table_name(),
        "KeyConditionExpression": "PK = :pk AND begins_with(SK, :w)",
        "ExpressionAttributeValues": {":pk": {"S": pk}, ":w": {"S": word}},
        "Limit": page_size,
    }
    if start:
        kwargs["ExclusiveStartKey"] = table.check_start(start, index=None, partition=pk, sk_prefix=word)
    for resp in table.query_pages(**kwargs):
        items = [table.deserialize(i) for i in resp.get("Items", [])]
        if items:
            yield [{**i, "key": {"PK": {"S": i["PK"]}, "SK": {"S": i["SK"]}}} for i in items]
