"""Audience resolution: who a campaign texts, and who it leaves out and why.

:func:`resolve` takes a :class:`Selection` (all contacts, contact ids, raw numbers, group ids; with
their manager contacts or not) and yields :class:`AudiencePage` s: recipients deduplicated by E.164
number, and the excluded ones with a reason:

* ``contact_not_found`` (an id that names no contact: deleted since it was chosen);
* ``no_mobile``; ``invalid_number`` (not a valid mobile number: a landline, a short code...);
* ``duplicate`` (another contact or raw number already has this number);
* ``blocklisted`` / ``opted_out`` on the outbound blocklist or opt-out list, with ``scope``
  ``account`` or ``channel`` (``smsdesk.lists.outbound_refusals``: the send path's rule, checked with
  BatchGetItem for 25 numbers per call).

Streamed: contacts are read a page at a time (all contacts and dynamic groups by name, static groups
by id) and each page is checked and yielded before the next is read, so memory holds one page plus the
numbers and contact ids already seen (for deduplication: about 100 bytes each; ~10 MB at 100,000).
A contact reached twice (two groups, or the manager of two selected contacts) counts once, silently.
Managers are taken one level deep (a manager's managers are not added).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from smsdesk import lists
from smsdesk.crm import groups
from smsdesk.crm.selection import Selection  # defined there, still importable from here
from smsdesk.data import contacts as contacts_repo
from smsdesk.errors import NotFound
from smsdesk.models import Contact
from smsdesk.text import InvalidPhoneNumber, parse_number

Reason = Literal[
    "contact_not_found",
    "no_mobile",
    "invalid_number",
    "duplicate",
    "blocklisted",
    "opted_out",
    # campaigns (issue 14): a recipient whose text cannot be rendered or sent
    "missing_merge_field",
    "text_invalid",
]
Via = Literal["contact", "manager", "number"]
PAGE = 100


class Recipient(BaseModel):
    model_config = ConfigDict(defer_build=True)
    number: str = Field(description="E.164")
    contact_id: str | None = None
    via: Via = Field(description="Selected as a contact, as the manager of one, or as a raw number")
    for_contact_id: str | None = Field(default=None, description="For a manager: the selected contact it manages")
    #: The contact as read (campaigns merge its fields and use its time zone); never in an API answer.
    contact: Contact | None = Field(default=None, exclude=True, repr=False)


class Excluded(BaseModel):
    model_config = ConfigDict(defer_build=True)
    number: str | None = None
    contact_id: str | None = None
    reason: Reason
    scope: Literal["account", "channel"] | None = Field(default=None, description="For blocklisted / opted_out")


class AudiencePage(BaseModel):
    model_config = ConfigDict(defer_build=True)
    recipients: list[Recipient]
    excluded: list[Excluded]


# A candidate: (contact or None, raw number or None, via, for_contact_id, missing contact id)
_Candidate = tuple[Contact | None, str | None, Via, str | None, str | None]


def _chunks(values: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _selected(selection: Selection) -> Iterator[list[_Candidate]]:
    """The selected contacts and numbers, a page at a time (no managers yet)."""
    for chunk in _chunks(list(dict.fromkeys(selection.contact_ids)), PAGE):
        found = contacts_repo.get_many(chunk)
        yield [
            (found[c], None, "contact", None, None) if c in found else (None, None, "contact", None, c) for c in chunk
        ]
    for chunk in _chunks(list(dict.fromkeys(selection.numbers)), PAGE):
        yield [(None, n, "number", None, None) for n in chunk]
    for n, group_id in enumerate(dict.fromkeys(selection.group_ids)):
        try:
            group = groups.get(group_id)
        except NotFound as exc:
            raise NotFound(exc.message, field=f"group_ids.{n}") from exc
        for page in groups.member_pages(group):
            yield [(c, None, "contact", None, None) for c, _ in page]
    if selection.all:
        for page in contacts_repo.contact_pages():
            yield [(c, None, "contact", None, None) for c, _ in page]


def _with_managers(pages: Iterable[list[_Candidate]]) -> Iterator[list[_Candidate]]:
    for page in pages:
        wanted = [(m, c.id) for c, *_ in page if c is not None for m in c.manager_ids]
        found = contacts_repo.get_many([m for m, _ in wanted]) if wanted else {}
        yield page + [(found[m], None, "manager", cid, None) for m, cid in wanted if m in found]


def resolve(selection: Selection, *, channel_id: str | None, region: str) -> Iterator[AudiencePage]:
    """The recipients and exclusions of ``selection`` for a send on ``channel_id`` (account-wide lists
    only without one), one page at a time; numbers typed nationally are read in ``region``."""
    seen_contacts: set[str] = set()
    seen_numbers: set[str] = set()
    pages = _selected(selection)
    if selection.include_managers:
        pages = _with_managers(pages)
    for page in pages:
        recipients: list[Recipient] = []
        excluded: list[Excluded] = []
        for contact, raw, via, for_id, missing in page:
            if missing is not None:
                if missing not in seen_contacts:
                    seen_contacts.add(missing)
                    excluded.append(Excluded(contact_id=missing, reason="contact_not_found"))
                continue
            contact_id = contact.id if contact else None
            if contact_id is not None:
                if contact_id in seen_contacts:
                    continue
                seen_contacts.add(contact_id)
            number = contact.mobile if contact else raw
            if not number:
                excluded.append(Excluded(contact_id=contact_id, reason="no_mobile"))
                continue
            try:
                e164 = parse_number(number, region).e164
            except InvalidPhoneNumber:
                excluded.append(Excluded(contact_id=contact_id, number=number, reason="invalid_number"))
                continue
            if e164 in seen_numbers:
                excluded.append(Excluded(contact_id=contact_id, number=e164, reason="duplicate"))
                continue
            seen_numbers.add(e164)
            recipients.append(
                Recipient(number=e164, contact_id=contact_id, via=via, for_contact_id=for_id, contact=contact)
            )
        refusals = lists.outbound_refusals(channel_id, [r.number for r in recipients]) if recipients else {}
        kept = []
        for r in recipients:
            refusal = refusals.get(r.number)
            if refusal:
                excluded.append(Excluded(contact_id=r.contact_id, number=r.number, reason=refusal[0], scope=refusal[1]))
            else:
                kept.append(r)
        if kept or excluded:
            yield AudiencePage(recipients=kept, excluded=excluded)


class AudiencePreview(BaseModel):
    model_config = ConfigDict(defer_build=True)
    recipients: int = Field(description="How many numbers would be texted")
    excluded: dict[str, int] = Field(description="Excluded entries by reason")
    first_recipients: list[Recipient]
    first_excluded: list[Excluded]


def preview(selection: Selection, *, channel_id: str | None, region: str, limit: int = 20) -> AudiencePreview:
    """Counts over the whole audience and its first entries (streams every page; keeps ``limit``)."""
    count, reasons = 0, Counter[str]()
    first_r: list[Recipient] = []
    first_x: list[Excluded] = []
    for page in resolve(selection, channel_id=channel_id, region=region):
        count += len(page.recipients)
        reasons.update(x.reason for x in page.excluded)
        first_r += page.recipients[: max(0, limit - len(first_r))]
        first_x += page.excluded[: max(0, limit - len(first_x))]
    return AudiencePreview(recipients=count, excluded=dict(reasons), first_recipients=first_r, first_excluded=first_x)
