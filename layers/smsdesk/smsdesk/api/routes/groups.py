"""Groups API (issue 13): static groups (members by id) and dynamic groups (a rule). Everyone signed
in may read them and preview; creating, changing and deleting groups and their members need admin."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field

from smsdesk.api.identity import caller
from smsdesk.api.openapi import errors
from smsdesk.crm import groups
from smsdesk.models import Contact

router = APIGatewayHttpRouter()

Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query()]


class GroupPage(BaseModel):
    items: list[groups.Group]
    next_cursor: str | None = None


class MemberPage(BaseModel):
    items: list[Contact]
    next_cursor: str | None = None


class MemberChange(BaseModel):
    changed: int = Field(description="Distinct contact ids given (adding or removing twice is harmless)")


class PreviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    limit: int = Field(default=20, ge=1, le=100)


@router.post("/v1/groups", summary="Create a group", tags=["groups"], openapi_extensions=errors(403), status_code=201)
def create_group(body: groups.GroupCreate) -> tuple[groups.Group, int]:
    caller(router).require_admin()
    return groups.create(body), 201


@router.get("/v1/groups", summary="Groups by name", tags=["groups"])
def list_groups(limit: Limit = 50, cursor: Cursor = None) -> GroupPage:
    caller(router)
    items, nxt = groups.list_page(limit=limit, cursor=cursor)
    return GroupPage(items=items, next_cursor=nxt)


@router.post(
    "/v1/groups/rule-preview",
    summary="Count and first members of a rule before saving it (the rule editor's live preview)",
    tags=["groups"],
)
def preview_rule(body: groups.RulePreview) -> groups.Preview:
    caller(router)
    return groups.preview_rule(body)


@router.get("/v1/groups/<group_id>", summary="One group", tags=["groups"])
def get_group(group_id: str) -> groups.Group:
    caller(router)
    return groups.get(group_id)


@router.patch(
    "/v1/groups/<group_id>", summary="Rename or change a rule", tags=["groups"], openapi_extensions=errors(403)
)
def update_group(group_id: str, body: groups.GroupPatch) -> groups.Group:
    caller(router).require_admin()
    return groups.update(group_id, body)


@router.delete(
    "/v1/groups/<group_id>",
    summary="Delete a group (its contacts stay)",
    tags=["groups"],
    openapi_extensions=errors(403),
    status_code=204,
)
def delete_group(group_id: str) -> Response[None]:
    caller(router).require_admin()
    groups.delete(group_id)
    return Response(status_code=204)


@router.get("/v1/groups/<group_id>/members", summary="The group's members now (a page)", tags=["groups"])
def group_members(group_id: str, limit: Limit = 50, cursor: Cursor = None) -> MemberPage:
    caller(router)
    items, nxt = groups.members(group_id, limit=limit, cursor=cursor)
    return MemberPage(items=items, next_cursor=nxt)


@router.post(
    "/v1/groups/<group_id>/preview", summary="How many members the group has now, and the first ones", tags=["groups"]
)
def preview_group(group_id: str, body: PreviewBody) -> groups.Preview:
    caller(router)
    return groups.preview(group_id, limit=body.limit)


@router.post(
    "/v1/groups/<group_id>/members",
    summary="Add contacts to a static group (up to 100 per call)",
    tags=["groups"],
    openapi_extensions=errors(403),
)
def add_members(group_id: str, body: groups.MemberIds) -> MemberChange:
    caller(router).require_admin()
    return MemberChange(changed=groups.add_members(group_id, body.contact_ids))


@router.post(
    "/v1/groups/<group_id>/members/remove",
    summary="Remove contacts from a static group (up to 100 per call)",
    tags=["groups"],
    openapi_extensions=errors(403),
)
def remove_members(group_id: str, body: groups.MemberIds) -> MemberChange:
    caller(router).require_admin()
    return MemberChange(changed=groups.remove_members(group_id, body.contact_ids))


@router.delete(
    "/v1/groups/<group_id>/members/<contact_id>",
    summary="Remove one contact from a static group",
    tags=["groups"],
    openapi_extensions=errors(403),
    status_code=204,
)
def remove_member(group_id: str, contact_id: str) -> Response[None]:
    caller(router).require_admin()
    groups.remove_member(group_id, contact_id)
    return Response(status_code=204)
