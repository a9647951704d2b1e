"""Teams API: create and set members (admin/owner); list and read (every signed-in user)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field

from smsdesk.api.identity import caller
from smsdesk.api.openapi import errors
from smsdesk.inbox import teams

router = APIGatewayHttpRouter()


class TeamCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=80)


class TeamMembers(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user_ids: list[str] = Field(max_length=500, description="The complete member list (replaces the current one)")


class TeamPage(BaseModel):
    items: list[teams.Team]
    next_cursor: str | None = None


@router.post(
    "/v1/teams",
    summary="Create a team (names are unique)",
    tags=["teams"],
    openapi_extensions=errors(403, 409),
    status_code=201,
)
def create_team(body: TeamCreate) -> tuple[teams.Team, int]:
    caller(router).require_admin()
    return teams.create_team(body.name), 201


@router.get("/v1/teams", summary="List teams by name", tags=["teams"])
def list_teams(
    limit: Annotated[int, Query(ge=1, le=100)] = 100, cursor: Annotated[str | None, Query()] = None
) -> TeamPage:
    caller(router)
    items, nxt = teams.list_teams(limit=limit, cursor=cursor)
    return TeamPage(items=items, next_cursor=nxt)


@router.get("/v1/teams/<team_id>", summary="A team with its members and granted channels", tags=["teams"])
def get_team(team_id: str) -> teams.Team:
    caller(router)
    return teams.get_team(team_id)


@router.put(
    "/v1/teams/<team_id>/members", summary="Set a team's members", tags=["teams"], openapi_extensions=errors(403, 409)
)
def set_members(team_id: str, body: TeamMembers) -> teams.Team:
    caller(router).require_admin()
    return teams.set_members(team_id, body.user_ids)
