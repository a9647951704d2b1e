"""Contacts: the people behind the numbers that text in (and, later, campaign recipients).

A contact is matched by number: an inbound SMS from a number without a contact creates one. The
creation is race-safe through the number guard (``smsdesk.data.contacts``); :mod:`smsdesk.inbox.conversations`
puts the contact inside its own transaction so the first message of a new number is one write.
"""

from __future__ import annotations

import time

from smsdesk import ids
from smsdesk.crm.timezones import zone_for_number
from smsdesk.data import contacts as repo
from smsdesk.data.credits import TransactionCanceled, transact
from smsdesk.errors import NotFound
from smsdesk.models import Contact, utcnow


def normalise_inbound(raw: str, region: str | None) -> str:
    """The sender of an inbound SMS as E.164 when it is a valid number; otherwise (short codes,
    alphanumeric senders) stripped as given, so such senders still get one contact and conversation."""
    import phonenumbers  # ~10-20 ms: loaded by the first number handled, not at cold start

    value = (raw or "").strip()
    try:
        num = phonenumbers.parse(value, (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        return value
    if not phonenumbers.is_valid_number(num):
        return value
    return phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)


def new_contact(number: str) -> Contact:
    zone = zone_for_number(number)
    return Contact(
        id=ids.new_id(), mobile=number, time_zone=zone, time_zone_derived=zone is not None, created_at=utcnow()
    )


def get(contact_id: str) -> Contact:
    contact = repo.get(contact_id)
    if contact is None:
        raise NotFound(f"contact {contact_id} not found", field="contact_id")
    return contact


def find_or_create(number: str) -> Contact:
    """The contact with ``number``, created if missing (concurrent callers get the same contact)."""
    for attempt in range(5):
        existing = repo.contact_id_for(number)
        if existing:
            contact = repo.get(existing)
            if contact is not None:
                return contact
        contact = new_contact(number)
        try:
            transact(repo.put_new(contact))
            return contact
        except TransactionCanceled:
            time.sleep(0.01 * (attempt + 1))  # someone else created it: read theirs
    raise RuntimeError(f"could not create a contact for {number}")
