"""Contacts and custom contact fields API (issue 13).

Every signed-in user may read, search, create and update contacts (agents work with them in the
inbox); deleting a contact and defining contact fields need admin/owner.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel

from smsdesk.api.identity import caller
from smsdesk.api.openapi import errors
from smsdesk.crm import contacts, groups
from smsdesk.crm import fields as custom
from smsdesk.data import table
from smsdesk.inbox import conversations
from smsdesk.models import Contact

router = APIGatewayHttpRouter()

Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query()]


class ContactPage(BaseModel):
    items: list[Contact]
    next_cursor: str | None = None


class FieldList(BaseModel):
    items: list[custom.FieldDefinition]


class GroupList(BaseModel):
    items: list[groups.Group]


@router.post(
    "/v1/contacts",
    summary="Create a contact (409 contact_exists if its mobile has one)",
    tags=["contacts"],
    openapi_extensions=errors(404, 409),
    status_code=201,
)
def create_contact(body: contacts.ContactIn) -> tuple[Contact, int]:
    caller(router)
    return contacts.create(body), 201


@router.get("/v1/contacts", summary="List contacts by name, or search them", tags=["contacts"])
def list_contacts(
    q: Annotated[
        str | None,
        Query(max_length=100, description="Words that start a first/last name, e-mail or number (any order)"),
    ] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
) -> ContactPage:
    caller(router)
    items, nxt = contacts.list_page(q=q, limit=limit, cursor=cursor)
    return ContactPage(items=items, next_cursor=nxt)


@router.get("/v1/contacts/<contact_id>", summary="One contact", tags=["contacts"])
def get_contact(contact_id: str) -> Contact:
    caller(router)
    return contacts.get(contact_id)


@router.patch(
    "/v1/contacts/<contact_id>",
    summary="Change a contact (only the fields given)",
    tags=["contacts"],
    openapi_extensions=errors(409),
)
def update_contact(contact_id: str, body: contacts.ContactPatch) -> Contact:
    caller(router)
    return contacts.update(contact_id, body)


@router.delete(
    "/v1/contacts/<contact_id>",
    summary="Delete a contact and its conversation links (its consent history and conversations stay)",
    tags=["contacts"],
    openapi_extensions=errors(403, 409),
    status_code=204,
)
def delete_contact(contact_id: str) -> Response[None]:
    caller(router).require_admin()
    contacts.delete(contact_id)
    return Response(status_code=204)


@router.get(
    "/v1/contacts/<contact_id>/consent",
    summary="The contact's opt-outs and blocklist entries in force, and its consent history",
    tags=["contacts"],
)
def contact_consent(contact_id: str, limit: Limit = 50) -> contacts.ConsentState:
    caller(router)
    return contacts.consent(contact_id, limit=limit)


@router.get(
    "/v1/contacts/<contact_id>/groups",
    summary="The groups the contact is in: its static groups and the dynamic groups whose rule it matches now",
    description="By name; a dynamic group's rule is evaluated on this contact as it is stored now.",
    tags=["contacts"],
)
def contact_groups(contact_id: str) -> GroupList:
    caller(router)
    return GroupList(items=groups.memberships(contacts.get(contact_id)))


@router.get(
    "/v1/contacts/<contact_id>/conversations",
    summary="The contact's conversations (its mobile's, on every channel you may use), most recent first",
    description="Every state (open or closed), on each channel you may use; `cursor` pages on.",
    tags=["contacts"],
)
def contact_conversations(contact_id: str, limit: Limit = 50, cursor: Cursor = None) -> conversations.ConversationPage:
    who = caller(router)
    contact = contacts.get(contact_id)
    if not contact.mobile:
        # no mobile: no conversation; a cursor still has to be one of this list's
        table.decode_position(cursor, "k")
        return conversations.ConversationPage(items=[])
    return conversations.list_for_number(who, contact.mobile, limit=limit, cursor=cursor)


# -- custom fields ------------------------------------------------------------------------------------------


@router.get("/v1/contact-fields", summary="Custom contact fields", tags=["contacts"])
def list_fields() -> FieldList:
    caller(router)
    return FieldList(items=sorted(custom.definitions().values(), key=lambda d: d.key))


@router.post(
    "/v1/contact-fields",
    summary="Define a custom contact field",
    tags=["contacts"],
    openapi_extensions=errors(403, 409),
    status_code=201,
)
def create_field(body: custom.FieldCreate) -> tuple[custom.FieldDefinition, int]:
    caller(router).require_admin()
    return custom.create(body), 201


@router.get("/v1/contact-fields/<key>", summary="One custom contact field", tags=["contacts"])
def get_field(key: str) -> custom.FieldDefinition:
    caller(router)
    return custom.get(key)


@router.patch(
    "/v1/contact-fields/<key>",
    summary="Rename a field or change a choice field's options (the type never changes)",
    tags=["contacts"],
    openapi_extensions=errors(403),
)
def update_field(key: str, body: custom.FieldPatch) -> custom.FieldDefinition:
    caller(router).require_admin()
    return custom.update(key, body)


@router.delete(
    "/v1/contact-fields/<key>",
    summary="Delete a custom field (values stored on contacts stay)",
    tags=["contacts"],
    openapi_extensions=errors(403),
    status_code=204,
)
def delete_field(key: str) -> Response[None]:
    caller(router).require_admin()
    custom.delete(key)
    return Response(status_code=204)
