"""CRM API (issue 16): pipelines, leads, deals, conversation links, transcript notes, CRM settings.

Every signed-in user may work with leads, deals, links and notes (agents do, from the inbox); pipelines
and the CRM settings (web address, Pipedrive connector) need admin/owner to change.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field

from smsdesk.api.identity import caller
from smsdesk.api.openapi import errors
from smsdesk.crm import contacts, deals, links, notes, pipedrive
from smsdesk.crm import settings as crm_settings

router = APIGatewayHttpRouter()

Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query()]


class LeadPage(BaseModel):
    items: list[deals.Lead]
    next_cursor: str | None = None


class DealPage(BaseModel):
    items: list[deals.Deal]
    next_cursor: str | None = None


class PipelineList(BaseModel):
    items: list[deals.Pipeline]


class LinkList(BaseModel):
    items: list[links.Link]


class Note(BaseModel):
    id: str
    kind: Literal["contact", "lead", "deal"]
    item_id: str
    link_id: str | None = None
    conversation_id: str | None = None
    provider: str = "smsdesk"
    message_ids: list[str] = Field(default_factory=list, description="The messages of its window, in time order")
    window_start: dt.datetime | None = Field(default=None, description="Later messages within 24 h of it join it")
    content: str
    state: Literal["auto", "edited"] = Field(description="auto: written by smsdesk; edited: never written again")
    created_at: dt.datetime
    updated_at: dt.datetime | None = None
    edited_by: str | None = None


class NotePage(BaseModel):
    items: list[Note]
    next_cursor: str | None = None


class NoteEdit(BaseModel):
    model_config = ConfigDict(extra="forbid")
    content: str = Field(min_length=1, max_length=100_000)


# -- pipelines --------------------------------------------------------------------------------------------


@router.get("/v1/pipelines", summary="Deal pipelines (`default` always exists)", tags=["crm"])
def list_pipelines() -> PipelineList:
    caller(router)
    return PipelineList(items=deals.list_pipelines())


@router.post(
    "/v1/pipelines",
    summary="Create a deal pipeline with its stages",
    tags=["crm"],
    openapi_extensions=errors(403),
    status_code=201,
)
def create_pipeline(body: deals.PipelineIn) -> tuple[deals.Pipeline, int]:
    caller(router).require_admin()
    return deals.create_pipeline(body), 201


@router.get("/v1/pipelines/<pipeline_id>", summary="One pipeline", tags=["crm"], openapi_extensions=errors(404))
def get_pipeline(pipeline_id: str) -> deals.Pipeline:
    caller(router)
    return deals.get_pipeline(pipeline_id)


@router.patch(
    "/v1/pipelines/<pipeline_id>",
    summary="Rename a pipeline or change its stages (give a stage's id to keep it)",
    tags=["crm"],
    openapi_extensions=errors(403, 404, 409),
)
def update_pipeline(pipeline_id: str, body: deals.PipelinePatch) -> deals.Pipeline:
    caller(router).require_admin()
    return deals.update_pipeline(pipeline_id, body)


# -- leads ------------------------------------------------------------------------------------------------


@router.post("/v1/leads", summary="Create a lead", tags=["crm"], status_code=201)
def create_lead(body: deals.LeadIn) -> tuple[deals.Lead, int]:
    who = caller(router)
    return deals.create("lead", body, by=who.user_id), 201


@router.get("/v1/leads", summary="Leads, newest first", tags=["crm"])
def list_leads(limit: Limit = 50, cursor: Cursor = None) -> LeadPage:
    caller(router)
    items, nxt = deals.list_page("lead", limit=limit, cursor=cursor)
    return LeadPage(items=items, next_cursor=nxt)


@router.get("/v1/leads/<lead_id>", summary="One lead", tags=["crm"], openapi_extensions=errors(404))
def get_lead(lead_id: str) -> deals.Lead:
    caller(router)
    return deals.get("lead", lead_id)


@router.patch(
    "/v1/leads/<lead_id>",
    summary="Change a lead (only the fields given)",
    tags=["crm"],
    openapi_extensions=errors(404, 409),
)
def update_lead(lead_id: str, body: deals.LeadPatch) -> deals.Lead:
    caller(router)
    return deals.update("lead", lead_id, body)


@router.delete(
    "/v1/leads/<lead_id>",
    summary="Delete a lead (and its conversation links)",
    tags=["crm"],
    openapi_extensions=errors(403, 404),
    status_code=204,
)
def delete_lead(lead_id: str) -> Response[None]:
    caller(router).require_admin()
    links.delete_item("lead", lead_id)
    return Response(status_code=204)


# -- deals ------------------------------------------------------------------------------------------------


@router.post("/v1/deals", summary="Create a deal (in a stage of a pipeline)", tags=["crm"], status_code=201)
def create_deal(body: deals.DealIn) -> tuple[deals.Deal, int]:
    who = caller(router)
    return deals.create("deal", body, by=who.user_id), 201  # type: ignore[return-value]


@router.get("/v1/deals", summary="Deals, newest first", tags=["crm"])
def list_deals(limit: Limit = 50, cursor: Cursor = None) -> DealPage:
    caller(router)
    items, nxt = deals.list_page("deal", limit=limit, cursor=cursor)
    return DealPage(items=items, next_cursor=nxt)  # type: ignore[arg-type]


@router.get("/v1/deals/<deal_id>", summary="One deal", tags=["crm"], openapi_extensions=errors(404))
def get_deal(deal_id: str) -> deals.Deal:
    caller(router)
    return deals.get("deal", deal_id)  # type: ignore[return-value]


@router.patch(
    "/v1/deals/<deal_id>",
    summary="Change a deal (only the fields given)",
    tags=["crm"],
    openapi_extensions=errors(404, 409),
)
def update_deal(deal_id: str, body: deals.DealPatch) -> deals.Deal:
    caller(router)
    return deals.update("deal", deal_id, body)  # type: ignore[return-value]


@router.delete(
    "/v1/deals/<deal_id>",
    summary="Delete a deal (and its conversation links)",
    tags=["crm"],
    openapi_extensions=errors(403, 404),
    status_code=204,
)
def delete_deal(deal_id: str) -> Response[None]:
    caller(router).require_admin()
    links.delete_item("deal", deal_id)
    return Response(status_code=204)


# -- links ------------------------------------------------------------------------------------------------


@router.get(
    "/v1/conversations/<conversation_id>/links",
    summary="The persons, leads and deals the conversation is linked to",
    tags=["crm"],
    openapi_extensions=errors(404),
)
def list_links(conversation_id: str) -> LinkList:
    return LinkList(items=links.list_links(caller(router), conversation_id))


@router.post(
    "/v1/conversations/<conversation_id>/links",
    summary="Link the conversation to a person, lead or deal (existing, or created from the conversation)",
    description="Writes a transcript note with the latest messages on the item; later messages follow "
    "(24-hour windows). 409 `already_linked` names the existing link.",
    tags=["crm"],
    openapi_extensions=errors(404, 409),
    status_code=201,
)
def create_link(conversation_id: str, body: links.LinkIn) -> tuple[links.Link, int]:
    return links.link(caller(router), conversation_id, body), 201


@router.delete(
    "/v1/conversations/<conversation_id>/links/<link_id>",
    summary="Unlink (no more notes are written for it; the notes stay)",
    tags=["crm"],
    openapi_extensions=errors(404),
    status_code=204,
)
def delete_link(conversation_id: str, link_id: str) -> Response[None]:
    links.unlink(caller(router), conversation_id, link_id)
    return Response(status_code=204)


# -- an item's links and notes (contacts, leads, deals) ---------------------------------------------------------


def _check_item(kind: str, item_id: str) -> None:
    if kind == "contact":
        contacts.get(item_id)
    else:
        deals.get(kind, item_id)  # type: ignore[arg-type]


def _item_routes(kind: Literal["contact", "lead", "deal"], plural: str) -> None:
    base = f"/v1/{plural}/<item_id>"

    def item_links(item_id: str) -> LinkList:
        caller(router)
        _check_item(kind, item_id)
        return LinkList(items=links.item_links(kind, item_id))

    def list_notes(item_id: str, limit: Limit = 50, cursor: Cursor = None) -> NotePage:
        caller(router)
        _check_item(kind, item_id)
        items, nxt = notes.list_notes(kind, item_id, limit=limit, cursor=cursor)
        return NotePage(items=[Note.model_validate(i) for i in items], next_cursor=nxt)

    def edit_note(item_id: str, note_id: str, body: NoteEdit) -> Note:
        who = caller(router)
        return Note.model_validate(notes.edit(kind, item_id, note_id, body.content, by=who.user_id))

    def delete_note(item_id: str, note_id: str) -> Response[None]:
        who = caller(router)
        notes.delete(kind, item_id, note_id, by=who.user_id)
        return Response(status_code=204)

    handlers: list[tuple[Callable[..., Any], str]] = [
        (item_links, f"{kind}_links"),
        (list_notes, f"{kind}_notes"),
        (edit_note, f"edit_{kind}_note"),
        (delete_note, f"delete_{kind}_note"),
    ]
    for fn, name in handlers:
        fn.__name__ = fn.__qualname__ = name
    router.get(
        f"{base}/links", summary=f"The conversations linked to the {kind}", tags=["crm"], openapi_extensions=errors(404)
    )(item_links)
    router.get(
        f"{base}/notes",
        summary=f"The {kind}'s transcript notes, newest first",
        tags=["crm"],
        openapi_extensions=errors(404),
    )(list_notes)
    router.patch(
        f"{base}/notes/<note_id>",
        summary="Edit a note (smsdesk never writes it again; the next message opens a new note)",
        tags=["crm"],
        openapi_extensions=errors(404),
    )(edit_note)
    router.delete(
        f"{base}/notes/<note_id>",
        summary="Delete a note (the next message opens a new note)",
        tags=["crm"],
        openapi_extensions=errors(404),
        status_code=204,
    )(delete_note)


_item_routes("contact", "contacts")
_item_routes("lead", "leads")
_item_routes("deal", "deals")


# -- settings ----------------------------------------------------------------------------------------------


@router.get("/v1/crm/settings", summary="CRM settings (web address for notes, Pipedrive connector)", tags=["crm"])
def get_settings() -> crm_settings.CrmSettings:
    caller(router)
    return crm_settings.get()


@router.patch(
    "/v1/crm/settings",
    summary="Change the CRM settings (the Pipedrive API token is write-only)",
    tags=["crm"],
    openapi_extensions=errors(403),
)
def update_settings(body: crm_settings.CrmSettingsPatch) -> crm_settings.CrmSettings:
    caller(router).require_admin()
    return crm_settings.update(body)


class PipedriveItem(BaseModel):
    id: str
    title: str


class PipedriveItems(BaseModel):
    items: list[PipedriveItem]


@router.get(
    "/v1/crm/pipedrive/search",
    summary="Search Pipedrive's persons, deals or leads (to link a conversation to one)",
    tags=["crm"],
    openapi_extensions=errors(503),
)
def pipedrive_search(
    kind: Annotated[Literal["contact", "lead", "deal"], Query(description="contact = a Pipedrive person")],
    term: Annotated[str, Query(min_length=2, max_length=100)],
) -> PipedriveItems:
    caller(router)
    return PipedriveItems(items=[PipedriveItem(**i) for i in pipedrive.search(kind, term)])
