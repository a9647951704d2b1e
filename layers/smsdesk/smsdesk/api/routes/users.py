"""Users API: create and change (admin/owner), list and read (every signed-in user: agents need their
colleagues' names for assignments and transfers; profiles hold nothing secret)."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field, field_validator

from smsdesk import users
from smsdesk.api.identity import caller
from smsdesk.api.openapi import errors
from smsdesk.auth import Role
from smsdesk.inbox import teams

router = APIGatewayHttpRouter()


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", description="Sign-in e-mail")
    name: str = Field(min_length=1, max_length=100)
    role: Role = "agent"
    team_ids: list[str] = Field(default_factory=list, max_length=20)


class UserPage(BaseModel):
    items: list[users.User]
    next_cursor: str | None = None


@router.post(
    "/v1/users",
    summary="Create a user (Cognito e-mails a temporary password); admins create agents, the owner any role",
    tags=["users"],
    openapi_extensions=errors(403, 409),
    status_code=201,
)
def create_user(body: UserCreate) -> tuple[users.User, int]:
    who = caller(router)
    users.check_may_create(who, body.role)
    teams.check_teams(body.team_ids)
    profile = users.create_user(body.email.lower(), body.name, body.role)
    if body.team_ids:
        teams.add_user_to_teams(profile["user_id"], body.team_ids)
    return users.get_user(profile["user_id"]), 201


@router.get("/v1/users", summary="List users by e-mail", tags=["users"])
def list_users(
    limit: Annotated[int, Query(ge=1, le=100)] = 50, cursor: Annotated[str | None, Query()] = None
) -> UserPage:
    caller(router)
    items, nxt = users.list_users(limit=limit, cursor=cursor)
    return UserPage(items=items, next_cursor=nxt)


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    capacity: int | None = Field(
        default=None, ge=0, le=1000, description="Max open conversations from the queue; 0 = no limit"
    )
    role: Role | None = Field(
        default=None,
        description="The new role. Admins manage agents only; only the owner makes or changes admins and "
        "owners; nobody changes their own role (403 on `role`); 409 on `role` if it changed meanwhile",
    )

    @field_validator("capacity", "role", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("leave the field out to keep its value; null is not a value")
        return value


@router.patch(
    "/v1/users/<user_id>",
    summary="Change a user's capacity and/or role (admin/owner); fields left out keep their value",
    description="A role change moves the user's Cognito group too and takes effect on their next request "
    "(the API reads the role from the profile, not from the token's `cognito:groups`).",
    tags=["users"],
    openapi_extensions=errors(403, 409),
)
def patch_user(user_id: str, body: UserPatch) -> users.User:
    who = caller(router)
    who.require_admin()
    user = users.get_user(user_id)
    if body.role is not None:
        user = users.change_role(who, user_id, body.role)
    if body.capacity is not None:
        user = users.set_availability(user_id, None, body.capacity)
    return user


@router.get("/v1/users/<user_id>", summary="One user", tags=["users"])
def get_user(user_id: str) -> users.User:
    caller(router)
    return users.get_user(user_id)
