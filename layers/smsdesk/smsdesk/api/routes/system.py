"""Health and the caller's own identity."""

from __future__ import annotations

from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel

from smsdesk import config
from smsdesk.api.identity import caller
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


@router.get("/health", summary="Liveness (public)", tags=["system"])
def health() -> Health:
    return Health(status="ok", stage=config.stage())


@router.get("/v1/me", summary="The authenticated caller and their profile", tags=["users"])
def me() -> Me:
    who = caller(router)
    profile = users_repo.get_profile(who.user_id) or {}
    return Me(
        user_id=who.user_id,
        role=who.role,
        email=profile.get("email"),
        name=profile.get("name"),
        available=bool(profile.get("available", False)),
    )
