"""Contacts through the API: create, read, update (merge), delete, list and search.

One contact per mobile number: the number guard (``smsdesk.data.contacts``) is written in the
contact's transaction, so concurrent creates of one number (API, imports, a first inbound SMS) make
one contact; the losers get 409 ``contact_exists`` naming the existing contact. Deleting a contact
keeps the number's consent history (``CONSENT#{e164}``) and the conversations with their messages;
the contact leaves its static groups and the conversations' links to it are deleted (no more
transcript notes are written for it).
"""

from __future__ import annotations

import re
import time
import zoneinfo
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from smsdesk import config, ids, lists
from smsdesk.crm import fields as custom
from smsdesk.crm import search
from smsdesk.crm.timezones import zone_for_number
from smsdesk.data import channels as channels_repo
from smsdesk.data import contacts as repo
from smsdesk.data import crm as crm_repo
from smsdesk.data import groups as groups_repo
from smsdesk.data import lists as lists_repo
from smsdesk.data import table
from smsdesk.data.credits import TransactionCanceled, transact
from smsdesk.errors import Conflict, NotFound, ValidationError
from smsdesk.models import Contact, utcnow
from smsdesk.text import parse_number

MAX_MANAGERS = 20
MAX_TAGS = 50
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")

Name = Field(default=None, max_length=100)


