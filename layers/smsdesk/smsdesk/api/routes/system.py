"""Health and the caller's own identity."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel, ConfigDict, Field

from smsdesk import config, users
from smsdesk.api.identity import caller
from smsdesk.api.openapi import errors
from smsdesk.auth import Caller
from smsdesk.data import users as users_repo

router = APIGatewayHttpRouter()


class Health(BaseModel):
    status: str
    stage: str


class Me(BaseModel):
    user_id: str
    role: str
    email: str | None = None
    name: str | None = None
    available: bool = False
    capacity: int = 0
    language: users.Language | None = Field(default=None, description="The app's language; null = the browser's")


@router.get("/health", summary="Liveness (public)", tags=["system"])
def health() -> Health:
    return Health(status="ok", stage=config.stage())


@router.get("/v1/me", summary="The authenticated caller and their profile", tags=["users"])
def me() -> Me:
    return _me(caller(router))


def _me(who: Caller) -> Me:
    profile = users_repo.get_profile(who.user_id) or {}
    return Me(
        user_id=who.user_id,
        role=who.role,
        email=profile.get("email"),
        name=profile.get("name"),
        available=bool(profile.get("available", False)),
        capacity=int(profile.get("capacity") or 0),
        language=profile.get("language"),
    )


class MePatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    language: users.Language | None = Field(
        default=None, description="en, nl, es or fr; null = follow the browser. Left out: unchanged"
    )


@router.patch(
    "/v1/me",
    summary="Change my own profile settings (the app's language)",
    tags=["users"],
    openapi_extensions=errors(404),
)
def patch_me(body: MePatch) -> Me:
    who = caller(router)
    if "language" in body.model_fields_set:
        users.set_language(who.user_id, body.language)
    return _me(who)


class AvailabilityRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    available: bool
    capacity: int | None = Field(default=None, ge=0, le=1000, description="Max open conversations; 0 = no limit")


@router.put(
    "/v1/me/availability",
    summary="Set yourself available or unavailable (only available users get conversations assigned)",
    tags=["users"],
    openapi_extensions=errors(404),
)
def set_availability(body: AvailabilityRequest) -> Me:
    who = caller(router)
    user = users.set_availability(who.user_id, body.available, body.capacity)
    return Me(
        user_id=who.user_id,
        role=who.role,
        email=user.email,
        name=user.name,
        available=user.available,
        capacity=user.capacity,
        language=user.language,
    )
