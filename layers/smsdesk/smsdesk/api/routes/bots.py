"""Bots API (issue 15): scripted bots (admin/owner), checked on save; the runs of a conversation."""

from __future__ import annotations

from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from aws_lambda_powertools.event_handler.router import APIGatewayHttpRouter
from pydantic import BaseModel

from smsdesk.api.identity import caller
from smsdesk.api.openapi import errors
from smsdesk.bots import runs, service
from smsdesk.inbox import conversations

router = APIGatewayHttpRouter()


class FlowCheck(BaseModel):
    valid: bool


class RunPage(BaseModel):
    items: list[runs.BotRun]


@router.post(
    "/v1/bots",
    summary="Create a bot",
    description="A scripted bot's flow is checked as a whole: a missing step, a step that could loop for ever "
    "without waiting for an answer, an unknown contact field answer 422 naming the step (`flow.steps.3.next`).",
    tags=["bots"],
    openapi_extensions=errors(403),
    status_code=201,
)
def create_bot(body: service.BotIn) -> tuple[service.Bot, int]:
    caller(router).require_admin()
    return service.create(body), 201


@router.post(
    "/v1/bots/validate",
    summary="Check a bot without saving it (the editor calls it as you type)",
    tags=["bots"],
    openapi_extensions=errors(403),
)
def validate_bot(body: service.BotIn) -> FlowCheck:
    caller(router).require_admin()
    service.checked(body)
    return FlowCheck(valid=True)


@router.get("/v1/bots", summary="Bots by name", tags=["bots"], openapi_extensions=errors(403))
def list_bots(
    limit: Annotated[int, Query(ge=1, le=100)] = 50, cursor: Annotated[str | None, Query()] = None
) -> service.BotPage:
    caller(router).require_admin()
    return service.list_page(limit=limit, cursor=cursor)


@router.get("/v1/bots/<bot_id>", summary="One bot", tags=["bots"], openapi_extensions=errors(403, 404))
def get_bot(bot_id: str) -> service.Bot:
    caller(router).require_admin()
    return service.get(bot_id)


@router.put(
    "/v1/bots/<bot_id>",
    summary="Replace a bot (checked as on create)",
    tags=["bots"],
    openapi_extensions=errors(403, 404, 409),
)
def put_bot(bot_id: str, body: service.BotIn) -> service.Bot:
    caller(router).require_admin()
    return service.update(bot_id, body)


@router.delete(
    "/v1/bots/<bot_id>",
    summary="Delete a bot (409 bot_in_use while a channel's automation names it)",
    tags=["bots"],
    openapi_extensions=errors(403, 404, 409),
)
def delete_bot(bot_id: str) -> dict[str, Any]:
    caller(router).require_admin()
    service.delete(bot_id)
    return {"deleted": True}


@router.get(
    "/v1/conversations/<conversation_id>/bot-runs",
    summary="The bot runs of a conversation, oldest first (state, outcome, transcript)",
    tags=["bots"],
    openapi_extensions=errors(404),
)
def conversation_runs(conversation_id: str) -> RunPage:
    conversations.detail(caller(router), conversation_id, limit=1)  # 404 unless the caller may see it
    return RunPage(items=runs.of_conversation(conversation_id))