class ContactIn(BaseModel):
    """A new contact. At least one of first_name, last_name, mobile, other_phone, email."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    first_name: str | None = Name
    last_name: str | None = Name
    mobile: str | None = Field(default=None, max_length=40, description="Read in the account's default region")
    other_phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=254)
    language: str | None = Field(default=None, max_length=35)
    time_zone: str | None = Field(
        default=None, max_length=64, description="IANA zone; absent: derived from the mobile's country where it has one"
    )
    custom_fields: dict[str, Any] = Field(default_factory=dict, max_length=100)
    tags: list[str] = Field(default_factory=list, max_length=MAX_TAGS)
    manager_ids: list[str] = Field(default_factory=list, max_length=MAX_MANAGERS)


class ContactPatch(BaseModel):
    """Only the fields given change; null clears one. ``custom_fields`` merge by key (null removes a
    key); ``tags`` and ``manager_ids`` are replaced whole."""

    model_config = ConfigDict(extra="forbid", defer_build=True)
    first_name: str | None = Name
    last_name: str | None = Name
    mobile: str | None = Field(default=None, max_length=40)
    other_phone: str | None = Field(default=None, max_length=40)
    email: str | None = Field(default=None, max_length=254)
    language: str | None = Field(default=None, max_length=35)
    time_zone: str | None = Field(default=None, max_length=64)
    custom_fields: dict[str, Any] | None = Field(default=None, max_length=100)
    tags: list[str] | None = Field(default=None, max_length=MAX_TAGS)
    manager_ids: list[str] | None = Field(default=None, max_length=MAX_MANAGERS)


class ContactExists(Conflict):
    code = "contact_exists"

    def __init__(self, e164: str, contact_id: str | None) -> None:
        super().__init__(f"a contact with mobile {e164} exists", field="mobile", details={"contact_id": contact_id})


# -- field checks (pure but for managers and field definitions) -------------------------------------------


def _text(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _region() -> str:
    return config.default_country()


def check_mobile(raw: str | None) -> str | None:
    return parse_number(raw, _region(), field="mobile").e164 if _text(raw) else None


def check_other_phone(raw: str | None) -> str | None:
    return lists.normalise(raw, _region(), field="other_phone") if _text(raw) else None


def check_email(raw: str | None) -> str | None:
    value = _text(raw)
    if value is None:
        return None
    if not _EMAIL.fullmatch(value):
        raise ValidationError(f"{value!r} is not an e-mail address", field="email")
    local, domain = value.rsplit("@", 1)
    return f"{local}@{domain.lower()}"


def check_language(raw: str | None) -> str | None:
    value = _text(raw)
    if value is not None and not _LANGUAGE.fullmatch(value):
        raise ValidationError(f"{value!r} is not a language tag (e.g. fr, nl-BE)", field="language")
    return value


def check_time_zone(raw: str | None) -> str | None:
    value = _text(raw)
    if value is None:
        return None
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:
        raise ValidationError(f"{value!r} is not an IANA time zone (e.g. Europe/Paris)", field="time_zone") from exc
    return value


def check_tags(tags: list[str]) -> list[str]:
    out: list[str] = []
    for n, tag in enumerate(tags):
        value = tag.strip()
        if not 1 <= len(value) <= 50:
            raise ValidationError("a tag has 1 to 50 characters", field=f"tags.{n}")
        out.append(value)
    return list(dict.fromkeys(out))


def check_managers(contact_id: str, manager_ids: list[str], *, already: list[str] = ()) -> list[str]:
    """Distinct, not the contact itself, and existing (ids kept from before need not: a manager may
    have been deleted since)."""
    wanted = list(dict.fromkeys(manager_ids))
    for n, mid in enumerate(manager_ids):
        if mid == contact_id:
            raise ValidationError("a contact cannot manage itself", field=f"manager_ids.{n}")
    new = [m for m in wanted if m not in already]
    found = repo.get_many(new) if new else {}
    for n, mid in enumerate(manager_ids):
        if mid in new and mid not in found:
            raise NotFound(f"contact {mid} not found", field=f"manager_ids.{n}")
    return wanted


def _with_zone(contact: Contact, explicit: bool) -> Contact:
    """``time_zone`` derived from the mobile unless set explicitly."""
    if explicit and contact.time_zone:
        return contact.model_copy(update={"time_zone_derived": False})
    zone = zone_for_number(contact.mobile)
    return contact.model_copy(update={"time_zone": zone, "time_zone_derived": zone is not None})


def _require_identity(c: Contact) -> None:
    if not (c.first_name or c.last_name or c.mobile or c.other_phone or c.email):
        raise ValidationError("a contact needs a name, a number or an e-mail address", field="body")


# -- CRUD ------------------------------------------------------------------------------------------------


def get(contact_id: str) -> Contact:
    contact = repo.get(contact_id, consistent=True) if contact_id else None
    if contact is None:
        raise NotFound(f"contact {contact_id} not found", field="contact_id")
    return contact


def create(body: ContactIn) -> Contact:
    contact_id = ids.new_id()
    contact = Contact(
        id=contact_id,
        first_name=_text(body.first_name),
        last_name=_text(body.last_name),
        mobile=check_mobile(body.mobile),
        other_phone=check_other_phone(body.other_phone),
        email=check_email(body.email),
        language=check_language(body.language),
        time_zone=check_time_zone(body.time_zone),
        custom_fields={
            k: v for k, v in custom.check_values(custom.definitions(), body.custom_fields).items() if v is not None
        }
        if body.custom_fields
        else {},
        tags=check_tags(body.tags),
        manager_ids=check_managers(contact_id, body.manager_ids),
        created_at=utcnow(),
    )
    _require_identity(contact)
    contact = _with_zone(contact, explicit=bool(contact.time_zone))
    try:
        transact(repo.put_new(contact))
    except TransactionCanceled as exc:
        if contact.mobile and len(exc.reasons) > 1 and exc.reasons[1] == "ConditionalCheckFailed":
            raise ContactExists(contact.mobile, repo.contact_id_for(contact.mobile)) from exc
        raise
    return contact


def update(contact_id: str, body: ContactPatch) -> Contact:
    changes = body.model_dump(exclude_unset=True)
    checked: dict[str, Any] = {}
    for name, check in (
        ("first_name", _text),
        ("last_name", _text),
        ("mobile", check_mobile),
        ("other_phone", check_other_phone),
        ("email", check_email),
        ("language", check_language),
        ("time_zone", check_time_zone),
    ):
        if name in changes:
            checked[name] = check(changes[name])
    if "tags" in changes:
        checked["tags"] = check_tags(changes["tags"] or [])
    values = custom.check_values(custom.definitions(), changes["custom_fields"]) if changes.get("custom_fields") else {}
    for attempt in range(5):
        got = repo.get_versioned(contact_id)
        if got is None:
            raise NotFound(f"contact {contact_id} not found", field="contact_id")
        old, version = got
        merged = dict(old.custom_fields)
        for key, value in values.items():
            if value is None:
                merged.pop(key, None)
            else:
                merged[key] = value
        update_ = {**checked, "custom_fields": merged, "updated_at": utcnow()}
        if "manager_ids" in changes:
            update_["manager_ids"] = check_managers(contact_id, changes["manager_ids"] or [], already=old.manager_ids)
        new = old.model_copy(update=update_)
        _require_identity(new)
        mobile_moved_zone = (old.time_zone_derived or not old.time_zone) and new.mobile != old.mobile
        if "time_zone" in changes or mobile_moved_zone:
            new = _with_zone(new, explicit="time_zone" in changes and bool(new.time_zone))
        try:
            transact(repo.replace(old, new, version=version))
            return new
        except TransactionCanceled as exc:
            moved = new.mobile and new.mobile != old.mobile
            if moved and len(exc.reasons) > 1 and exc.reasons[1] == "ConditionalCheckFailed":
                raise ContactExists(new.mobile, repo.contact_id_for(new.mobile)) from exc
            time.sleep(0.01 * (attempt + 1))  # changed concurrently: merge into the new version
    raise Conflict("the contact is being changed concurrently; retry", field=None)


def delete(contact_id: str) -> None:
    """Delete the contact, its number guard and search items, its static group memberships and the
    conversations' links to it (with their guards). The number's consent history and the conversations
    stay."""
    for attempt in range(5):
        got = repo.get_versioned(contact_id)
        if got is None:
            crm_repo.delete_item_links("contact", contact_id)  # a retry after a crash between the two
            raise NotFound(f"contact {contact_id} not found", field="contact_id")
        contact, version = got
        try:
            transact(repo.delete(contact, version=version))
            break
        except TransactionCanceled:
            time.sleep(0.01 * (attempt + 1))
    else:
        raise Conflict("the contact is being changed concurrently; retry", field=None)
    groups_repo.remove_contact_everywhere(contact_id)
    crm_repo.delete_item_links("contact", contact_id)


def list_page(*, q: str | None, limit: int, cursor: str | None) -> tuple[list[Contact], str | None]:
    """All contacts by name, or those matching ``q`` (each word a prefix of a name, e-mail or number
    token), in token order. Never a scan (see :mod:`smsdesk.crm.search`)."""
    words = search.query_words(q) if q and q.strip() else []
    if not words:
        if q and q.strip():
            return [], None
        return repo.list_contacts(limit=limit, cursor=cursor)
    first = words[0]
    start = table.decode_position(cursor, "s")
    out: list[Contact] = []
    for page in repo.search_pages(first, start=start, page_size=max(limit, 25)):
        found = repo.get_many([i["contact_id"] for i in page])
        for entry in page:
            contact = found.get(entry["contact_id"])
            if contact is None:
                continue
            tokens = repo.tokens_of(contact)
            hits = sorted(t for t in tokens if t.startswith(first))
            # each contact once: at its first token with this prefix (the index is in token order)
            if not hits or hits[0] != entry["token"] or not search.matches(words, tokens):
                continue
            out.append(contact)
            if len(out) == limit:
                return out, table.encode_position("s", entry["key"])
    return out, None


# -- consent (issue 13 item 6) -------------------------------------------------------------------------


class ConsentState(BaseModel):
    model_config = ConfigDict(defer_build=True)
    number: str | None = Field(description="The mobile number the state is for (null: the contact has none)")
    opted_out: list[lists.OptOut] = Field(
        description="Opt-outs in force: account-wide (channel_id null) or per channel"
    )
    blocked: list[lists.BlockEntry] = Field(description="Blocklist entries in force for the number")
    history: list[lists.ConsentRecord] = Field(description="The number's consent history, oldest first (first page)")
    history_cursor: str | None = Field(
        default=None, description="More history: GET /v1/opt-outs/{number}/history?cursor="
    )


def _all_channel_ids() -> list[str]:
    out: list[str] = []
    cursor = None
    while True:
        items, cursor = channels_repo.list_channels(limit=100, cursor=cursor)
        out += [i["id"] for i in items]
        if not cursor:
            return out


def consent(contact_id: str, *, limit: int = 50) -> ConsentState:
    contact = get(contact_id)
    number = contact.mobile
    if not number or not number.startswith("+"):
        return ConsentState(number=number, opted_out=[], blocked=[], history=[])
    entries = lists_repo.entries_in_scopes(number, _all_channel_ids(), ("block", "optout"))
    history, nxt = lists.consent_history(number, limit=limit)
    return ConsentState(
        number=number,
        opted_out=[lists.OptOut.model_validate(e) for e in entries["optout"]],
        blocked=[lists.BlockEntry.model_validate(e) for e in entries["block"]],
        history=history,
        history_cursor=nxt,
    )
