"""Links between a conversation and CRM items (issue 16 item 2).

A conversation may be linked to several items: a person (a contact), a lead or a deal, in smsdesk or,
with the Pipedrive connector on, in Pipedrive (``provider`` ``pipedrive``: ``item_id`` is Pipedrive's
id). One link per (conversation, item): a guard item is put in the link's transaction. The link's
write announces ``crm.linked`` through the outbox, so the ``crmnotes`` function writes its first
transcript note (``crm.notes``); unlinking deletes the link and its guard, and no note is written for
it again (the notes stay on the item). Deleting a smsdesk contact, lead or deal deletes its links too
(``data.crm.delete_item_links``, through the item→links index); a link's transaction checks that the
item it names exists.

Who may link: whoever may use the conversation's channel (404 otherwise, as for the conversation).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from smsdesk import access, channels, ids, outbox
from smsdesk.auth import Caller
from smsdesk.crm import deals
from smsdesk.crm import settings as crm_settings
from smsdesk.data import contacts as contacts_repo
from smsdesk.data import conversations as conversations_repo
from smsdesk.data import crm as repo
from smsdesk.data import teams as teams_repo
from smsdesk.errors import Conflict, NotFound, ValidationError
from smsdesk.models import Conversation, utcnow

TargetKind = Literal["contact", "lead", "deal"]
Provider = Literal["smsdesk", "pipedrive"]
MAX_LINKS = 20


class Link(BaseModel):
    id: str
    conversation_id: str
    kind: TargetKind
    item_id: str = Field(description="The contact, lead or deal id (Pipedrive's id for provider pipedrive)")
    provider: Provider = "smsdesk"
    title: str | None = Field(default=None, description="What the item is called, for display")
    created_at: dt.datetime
    created_by: str | None = None


class LinkIn(BaseModel):
    """Link an existing item (``item_id``), or create one from the conversation (``create``: a lead or
    deal titled after the contact, the contact as its person, you as its owner; for ``contact`` the
    conversation's own contact)."""

    model_config = ConfigDict(extra="forbid")
    kind: TargetKind
    item_id: str | None = Field(default=None, min_length=1, max_length=64)
    create: bool = False
    title: str | None = Field(default=None, min_length=1, max_length=200, description="For create")
    provider: Provider = "smsdesk"


def _conversation(caller: Caller, conversation_id: str) -> Conversation:
    got = conversations_repo.get(conversation_id)
    if got is not None:
        conv = got[0]
        channel = channels.get_channel(conv.channel_id)
        if caller.is_admin or access.may_use(caller.role, teams_repo.user_team_ids(caller.user_id), channel.team_ids):
            return conv
    raise NotFound(f"conversation {conversation_id} not found", field="conversation_id")


def _title(kind: str, item_id: str) -> str:
    if kind == "contact":
        contact = contacts_repo.get(item_id, consistent=True)
        if contact is None:
            raise ValidationError(f"contact {item_id} does not exist", field="item_id")
        return contact.name or contact.mobile or contact.email or item_id
    try:
        return deals.get(kind, item_id).title  # type: ignore[arg-type]
    except NotFound as exc:
        raise ValidationError(f"{kind} {item_id} does not exist", field="item_id") from exc


def _from(data: dict) -> Link:
    return Link.model_validate(data)


def list_links(caller: Caller, conversation_id: str) -> list[Link]:
    conv = _conversation(caller, conversation_id)
    out = []
    for link_id in repo.conversation_link_ids(conv.id):
        got = repo.link_get(link_id)
        if got is not None:
            out.append(_from(got[0]))
    return out


def item_links(kind: str, item_id: str) -> list[Link]:
    return [_from(i) for i in repo.item_links(kind, item_id)]


def link(caller: Caller, conversation_id: str, body: LinkIn) -> Link:
    conv = _conversation(caller, conversation_id)
    if len(repo.conversation_link_ids(conv.id)) >= MAX_LINKS:  # before creating anything
        raise Conflict(f"a conversation has at most {MAX_LINKS} links", field="conversation_id", code="too_many_links")
    if body.provider == "pipedrive":
        if body.create or not body.item_id:
            raise ValidationError("a Pipedrive link names the Pipedrive item's id", field="item_id")
        if not crm_settings.get().pipedrive_enabled:
            raise ValidationError("the Pipedrive connector is not enabled", field="provider")
        item_id, title = body.item_id, body.title
    elif body.create:
        if body.kind == "contact":
            item_id = conv.contact_id
        else:
            contact = contacts_repo.get(conv.contact_id, consistent=True)
            who = (contact.name or contact.mobile) if contact else conv.number
            default = f"{who} {'lead' if body.kind == 'lead' else 'deal'}"
            cls = deals.DealIn if body.kind == "deal" else deals.LeadIn
            made = deals.create(
                body.kind, cls(title=body.title or default, person_id=conv.contact_id), by=caller.user_id
            )
            item_id = made.id
        title = _title(body.kind, item_id)
    else:
        if not body.item_id:
            raise ValidationError("name the item to link, or create one", field="item_id")
        item_id = body.item_id
        title = _title(body.kind, item_id)
    target = f"{body.provider}#{body.kind}#{item_id}"
    new = Link(
        id=ids.new_id("lnk_"),
        conversation_id=conv.id,
        kind=body.kind,
        item_id=item_id,
        provider=body.provider,
        title=title,
        created_at=utcnow(),
        created_by=caller.user_id,
    )
    detail = {"link_id": new.id, "conversation_id": conv.id, "kind": new.kind, "item_id": item_id}
    ob = outbox.change(events=[outbox.event("crm.linked", {**detail, "provider": new.provider})])
    data = new.model_dump(mode="json") | {"ob": ob}
    writes = [repo.link_put(data, version=None), repo.link_guard_put(conv.id, target, new.id)]
    if body.provider == "smsdesk":
        writes.append(repo.linked_item_exists(body.kind, item_id))
    try:
        repo.transact(writes)
    except repo.TransactionCanceled as exc:
        if len(exc.reasons) > 2 and exc.reasons[2] == "ConditionalCheckFailed":
            raise ValidationError(f"{body.kind} {item_id} does not exist", field="item_id") from exc
        raise Conflict(
            f"the conversation is already linked to this {body.kind}",
            field="item_id",
            code="already_linked",
            details={"link_id": repo.link_guard_get(conv.id, target)},
        ) from exc
    return new


def unlink(caller: Caller, conversation_id: str, link_id: str) -> None:
    conv = _conversation(caller, conversation_id)
    got = repo.link_get(link_id)
    if got is None or got[0]["conversation_id"] != conv.id:
        raise NotFound(f"link {link_id} not found", field="link_id")
    repo.transact([repo.link_delete(link_id), repo.link_guard_delete(conv.id, repo.link_target(got[0]))])


def delete_item(kind: Literal["lead", "deal"], item_id: str) -> None:
    """Delete a lead or deal and its links (the notes stay; no more are written). A contact's links go
    with it the same way (``crm.contacts.delete``)."""
    try:
        deals.delete(kind, item_id)
    except NotFound:
        repo.delete_item_links(kind, item_id)  # a retry after a crash between the two: finish the links
        raise
    repo.delete_item_links(kind, item_id)
