"""Contacts (see docs/data-model.md).

Keys:
* contact ``PK=CONTACT#{id} SK=META``; GSI1 ``PHONE#{e164}`` / ``CONTACT#{id}`` (by number);
  GSI2 ``CONTACTS`` / ``{name lower}#{id}`` (all contacts, paged).
* number guard ``PK=CONTACTNUM#{e164} SK=LOCK`` (``contact_id``): one contact per number. A GSI cannot
  carry a condition and is eventually consistent, so matching an inbound number is a consistent
  GetItem of the guard, and creating a contact puts the guard with ``attribute_not_exists`` in the
  same transaction: two first messages from a new number at once create one contact.
"""

from __future__ import annotations

from smsdesk import config
from smsdesk.data import table
from smsdesk.data.credits import TransactItem
from smsdesk.models import Contact, dump

_KEYS = ("PK", "SK", "GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK")


def _guard_pk(e164: str) -> str:
    return f"CONTACTNUM#{e164}"


def contact_id_for(e164: str) -> str | None:
    """The id of the contact with this number, if any (consistent read of the number guard)."""
    item = table.get(_guard_pk(e164), "LOCK", consistent=True)
    return item["contact_id"] if item else None


def get(contact_id: str) -> Contact | None:
    item = table.get(f"CONTACT#{contact_id}", "META")
    return Contact.model_validate({k: v for k, v in item.items() if k not in _KEYS}) if item else None


def put_new(contact: Contact) -> list[TransactItem]:
    """Transaction items creating ``contact`` and its number guard (both fail if they exist)."""
    item = {
        "PK": f"CONTACT#{contact.id}",
        "SK": "META",
        "GSI1PK": f"PHONE#{contact.number}",
        "GSI1SK": f"CONTACT#{contact.id}",
        "GSI2PK": "CONTACTS",
        "GSI2SK": f"{(contact.name or contact.number).lower()}#{contact.id}",
        **dump(contact),
    }
    guard = {"PK": _guard_pk(contact.number), "SK": "LOCK", "contact_id": contact.id}
    return [
        {
            "Put": {
                "TableName": config.table_name(),
                "Item": table.serialize(i),
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        }
        for i in (item, guard)
    ]


def list_contacts(*, limit: int = 50, cursor: str | None = None) -> tuple[list[Contact], str | None]:
    items, nxt = table.query("CONTACTS", index="GSI2", limit=limit, cursor=cursor)
    return [Contact.model_validate({k: v for k, v in i.items() if k not in _KEYS}) for i in items], nxt
